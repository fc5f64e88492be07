// staff.js: the signed-in staff member's tickets on /staff.
//
// The page keeps one state object and re-renders from it. Tickets are held
// by id (state.tickets) in the order the server listed them, so that a live
// board can later feed pushed ticket changes through upsertTicket() and
// refresh the open detail without reloading the list.

import { init, t, signedIn, named, statusName, eventName, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError, spacedID, formatTime, el } from "/api.js";
import { historyItem } from "/history.js";
import { placeContact } from "/contact.js";

const $ = (id) => document.getElementById(id);

const PAGE = 50;
const OPEN = "new,routed,accepted,in_progress,reopened";
const STATUSES = ["new", "routed", "accepted", "in_progress", "resolved", "closed", "cancelled", "reopened"];

const state = {
  me: null, // {user, csrf_token}
  services: [], // [Category]
  units: new Map(), // id → Unit
  filter: { status: "", service_code: "", committee: "" },
  offset: 0,
  total: 0,
  order: [], // ticket ids as listed
  tickets: new Map(), // id → StaffTicket
  listError: null, // {key, vars}
  selected: "", // id of the ticket in the detail panel
  detail: null, // {ticket, events}
  detailError: null,
};

// call wraps request: a 401 anywhere means the session is gone.
async function call(method, path, opts = {}) {
  const r = await request(method, path, opts);
  if (r.status === 401) {
    location.assign(withLang("/login"));
    throw new Error("signed out");
  }
  return r;
}

function errorOf(r) {
  return { key: "staff.error", vars: { msg: (r.data && r.data.error) || "HTTP " + r.status } };
}

// ---- filters and the address bar ----

function readURL() {
  const q = new URLSearchParams(location.search);
  for (const k of Object.keys(state.filter)) state.filter[k] = q.get(k) || "";
  state.offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
  state.selected = q.get("ticket") || "";
}

function writeURL() {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(state.filter)) {
    if (v) u.searchParams.set(k, v);
    else u.searchParams.delete(k);
  }
  if (state.offset) u.searchParams.set("offset", String(state.offset));
  else u.searchParams.delete("offset");
  if (state.selected) u.searchParams.set("ticket", state.selected);
  else u.searchParams.delete("ticket");
  history.replaceState(history.state, "", u);
}

function option(value, text, selected) {
  const o = el("option", { value, text });
  o.selected = value === selected;
  return o;
}

function renderFilters() {
  const f = state.filter;
  $("f-status").replaceChildren(
    option("", t("staff.f.all"), f.status),
    option(OPEN, t("staff.f.open"), f.status),
    ...STATUSES.map((s) => option(s, statusName(s), f.status)),
  );
  $("f-service").replaceChildren(
    option("", t("staff.f.all"), f.service_code),
    ...state.services.map((c) => option(c.code, named(c) || c.code, f.service_code)),
  );
  const committees = [...state.units.values()].filter((u) => u.kind === "committee");
  $("f-committee").replaceChildren(
    option("", t("staff.f.all"), f.committee),
    ...committees.map((u) => option(u.id, named(u) || u.id, f.committee)),
  );
}

// ---- the list ----

async function loadList() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filter)) if (v) q.set(k, v);
  q.set("offset", String(state.offset));
  q.set("limit", String(PAGE));
  $("list-count").textContent = t("staff.loading");
  try {
    const r = await call("GET", "/api/v1/tickets?" + q);
    if (!r.ok) {
      state.listError = errorOf(r);
    } else {
      state.listError = null;
      state.total = r.data.total || 0;
      state.order = [];
      state.tickets.clear();
      for (const tk of r.data.tickets || []) upsertTicket(tk);
    }
  } catch (e) {
    if (e instanceof NetworkError) state.listError = { key: "staff.network" };
    else return;
  }
  renderList();
}

// upsertTicket records a ticket in the list (appending one not seen yet)
// and refreshes the detail panel when it shows that ticket.
export function upsertTicket(tk) {
  if (!tk || !tk.id) return;
  if (!state.tickets.has(tk.id)) state.order.push(tk.id);
  state.tickets.set(tk.id, tk);
  if (state.detail && state.detail.ticket.id === tk.id) {
    state.detail.ticket = { ...state.detail.ticket, ...tk };
  }
}

function unitName(id) {
  if (!id) return "";
  const u = state.units.get(id);
  return u ? named(u) || id : id;
}

function renderList() {
  $("list-alert").textContent = state.listError ? t(state.listError.key, state.listError.vars) : "";
  const body = $("tickets-body");
  const rows = state.order.map((id) => {
    const tk = state.tickets.get(id);
    const open = el("button", {
      type: "button",
      class: "linkish",
      "data-ticket": tk.id,
      "aria-controls": "detail",
      text: spacedID(tk.id),
    });
    open.addEventListener("click", () => openDetail(tk.id, true));
    const tr = el(
      "tr",
      { class: tk.id === state.selected ? "selected" : undefined },
      el("td", {}, open),
      el("td", { text: formatTime(tk.created_at) }),
      el("td", { text: named(tk, "service_name") || tk.service_code || "" }),
      el("td", {}, el("span", { class: "badge s-" + tk.status, text: statusName(tk.status) })),
      el("td", { text: named(tk, "unit_name") || unitName(tk.unit_id) || t("common.none") }),
      el("td", { text: (tk.location && tk.location.address) || t("common.none") }),
    );
    if (tk.id === state.selected) tr.setAttribute("aria-current", "true");
    return tr;
  });
  body.replaceChildren(...rows);
  $("tickets").hidden = rows.length === 0;
  if (state.listError) {
    $("list-count").textContent = "";
  } else if (rows.length === 0) {
    $("list-count").textContent = t("staff.none");
  } else {
    $("list-count").textContent = t("staff.count", {
      total: state.total,
      from: state.offset + 1,
      to: state.offset + rows.length,
    });
  }
  $("prev").hidden = state.offset === 0;
  $("next").hidden = state.offset + rows.length >= state.total;
}

// ---- the detail panel ----

async function openDetail(id, focus) {
  state.selected = id;
  writeURL();
  renderList();
  state.detailError = null;
  try {
    const r = await call("GET", "/api/v1/tickets/" + encodeURIComponent(id));
    if (r.ok) {
      state.detail = { ticket: r.data.ticket, events: r.data.events || [] };
    } else {
      state.detail = null;
      state.detailError = errorOf(r);
    }
  } catch (e) {
    if (!(e instanceof NetworkError)) return;
    state.detail = null;
    state.detailError = { key: "staff.network" };
  }
  renderDetail();
  if (focus) $("detail").focus();
}

function closeDetail() {
  const id = state.selected;
  state.selected = "";
  state.detail = null;
  state.detailError = null;
  writeURL();
  renderList();
  renderDetail();
  const b = document.querySelector(`[data-ticket="${CSS.escape(id)}"]`);
  if (b) b.focus();
}

function fact(dl, label, value) {
  if (value === undefined || value === null || value === "") return;
  const dd = el("dd");
  dd.append(value);
  dl.append(el("div", {}, el("dt", { text: label }), dd));
}

function renderDetail() {
  $("detail-alert").textContent = state.detailError ? t(state.detailError.key, state.detailError.vars) : "";
  const d = state.detail;
  $("detail-empty").hidden = !!d;
  $("detail-body").hidden = !d;
  const title = $("detail-title");
  if (!d) {
    title.textContent = t("staff.detail");
    return;
  }
  const tk = d.ticket;
  title.replaceChildren(
    el("span", { text: t("staff.col.id") + " " + spacedID(tk.id) }),
    el("span", { class: "badge s-" + tk.status, text: statusName(tk.status) }),
  );

  const dl = $("detail-facts");
  dl.replaceChildren();
  const loc = tk.location || {};
  const contact = tk.contact || {};
  fact(dl, t("staff.col.category"), named(tk, "service_name") || tk.service_code);
  fact(dl, t("staff.d.description"), tk.description);
  fact(dl, t("staff.d.address"), loc.address);
  if (loc.lat || loc.long) fact(dl, t("staff.d.point"), `${loc.lat}, ${loc.long}`);
  fact(dl, t("staff.d.committee"), unitName(loc.committee));
  fact(dl, t("staff.d.unit"), named(tk, "unit_name") || unitName(tk.unit_id));
  fact(dl, t("staff.d.reason"), tk.route_reason);
  fact(dl, t("staff.d.notes"), tk.status_notes);
  fact(dl, t("staff.d.merged"), tk.merged_into ? spacedID(tk.merged_into) : "");
  const who = [contact.last_name, contact.first_name].filter(Boolean).join(" ");
  fact(dl, t("staff.d.contact"), [who, contact.phone, contact.email].filter(Boolean).join(" · "));
  if (tk.has_media) fact(dl, t("contact.media"), t("contact.hasMedia"));
  placeContact(dl, tk, () => location.assign(withLang("/login")));
  fact(dl, t("staff.d.consent"), t(contact.consent ? "staff.d.yes" : "staff.d.no"));
  fact(dl, t("staff.d.channel"), tk.channel ? t("ch." + tk.channel) : "");
  fact(dl, t("staff.d.created"), formatTime(tk.created_at));
  fact(dl, t("staff.d.updated"), formatTime(tk.updated_at));
  fact(dl, t("staff.d.satisfaction"), tk.satisfaction ? "★".repeat(tk.satisfaction) + ` ${tk.satisfaction}/5` : "");

  const ol = $("detail-history");
  ol.replaceChildren(
    ...d.events.map((ev) => historyItem(ev, unitName)),
  );
}

// ---- who is signed in ----

function renderMe() {
  const u = state.me && state.me.user;
  if (!u) return;
  $("whoami").removeAttribute("data-i18n");
  $("whoami").textContent = signedIn(u);
  // The volunteers' review and the needs projects are the social workers'
  // (and admins').
  $("volunteers-link").hidden = u.role !== "social_worker" && u.role !== "admin";
  $("projects-link").hidden = u.role !== "social_worker" && u.role !== "admin";
  $("audit-link").hidden = u.role !== "admin";
}

async function logout() {
  try {
    await request("POST", "/api/v1/logout", {
      headers: { "X-CSRF-Token": (state.me && state.me.csrf_token) || "" },
    });
  } catch (_) {
    // Going to the sign-in page anyway; the session expires by itself.
  }
  location.assign(withLang("/login"));
}

// ---- start ----

async function start() {
  init();
  readURL();
  let me;
  try {
    me = await call("GET", "/api/v1/me");
  } catch (e) {
    if (e instanceof NetworkError) {
      state.listError = { key: "staff.network" };
      renderList();
    }
    return;
  }
  if (!me.ok) {
    state.listError = errorOf(me);
    renderList();
    return;
  }
  state.me = me.data;
  renderMe();

  // The catalogue and the network only label things: the list works
  // without them.
  const [svc, units] = await Promise.all([
    request("GET", "/api/v1/services").catch(() => null),
    request("GET", "/api/v1/units").catch(() => null),
  ]);
  if (svc && svc.ok) state.services = svc.data.services || [];
  if (units && units.ok) for (const u of units.data.units || []) state.units.set(u.id, u);
  renderFilters();

  await loadList();
  if (state.selected) openDetail(state.selected, false);
}

onLangChange(() => {
  renderMe();
  renderFilters();
  renderList();
  renderDetail();
});

$("filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.filter.status = $("f-status").value;
  state.filter.service_code = $("f-service").value;
  state.filter.committee = $("f-committee").value;
  state.offset = 0;
  writeURL();
  loadList();
});
$("f-reset").addEventListener("click", () => {
  state.filter = { status: "", service_code: "", committee: "" };
  state.offset = 0;
  renderFilters();
  writeURL();
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
$("detail-close").addEventListener("click", closeDetail);
$("logout").addEventListener("click", logout);
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && state.selected) closeDetail();
});

start();
