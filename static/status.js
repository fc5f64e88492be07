// status.js: the resident looks up a ticket on /status by its number and
// the last four digits of the phone given with it.

import { init, t, named, statusName, eventName, onLangChange } from "/i18n.js";
import { request, NetworkError, asciiDigits, spacedID, spokenID, formatTime, el } from "/api.js";

const $ = (id) => document.getElementById(id);

const state = {
  ticket: null,
  alert: null, // i18n key
  errors: {}, // input id → i18n key
  busy: false,
};

// Ticket numbers end in a Damm check digit (ticketid.go): any single wrong
// or swapped digit is caught here, before asking the server.
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

function validID(id) {
  if (!/^\d{2,20}$/.test(id)) return false;
  let x = 0;
  for (const c of id) x = DAMM[x][c.charCodeAt(0) - 48];
  return x === 0;
}

function setError(id, key) {
  if (key) state.errors[id] = key;
  else delete state.errors[id];
  renderErrors();
}

function renderErrors() {
  for (const id of ["ticket-id", "last4"]) {
    const key = state.errors[id];
    const p = $(id + "-error");
    p.textContent = key ? t(key) : "";
    p.hidden = !key;
    if (key) $(id).setAttribute("aria-invalid", "true");
    else $(id).removeAttribute("aria-invalid");
  }
}

function setAlert(key) {
  state.alert = key;
  $("lookup-alert").textContent = key ? t(key) : "";
}

async function lookup(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const id = asciiDigits($("ticket-id").value);
  let last4 = asciiDigits($("last4").value);
  // Someone who types the whole number still means its last four digits.
  if (/^\+?\d{11,}$/.test(last4)) last4 = last4.slice(-4);

  state.errors = {};
  if (!id) state.errors["ticket-id"] = "status.needId";
  else if (!validID(id)) state.errors["ticket-id"] = "status.badId";
  if (last4 && !/^\d{4}$/.test(last4)) state.errors["last4"] = "status.badLast4";
  renderErrors();
  if (state.errors["ticket-id"] || state.errors["last4"]) {
    setAlert(null);
    $(state.errors["ticket-id"] ? "ticket-id" : "last4").focus();
    return;
  }

  // The number (never the phone digits) goes in the address, so a reload
  // or a bookmark finds it again.
  const u = new URL(location.href);
  u.searchParams.set("id", id);
  history.replaceState(history.state, "", u);

  setAlert(null);
  state.busy = true;
  $("lookup-status").textContent = t("status.loading");
  $("lookup-submit").setAttribute("aria-disabled", "true");
  try {
    const q = last4 ? "?phone_last4=" + encodeURIComponent(last4) : "";
    const r = await request("GET", "/api/v1/tickets/" + encodeURIComponent(id) + "/status" + q, {
      credentials: "omit",
    });
    if (r.ok) {
      state.ticket = r.data;
      render();
      $("result").hidden = false;
      $("result").focus();
      return;
    }
    state.ticket = null;
    $("result").hidden = true;
    if (r.status === 404 || r.status === 400) setAlert("status.notFound");
    else if (r.status === 429) setAlert("status.busy");
    else setAlert("status.error");
  } catch (e) {
    setAlert(e instanceof NetworkError ? "status.network" : "status.error");
  } finally {
    state.busy = false;
    $("lookup-status").textContent = "";
    $("lookup-submit").removeAttribute("aria-disabled");
  }
}

function fact(dl, label, value) {
  if (!value) return;
  dl.append(el("div", {}, el("dt", { text: label }), el("dd", { text: value })));
}

function render() {
  const tk = state.ticket;
  if (!tk) return;
  const title = $("result-title");
  title.replaceChildren(
    el("span", { "aria-hidden": "true", text: t("status.result", { id: spacedID(tk.id) }) }),
    el("span", { class: "visually-hidden", text: t("status.result", { id: spokenID(tk.id) }) }),
  );

  const badge = $("result-status");
  badge.className = "badge big s-" + (tk.status || "");
  badge.textContent = statusName(tk.status);
  badge.dataset.status = tk.status || "";

  const dl = $("result-facts");
  dl.replaceChildren();
  fact(dl, t("status.category"), named(tk, "service_name") || tk.service_code);
  fact(dl, t("status.committee"), named(tk, "committee_name") || tk.committee);
  fact(dl, t("status.unit"), named(tk, "unit_name") || tk.unit_id || t("status.unassigned"));
  fact(dl, t("status.created"), formatTime(tk.created_at));
  if (tk.updated_at && tk.updated_at !== tk.created_at) fact(dl, t("status.updated"), formatTime(tk.updated_at));
  fact(dl, t("status.address"), tk.address);
  fact(dl, t("status.description"), tk.description);

  const ol = $("result-history");
  ol.replaceChildren();
  for (const h of tk.history || []) {
    const what = h.type ? eventName(h.type) : statusName(h.status);
    const li = el(
      "li",
      {},
      el("time", { datetime: h.at || undefined, text: formatTime(h.at) }),
      el("span", { class: "what", text: what }),
    );
    if (h.status && h.type && h.type !== "ticket.created" && eventName(h.type) !== statusName(h.status)) {
      li.append(" ", el("span", { class: "badge s-" + h.status, text: statusName(h.status) }));
    }
    if (h.note) li.append(el("p", { class: "note", text: h.note }));
    ol.append(li);
  }
}

init();
onLangChange(() => {
  render();
  renderErrors();
  setAlert(state.alert);
});

$("lookup").addEventListener("submit", lookup);
// No focus on load: on a phone it would pop the keyboard over the page
// before the resident has read it.
const pre = asciiDigits(new URLSearchParams(location.search).get("id") || "");
if (pre) $("ticket-id").value = pre;
