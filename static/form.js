// form.js: the resident's form on /.
//
// One idempotency key is made per form fill and sent with every attempt,
// so a double tap or a retry after a lost answer files the need once: the
// server answers the same ticket for the same key.

import { init, t, has, lang, named, onLangChange, withLang, HOTLINE_PHONE } from "/i18n.js";
import { request, NetworkError, newKey, asciiDigits, spacedID, spokenID, el } from "/api.js";

const $ = (id) => document.getElementById(id);

// The fields that can show an error, in page order: the first with an
// error takes the focus.
const FIELDS = ["service_code", "description", "address_string", "location", "phone", "name", "consent"];

// The server names some inputs differently from the form.
const SERVER_FIELD = {
  first_name: "name",
  last_name: "name",
  lat: "location",
  long: "location",
};

const state = {
  key: newKey(),
  inFlight: false,
  services: null, // [Category] once loaded
  coords: null, // {lat, long, accuracy}
  locate: "", // i18n key of the location message, "" for none
  errors: {}, // form field → {key, server}
  alert: null, // {key, vars} or {text}
  ticket: null, // the answer once filed
  hotline: HOTLINE_PHONE, // the number to call with questions
};

// ---- categories ----

async function loadServices() {
  $("categories-failed").hidden = true;
  $("categories-loading").hidden = false;
  $("categories").setAttribute("aria-busy", "true");
  try {
    const r = await request("GET", "/api/v1/services", { credentials: "omit" });
    if (!r.ok || !Array.isArray(r.data.services)) throw new Error("status " + r.status);
    state.services = r.data.services;
    renderServices();
  } catch (_) {
    $("categories-loading").hidden = true;
    $("categories-failed").hidden = false;
  } finally {
    $("categories").setAttribute("aria-busy", "false");
  }
}

function groupTitle(g) {
  return has("group." + g) ? t("group." + g) : g;
}

function renderServices() {
  if (!state.services) return;
  const box = $("categories");
  const checked = box.querySelector("input:checked");
  const selected = checked ? checked.value : "";

  // Keep the catalogue's order; a group starts where its first category is.
  const groups = new Map();
  for (const c of state.services) {
    const g = c.group || "";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(c);
  }
  const showTitles = groups.size > 1;
  const parts = [];
  let n = 0;
  for (const [g, cats] of groups) {
    const list = el("div", { class: "cats" });
    for (const c of cats) {
      const id = "cat-" + n++;
      const desc = named(c, "description");
      const input = el("input", {
        type: "radio",
        name: "service_code",
        id,
        value: c.code,
        "aria-describedby": desc ? id + "-desc" : undefined,
      });
      input.checked = c.code === selected;
      list.append(
        el(
          "label",
          { class: "cat", for: id },
          input,
          el(
            "span",
            {},
            el("span", { class: "cat-name", text: named(c) || c.code }),
            desc ? el("span", { class: "cat-desc", id: id + "-desc", text: desc }) : null,
          ),
        ),
      );
    }
    const section = el("div", { class: "cat-group" });
    if (showTitles) section.append(el("h3", { text: g ? groupTitle(g) : t("form.category.other") }));
    section.append(list);
    parts.push(section);
  }
  box.replaceChildren(...parts);
}

// ---- location ----

function locate() {
  if (!navigator.geolocation) {
    setLocate("form.locate.unsupported");
    return;
  }
  setLocate("form.locate.busy");
  $("locate").setAttribute("aria-disabled", "true");
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      $("locate").removeAttribute("aria-disabled");
      // Six decimals is about 10 cm: more than a phone knows.
      state.coords = {
        lat: Math.round(pos.coords.latitude * 1e6) / 1e6,
        long: Math.round(pos.coords.longitude * 1e6) / 1e6,
        accuracy: Math.max(1, Math.round(pos.coords.accuracy || 0)),
      };
      clearError("location");
      setLocate("form.locate.ok");
    },
    (err) => {
      $("locate").removeAttribute("aria-disabled");
      state.coords = null;
      setLocate(err && err.code === 1 ? "form.locate.denied" : "form.locate.failed");
    },
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
  );
}

function setLocate(key) {
  state.locate = key;
  renderLocate();
}

function renderLocate() {
  $("locate-status").textContent = state.locate
    ? t(state.locate, { m: state.coords ? state.coords.accuracy : "" })
    : "";
  $("locate-clear").hidden = !state.coords;
}

function clearLocation() {
  state.coords = null;
  clearError("location");
  setLocate("");
  $("locate").focus();
}

// ---- errors ----

function fieldMessage(e) {
  // Chinese (or English) words of our own per field; the server's text
  // only for a field we have no words for.
  return e.key && has(e.key) ? t(e.key) : e.server || t("form.err.summary");
}

function showErrors(fields) {
  state.errors = {};
  const extra = [];
  for (const [name, msg] of Object.entries(fields || {})) {
    const f = SERVER_FIELD[name] || name;
    if (FIELDS.includes(f)) {
      if (!state.errors[f]) state.errors[f] = { key: "field." + f, server: msg };
    } else {
      extra.push(msg);
    }
  }
  renderErrors();
  setAlert(extra.length ? { text: t("form.err.summary") + " " + extra.join("; ") } : { key: "form.err.summary" });
  const first = FIELDS.find((f) => state.errors[f]);
  if (first) focusField(first);
}

function renderErrors() {
  for (const f of FIELDS) {
    const e = state.errors[f];
    const p = $(f + "-error");
    if (!p) continue;
    p.textContent = e ? fieldMessage(e) : "";
    p.hidden = !e;
    const target = f === "service_code" ? $("service_code-field") : f === "location" ? null : $(f);
    if (target) {
      if (e) target.setAttribute("aria-invalid", "true");
      else target.removeAttribute("aria-invalid");
    }
  }
}

function clearError(f) {
  if (!state.errors[f]) return;
  delete state.errors[f];
  renderErrors();
  if (Object.keys(state.errors).length === 0 && state.alert && state.alert.key === "form.err.summary") {
    setAlert(null);
  }
}

function focusField(f) {
  let target;
  if (f === "service_code") {
    target = document.querySelector('#categories input:checked') || document.querySelector("#categories input");
  } else if (f === "location") {
    target = $("locate");
  } else {
    target = $(f);
  }
  if (target) {
    target.focus();
    target.scrollIntoView({ block: "center" });
  }
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

function readForm() {
  const checked = document.querySelector('#categories input[name="service_code"]:checked');
  const body = {
    service_code: checked ? checked.value : "",
    description: $("description").value.trim(),
    address_string: $("address_string").value.trim(),
    phone: asciiDigits($("phone").value),
    first_name: $("name").value.trim(),
    consent: $("consent").checked,
    language: lang(),
  };
  if (state.coords) {
    body.lat = state.coords.lat;
    body.long = state.coords.long;
  }
  return body;
}

// localCheck catches the two mistakes that need no server to see.
function localCheck(body) {
  const f = {};
  if (!body.service_code) f.service_code = "";
  if (!body.description) f.description = "";
  return f;
}

async function submit(ev) {
  ev.preventDefault();
  if (state.inFlight) return; // a double tap while the first is on its way
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
    const r = await request("POST", "/api/v1/tickets", {
      body,
      headers: { "Idempotency-Key": state.key },
      credentials: "omit",
    });
    if (r.status === 200 || r.status === 201) {
      showDone(r.data);
    } else if (r.status === 400 && r.data.fields && Object.keys(r.data.fields).length) {
      showErrors(r.data.fields);
    } else if (r.status === 413) {
      state.errors = { description: { key: "field.description" } };
      renderErrors();
      setAlert({ key: "form.err.tooLarge" });
      focusField("description");
    } else if (r.status === 503) {
      // The store is away: nothing was registered. Say so, and give the
      // number to call (the network is served without the store).
      if (!state.hotline) await loadHotline();
      setAlert(state.hotline
        ? { key: "form.err.unavailableCall", vars: { phone: state.hotline } }
        : { key: "form.err.unavailable" });
    } else if (r.status === 429) {
      setAlert(r.retryAfter > 0 && r.retryAfter <= 600
        ? { key: "form.err.busyWait", vars: { s: r.retryAfter } }
        : { key: "form.err.busy" });
    } else if (r.status === 400) {
      setAlert({ text: t("form.err.summary") + (r.data.error ? " (" + r.data.error + ")" : "") });
    } else {
      setAlert({ key: "form.err.internal" });
    }
  } catch (e) {
    setAlert({ key: e instanceof NetworkError ? "form.err.network" : "form.err.internal" });
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  state.inFlight = busy;
  const b = $("submit");
  // aria-disabled rather than disabled keeps the button focusable, so the
  // screen reader does not lose its place.
  if (busy) b.setAttribute("aria-disabled", "true");
  else b.removeAttribute("aria-disabled");
  $("submit-status").textContent = busy ? t("form.submitting") : "";
}

// ---- confirmation ----

function showDone(ticket) {
  state.ticket = ticket;
  renderDone();
  if (!state.hotline) loadHotline();
  $("form-part").hidden = true;
  $("done").hidden = false;
  window.scrollTo(0, 0);
  $("done").focus();
}

function renderDone() {
  const tk = state.ticket;
  if (!tk) return;
  const no = $("ticket-no");
  no.textContent = spacedID(tk.id);
  no.dataset.ticketId = tk.id;
  no.setAttribute("aria-label", spokenID(tk.id));
  $("status-link").setAttribute("href", withLang("/status?id=" + encodeURIComponent(tk.id)));
  const called = $("done-called");
  called.hidden = !tk.phone_masked;
  called.textContent = tk.phone_masked ? t("done.called", { phone: tk.phone_masked }) : "";
  const hl = $("done-phone");
  hl.hidden = !state.hotline;
  if (state.hotline) {
    hl.replaceChildren(
      t("done.phone", { phone: "" }),
      el("a", { href: "tel:" + state.hotline.replace(/[^\d+]/g, ""), text: state.hotline }),
    );
  }
}

// loadHotline finds the street service center's number in the network,
// once, when the confirmation first needs it: the resident form itself
// does not need the whole network.
async function loadHotline() {
  try {
    const r = await request("GET", "/api/v1/units", { credentials: "omit" });
    const center = r.ok && (r.data.units || []).find((u) => u.kind === "service_center" && u.phone);
    if (center) {
      state.hotline = center.phone;
      renderDone();
    }
  } catch (_) {
    // The confirmation stands without it.
  }
}

function again() {
  $("need-form").reset();
  state.key = newKey(); // a new need is a new form fill
  state.coords = null;
  state.ticket = null;
  state.errors = {};
  setLocate("");
  renderErrors();
  setAlert(null);
  $("done").hidden = true;
  $("form-part").hidden = false;
  window.scrollTo(0, 0);
  const first = document.querySelector("#categories input");
  if (first) first.focus();
}

// ---- wiring ----

init();
onLangChange(() => {
  renderServices();
  renderLocate();
  renderErrors();
  renderAlert();
  renderDone();
  if (state.inFlight) $("submit-status").textContent = t("form.submitting");
});

$("need-form").addEventListener("submit", submit);
$("categories-retry").addEventListener("click", loadServices);
$("locate").addEventListener("click", () => {
  if ($("locate").getAttribute("aria-disabled") !== "true") locate();
});
$("locate-clear").addEventListener("click", clearLocation);
$("again").addEventListener("click", again);
for (const f of ["description", "address_string", "phone", "name"]) {
  $(f).addEventListener("input", () => clearError(f));
}
$("consent").addEventListener("change", () => clearError("consent"));
document.addEventListener("change", (e) => {
  if (e.target && e.target.name === "service_code") clearError("service_code");
});

loadServices();
