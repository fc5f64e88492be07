// volunteer-record.js: one volunteer's record on /volunteers/{id}: their
// profile (the phone masked unless the server shows it), their tasks and
// the hours they gave by category. Social workers and admins edit the
// profile in place (PUT /api/v1/volunteers/{id}, with the version shown,
// so a change made meanwhile by someone else is not overwritten); the
// review's decisions (approve, suspend…) are made on the review page.

import { init, t, signedIn, has, named, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError, spacedID, formatTime, el } from "/api.js";

const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  record: null,
  error: "",
  services: [],
  units: new Map(),
  terms: null,
  editing: false,
  saving: false,
  errors: {}, // field → the server's message, shown next to the field
  alert: null, // {key, vars} or null: the edit form's alert
  saved: "", // the name last saved, for the status line
  form: null, // the volunteer's values, to fill the form when it opens
  expiries: new Map(), // qualification → the date last entered for it
};

// The edit form's fields, by the server's names, in page order.
const FIELDS = [
  "name",
  "phone",
  "committee",
  "address",
  "skills",
  "languages",
  "qualifications",
  "availability",
  "classification",
  "max_tasks",
  "notes",
];
// The fields shown as groups of check boxes.
const BOXES = ["skills", "languages", "qualifications"];

// canEdit: the registry lets social workers and admins edit (it decides;
// this only spares the others a button that would be refused).
function canEdit() {
  const u = state.me && state.me.user;
  return !!u && (u.role === "social_worker" || u.role === "admin");
}

// lastDay is the last day a qualification is valid, "2027-06-30": the
// registry stores the start of the day after, in Shanghai (UTC+8, no
// daylight saving).
function lastDay(iso) {
  const ms = Date.parse(iso || "");
  if (!Number.isFinite(ms) || new Date(ms).getFullYear() < 2000) return "";
  return new Date(ms + 8 * 3600e3 - 1).toISOString().slice(0, 10);
}

// The volunteer's id: /volunteers/{id}, or ?id= on /volunteer-record.html.
function volunteerID() {
  const m = location.pathname.match(/^\/volunteers\/([^/]+)$/);
  if (m) return decodeURIComponent(m[1]);
  return new URLSearchParams(location.search).get("id") || "";
}

function unitName(id) {
  const u = state.units.get(id);
  return (u && named(u)) || id || "";
}

function serviceName(code) {
  const c = state.services.find((x) => x.code === code);
  return (c && named(c)) || code || "";
}

function termName(list, code) {
  const x = state.terms && (state.terms[list] || []).find((y) => y.code === code);
  return (x && named(x)) || code;
}

function fact(dl, label, value) {
  if (value === undefined || value === null || value === "") return;
  dl.append(el("div", {}, el("dt", { text: label }), el("dd", { text: String(value) })));
}

function render() {
  $("record-alert").textContent = state.error;
  const rec = state.record;
  $("record-body").hidden = !rec;
  if (!rec) return;
  const v = rec.volunteer || rec.profile || {};
  $("record-title").textContent = t("vol.rec.titleOf", { name: v.name || v.id || "" });
  document.title = t("vol.rec.titleOf", { name: v.name || "" }) + " - " + t("site.name");
  const dl = $("profile");
  dl.replaceChildren();
  fact(dl, t("vol.col.phone"), v.phone);
  fact(dl, t("vol.col.status"), v.status ? t("vol.s." + v.status) : "");
  fact(dl, t("vol.rec.class"), v.classification ? termName("classifications", v.classification) : "");
  fact(dl, t("vol.col.committee"), unitName(v.committee));
  fact(dl, t("vol.rec.groups"), (v.groups || []).map(unitName).join("、"));
  fact(dl, t("vol.col.skills"), (v.skills || []).map(serviceName).join("、"));
  fact(dl, t("vol.rec.languages"), (v.languages || []).map((l) => termName("languages", l)).join("、"));
  fact(
    dl,
    t("vol.rec.quals"),
    (v.qualifications || [])
      .map((q) => termName("qualifications", q.kind) + (lastDay(q.expires) ? " (" + t("vol.rec.expires", { date: lastDay(q.expires) }) + ")" : ""))
      .join("、"),
  );
  fact(dl, t("vol.rec.availability"), v.availability);
  fact(dl, t("vol.rec.notes"), v.notes);
  fact(dl, t("vol.rec.since"), formatTime(v.created_at));
  if (v.max_tasks) fact(dl, t("vol.rec.e.maxTasks"), v.max_tasks);

  $("edit-open").hidden = !canEdit() || state.editing;
  $("edit-open").setAttribute("aria-expanded", String(state.editing));
  $("edit-form").hidden = !state.editing;
  dl.hidden = state.editing;
  $("edit-status").textContent = state.saved ? t("vol.rec.e.saved", { name: state.saved }) : "";
  if (state.editing) renderEdit();

  // volunteers.VolunteerRecord: by_category rows {key, name, hours, tasks}.
  const hours = rec.by_category || [];
  $("hours").hidden = hours.length === 0;
  $("hours-none").hidden = hours.length > 0;
  $("hours-body").replaceChildren(
    ...hours.map((h) => el("tr", {}, el("td", { text: serviceName(h.key) || h.name }), el("td", { text: String(h.hours) }))),
    ...(hours.length
      ? [el("tr", {}, el("th", { scope: "row", text: t("vol.rec.total") }), el("td", { text: String(rec.hours || 0) }))]
      : []),
  );

  const tasks = rec.assignments || [];
  $("tasks").hidden = tasks.length === 0;
  $("tasks-none").hidden = tasks.length > 0;
  $("tasks-body").replaceChildren(
    ...tasks.map((a) =>
      el(
        "tr",
        {},
        el("td", {}, el("a", { href: withLang("/board?ticket=" + encodeURIComponent(a.ticket_id)), text: spacedID(a.ticket_id) })),
        el("td", { text: serviceName(a.category) }),
        el("td", { text: t("vol.as." + a.status) }),
        el("td", { text: formatTime(a.offered_at) }),
        el("td", { text: a.hours ? String(a.hours) : t("common.none") }),
      ),
    ),
  );
}

// ---- the profile edit ----

// boxes fills box with one check box per item, ticking those in chosen.
// extra(item, input) may add to each box's cell (the qualifications'
// expiry dates).
function boxes(box, name, items, label, chosen, extra) {
  box.replaceChildren(
    ...items.map((code, n) => {
      const id = `edit-${name}-${n}`;
      const input = el("input", { type: "checkbox", name, id, value: code });
      input.checked = chosen.has(code);
      const card = el("label", { class: "cat", for: id }, input, el("span", {}, el("span", { class: "cat-name", text: label(code) })));
      return extra ? el("div", { "data-code": code }, card, extra(code, input)) : card;
    }),
  );
}

// expiry is the date input of a qualification, shown while it is ticked.
function expiry(code, input, value) {
  const id = "edit-expires-" + code;
  const date = el("input", { type: "date", id, name: "expires", "data-kind": code, class: "short" });
  date.value = value || "";
  return el(
    "div",
    { class: "field", "data-expiry": code, hidden: !input.checked },
    el("label", { for: id, text: t("vol.rec.e.expires", { name: termName("qualifications", code) }) }),
    date,
  );
}

// renderEdit draws the choices of the form (in the current language),
// keeping what is entered.
function renderEdit() {
  const f = readForm();
  const svc = state.services;
  boxes($("edit-skills"), "skills", svc.map((c) => c.code), serviceName, new Set(f.skills));
  const terms = state.terms || {};
  boxes($("edit-languages"), "languages", (terms.languages || []).map((x) => x.code), (c) => termName("languages", c), new Set(f.languages));
  const exp = new Map(f.qualifications.map((q) => [q.kind, q.expires]));
  boxes(
    $("edit-qualifications"),
    "qualifications",
    (terms.qualifications || []).map((x) => x.code),
    (c) => termName("qualifications", c),
    new Set(exp.keys()),
    (code, input) => expiry(code, input, exp.get(code) || state.expiries.get(code)),
  );

  const sel = $("edit-committee");
  sel.replaceChildren(el("option", { value: "", text: t("vol.reg.committee.pick") }));
  const committees = [...state.units.values()].filter((u) => u.kind === "committee");
  if (f.committee && !state.units.has(f.committee)) committees.push({ id: f.committee });
  for (const u of committees) {
    const o = el("option", { value: u.id, text: named(u) || u.id });
    o.selected = u.id === f.committee;
    sel.append(o);
  }
  const cls = $("edit-classification");
  cls.replaceChildren(el("option", { value: "", text: t("vol.rec.e.noClass") }));
  for (const c of terms.classifications || []) {
    const o = el("option", { value: c.code, text: named(c) || c.code });
    o.selected = c.code === f.classification;
    cls.append(o);
  }
  renderErrors();
  renderAlert();
}

// The form's values are read from the page once it is filled; before that
// (state.form set by openEdit) from the volunteer.
function checked(name) {
  return [...document.querySelectorAll(`#edit-form input[name="${name}"]:checked`)].map((i) => i.value);
}

function readForm() {
  if (state.form) {
    const f = state.form;
    state.form = null;
    return f;
  }
  return {
    name: $("edit-name").value.trim(),
    phone: $("edit-phone").value.trim(),
    committee: $("edit-committee").value,
    address: $("edit-address").value.trim(),
    skills: checked("skills"),
    languages: checked("languages"),
    qualifications: checked("qualifications").map((kind) => {
      const d = document.querySelector(`#edit-form input[name="expires"][data-kind="${kind}"]`);
      return d && d.value ? { kind, expires: d.value } : { kind };
    }),
    availability: $("edit-availability").value.trim(),
    classification: $("edit-classification").value,
    max_tasks: $("edit-max_tasks").value.trim(),
    notes: $("edit-notes").value,
  };
}

function openEdit() {
  const v = state.record.volunteer;
  state.form = {
    name: v.name || "",
    phone: v.phone || "",
    committee: v.committee || "",
    address: v.address || "",
    skills: v.skills || [],
    languages: v.languages || [],
    qualifications: (v.qualifications || []).map((q) => ({ kind: q.kind, expires: lastDay(q.expires) })),
    availability: v.availability || "",
    classification: v.classification || "",
    max_tasks: String(v.max_tasks || 0),
    notes: v.notes || "",
  };
  // Dates typed for a qualification then unticked come back if it is
  // ticked again.
  state.expiries = new Map(state.form.qualifications.map((q) => [q.kind, q.expires]));
  for (const k of ["name", "phone", "address", "availability", "max_tasks", "notes"]) $("edit-" + k).value = state.form[k];
  state.editing = true;
  state.errors = {};
  state.alert = null;
  state.saved = "";
  render();
  $("edit-name").focus();
}

function closeEdit() {
  state.editing = false;
  state.errors = {};
  state.alert = null;
  render();
  $("edit-open").focus();
}

function renderErrors() {
  for (const f of FIELDS) {
    const p = $(`edit-${f}-error`);
    const msg = state.errors[f];
    p.hidden = msg === undefined;
    // The field's own words, then the server's (in English) for detail.
    p.replaceChildren(
      ...(msg === undefined
        ? []
        : [has("vol.rec.err." + f) ? t("vol.rec.err." + f) + " " : "", el("span", { lang: "en", text: msg })]),
    );
    const target = BOXES.includes(f) ? $(`edit-${f}-field`) : $("edit-" + f);
    if (msg !== undefined) target.setAttribute("aria-invalid", "true");
    else target.removeAttribute("aria-invalid");
  }
}

function renderAlert() {
  const a = state.alert;
  $("edit-alert").textContent = a ? t(a.key, a.vars) : "";
  $("edit-save").textContent = t(state.saving ? "vol.rec.e.saving" : "vol.rec.e.save");
  if (state.saving) $("edit-save").setAttribute("aria-disabled", "true");
  else $("edit-save").removeAttribute("aria-disabled");
}

// showErrors puts the server's field messages next to their fields and
// moves the focus to the first; messages of fields the form does not
// show go to the alert.
function showErrors(fields) {
  state.errors = {};
  const other = [];
  for (const [name, msg] of Object.entries(fields || {})) {
    const f = name.replace(/[.[].*$/, ""); // "skills[2]" → "skills"
    if (FIELDS.includes(f)) state.errors[f] = state.errors[f] ? state.errors[f] + "; " + msg : msg;
    else other.push(name + ": " + msg);
  }
  state.alert = other.length ? { key: "vol.rec.e.failed", vars: { msg: other.join("; ") } } : { key: "form.err.summary" };
  renderErrors();
  renderAlert();
  const first = FIELDS.find((f) => state.errors[f] !== undefined);
  if (!first) return;
  const target = BOXES.includes(first) ? document.querySelector(`#edit-${first} input`) : $("edit-" + first);
  if (target) {
    target.focus();
    target.scrollIntoView({ block: "center" });
  }
}

async function save(ev) {
  ev.preventDefault();
  if (state.saving) return;
  if ($("edit-max_tasks").validity.badInput) {
    showErrors({ max_tasks: "must be a whole number" });
    return;
  }
  const v = state.record.volunteer;
  // Every field is replaced: the groups, not edited here, go back as read.
  const body = { ...readForm(), groups: v.groups || [], version: v.version };
  state.saving = true;
  state.alert = null;
  renderAlert();
  let r;
  try {
    r = await request("PUT", "/api/v1/volunteers/" + encodeURIComponent(v.id), {
      body,
      headers: { "X-CSRF-Token": (state.me && state.me.csrf_token) || "" },
    });
  } catch (e) {
    state.saving = false;
    state.alert = { key: e instanceof NetworkError ? "vol.rec.e.network" : "vol.rec.e.failed", vars: { msg: String(e) } };
    renderAlert();
    return;
  }
  state.saving = false;
  if (r.status === 401) {
    location.assign(withLang("/login"));
    return;
  }
  if (r.ok && r.data.volunteer) {
    state.record.volunteer = r.data.volunteer;
    state.saved = r.data.volunteer.name || r.data.volunteer.id;
    closeEdit();
    return;
  }
  if (r.status === 400 && r.data.fields && Object.keys(r.data.fields).length) {
    showErrors(r.data.fields);
    return;
  }
  state.errors = {};
  renderErrors();
  const msg = (r.data && r.data.error) || "HTTP " + r.status;
  state.alert = r.status === 409 ? { key: "vol.rec.e.conflict", vars: { msg } } : { key: "vol.rec.e.failed", vars: { msg } };
  renderAlert();
  $("edit-alert").scrollIntoView({ block: "center" });
}

async function start() {
  init();
  const id = volunteerID();
  let me;
  try {
    me = await request("GET", "/api/v1/me");
  } catch (e) {
    state.error = t("staff.network");
    render();
    return;
  }
  if (me.status === 401) {
    location.assign(withLang("/login"));
    return;
  }
  state.me = me.data;
  const u = me.data && me.data.user;
  if (u) {
    $("whoami").removeAttribute("data-i18n");
    $("whoami").textContent = signedIn(u);
  }
  const [svc, units, terms] = await Promise.all([
    request("GET", "/api/v1/services").catch(() => null),
    request("GET", "/api/v1/units").catch(() => null),
    request("GET", "/api/v1/volunteers/terms").catch(() => null),
  ]);
  if (svc && svc.ok) state.services = svc.data.services || [];
  if (units && units.ok) for (const x of units.data.units || []) state.units.set(x.id, x);
  if (terms && terms.ok) state.terms = terms.data;
  try {
    const r = await request("GET", "/api/v1/volunteers/" + encodeURIComponent(id));
    if (r.ok) state.record = r.data;
    else state.error = r.status === 404 ? t("vol.rec.notFound") : t("staff.error", { msg: (r.data && r.data.error) || "HTTP " + r.status });
  } catch (e) {
    if (e instanceof NetworkError) state.error = t("staff.network");
  }
  render();
}

$("edit-open").addEventListener("click", openEdit);
$("edit-cancel").addEventListener("click", closeEdit);
$("edit-form").addEventListener("submit", save);
$("edit-form").addEventListener("change", (e) => {
  const x = e.target;
  if (x.name === "qualifications") {
    const box = document.querySelector(`#edit-form [data-expiry="${x.value}"]`);
    if (box) box.hidden = !x.checked;
  }
  if (x.name === "expires") state.expiries.set(x.dataset.kind, x.value);
});
$("edit-form").addEventListener("input", (e) => {
  const f = e.target.name === "expires" ? "qualifications" : e.target.name;
  if (state.errors[f] === undefined) return;
  delete state.errors[f];
  renderErrors();
});
onLangChange(render);
start();
