// board.js: the dispatchers' live board on /board.
//
// What the board shows comes from two sources that must agree:
//
//   - GET /api/v1/tickets, the tickets as they stand, and
//   - the websocket /ws, every change after a feed position.
//
// The rule that keeps them in step ("never silently miss an event"): the
// list is fetched only after the socket said hello, whenever the socket was
// opened without ?since= (or the server answered "reload"), so every change
// after the list was read arrives over the socket. A socket that drops is
// reopened with ?since=<last position> and the server replays what was
// missed. Changes are applied by version, so a replayed or late change never
// overwrites a newer one. The last position is also kept in sessionStorage
// so that a reload of the page resumes from it (it still re-reads the list,
// since a fresh page holds nothing).

import { init, t, signedIn, named, statusName, eventName, onLangChange, withLang, lang } from "/i18n.js";
import { request, NetworkError, spacedID, formatTime, el } from "/api.js";
import { historyItem } from "/history.js";
import { placeContact } from "/contact.js";
import { renderVolunteers, setupVolunteers } from "/board-volunteers.js";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";

const STATUSES = ["new", "routed", "accepted", "in_progress", "resolved", "closed", "cancelled", "reopened"];
const OPEN = new Set(["new", "routed", "accepted", "in_progress", "reopened"]);
const WAITING = new Set(["new", "routed", "reopened"]); // accept_by runs
const WORKING = new Set(["accepted", "in_progress"]); // resolve_by runs
const LIST_LIMIT = 1000;
const POSITION_KEY = "hotline.board.position";
const SOUND_KEY = "hotline.board.sound";
const HOUR = 3600e3;
// A limit is "near" when less than NEAR_SHARE of it or NEAR_ABS is left.
const NEAR_SHARE = 0.2;
const NEAR_ABS = HOUR;
// Reconnect delays in seconds, grown on each failure and reset by a hello;
// each is spread by ±20% so that boards do not all come back at once after
// a restart of the server.
const BACKOFF = [1, 2, 4, 8, 15, 30];
// Close codes the server sends (server/ws.go): what each asks the board to do.
const CLOSE_TOO_SLOW = 4008; // reconnect with since at once
const CLOSE_BAD_SINCE = 4400; // reconnect without since, and reload
const CLOSE_SESSION = 4401; // sign in again

const state = {
  me: null, // {user, csrf_token}
  services: new Map(), // code → Category
  units: new Map(), // id → Unit
  areas: [], // GeoJSON features
  filter: { status: "open", service_code: "", committee: "" },
  tickets: new Map(), // id → board record (see normalize)
  fresh: new Set(), // ids announced as new and not opened yet
  unseen: 0, // new tickets since the window last had the user's attention
  selected: "",
  detail: null, // {ticket, events}
  detailError: "",
  openForm: "", // name of the action whose form is open
  // Feed.
  position: "",
  synced: false, // the list in memory is known to agree with position
  loading: null, // while a list fetch runs: the changes that came meanwhile
  listError: "",
  ws: null,
  conn: "connecting", // connecting | connected | reconnecting
  attempt: 0,
  failsWithSince: 0,
  retryTimer: 0,
};

// ---- helpers ----

function time(s) {
  if (!s) return 0;
  const ms = Date.parse(s);
  return Number.isFinite(ms) && ms > 946684800000 ? ms : 0; // before 2000 means none
}

function unitName(id) {
  if (!id) return "";
  const u = state.units.get(id);
  return (u && named(u)) || id;
}

// shortName drops the "居委会" / "Neighbourhood Committee" ending, for map labels.
function shortName(u) {
  return named(u)
    .replace(/居委会$/, "")
    .replace(/\s*Neighbourhood Committee$/i, "")
    .replace(/ Road$/, " Rd");
}

function serviceName(code) {
  const c = state.services.get(code);
  return (c && named(c)) || code || "";
}

function readPosition() {
  try {
    return sessionStorage.getItem(POSITION_KEY) || "";
  } catch (_) {
    return "";
  }
}

function savePosition(p) {
  state.position = p || "";
  try {
    if (p) sessionStorage.setItem(POSITION_KEY, p);
    else sessionStorage.removeItem(POSITION_KEY);
  } catch (_) {
    // Kept in memory only: a reload then re-reads the list, which is safe.
  }
}

// call sends a request; a 401 means the session is gone.
async function call(method, path, body) {
  const opts = {};
  if (method !== "GET") {
    opts.body = body || {};
    opts.headers = { "X-CSRF-Token": (state.me && state.me.csrf_token) || "" };
  }
  const r = await request(method, path, opts);
  if (r.status === 401) {
    location.assign(withLang("/login"));
    throw new Error("signed out");
  }
  return r;
}

function errText(r) {
  if (r.status === 409) return t("board.err.conflict");
  if (r.status === 403) return t("board.err.forbidden", { msg: (r.data && r.data.error) || "" });
  return t("staff.error", { msg: (r.data && r.data.error) || "HTTP " + r.status });
}

// ---- tickets ----

// normalize turns a StaffTicket (from the API) or a TicketSummary (from the
// feed) into one flat record. Fields only the API has (names, address,
// accepted_at) are kept from prev when a summary comes.
function normalize(raw, prev) {
  const loc = raw.location || {};
  const fromAPI = !!raw.location;
  const tk = {
    id: raw.id,
    status: raw.status || "",
    channel: raw.channel || "",
    service_code: raw.service_code || "",
    excerpt: raw.excerpt !== undefined ? raw.excerpt : excerpt(raw.description),
    unit_id: raw.unit_id || "",
    tier: raw.tier || 0,
    committee: (fromAPI ? loc.committee : raw.committee) || "",
    lat: (fromAPI ? loc.lat : raw.lat) || 0,
    long: (fromAPI ? loc.long : raw.long) || 0,
    address: fromAPI ? loc.address || "" : (prev && prev.address) || "",
    route_reason: raw.route_reason || "",
    created_at: raw.created_at || "",
    updated_at: raw.updated_at || "",
    accept_by: raw.accept_by || "",
    resolve_by: raw.resolve_by || "",
    accepted_at: raw.accepted_at || (prev && prev.accepted_at) || "",
    escalations: raw.escalations || 0,
    redo: !!raw.redo,
    merged_into: raw.merged_into || "",
    version: raw.version || 0,
  };
  tk.limitStart = limitStarts(tk, prev);
  return tk;
}

function excerpt(s) {
  const r = Array.from(String(s || ""));
  return r.length > 80 ? r.slice(0, 80).join("") + "…" : r.join("");
}

// limitStarts says when each time limit began, to tell how much of it is
// left. Neither the list nor the feed carries it, so it is the time of the
// change that set the limit as far as the board saw it: creation for a
// ticket routed once, acceptance for the resolve limit, else the update at
// which the limit first appeared (a later note makes the limit look shorter,
// which errs on the side of warning early).
function limitStarts(tk, prev) {
  const p = (prev && prev.limitStart) || {};
  let accept = time(tk.updated_at);
  if (prev && prev.accept_by === tk.accept_by && p.accept) accept = p.accept;
  else if (!tk.escalations && !tk.redo && tk.status !== "reopened") accept = time(tk.created_at) || accept;
  let resolve = time(tk.accepted_at);
  if (!resolve) resolve = prev && prev.resolve_by === tk.resolve_by && p.resolve ? p.resolve : time(tk.updated_at);
  return { accept, resolve };
}

// upsert records a ticket unless the board holds a newer version; it
// answers the record now held and whether it changed.
function upsert(raw) {
  if (!raw || !raw.id) return { tk: null, changed: false };
  const prev = state.tickets.get(raw.id);
  if (prev && (raw.version || 0) < prev.version) return { tk: prev, changed: false };
  if (prev && raw.version === prev.version && !raw.location) return { tk: prev, changed: false };
  const tk = normalize(raw, prev);
  state.tickets.set(tk.id, tk);
  return { tk, changed: true };
}

// due describes the time limit a ticket waits on now, or null.
function due(tk, now) {
  let kind, at;
  if (WAITING.has(tk.status)) {
    kind = "accept";
    at = time(tk.accept_by);
  } else if (WORKING.has(tk.status)) {
    kind = "resolve";
    at = time(tk.resolve_by);
  }
  if (!kind || !at) return null;
  const left = at - now;
  const start = tk.limitStart[kind] || 0;
  const total = start && start < at ? at - start : 0;
  let level = "ok";
  if (left <= 0) level = "over";
  else if (left < NEAR_ABS || (total && left < NEAR_SHARE * total)) level = "near";
  return { kind, at, left, level };
}

function fmtDur(ms) {
  const s = Math.max(0, Math.floor(Math.abs(ms) / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (d > 0) return t("board.dur.dh", { d, h });
  if (h > 0) return t("board.dur.hm", { h, m: two(m) });
  return t("board.dur.ms", { m, s: two(sec) });
}

function dueText(d) {
  if (!d) return "";
  return t("board.due." + d.level, { kind: t("board.kind." + d.kind), time: fmtDur(d.left) });
}

function matches(tk) {
  const f = state.filter;
  if (f.status === "open" && !OPEN.has(tk.status)) return false;
  if (f.status !== "open" && f.status !== "all" && tk.status !== f.status) return false;
  if (f.service_code && tk.service_code !== f.service_code) return false;
  if (f.committee && tk.committee !== f.committee) return false;
  return true;
}

// visible lists the tickets the filters let through, nearest deadline
// first; tickets without a running limit follow, most recently changed
// first.
function visible(now) {
  const out = [];
  for (const tk of state.tickets.values()) if (matches(tk)) out.push(tk);
  const key = (tk) => {
    const d = due(tk, now);
    return d ? d.at : Infinity;
  };
  out.sort((a, b) => key(a) - key(b) || time(b.updated_at) - time(a.updated_at) || (a.id < b.id ? -1 : 1));
  return out;
}

// ---- the address bar ----

function readURL() {
  const q = new URLSearchParams(location.search);
  const s = q.get("status") || "open";
  state.filter.status = s === "all" || s === "open" || STATUSES.includes(s) ? s : "open";
  state.filter.service_code = q.get("service_code") || "";
  state.filter.committee = q.get("committee") || "";
  state.selected = q.get("ticket") || "";
}

function writeURL() {
  const u = new URL(location.href);
  const f = state.filter;
  const set = (k, v) => (v ? u.searchParams.set(k, v) : u.searchParams.delete(k));
  set("status", f.status === "open" ? "" : f.status);
  set("service_code", f.service_code);
  set("committee", f.committee);
  set("ticket", state.selected);
  history.replaceState(history.state, "", u);
}

// ---- rendering ----

let renderQueued = false;

// render redraws queue and map soon, once for a burst of changes. It uses
// a timer, not requestAnimationFrame, which stops in a hidden tab: a board
// left in a background tab must still be current when it is looked at.
function render() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    renderQueue();
    renderMap();
  }, 0);
}

function option(value, text, selected) {
  const o = el("option", { value, text });
  o.selected = value === selected;
  return o;
}

function committees() {
  return [...state.units.values()].filter((u) => u.kind === "committee");
}

function renderFilters() {
  const f = state.filter;
  $("f-status").replaceChildren(
    option("open", t("board.f.open"), f.status),
    option("all", t("staff.f.all"), f.status),
    ...STATUSES.map((s) => option(s, statusName(s), f.status)),
  );
  $("f-service").replaceChildren(
    option("", t("staff.f.all"), f.service_code),
    ...[...state.services.values()].map((c) => option(c.code, named(c) || c.code, f.service_code)),
  );
  $("f-committee").replaceChildren(
    option("", t("staff.f.all"), f.committee),
    ...committees().map((u) => option(u.id, named(u) || u.id, f.committee)),
  );
}

const rows = new Map(); // id → {li, due, dot}

function renderQueue() {
  const now = Date.now();
  const list = visible(now);
  rows.clear();
  const items = list.map((tk) => {
    const d = due(tk, now);
    const dueEl = el("span", { class: "q-due", text: d ? dueText(d) : t("board.due.none") });
    const btn = el(
      "button",
      {
        type: "button",
        class: "q-item",
        "data-ticket": tk.id,
        "aria-controls": "detail",
        "aria-current": tk.id === state.selected ? "true" : undefined,
      },
      el(
        "span",
        { class: "q-line" },
        el("span", { class: "q-id", text: spacedID(tk.id) }),
        state.fresh.has(tk.id) ? el("span", { class: "q-fresh", text: t("board.fresh") }) : null,
        el("span", { class: "badge q-status s-" + tk.status, text: statusName(tk.status) }),
        dueEl,
      ),
      el(
        "span",
        { class: "q-meta" },
        [serviceName(tk.service_code), unitName(tk.committee), tk.unit_id !== tk.committee ? unitName(tk.unit_id) : ""]
          .filter(Boolean)
          .join(" · "),
      ),
      tk.excerpt ? el("span", { class: "q-excerpt", text: tk.excerpt }) : null,
    );
    btn.addEventListener("click", () => openDetail(tk.id, true));
    const li = el("li", { class: "q-row " + dueClass(d) }, btn);
    rows.set(tk.id, { li, due: dueEl, tk });
    return li;
  });
  $("queue").replaceChildren(...items);
  const total = [...state.tickets.values()].filter(matches).length;
  let count = t("board.count", { n: total });
  if (state.listError) count = state.listError;
  else if (!state.synced && state.tickets.size === 0) count = t("staff.loading");
  else if (total === 0) count = t("board.none");
  $("queue-count").textContent = count;
}

function dueClass(d) {
  return d ? "due-" + d.level : "due-none";
}

// tick moves the countdowns on, once a second, without rebuilding the list.
function tick() {
  const now = Date.now();
  let levelChanged = false;
  for (const r of rows.values()) {
    const d = due(r.tk, now);
    r.due.textContent = d ? dueText(d) : t("board.due.none");
    const cls = "q-row " + dueClass(d);
    if (r.li.className !== cls) {
      r.li.className = cls;
      levelChanged = true;
    }
  }
  if (levelChanged) renderMap();
  if (state.detail) renderDue();
}

// ---- the map ----

// The committee areas come as GeoJSON in longitude/latitude. Over a street
// of a few kilometres a plain equirectangular projection is exact enough:
// x = longitude scaled by cos(latitude), y = latitude, flipped.
let proj = null;

function rings(geom) {
  if (!geom) return [];
  if (geom.type === "Polygon") return [geom.coordinates];
  if (geom.type === "MultiPolygon") return geom.coordinates;
  return [];
}

function makeProjection() {
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (const f of state.areas) {
    for (const poly of rings(f.geometry)) {
      for (const [x, y] of poly[0] || []) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
  }
  if (!Number.isFinite(minX)) return null;
  const k = Math.cos((((minY + maxY) / 2) * Math.PI) / 180);
  const W = 1000;
  const pad = 20;
  const scale = (W - 2 * pad) / Math.max((maxX - minX) * k, 1e-9);
  const H = Math.round((maxY - minY) * scale + 2 * pad);
  return {
    W,
    H,
    xy: (long, lat) => [pad + (long - minX) * k * scale, pad + (maxY - lat) * scale],
  };
}

// centroid of a ring by area (the label's place); the mean of the points
// for a degenerate ring.
function centroid(ring) {
  let a = 0,
    cx = 0,
    cy = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [x0, y0] = ring[j];
    const [x1, y1] = ring[i];
    const c = x0 * y1 - x1 * y0;
    a += c;
    cx += (x0 + x1) * c;
    cy += (y0 + y1) * c;
  }
  if (Math.abs(a) < 1e-12) {
    const n = ring.length || 1;
    return [ring.reduce((s, p) => s + p[0], 0) / n, ring.reduce((s, p) => s + p[1], 0) / n];
  }
  return [cx / (3 * a), cy / (3 * a)];
}

// labelSize is the font size (in viewBox units) at which name fits across
// the middle of an area: a Chinese character is about 1em wide, a Latin
// letter about 0.58em.
function labelSize(name, ring) {
  const xs = ring.map(([x, y]) => proj.xy(x, y)[0]);
  const width = Math.max(...xs) - Math.min(...xs);
  let ems = 0;
  for (const ch of name) ems += /[\u2e80-\uffff]/.test(ch) ? 1 : 0.58;
  return Math.max(14, Math.min(40, (0.8 * width) / Math.max(ems, 1)));
}

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) if (c) e.append(c);
  return e;
}

function dotClass(tk, d) {
  let c = "dot";
  if (WAITING.has(tk.status)) c += " dot-wait";
  else if (WORKING.has(tk.status)) c += " dot-work";
  else if (tk.status === "cancelled") c += " dot-off";
  else c += " dot-done";
  if (d) c += " dot-" + d.level;
  if (tk.id === state.selected) c += " dot-sel";
  return c;
}

function renderMap() {
  const map = $("map");
  if (!proj) {
    map.replaceChildren();
    $("map-note").textContent = state.areas.length ? "" : t("board.map.none");
    return;
  }
  map.setAttribute("viewBox", `0 0 ${proj.W} ${proj.H}`);
  const now = Date.now();
  const list = visible(now);
  const counts = new Map();
  for (const tk of list) counts.set(tk.committee, (counts.get(tk.committee) || 0) + 1);

  const areas = svg("g", { class: "areas" });
  const labels = svg("g", { class: "labels", "aria-hidden": "true" });
  for (const f of state.areas) {
    const p = f.properties || {};
    const id = p.unit_id || "";
    const u = state.units.get(id) || { name_zh: p.name_zh, name_en: p.name_en };
    let dpath = "";
    let best = null;
    for (const poly of rings(f.geometry)) {
      for (const ring of poly) {
        dpath += ring.map(([x, y], i) => (i ? "L" : "M") + proj.xy(x, y).map((v) => v.toFixed(1)).join(" ")).join("") + "Z";
      }
      if (!best || (poly[0] || []).length > best.length) best = poly[0] || [];
    }
    const on = state.filter.committee === id;
    const n = counts.get(id) || 0;
    const path = svg("path", {
      d: dpath,
      class: "area" + (on ? " area-on" : state.filter.committee ? " area-dim" : ""),
      tabindex: "0",
      role: "button",
      "aria-pressed": String(on),
      "aria-label": t("board.map.area", { name: named(u) || id, n }),
      "data-committee": id,
    });
    path.append(svg("title", {}, document.createTextNode(t("board.map.area", { name: named(u) || id, n }))));
    path.addEventListener("click", () => toggleCommittee(id));
    path.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        toggleCommittee(id);
      }
    });
    areas.append(path);
    if (best && best.length) {
      const [cx, cy] = proj.xy(...centroid(best));
      const name = shortName(u) || id;
      const size = labelSize(name, best);
      const label = svg("text", {
        x: cx.toFixed(1),
        y: (cy - size * 0.4).toFixed(1),
        "font-size": size.toFixed(1),
        class: "area-label" + (on ? " on" : ""),
      });
      label.textContent = name;
      labels.append(label);
      if (n) {
        const badge = svg("text", { x: cx.toFixed(1), y: (cy + size * 0.6 + 2).toFixed(1), class: "area-count" });
        badge.textContent = t("board.map.count", { n });
        labels.append(badge);
      }
    }
  }

  const dots = svg("g", { class: "dots" });
  let unplaced = 0;
  for (const tk of list) {
    if (!tk.lat && !tk.long) {
      unplaced++;
      continue;
    }
    const [x, y] = proj.xy(tk.long, tk.lat);
    const d = due(tk, now);
    // A dot is small on a 1.5 km street, so a wider transparent ring
    // around it takes the tap.
    const c = svg(
      "g",
      { class: dotClass(tk, d), "data-ticket": tk.id },
      svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 26, class: "dot-hit" }),
      svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: tk.id === state.selected ? 17 : 13, class: "dot-mark" }),
    );
    c.append(
      svg(
        "title",
        {},
        document.createTextNode(`${spacedID(tk.id)} ${statusName(tk.status)} ${serviceName(tk.service_code)}${d ? " · " + dueText(d) : ""}`),
      ),
    );
    c.addEventListener("click", () => openDetail(tk.id, false));
    dots.append(c);
  }
  // The selected dot goes last so that it is drawn on top.
  const sel = dots.querySelector(".dot-sel");
  if (sel) dots.append(sel);
  map.replaceChildren(areas, labels, dots);
  $("map-note").textContent = unplaced ? t("board.map.unplaced", { n: unplaced }) : "";
}

function toggleCommittee(id) {
  state.filter.committee = state.filter.committee === id ? "" : id;
  filtersChanged();
  const p = document.querySelector(`#map [data-committee="${CSS.escape(id)}"]`);
  if (p) p.focus();
}

// ---- the list ----

function listQuery() {
  const q = new URLSearchParams();
  const f = state.filter;
  if (f.status === "open") q.set("status", [...OPEN].join(","));
  else if (f.status !== "all") q.set("status", f.status);
  if (f.service_code) q.set("service_code", f.service_code);
  if (f.committee) q.set("committee", f.committee);
  q.set("limit", String(LIST_LIMIT));
  return q;
}

// loadList reads the tickets as they stand. Changes that arrive over the
// socket while it runs are kept and applied again on top, by version, so
// a list read just before a change cannot undo it.
let listSeq = 0;
let listRetry = 0;

async function loadList() {
  const seq = ++listSeq;
  state.loading = [];
  clearTimeout(listRetry);
  let r;
  try {
    r = await call("GET", "/api/v1/tickets?" + listQuery());
  } catch (e) {
    if (seq !== listSeq) return false;
    state.loading = null;
    if (e instanceof NetworkError) {
      state.listError = t("staff.network");
      listRetry = setTimeout(loadList, 5000);
      render();
    }
    return false;
  }
  if (seq !== listSeq) return false;
  const during = state.loading;
  state.loading = null;
  if (!r.ok) {
    state.listError = errText(r);
    listRetry = setTimeout(loadList, 10000);
    render();
    return false;
  }
  state.listError = "";
  const old = state.tickets;
  state.tickets = new Map();
  for (const raw of r.data.tickets || []) {
    upsertKeeping(raw, old);
  }
  for (const raw of during) upsert(raw);
  // The selected ticket stays even when the filters leave it out.
  if (state.selected && !state.tickets.has(state.selected) && old.has(state.selected)) {
    state.tickets.set(state.selected, old.get(state.selected));
  }
  render();
  return true;
}

// upsertKeeping records a listed ticket, keeping what the board already
// knew of it (a newer version from the socket, limit starts).
function upsertKeeping(raw, old) {
  const prev = old.get(raw.id);
  if (prev && prev.version > (raw.version || 0)) {
    state.tickets.set(raw.id, prev);
    return;
  }
  state.tickets.set(raw.id, normalize(raw, prev));
}

// ---- the feed ----

function setConn(c) {
  state.conn = c;
  const p = $("conn");
  p.className = "conn conn-" + c;
  $("conn-text").textContent = t("board.conn." + c);
}

function connect() {
  clearTimeout(state.retryTimer);
  if (state.ws) return;
  let since = state.position;
  if (since && state.failsWithSince >= 3) {
    // A position the server keeps refusing (data reset, another
    // deployment): start afresh, which re-reads the list.
    savePosition("");
    since = "";
  }
  if (!since) state.synced = false;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${proto}//${location.host}/ws` + (since ? "?since=" + encodeURIComponent(since) : "");
  let ws;
  try {
    ws = new WebSocket(url);
  } catch (_) {
    retry(false);
    return;
  }
  state.ws = ws;
  let helloed = false;
  ws.addEventListener("message", (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    if (msg.type === "hello") {
      helloed = true;
      state.attempt = 0;
      state.failsWithSince = 0;
      setConn("connected");
    }
    onMessage(msg);
  });
  ws.addEventListener("close", (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (ev.code === CLOSE_SESSION) {
      location.assign(withLang("/login"));
      return;
    }
    if (ev.code === CLOSE_BAD_SINCE) {
      savePosition("");
      retry(true);
      return;
    }
    if (!helloed && since) state.failsWithSince++;
    retry(ev.code === CLOSE_TOO_SLOW);
  });
  // An error is always followed by close, which does the work.
  ws.addEventListener("error", () => {});
}

function retry(atOnce) {
  setConn("reconnecting");
  clearTimeout(state.retryTimer);
  let delay;
  if (atOnce) {
    delay = 100 + Math.random() * 400;
  } else {
    const base = BACKOFF[Math.min(state.attempt, BACKOFF.length - 1)] * 1000;
    delay = base * (0.8 + Math.random() * 0.4);
  }
  state.attempt++;
  // After a few failures, check the session: a socket refused for want of
  // one looks the same as a network failure from here.
  if (state.attempt === 3 || state.attempt % 6 === 0) {
    call("GET", "/api/v1/me").catch(() => {});
  }
  state.retryTimer = setTimeout(connect, delay);
}

function onMessage(msg) {
  if (msg.position) savePosition(msg.position);
  if (msg.type === "hello") {
    if (!state.synced) {
      state.synced = true;
      loadList();
    }
    return;
  }
  if (msg.type === "reload") {
    // The server no longer holds the history after our position: what we
    // hold may be stale, so read it all again from here.
    loadList();
    return;
  }
  if (typeof msg.type !== "string" || !msg.type.startsWith("ticket.")) return;
  const raw = msg.ticket;
  if (!raw || !raw.id) return;
  const prev = state.tickets.get(raw.id);
  if (state.loading) state.loading.push(raw);
  const { tk, changed } = upsert(raw);
  if (!changed) return;
  if (!canSee(tk)) {
    // The change moved the ticket away from this board's units: it
    // leaves the queue (the server sends that last change for this).
    state.tickets.delete(tk.id);
    state.fresh.delete(tk.id);
    if (state.selected === tk.id) refreshDetailSoon();
    render();
    return;
  }
  if (isNewForMe(msg.type, prev, tk)) announceNew(tk);
  if (state.selected === tk.id) {
    if (state.detail) state.detail.ticket = { ...state.detail.ticket, ...raw };
    refreshDetailSoon();
  }
  render();
}

// within reports whether unit id is ancestor or below it in the network.
function within(id, ancestor) {
  for (let i = 0; id && i <= state.units.size; i++) {
    if (id === ancestor) return true;
    const u = state.units.get(id);
    if (!u) return false;
    id = u.parent_id || "";
  }
  return false;
}

// canSee mirrors the server's User.CanSeeTicket (user.go), so that a
// ticket the feed says has moved out of the user's units leaves the board.
function canSee(tk) {
  const u = state.me && state.me.user;
  if (!u || u.role === "admin") return true;
  if (!u.unit_id || state.units.size === 0) return true; // cannot tell: keep it
  if (!tk.unit_id) {
    const own = state.units.get(u.unit_id);
    if (own && own.tier >= 2) return true;
  } else if (within(tk.unit_id, u.unit_id)) {
    return true;
  }
  return u.role !== "volunteer" && !!tk.committee && within(tk.committee, u.unit_id);
}

// isNewForMe tells whether a change puts a ticket in front of this board's
// user for the first time: a ticket not seen before that waits for a unit,
// or one routed, escalated or reopened to the user's own unit.
function isNewForMe(type, prev, tk) {
  if (!OPEN.has(tk.status)) return false;
  if (!prev) return WAITING.has(tk.status) || type === "ticket.created";
  const mine = state.me && state.me.user && state.me.user.unit_id;
  if (!mine || tk.unit_id !== mine) return false;
  return (type === "ticket.routed" || type === "ticket.escalated" || type === "ticket.reopened") && prev.unit_id !== mine;
}

// ---- announcing new tickets ----

let audio = null;

function soundOn() {
  try {
    return localStorage.getItem(SOUND_KEY) !== "off";
  } catch (_) {
    return true;
  }
}

function renderSound() {
  const on = soundOn();
  const b = $("sound");
  b.setAttribute("aria-pressed", String(on));
  b.textContent = t(on ? "board.sound.on" : "board.sound.off");
}

// unlockAudio makes the audio context on the user's first gesture:
// browsers refuse to play sound a page starts before any interaction.
function unlockAudio() {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try {
    if (!audio) audio = new AC();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch (_) {
    audio = null;
  }
}

function beep() {
  if (!audio || audio.state !== "running" || !soundOn()) return;
  const now = audio.currentTime;
  for (const [i, f] of [880, 1175].entries()) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = f;
    const at = now + i * 0.18;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
    osc.connect(gain).connect(audio.destination);
    osc.start(at);
    osc.stop(at + 0.16);
  }
}

function announceNew(tk) {
  state.fresh.add(tk.id);
  beep();
  // Counted until the user is back: focus, a tap or a key (see seen).
  state.unseen++;
  renderTitle();
  $("announce").textContent = t("board.new.say", {
    id: spacedID(tk.id),
    what: serviceName(tk.service_code),
    where: unitName(tk.committee) || t("common.none"),
  });
}

function renderTitle() {
  const base = t("board.doctitle");
  document.title = state.unseen > 0 ? t("board.new.title", { n: state.unseen }) + " " + base : base;
}

// seen clears the count in the title once the user is back at the board.
function seen() {
  if (state.unseen === 0) return;
  state.unseen = 0;
  renderTitle();
}

// ---- the detail panel ----

let detailSeq = 0;
let detailTimer = 0;

function refreshDetailSoon() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(() => loadDetail(false), 250);
}

async function openDetail(id, focus) {
  if (state.selected !== id) state.openForm = "";
  state.selected = id;
  state.fresh.delete(id);
  writeURL();
  render();
  await loadDetail(focus);
}

async function loadDetail(focus) {
  const id = state.selected;
  if (!id) return;
  const seq = ++detailSeq;
  try {
    const r = await call("GET", "/api/v1/tickets/" + encodeURIComponent(id));
    if (seq !== detailSeq) return;
    if (r.ok) {
      state.detail = { ticket: r.data.ticket, events: r.data.events || [] };
      state.detailError = "";
      upsert(r.data.ticket);
      render();
    } else {
      state.detail = null;
      state.detailError = r.status === 404 ? t("board.gone") : errText(r);
    }
  } catch (e) {
    if (seq !== detailSeq || !(e instanceof NetworkError)) return;
    state.detailError = t("staff.network");
  }
  renderDetail();
  if (focus) focusDetail();
}

// focusDetail moves the keyboard to the panel, scrolling only when the
// panel is not already in view (it sits below the queue on a phone).
function focusDetail() {
  const p = $("detail");
  const r = p.getBoundingClientRect();
  p.focus({ preventScroll: r.top >= 0 && r.top < window.innerHeight / 2 });
}

function closeDetail() {
  const id = state.selected;
  state.selected = "";
  state.detail = null;
  state.detailError = "";
  state.openForm = "";
  writeURL();
  render();
  renderDetail();
  const b = document.querySelector(`.q-item[data-ticket="${CSS.escape(id)}"]`);
  if (b) b.focus();
  else $("queue-title").focus();
}

function fact(dl, label, value) {
  if (value === undefined || value === null || value === "") return;
  const dd = el("dd");
  dd.append(value);
  dl.append(el("div", {}, el("dt", { text: label }), dd));
}

function renderDue() {
  const d = state.detail;
  const line = $("detail-due");
  if (!d) return;
  const rec = state.tickets.get(d.ticket.id) || normalize(d.ticket, null);
  const dd = due(rec, Date.now());
  line.className = "due-line " + dueClass(dd);
  line.textContent = dd ? dueText(dd) + " · " + formatTime(new Date(dd.at).toISOString()) : "";
}

function renderDetail() {
  $("detail-alert").textContent = state.detailError;
  const d = state.detail;
  $("detail-empty").hidden = !!d;
  $("detail-body").hidden = !d;
  const title = $("detail-title");
  renderVolunteers(d && d.ticket, state.me && state.me.user);
  if (!d) {
    title.textContent = t("staff.detail");
    return;
  }
  const tk = d.ticket;
  title.replaceChildren(
    el("span", { text: t("staff.col.id") + " " + spacedID(tk.id) }),
    el("span", { class: "badge s-" + tk.status, id: "detail-state", text: statusName(tk.status) }),
  );
  renderDue();

  const reason = $("detail-reason");
  reason.replaceChildren();
  if (tk.route_reason) {
    reason.append(el("strong", { text: t("staff.d.reason") }), el("p", { text: reasonText(tk.route_reason) }));
  }
  renderActions(tk);

  const dl = $("detail-facts");
  dl.replaceChildren();
  const loc = tk.location || {};
  const contact = tk.contact || {};
  fact(dl, t("staff.col.category"), named(tk, "service_name") || serviceName(tk.service_code));
  fact(dl, t("staff.d.description"), tk.description);
  fact(dl, t("staff.d.address"), loc.address);
  fact(dl, t("staff.d.committee"), unitName(loc.committee));
  fact(dl, t("staff.d.unit"), named(tk, "unit_name") || unitName(tk.unit_id));
  if (tk.escalations) fact(dl, t("board.d.escalations"), String(tk.escalations));
  if (tk.redo) fact(dl, t("board.d.redo"), t("staff.d.yes"));
  fact(dl, t("board.d.accept_by"), formatTime(tk.accept_by));
  fact(dl, t("board.d.resolve_by"), formatTime(tk.resolve_by));
  fact(dl, t("staff.d.notes"), tk.status_notes);
  fact(dl, t("staff.d.merged"), tk.merged_into ? spacedID(tk.merged_into) : "");
  const who = [contact.last_name, contact.first_name].filter(Boolean).join(" ");
  fact(dl, t("staff.d.contact"), [who, contact.phone, contact.email].filter(Boolean).join(" · "));
  if (tk.has_media) fact(dl, t("contact.media"), t("contact.hasMedia"));
  placeContact(dl, tk, () => location.assign(withLang("/login")));
  fact(dl, t("staff.d.channel"), tk.channel ? t("ch." + tk.channel) : "");
  fact(dl, t("staff.d.created"), formatTime(tk.created_at));
  fact(dl, t("staff.d.updated"), formatTime(tk.updated_at));
  fact(dl, t("staff.d.satisfaction"), tk.satisfaction ? "★".repeat(tk.satisfaction) + ` ${tk.satisfaction}/5` : "");

  $("detail-history").replaceChildren(
    ...[...d.events].reverse().map((ev) => historyItem(ev, unitName)),
  );
}

// reasonText picks the current language's half of a routing reason that
// dispatch wrote in both ("中文 / English"); any other text is shown whole.
function reasonText(s) {
  const i = s.lastIndexOf(" / ");
  if (i < 0) return s;
  const zh = s.slice(0, i);
  const en = s.slice(i + 3);
  if (!/[\u3400-\u9fff]/.test(zh) || /[\u3400-\u9fff]/.test(en)) return s;
  return lang() === "en" ? en : zh;
}

// ---- actions ----

// Each action: the statuses it is offered in, and the fields of its small
// form (none: the button acts at once). The server has the last word; a
// refusal is shown in the panel.
const ACTIONS = [
  { name: "accept", when: WAITING, primary: true },
  { name: "decline", when: WAITING, fields: [{ key: "reason", required: true }] },
  { name: "start", when: new Set(["accepted"]), primary: true },
  { name: "resolve", when: WORKING, primary: true, fields: [{ key: "text", required: true }] },
  { name: "reopen", when: new Set(["resolved", "closed"]), fields: [{ key: "reason", required: true }] },
  {
    name: "reassign",
    when: OPEN,
    fields: [
      { key: "unit_id", kind: "unit", required: true },
      { key: "note", required: false },
    ],
  },
  { name: "note", when: new Set(STATUSES), fields: [{ key: "text", required: true }] },
  // ask texts the resident; their reply comes back as a note.
  { name: "ask", when: OPEN, fields: [{ key: "text", label: "question", required: true }] },
  // rating records what a resident without SMS said on a callback.
  {
    name: "rating",
    when: new Set(["resolved", "closed"]),
    fields: [
      { key: "score", kind: "score", required: true },
      { key: "comment", required: false },
    ],
  },
  { name: "merge", when: OPEN, fields: [{ key: "duplicate_id", kind: "id", required: true }] },
  { name: "cancel", when: OPEN, danger: true, fields: [{ key: "reason", required: true }] },
];

function renderActions(tk) {
  const bar = $("actions");
  const offered = ACTIONS.filter((a) => a.when.has(tk.status));
  bar.replaceChildren(
    ...offered.map((a) => {
      const b = el("button", {
        type: "button",
        class: "btn" + (a.primary ? " primary" : "") + (a.danger ? " danger" : ""),
        "data-action": a.name,
        "aria-expanded": a.fields ? String(state.openForm === a.name) : undefined,
        "aria-controls": a.fields ? "action-form-box" : undefined,
        text: t("board.a." + a.name),
      });
      b.addEventListener("click", () => {
        if (!a.fields) {
          act(a, {});
          return;
        }
        state.openForm = state.openForm === a.name ? "" : a.name;
        renderActions(tk);
        const first = $("action-form-box").querySelector("textarea, input, select");
        if (first) first.focus();
      });
      return b;
    }),
  );
  const box = $("action-form-box");
  const a = offered.find((x) => x.name === state.openForm && x.fields);
  if (!a) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(actionForm(a, tk));
}

function actionForm(a, tk) {
  const form = el("form", { class: "action-form", "data-form": a.name, novalidate: true });
  form.append(el("h3", { text: t("board.a." + a.name) }));
  for (const f of a.fields) {
    const id = `af-${a.name}-${f.key}`;
    const label = el("label", { for: id, text: t("board.af." + (f.label || f.key)) + (f.required ? "" : t("board.af.optional")) });
    let input;
    if (f.kind === "score") {
      input = el("select", { class: "short" });
      input.append(option("", t("board.af.pick_score"), ""));
      for (let n = 5; n >= 1; n--) input.append(option(String(n), t("board.af.score_" + n), ""));
    } else if (f.kind === "unit") {
      input = unitPicker(tk);
    } else if (f.kind === "id") {
      input = el("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "short" });
    } else {
      input = el("textarea", { rows: "3" });
    }
    input.id = id;
    input.name = f.key;
    if (f.required) input.required = true;
    form.append(el("div", { class: "field" }, label, input, el("p", { class: "field-error", id: id + "-error", hidden: true })));
  }
  form.append(el("div", { class: "form-alert alert", role: "alert" }));
  const submit = el("button", { type: "submit", class: "btn primary" + (a.danger ? " danger" : ""), text: t("board.a." + a.name) });
  const cancel = el("button", { type: "button", class: "btn", text: t("board.af.close") });
  cancel.addEventListener("click", () => {
    state.openForm = "";
    renderActions(tk);
    const b = document.querySelector(`#actions [data-action="${a.name}"]`);
    if (b) b.focus();
  });
  form.append(el("div", { class: "row" }, submit, cancel));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {};
    let bad = null;
    for (const f of a.fields) {
      const input = form.elements[f.key];
      let v = input.value.trim();
      if (f.kind === "id") v = v.replace(/\s+/g, "");
      const err = $(input.id + "-error");
      const missing = f.required && !v;
      input.setAttribute("aria-invalid", String(missing));
      err.hidden = !missing;
      err.textContent = missing ? t("board.af.required") : "";
      if (missing) {
        input.setAttribute("aria-describedby", err.id);
        bad = bad || input;
      }
      if (v) body[f.key] = f.kind === "score" ? Number(v) : v;
    }
    if (bad) {
      bad.focus();
      return;
    }
    act(a, body, form);
  });
  return form;
}

// unitPicker lists the units a ticket may go to: those handling its
// category first, then the rest, each group by tier.
function unitPicker(tk) {
  const sel = el("select");
  sel.append(option("", t("board.af.pick"), ""));
  const units = [...state.units.values()].filter((u) => u.id !== tk.unit_id);
  const fits = units.filter((u) => (u.categories || []).includes(tk.service_code));
  const rest = units.filter((u) => !(u.categories || []).includes(tk.service_code));
  const byTier = (a, b) => (a.tier || 0) - (b.tier || 0) || (a.id < b.id ? -1 : 1);
  if (fits.length) {
    const g = el("optgroup", { label: t("board.af.fits") });
    for (const u of fits.sort(byTier)) g.append(option(u.id, named(u) || u.id, ""));
    sel.append(g);
  }
  const g = el("optgroup", { label: t("board.af.others") });
  for (const u of rest.sort(byTier)) g.append(option(u.id, named(u) || u.id, ""));
  sel.append(g);
  return sel;
}

let acting = false;

async function act(a, body, form) {
  if (acting || !state.detail) return;
  const id = state.detail.ticket.id;
  acting = true;
  const buttons = document.querySelectorAll("#actions button, #action-form-box button");
  for (const b of buttons) b.setAttribute("aria-disabled", "true");
  const alertBox = form ? form.querySelector(".form-alert") : $("detail-alert");
  alertBox.textContent = "";
  try {
    const path = `/api/v1/tickets/${encodeURIComponent(id)}/${a.name}`;
    let r = await call("POST", path, body);
    if (r.status === 403) {
      // The token may have been renewed (another tab signed in again).
      const me = await call("GET", "/api/v1/me");
      if (me.ok && me.data.csrf_token !== state.me.csrf_token) {
        state.me = me.data;
        r = await call("POST", path, body);
      }
    }
    if (!r.ok) {
      alertBox.textContent = errText(r);
      const fields = (r.data && r.data.fields) || {};
      for (const [k, msg] of Object.entries(fields)) {
        const err = form && form.querySelector(`#af-${a.name}-${CSS.escape(k)}-error`);
        if (err) {
          err.hidden = false;
          err.textContent = msg;
        }
      }
      if (r.status === 409) loadDetail(false);
      return;
    }
    state.openForm = "";
    if (r.data && r.data.ticket) {
      upsert(r.data.ticket);
      state.detail.ticket = r.data.ticket;
      render();
    }
    $("detail-status").textContent = t("board.done." + a.name, { id: spacedID(id) });
    renderDetail();
    await loadDetail(false);
    // The button pressed is gone with the re-render: keep the keyboard in
    // the panel rather than at the top of the page.
    if (!document.activeElement || document.activeElement === document.body) focusDetail();
  } catch (e) {
    if (e instanceof NetworkError) alertBox.textContent = t("board.err.network");
  } finally {
    acting = false;
    for (const b of document.querySelectorAll("#actions button, #action-form-box button")) b.removeAttribute("aria-disabled");
  }
}

// ---- statistics ----

// The stats answer's exact shape is the server's: the strip shows any
// overall rates it finds, and the table lists every row of every list in
// it (per unit, per tier) with whatever columns come back. A field whose
// name says "rate" is a share (0..1, or already a percentage above 1); one
// that says "median", "seconds" or "minutes" is a duration.
let stats = null;

// The columns shown when the answer has them (dispatch.Rates), in order;
// an answer of another shape gets all its plain fields.
const STAT_COLUMNS = [
  "unit_id",
  "tier",
  "offers",
  "response_rate",
  "resolution_rate",
  "satisfaction_rate",
  "median_accept_seconds",
  "median_resolve_seconds",
];

function isRate(k) {
  return /rate|ratio|share/i.test(k);
}

function isDuration(k) {
  return /median|seconds|secs|minutes|mins|_ms$|duration|time_to/i.test(k);
}

function fmtRate(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return t("common.none");
  const p = v <= 1 ? v * 100 : v;
  return (Math.round(p * 10) / 10).toLocaleString(lang() === "en" ? "en-GB" : "zh-CN") + "%";
}

function fmtStatDuration(k, v) {
  if (typeof v === "string") return v;
  if (typeof v !== "number" || !Number.isFinite(v)) return t("common.none");
  let ms = v * 1000; // seconds unless the name says otherwise
  if (/minutes|mins/i.test(k)) ms = v * 60e3;
  else if (/_ms$/i.test(k)) ms = v;
  else if (/hours/i.test(k)) ms = v * HOUR;
  return fmtDur(ms).replace(/\s*0?0\s*(秒|s)$/, "");
}

function statLabel(k) {
  const key = "board.st." + k;
  const s = t(key);
  return s === key ? k.replace(/_/g, " ") : s;
}

function fmtStat(k, v) {
  if (v === null || v === undefined) return t("common.none");
  if (isRate(k)) return fmtRate(v);
  if (isDuration(k)) return fmtStatDuration(k, v);
  if (k === "unit_id" || k === "unit" || k === "committee") return unitName(v);
  if (k === "tier") return t("board.tier", { n: v });
  return typeof v === "number" ? v.toLocaleString() : String(v);
}

async function loadStats() {
  const to = new Date();
  const from = new Date(to.getTime() - 30 * 24 * HOUR);
  const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  const unit = state.me && state.me.user && state.me.user.unit_id;
  if (unit) q.set("unit", unit);
  try {
    const r = await call("GET", "/api/v1/stats?" + q);
    stats = r.ok ? r.data : { error: r.status };
  } catch (_) {
    stats = { error: "network" };
  }
  renderStats();
}

function overall(data) {
  for (const k of ["overall", "total", "totals", "all", "summary", "street"]) {
    if (data[k] && typeof data[k] === "object" && !Array.isArray(data[k])) return data[k];
  }
  if (Object.keys(data).some(isRate)) return data;
  return null;
}

function statRows(data) {
  const out = [];
  for (const [k, v] of Object.entries(data)) {
    if (Array.isArray(v) && v.length && typeof v[0] === "object") {
      out.push({ group: k, rows: v });
    } else if (v && typeof v === "object" && !Array.isArray(v) && k !== "overall") {
      // A map keyed by unit or tier: {"c01": {...}, ...}
      const vals = Object.entries(v);
      if (vals.length && vals.every(([, x]) => x && typeof x === "object" && !Array.isArray(x))) {
        out.push({ group: k, rows: vals.map(([id, x]) => ({ [/tier/i.test(k) ? "tier" : "unit_id"]: id, ...x })) });
      }
    }
  }
  return out;
}

function renderStats() {
  const head = $("stats-head");
  const note = $("stats-note");
  head.replaceChildren();
  note.textContent = "";
  if (!stats || stats.error) {
    note.textContent = stats ? t("board.stats.none") : t("staff.loading");
    $("stats-more").hidden = true;
    return;
  }
  const o = overall(stats);
  const want = [
    ["response", /respon/i],
    ["resolution", /resol/i],
    ["satisfaction", /satisf/i],
  ];
  if (o) {
    for (const [name, re] of want) {
      const k = Object.keys(o).find((x) => re.test(x) && isRate(x));
      if (!k) continue;
      head.append(el("div", { class: "stat" }, el("dt", { text: t("board.stats." + name) }), el("dd", { text: fmtRate(o[k]) })));
    }
  }
  const groups = statRows(stats);
  const table = $("stats-table");
  table.replaceChildren();
  for (const g of groups) {
    // Rows with nothing to show (a unit offered nothing) are left out.
    const rows = g.rows.filter((row) => row.offers !== 0 || Object.keys(row).some((k) => isRate(k) && typeof row[k] === "number"));
    if (!rows.length) continue;
    let cols = STAT_COLUMNS.filter((k) => rows.some((row) => k in row));
    if (cols.length < 3) {
      cols = [];
      for (const row of rows) for (const k of Object.keys(row)) if (!cols.includes(k) && typeof row[k] !== "object") cols.push(k);
    }
    table.append(
      el("caption", { text: statLabel(g.group) }),
      el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col", text: statLabel(c) })))),
      el(
        "tbody",
        {},
        ...rows.map((row) =>
          el("tr", {}, ...cols.map((c) => el("td", { text: c === "unit_id" ? named(row) || unitName(row.unit_id) : fmtStat(c, row[c]) }))),
        ),
      ),
    );
  }
  $("stats-more").hidden = table.children.length === 0;
  if (!head.children.length && !table.children.length) note.textContent = t("board.stats.none");
}

// ---- who is signed in ----

function renderMe() {
  const u = state.me && state.me.user;
  if (!u) return;
  const w = $("whoami");
  w.removeAttribute("data-i18n");
  const who = signedIn(u);
  w.textContent = u.unit_id ? who + " · " + unitName(u.unit_id) : who;
}

async function logout() {
  try {
    await request("POST", "/api/v1/logout", {
      headers: { "X-CSRF-Token": (state.me && state.me.csrf_token) || "" },
    });
  } catch (_) {
    // Going to the sign-in page anyway; the session expires by itself.
  }
  try {
    sessionStorage.removeItem(POSITION_KEY);
  } catch (_) {
    // nothing kept
  }
  location.assign(withLang("/login"));
}

// ---- filters ----

function filtersChanged() {
  writeURL();
  renderFilters();
  render();
  // The list on the server is read with the filters, so that a closed
  // ticket asked for by status is there; the socket keeps it current.
  loadList();
}

// ---- start ----

async function start() {
  init();
  readURL();
  renderTitle();
  renderSound();
  setConn("connecting");
  let me;
  try {
    me = await call("GET", "/api/v1/me");
  } catch (e) {
    if (e instanceof NetworkError) $("board-alert").textContent = t("staff.network");
    return;
  }
  if (!me.ok) {
    $("board-alert").textContent = errText(me);
    return;
  }
  state.me = me.data;

  const [svc, units] = await Promise.all([
    request("GET", "/api/v1/services").catch(() => null),
    request("GET", "/api/v1/units").catch(() => null),
  ]);
  if (svc && svc.ok) for (const c of svc.data.services || []) state.services.set(c.code, c);
  if (units && units.ok) {
    for (const u of units.data.units || []) state.units.set(u.id, u);
    state.areas = (units.data.areas && units.data.areas.features) || [];
  }
  proj = makeProjection();
  renderMe();
  renderFilters();
  render();

  state.position = readPosition();
  connect();
  // Until the socket answers, show the list anyway; it is read again once
  // the socket is up, so nothing changed in between is lost.
  setTimeout(() => {
    if (!state.synced && state.tickets.size === 0 && !state.loading) loadList();
  }, 3000);
  if (state.selected) openDetail(state.selected, false);
  loadStats();
  setInterval(tick, 1000);
  setInterval(loadStats, 10 * 60e3);
}

setupVolunteers(() => (state.me && state.me.csrf_token) || "");

onLangChange(() => {
  renderTitle();
  renderSound();
  setConn(state.conn);
  renderMe();
  renderFilters();
  render();
  renderDetail();
  renderStats();
});

for (const [id, key] of [
  ["f-status", "status"],
  ["f-service", "service_code"],
  ["f-committee", "committee"],
]) {
  $(id).addEventListener("change", () => {
    state.filter[key] = $(id).value;
    filtersChanged();
  });
}
$("filters").addEventListener("submit", (ev) => ev.preventDefault());
$("f-reset").addEventListener("click", () => {
  state.filter = { status: "open", service_code: "", committee: "" };
  filtersChanged();
});
$("detail-close").addEventListener("click", closeDetail);
$("logout").addEventListener("click", logout);
$("sound").addEventListener("click", () => {
  try {
    localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
  } catch (_) {
    // not remembered
  }
  renderSound();
  unlockAudio();
  beep();
});

// The queue is a list of buttons: arrow keys move between them.
$("queue").addEventListener("keydown", (ev) => {
  if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
  const items = [...document.querySelectorAll("#queue .q-item")];
  const i = items.indexOf(document.activeElement);
  if (i < 0) return;
  const next = items[ev.key === "ArrowDown" ? Math.min(i + 1, items.length - 1) : Math.max(i - 1, 0)];
  ev.preventDefault();
  next.focus();
});

document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  if (state.openForm && state.detail) {
    state.openForm = "";
    renderActions(state.detail.ticket);
  } else if (state.selected) {
    closeDetail();
  }
});

// The first gesture unlocks sound and any gesture or focus means the user
// has seen the board.
for (const type of ["pointerdown", "keydown"]) {
  window.addEventListener(type, () => {
    unlockAudio();
    seen();
  });
}
window.addEventListener("focus", seen);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && document.hasFocus()) seen();
});
// Back online: try at once instead of waiting out the backoff.
window.addEventListener("online", () => {
  if (!state.ws) {
    state.attempt = 0;
    connect();
  }
});

start();
