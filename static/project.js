// project.js: one needs project on /projects/{id}: its evidence (the
// tickets month by month and by committee, the shares, satisfaction,
// anonymised examples, keywords, the tickets themselves), the form that
// turns a draft into a proposal, reject with a reason, split tickets off
// into a new draft; for a proposal the purchase; for a purchased project
// its spending and the evaluation on four dimensions with the tranche it
// supports; the exports. Every decision is the server's: a refused field
// is marked beside the field, in the reader's language.

import { init, t, signedIn, has, lang, named, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError, el, formatTime } from "/api.js";
import { statusBadge, trendBadge, monthChart, committeeBars, scoreBar, num, yuan, pct, title, errText } from "/project-charts.js";

const $ = (id) => document.getElementById(id);

// OTHER_ORG is the organization select's "another organization, by
// name" choice.
const OTHER_ORG = "__other";

const state = {
  me: null,
  id: "",
  p: null,
  error: "",
  units: new Map(),
  services: [],
  terms: { populations: [], org_kinds: [] },
  evaluation: null,
  evalError: "",
  busy: false,
};

function projectID() {
  const m = location.pathname.match(/^\/projects\/([^/]+)$/);
  if (m) return decodeURIComponent(m[1]);
  return new URLSearchParams(location.search).get("id") || "";
}

async function call(method, path, opts = {}) {
  if (method !== "GET") opts.headers = { ...(opts.headers || {}), "X-CSRF-Token": (state.me && state.me.csrf_token) || "" };
  const r = await request(method, path, opts);
  if (r.status === 401) {
    location.assign(withLang("/login"));
    throw new Error("signed out");
  }
  return r;
}

function api(suffix = "") {
  return "/api/v1/projects/" + encodeURIComponent(state.id) + suffix;
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
  const x = (state.terms[list] || []).find((y) => y.code === code);
  return (x && named(x)) || code || "";
}

function organizations() {
  return [...state.units.values()].filter((u) => u.kind === "organization");
}

function option(value, text, selected) {
  const o = el("option", { value, text });
  o.selected = value === selected;
  return o;
}

function fact(dl, label, value) {
  if (value === undefined || value === null || value === "") return;
  dl.append(el("div", {}, el("dt", { text: label }), el("dd", {}, value)));
}

function projectLink(id) {
  return el("a", { href: withLang("/projects/" + encodeURIComponent(id)), text: id });
}

// say announces the outcome of an action (the status region is polite).
function say(text) {
  $("action-status").textContent = text;
}

// ---- the project ----

async function load() {
  try {
    const r = await call("GET", api());
    if (r.ok) {
      state.p = r.data.project;
      state.error = "";
    } else {
      state.p = null;
      state.error = r.status === 404 ? t("proj.one.notFound", { id: state.id }) : errText(r);
    }
  } catch (e) {
    if (e instanceof NetworkError) state.error = t("staff.network");
  }
}

// suggested is the budget the draft's figures give: person-times × cost.
function suggested(p) {
  const cost = Number(p.cost_per_person_time) || 0;
  return cost > 0 && p.person_times ? Math.round(p.person_times * cost * 100) / 100 : Number(p.budget) || 0;
}

function render() {
  $("page-alert").textContent = state.error;
  const p = state.p;
  $("project-body").hidden = !p;
  if (!p) return;
  $("page-title").textContent = title(p);
  document.title = title(p) + " - " + t("site.name");
  $("title-en").textContent = lang() === "en" ? p.title_zh || "" : p.title_en || "";
  $("badges").replaceChildren(statusBadge(p.status), ...(trendBadge(p.trend) ? [trendBadge(p.trend)] : []));
  $("export-xlsx").setAttribute("href", api("/export.xlsx"));
  $("export-md").setAttribute("href", api("/export.md"));

  const dl = $("facts");
  dl.replaceChildren();
  fact(dl, t("proj.fact.id"), p.id);
  fact(dl, t("proj.fact.status"), t("proj.s." + p.status));
  fact(dl, t("proj.fact.year"), String(p.year || ""));
  fact(dl, t("proj.fact.category"), serviceName(p.service_code));
  fact(dl, t("proj.fact.population"), p.population ? termName("populations", p.population) : "");
  fact(dl, t("proj.fact.committees"), (p.committees || []).map(unitName).join("、"));
  fact(dl, t("proj.fact.personTimes"), num(p.person_times));
  if (p.cost_per_person_time) fact(dl, t("proj.fact.cost"), yuan(p.cost_per_person_time));
  fact(dl, t("proj.fact.budget"), yuan(p.budget));
  if (p.target_person_times) fact(dl, t("proj.fact.target"), num(p.target_person_times));
  fact(dl, t("proj.fact.orgKind"), p.org_kind ? termName("org_kinds", p.org_kind) : "");
  fact(dl, t("proj.fact.organization"), p.organization ? unitName(p.organization) : "");
  fact(dl, t("proj.fact.rejectReason"), p.reject_reason);
  if (p.merged_into) fact(dl, t("proj.fact.mergedInto"), projectLink(p.merged_into));
  if ((p.merged_from || []).length) {
    const span = el("span");
    p.merged_from.forEach((id, i) => span.append(...(i ? ["、"] : []), projectLink(id)));
    fact(dl, t("proj.fact.mergedFrom"), span);
  }
  if (p.split_from) fact(dl, t("proj.fact.splitFrom"), projectLink(p.split_from));
  if (p.status === "draft" && p.previous_tickets) fact(dl, t("proj.fact.previous"), num(p.previous_tickets));
  fact(dl, t("proj.fact.generated"), formatTime(p.generated_at));
  fact(dl, t("proj.fact.updated"), formatTime(p.updated_at));

  const summary = [];
  const para = (head, text) => {
    if (!text) return;
    summary.push(el("h3", { text: head }));
    for (const line of String(text).split(/\n+/)) if (line.trim()) summary.push(el("p", { text: line }));
  };
  para(t("proj.f.summaryZH"), p.summary_zh);
  para(t("proj.f.summaryEN"), p.summary_en);
  para(t("proj.f.objectives"), p.objectives);
  $("summary").replaceChildren(...summary);

  renderEvidence(p);

  const draft = p.status === "draft";
  $("edit-section").hidden = !(draft || p.status === "proposal");
  $("edit-title").textContent = t(draft ? "proj.edit.title" : "proj.edit.titleAgain");
  $("edit-submit").textContent = t(draft ? "proj.edit.submit" : "proj.edit.save");
  const cost = Number(p.cost_per_person_time) || 0;
  $("budget-hint").textContent = cost
    ? t("proj.f.budgetHint", { budget: yuan(suggested(p)), n: num(p.person_times), cost: yuan(cost) })
    : t("proj.f.budgetHintPlain", { budget: yuan(suggested(p)) });
  $("target-hint").textContent = t("proj.f.targetHint", { n: num(p.person_times) });
  // Drafts and proposals are still people's to shape: either may be
  // rejected or split.
  const shaping = draft || p.status === "proposal";
  $("reject-section").hidden = !shaping;
  $("reject-title").textContent = t(draft ? "proj.reject.title" : "proj.reject.titleProposal");
  $("split-section").hidden = !shaping || ((p.evidence && p.evidence.ticket_ids) || []).length < 2;
  $("purchase-section").hidden = p.status !== "proposal";
  $("purchased-section").hidden = p.status !== "purchased";
  if (p.status === "purchased") renderPurchased(p);
}

function renderEvidence(p) {
  const ev = p.evidence || {};
  const dl = $("measures");
  dl.replaceChildren();
  fact(dl, t("proj.ev.ticketCount"), num(ev.tickets));
  fact(dl, t("proj.ev.residents"), num(ev.residents));
  fact(dl, t("proj.ev.escalated"), pct(ev.escalated_share));
  fact(dl, t("proj.ev.unresolved"), pct(ev.unresolved_share));
  fact(
    dl,
    t("proj.ev.satisfaction"),
    ev.rated ? t("proj.ev.satisfactionOf", { mean: (Number(ev.satisfaction) || 0).toFixed(1), n: num(ev.rated) }) : t("proj.ev.notRated"),
  );
  $("month-chart").replaceChildren(monthChart(ev.months || []));
  $("committee-bars").replaceChildren(committeeBars(ev.committees || [], unitName));
  $("keywords").replaceChildren(...(ev.keywords || []).map((k) => el("li", { text: k })));
  $("examples").replaceChildren(...(ev.examples || []).map((x) => el("li", { text: x })));
  $("ticket-ids").replaceChildren(
    ...(ev.ticket_ids || []).map((id) =>
      el("li", {}, el("a", { href: withLang("/staff?ticket=" + encodeURIComponent(id)), "aria-label": t("proj.ev.openTicket", { id }), text: id })),
    ),
  );
}

function renderPurchased(p) {
  const pu = p.purchase || {};
  const dl = $("purchase-facts");
  dl.replaceChildren();
  fact(dl, t("proj.pu.organization"), unitName(pu.organization));
  fact(dl, t("proj.fact.budget"), yuan(pu.budget));
  fact(dl, t("proj.pu.period"), t("proj.pu.periodOf", { start: day(pu.start), end: day(pu.end) }));
  fact(dl, t("proj.fact.target"), num(pu.target_person_times));
  const expenses = pu.expenses || [];
  const spent = expenses.reduce((s, e) => s + (Number(e.amount) || 0), 0);
  fact(dl, t("proj.ex.spent"), t("proj.ex.spentOf", { spent: yuan(spent), budget: yuan(pu.budget) }));
  $("expenses").hidden = expenses.length === 0;
  $("expenses-none").hidden = expenses.length > 0;
  $("expenses-body").replaceChildren(
    ...expenses.map((e) => el("tr", {}, el("td", { text: day(e.at) }), el("td", { text: yuan(e.amount) }), el("td", { text: e.note || "" }))),
  );
  renderEvaluation();
}

// day is the date of an RFC 3339 time in Shanghai, "2027-01-01".
function day(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return "";
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

function today() {
  return day(new Date().toISOString());
}

// ---- the evaluation ----

async function loadEvaluation() {
  state.evalError = "";
  try {
    const r = await call("GET", api("/evaluation"));
    if (r.ok) state.evaluation = r.data.evaluation;
    else state.evalError = errText(r);
  } catch (e) {
    if (e instanceof NetworkError) state.evalError = t("staff.network");
  }
  renderEvaluation();
}

function renderEvaluation() {
  const box = $("evaluation");
  const ev = state.evaluation;
  if (state.evalError) {
    box.replaceChildren(el("p", { class: "alert", text: state.evalError }));
    return;
  }
  if (!ev) {
    box.replaceChildren(el("p", { class: "muted", text: t("staff.loading") }));
    return;
  }
  const dim = (key, score, detail) =>
    el(
      "li",
      { "data-dimension": key },
      el("div", { class: "row" }, el("b", { text: t("proj.eval." + key) }), el("span", { class: "score", text: String(Math.round(score || 0)) })),
      scoreBar(score),
      el("p", { class: "muted", text: detail }),
    );
  const list = el(
    "ul",
    { class: "scores" },
    dim(
      "execution",
      ev.execution_score,
      t("proj.eval.executionOf", { n: num(ev.person_times), target: num(ev.target_person_times), progress: pct(ev.progress), elapsed: pct(ev.time_elapsed) }),
    ),
    dim(
      "quality",
      ev.quality_score,
      t("proj.eval.qualityOf", {
        satisfaction: ev.rated ? (Number(ev.satisfaction) || 0).toFixed(1) : "—",
        rated: num(ev.rated),
        tickets: num(ev.tickets),
        redo: num(ev.redo),
      }),
    ),
    dim("finance", ev.finance_score, t("proj.eval.financeOf", { spent: yuan(ev.spent), budget: yuan(ev.budget), share: pct(ev.spent_share) })),
    dim("management", ev.management_score, t("proj.eval.managementOf", { onTime: num(ev.on_time), late: num(ev.late) })),
  );
  const parts = [
    list,
    el("p", { class: "tranche", id: "tranche" }, t("proj.eval.overall", { score: Math.round(ev.overall || 0) }), el("br"),
      t("proj.eval.tranche", { share: pct(ev.tranche_share), amount: yuan(ev.tranche_amount) })),
  ];
  if ((ev.notes || []).length) parts.push(el("ul", {}, ...ev.notes.map((n) => el("li", { text: n }))));
  if (formatTime(ev.at)) parts.push(el("p", { class: "muted", text: t("proj.eval.at", { at: formatTime(ev.at) }) }));
  box.replaceChildren(...parts);
}

// ---- the forms ----

// renderSelects fills the coded choices in the reader's language, keeping
// what is chosen.
function renderSelects() {
  const keep = (id) => $(id).value;
  const pop = keep("f-population");
  $("f-population").replaceChildren(
    option("", t("proj.f.choose"), pop),
    ...state.terms.populations.map((x) => option(x.code, named(x) || x.code, pop)),
  );
  const kind = keep("f-org_kind");
  $("f-org_kind").replaceChildren(option("", t("proj.f.choose"), kind), ...state.terms.org_kinds.map((x) => option(x.code, named(x) || x.code, kind)));
  const org = keep("f-organization");
  $("f-organization").replaceChildren(
    option("", t("proj.org.none"), org),
    ...organizations().map((u) => option(u.id, named(u) || u.id, org)),
    option(OTHER_ORG, t("proj.org.other"), org),
  );
  const puOrg = keep("pu-organization");
  $("pu-organization").replaceChildren(option("", t("proj.f.choose"), puOrg), ...organizations().map((u) => option(u.id, named(u) || u.id, puOrg)));
}

// fillForms puts the project's values into the forms, after it is read
// and after every change the server answered.
function fillForms() {
  const p = state.p;
  if (!p) return;
  for (const k of ["title_zh", "title_en", "summary_zh", "summary_en", "objectives"]) $("f-" + k).value = p[k] || "";
  $("f-population").value = p.population || "";
  $("f-org_kind").value = p.org_kind || "";
  const target = p.target_person_times || p.person_times || "";
  $("f-target_person_times").value = target === "" ? "" : String(target);
  $("f-budget").value = String(p.budget || suggested(p) || "");
  const isUnit = p.organization && state.units.has(p.organization);
  $("f-organization").value = !p.organization ? "" : isUnit ? p.organization : OTHER_ORG;
  $("f-organization-name").value = isUnit ? "" : p.organization || "";
  $("org-other-field").hidden = $("f-organization").value !== OTHER_ORG;
  $("f-reason").value = "";

  $("pu-organization").value = isUnit ? p.organization : "";
  $("pu-budget").value = String(p.budget || "");
  $("pu-target_person_times").value = p.target_person_times ? String(p.target_person_times) : "";
  if (p.year) {
    $("pu-start").value = p.year + "-01-01";
    $("pu-end").value = p.year + "-12-31";
  }
  $("ex-amount").value = "";
  $("ex-note").value = "";
  $("ex-at").value = today();

  const tickets = (p.evidence && p.evidence.ticket_ids) || [];
  $("split-tickets").replaceChildren(
    ...tickets.map((id) => {
      const box = el("input", { type: "checkbox", name: "ticket_ids", value: id, id: "split-" + id });
      return el("label", { class: "check", for: "split-" + id }, box, id);
    }),
  );
}

// fieldMessage is what to say beside a refused field: the page's own
// words in Chinese, the server's (more precise, in English) in English.
function fieldMessage(prefix, field, msg) {
  const key = "proj.err." + field;
  if (lang() !== "en" && has(key)) return t(key);
  return msg || t("proj.err.generic");
}

// clearErrors unmarks every field of form.
function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error")) {
    p.textContent = "";
    p.hidden = true;
  }
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}

// showErrors marks each field of fields (name → message) on the inputs
// named prefix + name, and moves the focus to the first. A field with no
// input of its own is told in the form's alert.
function showErrors(form, prefix, fields, alertID) {
  let first = null;
  const rest = [];
  for (const [name, msg] of Object.entries(fields)) {
    const input = $(prefix + name);
    const err = $(prefix + name + "-error");
    if (!err) {
      rest.push(msg);
      continue;
    }
    err.textContent = fieldMessage(prefix, name, msg);
    err.hidden = false;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else {
      first = first || form.querySelector("input, select, textarea");
    }
  }
  if (alertID) {
    $(alertID).textContent = rest.length ? t("staff.error", { msg: rest.join("; ") }) : t("proj.err.summary");
    $(alertID).hidden = false;
  }
  if (first) first.focus();
}

// submit sends one form's request and answers the server's reply, or null
// after showing what went wrong (on the fields, or in the form's alert).
async function submit(form, prefix, alertID, button, method, path, body) {
  if (state.busy) return null;
  state.busy = true;
  clearErrors(form);
  if (alertID) $(alertID).hidden = true;
  button.setAttribute("aria-disabled", "true");
  try {
    const r = await call(method, path, { body });
    if (r.ok) return r;
    if (r.status === 400 && r.data && r.data.fields) {
      showErrors(form, prefix, r.data.fields, alertID);
    } else {
      const msg = r.status === 409 ? t("proj.err.conflict", { msg: (r.data && r.data.error) || "" }) : errText(r);
      if (alertID) {
        $(alertID).textContent = msg;
        $(alertID).hidden = false;
      } else {
        say(msg);
      }
    }
  } catch (e) {
    if (e instanceof NetworkError) {
      if (alertID) {
        $(alertID).textContent = t("board.err.network");
        $(alertID).hidden = false;
      } else say(t("board.err.network"));
    }
  } finally {
    state.busy = false;
    button.removeAttribute("aria-disabled");
  }
  return null;
}

// numberValue reads a number input: "" when empty, undefined when the
// browser holds something that is not a number (marked on the field).
function numberValue(input) {
  if (input.validity && input.validity.badInput) return undefined;
  return input.value.trim();
}

// badNumbers marks the number inputs whose text the browser could not read.
function badNumbers(form, prefix, names) {
  const fields = {};
  for (const n of names) if (numberValue($(prefix + n)) === undefined) fields[n] = "";
  if (!Object.keys(fields).length) return false;
  clearErrors(form);
  showErrors(form, prefix, fields, null);
  return true;
}

// changed takes the project the server answered after a change.
function changed(p, message) {
  state.p = p;
  fillForms();
  render();
  say(message);
}

async function saveProposal(ev) {
  ev.preventDefault();
  const form = $("edit-form");
  if (badNumbers(form, "f-", ["target_person_times", "budget"])) return;
  const wasDraft = state.p.status === "draft";
  const orgChoice = $("f-organization").value;
  const body = {
    title_zh: $("f-title_zh").value,
    title_en: $("f-title_en").value,
    summary_zh: $("f-summary_zh").value,
    summary_en: $("f-summary_en").value,
    objectives: $("f-objectives").value,
    organization: orgChoice === OTHER_ORG ? $("f-organization-name").value : orgChoice,
    version: state.p.version,
  };
  // A choice left at "choose" leaves the field as it is.
  if ($("f-population").value) body.population = $("f-population").value;
  if ($("f-org_kind").value) body.org_kind = $("f-org_kind").value;
  const target = numberValue($("f-target_person_times"));
  if (target !== "") body.target_person_times = target;
  const budget = numberValue($("f-budget"));
  if (budget !== "") body.budget = budget;
  const r = await submit(form, "f-", "edit-alert", $("edit-submit"), "POST", api("/propose"), body);
  if (r) changed(r.data.project, t(wasDraft ? "proj.edit.proposed" : "proj.edit.saved"));
}

async function reject(ev) {
  ev.preventDefault();
  const form = $("reject-form");
  const reason = $("f-reason").value.trim();
  if (!reason) {
    clearErrors(form);
    showErrors(form, "f-", { reason: "" }, null);
    return;
  }
  const r = await submit(form, "f-", null, $("reject-submit"), "POST", api("/reject"), { reason });
  if (r) {
    changed(r.data.project, t("proj.reject.done"));
    $("page-title").focus();
  }
}

async function split(ev) {
  ev.preventDefault();
  const form = $("split-form");
  const ids = [...form.querySelectorAll('input[name="ticket_ids"]:checked')].map((x) => x.value);
  if (!ids.length) {
    clearErrors(form);
    showErrors(form, "f-", { ticket_ids: "" }, null);
    return;
  }
  const r = await submit(form, "f-", null, $("split-submit"), "POST", api("/split"), { ticket_ids: ids });
  if (r) {
    const s = r.data.split;
    changed(r.data.project, s ? t("proj.split.done", { n: ids.length, id: s.id }) : t("proj.split.doneNoID", { n: ids.length }));
  }
}

async function purchase(ev) {
  ev.preventDefault();
  const form = $("purchase-form");
  if (badNumbers(form, "pu-", ["budget", "target_person_times"])) return;
  const body = {
    organization: $("pu-organization").value,
    budget: numberValue($("pu-budget")),
    start: $("pu-start").value,
    end: $("pu-end").value,
    target_person_times: numberValue($("pu-target_person_times")),
  };
  const r = await submit(form, "pu-", "purchase-alert", $("purchase-submit"), "POST", api("/purchase"), body);
  if (r) {
    changed(r.data.project, t("proj.pu.done"));
    loadEvaluation();
    $("purchased-title").setAttribute("tabindex", "-1");
    $("purchased-title").focus();
  }
}

async function addExpense(ev) {
  ev.preventDefault();
  const form = $("expense-form");
  if (badNumbers(form, "ex-", ["amount"])) return;
  const body = { amount: numberValue($("ex-amount")), note: $("ex-note").value, at: $("ex-at").value };
  const r = await submit(form, "ex-", "expense-alert", $("expense-submit"), "POST", api("/expenses"), body);
  if (r) {
    changed(r.data.project, t("proj.ex.done", { amount: yuan(body.amount) }));
    loadEvaluation();
    $("ex-amount").focus();
  }
}

// ---- who is signed in ----

function renderMe() {
  const u = state.me && state.me.user;
  if (!u) return;
  $("whoami").removeAttribute("data-i18n");
  $("whoami").textContent = signedIn(u);
}

async function start() {
  init();
  state.id = projectID();
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
  const [units, services, terms] = await Promise.all([
    request("GET", "/api/v1/units").catch(() => null),
    request("GET", "/api/v1/services").catch(() => null),
    call("GET", "/api/v1/projects/terms").catch(() => null),
    load(),
  ]);
  if (units && units.ok) for (const u of units.data.units || []) state.units.set(u.id, u);
  if (services && services.ok) state.services = services.data.services || [];
  if (terms && terms.ok) state.terms = terms.data;
  renderSelects();
  fillForms();
  render();
  if (state.p && state.p.status === "purchased") loadEvaluation();
}

onLangChange(() => {
  renderMe();
  renderSelects();
  render();
});

$("edit-form").addEventListener("submit", saveProposal);
$("reject-form").addEventListener("submit", reject);
$("split-form").addEventListener("submit", split);
$("purchase-form").addEventListener("submit", purchase);
$("expense-form").addEventListener("submit", addExpense);
$("evaluate").addEventListener("click", loadEvaluation);
$("f-organization").addEventListener("change", () => {
  const other = $("f-organization").value === OTHER_ORG;
  $("org-other-field").hidden = !other;
  if (other) $("f-organization-name").focus();
});

start();
