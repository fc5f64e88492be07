// projects.js: the social workers' list of needs projects on /projects:
// the grouping job's last run, the drafts first with their evidence (the
// tickets month by month, the committees), filters by status and year,
// several drafts merged into one, and the year's export as XLSX or
// Markdown. Every decision is the server's; a refusal is shown where it
// was asked for.

import { init, t, signedIn, named, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError, el } from "/api.js";
import {
  PROJECT_STATUSES,
  statusBadge,
  trendBadge,
  monthChart,
  committeeBars,
  num,
  yuan,
  title,
  errText,
  whenRan,
} from "/project-charts.js";

const $ = (id) => document.getElementById(id);

// Drafts and proposals can be picked to merge: drafts go into the one
// chosen as the target, which may be a proposal.
const MERGEABLE = ["draft", "proposal"];

const state = {
  me: null,
  units: new Map(),
  filter: { status: "", year: "" },
  list: [],
  listError: "",
  loaded: false,
  run: undefined, // undefined: not read yet; null: the job never ran
  runError: "",
  picked: [], // project ids picked to merge, in the order picked
  mergeError: "",
  busy: false,
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

function unitName(id) {
  const u = state.units.get(id);
  return (u && named(u)) || id || "";
}

// ---- the address bar and the filters ----

function readURL() {
  const q = new URLSearchParams(location.search);
  const s = q.get("status") || "";
  state.filter.status = PROJECT_STATUSES.includes(s) ? s : "";
  const y = q.get("year") || "";
  state.filter.year = /^\d{4}$/.test(y) ? y : "";
}

function writeURL() {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(state.filter)) {
    if (v) u.searchParams.set(k, v);
    else u.searchParams.delete(k);
  }
  history.replaceState(history.state, "", u);
}

function option(value, text, selected) {
  const o = el("option", { value, text });
  o.selected = value === selected;
  return o;
}

// The years offered: last year to the year after next, and any year a
// listed project or the address names. Projects are planned for the year
// after the run that found them.
function years() {
  const now = new Date().getFullYear();
  const set = new Set([now - 1, now, now + 1, now + 2]);
  for (const p of state.list) if (p.year) set.add(p.year);
  if (state.filter.year) set.add(parseInt(state.filter.year, 10));
  return [...set].sort((a, b) => b - a);
}

// exportYear is the year the export buttons write: the filter's, else
// the year most listed projects are planned for, else next year.
function exportYear() {
  if (state.filter.year) return state.filter.year;
  const counts = new Map();
  for (const p of state.list) if (p.year) counts.set(p.year, (counts.get(p.year) || 0) + 1);
  let best = new Date().getFullYear() + 1;
  let n = 0;
  for (const [y, c] of counts) if (c > n || (c === n && y > best)) [best, n] = [y, c];
  return String(best);
}

function renderFilters() {
  const f = state.filter;
  $("f-status").replaceChildren(
    option("", t("staff.f.all"), f.status),
    ...PROJECT_STATUSES.map((s) => option(s, t("proj.s." + s), f.status)),
  );
  $("f-year").replaceChildren(option("", t("staff.f.all"), f.year), ...years().map((y) => option(String(y), String(y), f.year)));
  const year = exportYear();
  const q = new URLSearchParams({ year });
  if (f.status) q.set("status", f.status);
  $("year-xlsx").setAttribute("href", "/api/v1/projects/export.xlsx?" + q);
  $("year-md").setAttribute("href", "/api/v1/projects/export.md?" + q);
  $("year-xlsx").textContent = t("proj.export.yearXlsx", { year });
  $("year-md").textContent = t("proj.export.yearMd", { year });
}

// ---- the last run ----

async function loadRun() {
  try {
    const r = await call("GET", "/api/v1/projects/run");
    if (r.ok) {
      state.run = r.data.run || null;
      state.runError = "";
    } else {
      state.runError = errText(r);
    }
  } catch (e) {
    if (e instanceof NetworkError) state.runError = t("staff.network");
  }
  renderRun();
}

function renderRun() {
  const p = $("run-line");
  if (state.run === undefined && !state.runError) {
    p.textContent = "";
    return;
  }
  if (state.runError) {
    p.textContent = state.runError;
    return;
  }
  const run = state.run;
  if (!run) {
    p.textContent = t("proj.run.never");
    return;
  }
  p.textContent = t("proj.run.line", {
    when: whenRan(run.started),
    tickets: num(run.tickets),
    groups: num(run.groups),
    recurring: num(run.recurring),
    new: num(run.new),
    continued: num(run.continued),
    retired: num(run.retired),
  }) + (run.kept ? t("proj.run.kept", { kept: num(run.kept) }) : "");
}

// ---- the list ----

async function loadList() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filter)) if (v) q.set(k, v);
  $("list-count").textContent = t("staff.loading");
  try {
    const r = await call("GET", "/api/v1/projects" + (q.toString() ? "?" + q : ""));
    if (r.ok) {
      state.list = sorted(r.data.projects || []);
      state.listError = "";
      // A picked project that left the list (merged, filtered out) is
      // no longer picked.
      state.picked = state.picked.filter((id) => state.list.some((p) => p.id === id && MERGEABLE.includes(p.status)));
    } else {
      state.listError = errText(r);
    }
  } catch (e) {
    if (!(e instanceof NetworkError)) return;
    state.listError = t("staff.network");
  }
  state.loaded = true;
  renderFilters();
  renderList();
  renderMerge();
}

// sorted puts drafts first, then the lifecycle's order; within a status
// the most tickets first.
function sorted(list) {
  const rank = (s) => {
    const i = PROJECT_STATUSES.indexOf(s);
    return i < 0 ? PROJECT_STATUSES.length : i;
  };
  return [...list].sort(
    (a, b) =>
      rank(a.status) - rank(b.status) ||
      ((b.evidence && b.evidence.tickets) || 0) - ((a.evidence && a.evidence.tickets) || 0) ||
      String(a.id).localeCompare(String(b.id)),
  );
}

function card(p) {
  const ev = p.evidence || {};
  const href = withLang("/projects/" + encodeURIComponent(p.id));
  const headingID = "proj-h-" + p.id;
  const li = el("li", {
    class: "proj-card " + p.status + (state.picked.includes(p.id) ? " picked" : ""),
    "data-project": p.id,
    "aria-labelledby": headingID,
  });
  li.append(
    el("h3", { id: headingID }, el("a", { href, text: title(p) })),
    el("div", { class: "row" }, statusBadge(p.status), trendBadge(p.trend), el("span", { class: "muted", text: p.id + " · " + p.year })),
  );
  const figures = el("ul", { class: "proj-figures" });
  const figure = (key, value) => figures.append(el("li", {}, t(key) + " ", el("b", { text: value })));
  figure("proj.fig.tickets", num(ev.tickets));
  figure("proj.fig.residents", num(ev.residents));
  figure("proj.fig.budget", yuan(p.budget));
  if (p.status === "draft" && p.previous_tickets) figure("proj.fig.previous", num(p.previous_tickets));
  li.append(figures);
  if ((p.committees || []).length) {
    li.append(el("p", { class: "muted", text: t("proj.fig.committees") + (p.committees || []).map(unitName).join("、") }));
  }
  if ((ev.months || []).length) li.append(monthChart(ev.months, { compact: true }));
  if ((ev.committees || []).length) li.append(committeeBars(ev.committees, unitName, 3));
  if (MERGEABLE.includes(p.status)) {
    const id = "pick-" + p.id;
    const box = el("input", { type: "checkbox", id, "data-pick": p.id });
    box.checked = state.picked.includes(p.id);
    li.append(el("label", { class: "pick", for: id }, box, t("proj.merge.pick", { title: title(p) })));
  }
  return li;
}

function renderList() {
  $("list-alert").textContent = state.listError;
  const cards = state.list.map(card);
  $("projects").replaceChildren(...cards);
  if (!state.loaded) return;
  if (state.listError) $("list-count").textContent = "";
  else if (!cards.length) $("list-count").textContent = t("proj.list.none");
  else {
    const drafts = state.list.filter((p) => p.status === "draft").length;
    $("list-count").textContent = t("proj.list.count", { n: state.list.length, drafts });
  }
}

// ---- merging ----

function renderMerge() {
  const picked = state.picked.map((id) => state.list.find((p) => p.id === id)).filter(Boolean);
  $("merge-bar").hidden = picked.length < 2;
  $("merge-count").textContent = t("proj.merge.count", { n: picked.length });
  const sel = $("merge-into");
  const keep = sel.value;
  // The target defaults to a proposal among them, else the draft with the
  // most tickets: the others' tickets go into it.
  const def = (picked.find((p) => p.status === "proposal") || sorted(picked)[0] || {}).id || "";
  sel.replaceChildren(...picked.map((p) => option(p.id, p.id + " " + title(p), picked.some((x) => x.id === keep) ? keep : def)));
  const err = $("merge-alert");
  err.textContent = state.mergeError;
  err.hidden = !state.mergeError;
}

async function merge() {
  if (state.busy) return;
  const into = $("merge-into").value;
  const ids = state.picked.filter((id) => id !== into);
  if (!into || ids.length === 0) return;
  state.busy = true;
  state.mergeError = "";
  $("merge-submit").setAttribute("aria-disabled", "true");
  try {
    const r = await call("POST", "/api/v1/projects/" + encodeURIComponent(into) + "/merge", { body: { ids } });
    if (r.ok) {
      state.picked = [];
      $("action-status").textContent = t("proj.merge.done", { n: ids.length, into });
      await loadList();
      const a = document.querySelector(`li[data-project="${CSS.escape(into)}"] h3 a`);
      if (a) a.focus();
    } else {
      state.mergeError = errText(r);
    }
  } catch (e) {
    if (e instanceof NetworkError) state.mergeError = t("board.err.network");
  } finally {
    state.busy = false;
    $("merge-submit").removeAttribute("aria-disabled");
  }
  renderMerge();
  if (state.mergeError) $("merge-into").focus();
}

// One listener for every card's check box: the cards are rebuilt on each
// render.
$("projects").addEventListener("change", (ev) => {
  const box = ev.target.closest("input[data-pick]");
  if (!box) return;
  const id = box.dataset.pick;
  state.picked = state.picked.filter((x) => x !== id);
  if (box.checked) state.picked.push(id);
  state.mergeError = "";
  const li = box.closest("li.proj-card");
  if (li) li.classList.toggle("picked", box.checked);
  renderMerge();
});

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
  renderFilters();
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
  const units = await request("GET", "/api/v1/units").catch(() => null);
  if (units && units.ok) for (const u of units.data.units || []) state.units.set(u.id, u);
  await Promise.all([loadRun(), loadList()]);
}

onLangChange(() => {
  renderMe();
  renderRun();
  renderFilters();
  renderList();
  renderMerge();
});

$("filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.filter = { status: $("f-status").value, year: $("f-year").value };
  writeURL();
  loadList();
});
$("f-reset").addEventListener("click", () => {
  state.filter = { status: "", year: "" };
  writeURL();
  loadList();
});
$("refresh").addEventListener("click", () => {
  loadRun();
  loadList();
});
$("merge-submit").addEventListener("click", merge);
$("merge-clear").addEventListener("click", () => {
  state.picked = [];
  state.mergeError = "";
  renderList();
  renderMerge();
  $("list-title").focus();
});
$("logout").addEventListener("click", logout);

start();
