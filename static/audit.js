// audit.js: the personal data access log on /audit, for administrators:
// every view of a resident's details in full and every export, newest
// first, filtered by ticket, username and dates (GET /api/v1/audit). The
// filters live in the address, so a link to a ticket's log can be shared.

import { init, t, signedIn, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError, spacedID, formatTime, el } from "/api.js";

const $ = (id) => document.getElementById(id);
const FILTERS = ["ticket", "user", "from", "to"];

const state = {
  me: null,
  entries: [],
  more: false,
  error: null, // {key, vars}
  loaded: false,
};

function readURL() {
  const q = new URLSearchParams(location.search);
  for (const k of FILTERS) $("f-" + k).value = q.get(k) || "";
}

function writeURL() {
  const u = new URL(location.href);
  for (const k of FILTERS) {
    const v = $("f-" + k).value.trim();
    if (v) u.searchParams.set(k, v);
    else u.searchParams.delete(k);
  }
  history.replaceState(history.state, "", u);
}

async function load() {
  const q = new URLSearchParams();
  for (const k of FILTERS) {
    let v = $("f-" + k).value.trim();
    if (k === "ticket") v = v.replace(/\s/g, "");
    if (v) q.set(k, v);
  }
  $("audit-count").textContent = t("staff.loading");
  try {
    const r = await request("GET", "/api/v1/audit?" + q);
    if (r.status === 401) {
      location.assign(withLang("/login"));
      return;
    }
    if (r.status === 403) {
      state.error = { key: "audit.forbidden" };
    } else if (!r.ok) {
      const fields = r.data && r.data.fields ? Object.values(r.data.fields).join(" ") : "";
      state.error = { key: "audit.error", vars: { msg: fields || (r.data && r.data.error) || "HTTP " + r.status } };
    } else {
      state.error = null;
      state.entries = r.data.entries || [];
      state.more = !!r.data.more;
    }
  } catch (e) {
    state.error = e instanceof NetworkError ? { key: "staff.network" } : { key: "audit.error", vars: { msg: String(e) } };
  }
  state.loaded = true;
  render();
}

function who(e) {
  // Open311 partners read by api_key: no role, named by the key's fingerprint.
  const parts = [e.username || e.user_id, e.role ? t("role." + e.role) : ""];
  if (e.unit_id) parts.push(e.unit_id);
  return parts.filter(Boolean).join(" · ");
}

function what(e) {
  const fields = (e.fields || []).map((f) => t("audit.field." + f)).join("、");
  if (!e.ticket_id && e.count !== undefined) {
    return fields + " — " + t("audit.export", { n: e.count || 0, filter: e.filter || "—" });
  }
  return fields;
}

function render() {
  $("audit-alert").textContent = state.error ? t(state.error.key, state.error.vars) : "";
  const rows = state.error ? [] : state.entries.map((e) =>
    el(
      "tr",
      {},
      el("td", { text: formatTime(e.at) }),
      el("td", { text: who(e) }),
      el("td", { text: e.ticket_id ? spacedID(e.ticket_id) : "—" }),
      el("td", { text: what(e) }),
      el("td", {}, el("code", { text: e.via || "" })),
    ),
  );
  $("audit-body").replaceChildren(...rows);
  $("audit").hidden = rows.length === 0;
  let count = "";
  if (state.loaded && !state.error) {
    count = rows.length === 0 ? t("audit.none") : t("audit.count", { n: rows.length });
    if (state.more) count += " " + t("audit.more", { n: rows.length });
  }
  $("audit-count").textContent = count;
}

function renderMe() {
  const u = state.me && state.me.user;
  if (!u) return;
  $("whoami").removeAttribute("data-i18n");
  $("whoami").textContent = signedIn(u);
}

async function start() {
  init();
  readURL();
  let me;
  try {
    me = await request("GET", "/api/v1/me");
  } catch (_) {
    state.error = { key: "staff.network" };
    render();
    return;
  }
  if (me.status === 401) {
    location.assign(withLang("/login"));
    return;
  }
  state.me = me.data;
  renderMe();
  await load();
}

onLangChange(() => {
  renderMe();
  render();
});

$("filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  writeURL();
  load();
});

start();
