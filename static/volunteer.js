// volunteer.js: the public volunteer registration form on /volunteer.html.
//
// Anyone may register; the registration lands as "applied" and a social
// worker reviews it on /volunteers.html. Like the resident form it sends no
// cookie: a member of staff signed in on the same browser registers as a
// member of the public.

import { init, t, has, lang, named, onLangChange } from "/i18n.js";
import { request, NetworkError, asciiDigits, el } from "/api.js";

const $ = (id) => document.getElementById(id);

// The fields that can show an error, in page order.
const FIELDS = ["name", "phone", "committee", "address", "skills", "languages", "qualifications", "availability", "consent"];

// The times a volunteer may pick, in the registry's opening-hours grammar
// (dispatch.ParseHours); the picks are joined with "; ".
const TIMES = {
  weekday_day: "mon-fri 09:00-17:00",
  weekday_evening: "mon-fri 18:00-21:00",
  weekend: "sat,sun 09:00-17:00",
};

const state = {
  inFlight: false,
  services: null,
  committees: null,
  terms: null, // {languages, qualifications}: the registry's lists with their names
  errors: {}, // field → server message (or "" for our own words)
  alert: null, // {key, vars} or {text}
  done: false,
};

function checkboxes(box, name, items, label) {
  const chosen = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren(
    ...items.map((it, n) => {
      const id = `${name}-${n}`;
      const input = el("input", { type: "checkbox", name, id, value: it });
      input.checked = chosen.has(it);
      return el("label", { class: "cat", for: id }, input, el("span", {}, el("span", { class: "cat-name", text: label(it) })));
    }),
  );
}

function renderChoices() {
  if (state.services) {
    checkboxes($("skills"), "skills", state.services.map((c) => c.code), (code) => {
      const c = state.services.find((x) => x.code === code);
      return (c && named(c)) || code;
    });
  }
  if (state.terms) {
    for (const list of ["languages", "qualifications"]) {
      const terms = state.terms[list] || [];
      checkboxes($(list), list, terms.map((x) => x.code), (code) => named(terms.find((x) => x.code === code)) || code);
    }
  }
  checkboxes($("availability"), "availability", Object.keys(TIMES), (k) => t("vol.time." + k));
  const sel = $("committee");
  const current = sel.value;
  sel.replaceChildren(el("option", { value: "", text: t("vol.reg.committee.pick") }));
  for (const u of state.committees || []) {
    const o = el("option", { value: u.id, text: named(u) || u.id });
    o.selected = u.id === current;
    sel.append(o);
  }
}

async function load() {
  const [svc, units, terms] = await Promise.all([
    request("GET", "/api/v1/services", { credentials: "omit" }).catch(() => null),
    request("GET", "/api/v1/units", { credentials: "omit" }).catch(() => null),
    request("GET", "/api/v1/volunteers/terms", { credentials: "omit" }).catch(() => null),
  ]);
  state.services = svc && svc.ok ? svc.data.services || [] : [];
  state.committees = units && units.ok ? (units.data.units || []).filter((u) => u.kind === "committee") : [];
  state.terms = terms && terms.ok ? terms.data : { languages: [], qualifications: [] };
  renderChoices();
  // Mandarin is ticked to begin with: nearly everyone speaks it.
  const zh = document.querySelector('#languages input[value="zh"]');
  if (zh && !document.querySelector("#languages input:checked")) zh.checked = true;
  if (!svc || !svc.ok || !units || !units.ok || !terms || !terms.ok) setAlert({ key: "vol.reg.loadFailed" });
}

// ---- errors ----

function renderErrors() {
  for (const f of FIELDS) {
    const p = $(f + "-error");
    const msg = state.errors[f];
    const shown = msg !== undefined;
    p.hidden = !shown;
    p.textContent = shown ? (has("vol.field." + f) ? t("vol.field." + f) : msg) : "";
    const target = $(f + "-field") || $(f);
    if (shown) target.setAttribute("aria-invalid", "true");
    else target.removeAttribute("aria-invalid");
  }
}

function showErrors(fields) {
  state.errors = {};
  const extra = [];
  for (const [name, msg] of Object.entries(fields || {})) {
    const f = name.replace(/[.[].*$/, ""); // "skills[2]" → "skills"
    if (FIELDS.includes(f)) state.errors[f] = state.errors[f] || msg;
    else extra.push(msg);
  }
  renderErrors();
  setAlert(extra.length ? { text: t("form.err.summary") + " " + extra.join("; ") } : { key: "form.err.summary" });
  const first = FIELDS.find((f) => state.errors[f] !== undefined);
  if (first) {
    const target = ["skills", "languages", "qualifications", "availability"].includes(first)
      ? document.querySelector(`#${first} input`)
      : $(first);
    if (target) {
      target.focus();
      target.scrollIntoView({ block: "center" });
    }
  }
}

function clearError(f) {
  if (state.errors[f] === undefined) return;
  delete state.errors[f];
  renderErrors();
}

function setAlert(a) {
  state.alert = a;
  renderAlert();
}

function renderAlert() {
  const a = state.alert;
  $("form-alert").textContent = !a ? "" : a.text !== undefined ? a.text : t(a.key, a.vars);
}

// ---- submit ----

function values(name) {
  return [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

function readForm() {
  return {
    name: $("name").value.trim(),
    phone: asciiDigits($("phone").value),
    committee: $("committee").value,
    address: $("address").value.trim(),
    skills: values("skills"),
    languages: values("languages"),
    qualifications: values("qualifications").map((kind) => ({ kind })),
    availability: values("availability").map((k) => TIMES[k]).join("; "),
    consent: $("consent").checked,
    language: lang(),
  };
}

// localCheck catches what needs no server to see.
function localCheck(b) {
  const f = {};
  if (!b.name) f.name = "";
  if (!b.phone) f.phone = "";
  if (!b.committee) f.committee = "";
  if (!b.skills.length) f.skills = "";
  if (!b.languages.length) f.languages = "";
  if (!b.consent) f.consent = "";
  return f;
}

async function submit(ev) {
  ev.preventDefault();
  if (state.inFlight) return;
  const body = readForm();
  const local = localCheck(body);
  if (Object.keys(local).length) {
    showErrors(local);
    return;
  }
  state.errors = {};
  renderErrors();
  setAlert(null);
  setBusy(true);
  try {
    const r = await request("POST", "/api/v1/volunteers/register", { body, credentials: "omit" });
    if (r.status === 201 || r.status === 200) {
      showDone();
    } else if (r.status === 409) {
      state.errors = { phone: "" };
      renderErrors();
      $("phone-error").textContent = t("vol.reg.duplicate");
      setAlert({ key: "vol.reg.duplicate" });
      $("phone").focus();
    } else if (r.status === 400 && r.data.fields && Object.keys(r.data.fields).length) {
      showErrors(r.data.fields);
    } else if (r.status === 429 || r.status === 503) {
      setAlert(r.retryAfter > 0 && r.retryAfter <= 600 ? { key: "vol.reg.busyWait", vars: { s: r.retryAfter } } : { key: "vol.reg.busy" });
    } else if (r.status === 400) {
      setAlert({ text: t("form.err.summary") + (r.data.error ? " (" + r.data.error + ")" : "") });
    } else {
      setAlert({ key: "vol.reg.failed" });
    }
  } catch (e) {
    setAlert({ key: e instanceof NetworkError ? "vol.reg.network" : "vol.reg.failed" });
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  state.inFlight = busy;
  const b = $("submit");
  if (busy) b.setAttribute("aria-disabled", "true");
  else b.removeAttribute("aria-disabled");
  $("submit-status").textContent = busy ? t("vol.reg.sending") : "";
}

function showDone() {
  state.done = true;
  $("form-part").hidden = true;
  $("done").hidden = false;
  window.scrollTo(0, 0);
  $("done").focus();
}

// ---- wiring ----

init();
onLangChange(() => {
  renderChoices();
  renderErrors();
  renderAlert();
  if (state.inFlight) $("submit-status").textContent = t("vol.reg.sending");
});
$("vol-form").addEventListener("submit", submit);
for (const f of ["name", "phone", "address"]) $(f).addEventListener("input", () => clearError(f));
$("committee").addEventListener("change", () => clearError("committee"));
$("consent").addEventListener("change", () => clearError("consent"));
document.addEventListener("change", (e) => {
  const n = e.target && e.target.name;
  if (n === "skills" || n === "languages" || n === "qualifications" || n === "availability") clearError(n);
});
renderChoices();
load();
