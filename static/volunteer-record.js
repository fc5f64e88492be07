// volunteer-record.js: one volunteer's record on /volunteers/{id}: their
// profile (the phone masked unless the server shows it), their tasks and
// the hours they gave by category. Read-only: decisions are made on the
// review page.

import { init, t, named, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError, spacedID, formatTime, el } from "/api.js";

const $ = (id) => document.getElementById(id);

const state = { me: null, record: null, error: "", services: [], units: new Map(), terms: null };

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
      .map((q) => termName("qualifications", q.kind) + (q.expires ? " (" + t("vol.rec.expires", { date: formatTime(q.expires) }) + ")" : ""))
      .join("、"),
  );
  fact(dl, t("vol.rec.availability"), v.availability);
  fact(dl, t("vol.rec.notes"), v.notes);
  fact(dl, t("vol.rec.since"), formatTime(v.created_at));

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
    $("whoami").textContent = t("staff.signedIn", { name: u.name || u.username, role: t("role." + u.role) });
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

onLangChange(render);
start();
