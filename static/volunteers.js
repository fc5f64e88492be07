// volunteers.js: the social workers' review of the volunteer registry on
// /volunteers: the list by status with filters, approve with a
// classification, reject with a reason, suspend, activate; CSV import with
// its report and CSV export. Every decision is the server's: a refusal is
// shown on the row it concerns.

import { init, t, signedIn, named, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError, el } from "/api.js";

const $ = (id) => document.getElementById(id);

const PAGE = 50;
export const VOL_STATUSES = ["applied", "approved", "active", "suspended", "left", "rejected"];
// The badge colours of the ticket statuses, reused.
export const VOL_BADGE = {
  applied: "s-new",
  approved: "s-accepted",
  active: "s-resolved",
  suspended: "s-in_progress",
  left: "s-closed",
  rejected: "s-cancelled",
};

const state = {
  me: null,
  services: [],
  units: new Map(),
  terms: { classifications: [], languages: [], qualifications: [] },
  filter: { status: "applied", committee: "", skill: "", q: "" },
  offset: 0,
  total: 0,
  list: [],
  listError: "",
  open: { id: "", action: "" }, // the row whose reason form is open
  rowError: {}, // volunteer id → message
  busy: false,
  report: null, // the last import report
};

async function call(method, path, opts = {}) {
  if (method !== "GET") opts.headers = { ...(opts.headers || {}), "X-CSRF-Token": (state.me && state.me.csrf_token) || "" };
  const r = await request(method, path, opts);
  if (r.status === 401) {
    location.assign(withLang("/login"));
    throw new Error("signed out");
  }
  return r;
}

function errText(r) {
  const msg = (r.data && r.data.error) || "HTTP " + r.status;
  const fields = r.data && r.data.fields ? Object.values(r.data.fields).join("; ") : "";
  return t("staff.error", { msg: fields ? msg + ": " + fields : msg });
}

export function volStatusName(s) {
  return t("vol.s." + s);
}

function unitName(id) {
  const u = state.units.get(id);
  return (u && named(u)) || id || "";
}

function serviceName(code) {
  const c = state.services.find((x) => x.code === code);
  return (c && named(c)) || code;
}

// ---- filters and the address bar ----

function readURL() {
  const q = new URLSearchParams(location.search);
  for (const k of Object.keys(state.filter)) if (q.has(k)) state.filter[k] = q.get(k) || "";
  state.offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
}

function writeURL() {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(state.filter)) u.searchParams.set(k, v);
  if (state.offset) u.searchParams.set("offset", String(state.offset));
  else u.searchParams.delete("offset");
  history.replaceState(history.state, "", u);
}

function option(value, text, selected) {
  const o = el("option", { value, text });
  o.selected = value === selected;
  return o;
}

function renderFilters() {
  const f = state.filter;
  $("f-status").replaceChildren(option("", t("staff.f.all"), f.status), ...VOL_STATUSES.map((s) => option(s, volStatusName(s), f.status)));
  const committees = [...state.units.values()].filter((u) => u.kind === "committee");
  $("f-committee").replaceChildren(option("", t("staff.f.all"), f.committee), ...committees.map((u) => option(u.id, named(u) || u.id, f.committee)));
  $("f-skill").replaceChildren(option("", t("staff.f.all"), f.skill), ...state.services.map((c) => option(c.code, named(c) || c.code, f.skill)));
  $("f-q").value = f.q;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  $("export-link").setAttribute("href", "/api/v1/volunteers/export.csv" + (q.toString() ? "?" + q : ""));
}

// ---- the list ----

async function loadList() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filter)) if (v) q.set(k, v);
  q.set("offset", String(state.offset));
  q.set("limit", String(PAGE));
  $("list-count").textContent = t("staff.loading");
  try {
    const r = await call("GET", "/api/v1/volunteers?" + q);
    if (r.ok) {
      state.list = r.data.volunteers || [];
      state.total = r.data.total || 0;
      state.listError = "";
    } else {
      state.listError = errText(r);
    }
  } catch (e) {
    if (!(e instanceof NetworkError)) return;
    state.listError = t("staff.network");
  }
  renderList();
}

function reviewCell(v) {
  const cell = el("td", { class: "vol-review" });
  const buttons = el("div", { class: "row" });
  const act = (action, text, primary) => {
    const b = el("button", { type: "button", class: "btn small" + (primary ? " primary" : ""), "data-action": action, "data-volunteer": v.id, text });
    return b;
  };
  if (v.status === "applied") {
    const id = "class-" + v.id;
    const sel = el("select", { id, "data-classify": v.id, class: "short" });
    sel.append(option("", t("vol.rev.pickClass"), ""));
    for (const c of state.terms.classifications) sel.append(option(c.code, named(c) || c.code, ""));
    buttons.append(
      el("label", { for: id, class: "visually-hidden", text: t("vol.rev.classFor", { name: v.name }) }),
      sel,
      act("approve", t("vol.a.approve"), true),
      act("reject", t("vol.a.reject")),
    );
  } else if (v.status === "approved" || v.status === "active") {
    if (v.status === "approved") buttons.append(act("activate", t("vol.a.activate")));
    buttons.append(act("suspend", t("vol.a.suspend")), act("left", t("vol.a.left")));
  } else if (v.status === "suspended") {
    buttons.append(act("activate", t("vol.a.activate"), true), act("left", t("vol.a.left")));
  }
  if (v.classification) {
    const c = state.terms.classifications.find((x) => x.code === v.classification);
    cell.append(el("p", { class: "muted", text: (c && named(c)) || v.classification }));
  }
  cell.append(buttons);
  if (state.open.id === v.id) cell.append(reasonForm(v, state.open.action));
  const err = state.rowError[v.id];
  cell.append(el("p", { class: "field-error", id: "row-error-" + v.id, hidden: !err, text: err || "" }));
  return cell;
}

// reasonForm asks why, for reject and suspend.
function reasonForm(v, action) {
  const id = `reason-${v.id}`;
  const form = el("form", { class: "action-form", "data-reason-for": v.id, novalidate: true });
  form.append(
    el("label", { for: id, text: t("vol.rev.reason." + action, { name: v.name }) }),
    el("textarea", { id, name: "reason", rows: "2", required: true, maxlength: "500" }),
    el(
      "div",
      { class: "row" },
      el("button", { type: "submit", class: "btn small primary", text: t("vol.a." + action) }),
      el("button", { type: "button", class: "btn small", "data-cancel": v.id, text: t("board.af.close") }),
    ),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const reason = form.elements.reason.value.trim();
    if (!reason) {
      state.rowError[v.id] = t("board.af.required");
      renderList();
      const ta = $(id);
      if (ta) ta.focus();
      return;
    }
    act(v, action, { reason });
  });
  form.querySelector("[data-cancel]").addEventListener("click", () => {
    state.open = { id: "", action: "" };
    renderList();
    const b = document.querySelector(`[data-action="${action}"][data-volunteer="${CSS.escape(v.id)}"]`);
    if (b) b.focus();
  });
  return form;
}

function renderList() {
  $("list-alert").textContent = state.listError;
  const rows = state.list.map((v) => {
    const tr = el(
      "tr",
      { "data-volunteer": v.id },
      el("td", {}, el("a", { href: withLang("/volunteers/" + encodeURIComponent(v.id)), text: v.name || v.id })),
      el("td", { class: "digits", text: v.phone || "" }),
      el("td", { text: unitName(v.committee) }),
      el("td", { text: (v.skills || []).map(serviceName).join("、") }),
      el("td", {}, el("span", { class: "badge " + (VOL_BADGE[v.status] || ""), "data-status": v.status, text: volStatusName(v.status) })),
      reviewCell(v),
    );
    return tr;
  });
  $("volunteers-body").replaceChildren(...rows);
  $("volunteers").hidden = rows.length === 0;
  if (state.listError) $("list-count").textContent = "";
  else if (!rows.length) $("list-count").textContent = t("vol.rev.none");
  else $("list-count").textContent = t("staff.count", { total: state.total, from: state.offset + 1, to: state.offset + rows.length });
  $("prev").hidden = state.offset === 0;
  $("next").hidden = state.offset + rows.length >= state.total;
}

async function act(v, action, body) {
  if (state.busy) return;
  state.busy = true;
  delete state.rowError[v.id];
  try {
    const r = await call("POST", `/api/v1/volunteers/${encodeURIComponent(v.id)}/${action}`, { body });
    if (!r.ok) {
      state.rowError[v.id] = errText(r);
    } else {
      const i = state.list.findIndex((x) => x.id === v.id);
      if (i >= 0 && r.data.volunteer) state.list[i] = r.data.volunteer;
      state.open = { id: "", action: "" };
      $("action-status").textContent = t("vol.done." + action, { name: v.name });
    }
  } catch (e) {
    if (e instanceof NetworkError) state.rowError[v.id] = t("board.err.network");
  } finally {
    state.busy = false;
  }
  renderList();
  const err = state.rowError[v.id];
  const focus = err
    ? document.querySelector(`tr[data-volunteer="${CSS.escape(v.id)}"] button, tr[data-volunteer="${CSS.escape(v.id)}"] select`)
    : document.querySelector(`tr[data-volunteer="${CSS.escape(v.id)}"] a`);
  if (focus) focus.focus();
}

// One listener for every row's buttons: the rows are rebuilt on each render.
$("volunteers-body").addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-action]");
  if (!b) return;
  const v = state.list.find((x) => x.id === b.dataset.volunteer);
  if (!v) return;
  const action = b.dataset.action;
  if (action === "approve") {
    const sel = document.querySelector(`select[data-classify="${CSS.escape(v.id)}"]`);
    if (!sel || !sel.value) {
      state.rowError[v.id] = t("vol.rev.needClass");
      renderList();
      const s = document.querySelector(`select[data-classify="${CSS.escape(v.id)}"]`);
      if (s) s.focus();
      return;
    }
    act(v, "approve", { classification: sel.value });
  } else if (action === "reject" || action === "suspend") {
    state.open = { id: v.id, action };
    delete state.rowError[v.id];
    renderList();
    const ta = $("reason-" + v.id);
    if (ta) ta.focus();
  } else {
    act(v, action, {});
  }
});

// ---- CSV import ----

async function importCSV(ev) {
  ev.preventDefault();
  const file = $("import-file").files[0];
  $("import-alert").textContent = "";
  if (!file) {
    $("import-alert").textContent = t("vol.csv.noFile");
    $("import-file").focus();
    return;
  }
  const fd = new FormData();
  fd.append("file", file);
  $("import-submit").setAttribute("aria-disabled", "true");
  $("import-report").textContent = t("vol.csv.importing");
  try {
    let res;
    try {
      res = await fetch("/api/v1/volunteers/import", {
        method: "POST",
        body: fd,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": (state.me && state.me.csrf_token) || "" },
      });
    } catch (e) {
      throw new NetworkError(String(e));
    }
    let data = {};
    try {
      data = await res.json();
    } catch (_) {
      data = {};
    }
    if (res.status === 401) {
      location.assign(withLang("/login"));
      return;
    }
    if (!res.ok) {
      state.report = null;
      $("import-report").textContent = "";
      $("import-alert").textContent = res.status === 413 ? t("vol.csv.tooLarge") : errText({ status: res.status, data });
      return;
    }
    state.report = data;
    renderReport();
    loadList();
  } catch (e) {
    $("import-report").textContent = "";
    if (e instanceof NetworkError) $("import-alert").textContent = t("board.err.network");
  } finally {
    $("import-submit").removeAttribute("aria-disabled");
  }
}

// renderReport shows what the import did (volunteers.ImportReport): how
// many rows were stored, and every refused row with its line, column and
// reason, in a table.
function renderReport() {
  const box = $("import-report");
  const rep = state.report;
  if (!rep) {
    box.replaceChildren();
    return;
  }
  const rejected = rep.rejected || [];
  const bad = rep.rejected_rows || rejected.length;
  const parts = [
    el("p", {
      class: bad ? "alert" : "alert info",
      id: "import-summary",
      text: t("vol.csv.summary", { ok: (rep.created || 0) + (rep.updated || 0), same: rep.unchanged || 0, bad }),
    }),
  ];
  if (rejected.length) {
    const body = el("tbody");
    for (const row of rejected) {
      body.append(el("tr", {}, el("td", { text: String(row.line || "") }), el("td", { text: row.column || "" }), el("td", { text: row.reason || "" })));
    }
    parts.push(
      el("h3", { text: t("vol.csv.rejected") }),
      el(
        "div",
        { class: "table-scroll" },
        el(
          "table",
          { class: "tickets", id: "import-rejected" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", { scope: "col", text: t("vol.csv.line") }),
              el("th", { scope: "col", text: t("vol.csv.column") }),
              el("th", { scope: "col", text: t("vol.csv.reason") }),
            ),
          ),
          body,
        ),
      ),
    );
  }
  box.replaceChildren(...parts);
}

// ---- who is signed in ----

function renderMe() {
  const u = state.me && state.me.user;
  if (!u) return;
  $("whoami").removeAttribute("data-i18n");
  $("whoami").textContent = signedIn(u);
}

async function logout() {
  try {
    await request("POST", "/api/v1/logout", { headers: { "X-CSRF-Token": (state.me && state.me.csrf_token) || "" } });
  } catch (_) {
    // The session expires by itself.
  }
  location.assign(withLang("/login"));
}

async function start() {
  init();
  readURL();
  let me;
  try {
    me = await call("GET", "/api/v1/me");
  } catch (e) {
    if (e instanceof NetworkError) $("page-alert").textContent = t("staff.network");
    return;
  }
  if (!me.ok) {
    $("page-alert").textContent = errText(me);
    return;
  }
  state.me = me.data;
  renderMe();
  const [svc, units, terms] = await Promise.all([
    request("GET", "/api/v1/services").catch(() => null),
    request("GET", "/api/v1/units").catch(() => null),
    request("GET", "/api/v1/volunteers/terms").catch(() => null),
  ]);
  if (svc && svc.ok) state.services = svc.data.services || [];
  if (units && units.ok) for (const u of units.data.units || []) state.units.set(u.id, u);
  if (terms && terms.ok) state.terms = terms.data;
  const year = new Date().getFullYear();
  $("hours-link").setAttribute("href", `/api/v1/volunteers/hours.csv?from=${year}-01-01&to=${year}-12-31&by=volunteer`);
  renderFilters();
  await loadList();
}

onLangChange(() => {
  renderMe();
  renderFilters();
  renderList();
  renderReport();
});

$("filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.filter = { status: $("f-status").value, committee: $("f-committee").value, skill: $("f-skill").value, q: $("f-q").value.trim() };
  state.offset = 0;
  writeURL();
  renderFilters();
  loadList();
});
$("f-reset").addEventListener("click", () => {
  state.filter = { status: "applied", committee: "", skill: "", q: "" };
  state.offset = 0;
  writeURL();
  renderFilters();
  loadList();
});
$("refresh").addEventListener("click", loadList);
$("prev").addEventListener("click", () => {
  state.offset = Math.max(0, state.offset - PAGE);
  writeURL();
  loadList();
});
$("next").addEventListener("click", () => {
  state.offset += PAGE;
  writeURL();
  loadList();
});
$("import-form").addEventListener("submit", importCSV);
$("logout").addEventListener("click", logout);

start();
