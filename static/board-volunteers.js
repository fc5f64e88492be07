// board-volunteers.js: the "志愿者 / Volunteers" part of the board's
// ticket detail: the volunteers matching suggests for the ticket (ranked,
// with distance, load and the reason), check boxes to pick one or several,
// an assign button, and the ticket's assignments with their status.
// board.js calls renderVolunteers(ticket) whenever it draws the detail;
// the lists are read once per ticket and again after an assignment.

import { t, withLang, lang } from "/i18n.js";
import { request, NetworkError, el, formatTime } from "/api.js";

const $ = (id) => document.getElementById(id);
const OPEN = new Set(["new", "routed", "accepted", "in_progress", "reopened"]);
const OPEN_TASK = new Set(["offered", "accepted"]);

let csrf = () => "";
let vs = fresh("");
let seq = 0;

function fresh(id) {
  return { ticket: id, suggestions: null, assignments: null, error: "", assignError: "", status: "", busy: false, picked: new Set(), confirming: "" };
}

// setupVolunteers gives the module the session's CSRF token (it may be
// renewed while the board is open).
export function setupVolunteers(getCSRF) {
  csrf = getCSRF;
}

async function get(path) {
  const r = await request("GET", path);
  if (r.status === 401) location.assign(withLang("/login"));
  return r;
}

function errText(r) {
  const msg = (r.data && r.data.error) || "HTTP " + r.status;
  const fields = r.data && r.data.fields ? Object.values(r.data.fields).join("; ") : "";
  return t("staff.error", { msg: fields ? msg + ": " + fields : msg });
}

// half picks the current language's half of a text the registry wrote in
// both ("距居民 320 米… / 320 m away…"), as board.js does for routing
// reasons; any other text is shown whole.
function half(s) {
  const i = s.lastIndexOf(" / ");
  if (i < 0) return s;
  const zh = s.slice(0, i);
  const en = s.slice(i + 3);
  if (!/[\u3400-\u9fff]/.test(zh) || /[\u3400-\u9fff]/.test(en)) return s;
  return lang() === "en" ? en : zh;
}

async function load(id) {
  const mine = ++seq;
  const base = "/api/v1/tickets/" + encodeURIComponent(id) + "/volunteers";
  try {
    const [sg, as] = await Promise.all([get(base + "/suggestions"), get(base)]);
    if (mine !== seq || vs.ticket !== id) return;
    vs.suggestions = sg.ok ? sg.data.suggestions || [] : [];
    vs.assignments = as.ok ? as.data.assignments || [] : [];
    vs.error = !sg.ok ? errText(sg) : !as.ok ? errText(as) : "";
  } catch (e) {
    if (mine !== seq || !(e instanceof NetworkError)) return;
    vs.suggestions = vs.suggestions || [];
    vs.assignments = vs.assignments || [];
    vs.error = t("staff.network");
  }
  draw();
}

// renderVolunteers draws the part for ticket tk (nil: none shown). Users
// of role volunteer never see it.
export function renderVolunteers(tk, user) {
  let box = $("vol-box");
  if (!box) {
    box = el("section", { id: "vol-box", class: "vol-box", "aria-labelledby": "vol-title" });
    $("action-form-box").after(box);
  }
  if (!tk || !user || user.role === "volunteer") {
    // Hidden, not forgotten: the board clears the detail for a moment
    // while it reloads a ticket that changed, and what the user picked
    // or was just told must survive that.
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  if (vs.ticket !== tk.id) {
    vs = fresh(tk.id);
    load(tk.id);
  }
  vs.open = OPEN.has(tk.status);
  draw();
}

function draw() {
  const box = $("vol-box");
  if (!box || box.hidden) return;
  const parts = [el("h3", { id: "vol-title", text: t("vol.b.title") })];
  if (vs.error) parts.push(el("p", { class: "alert", role: "alert", text: vs.error }));
  if (vs.assignments === null) {
    parts.push(el("p", { class: "muted", text: t("staff.loading") }));
    box.replaceChildren(...parts);
    return;
  }

  // The ticket's assignments.
  parts.push(el("h4", { text: t("vol.b.assigned") }));
  if (!vs.assignments.length) {
    parts.push(el("p", { class: "muted", id: "vol-assignments-none", text: t("vol.b.noneAssigned") }));
  } else {
    parts.push(
      el(
        "ul",
        { id: "vol-assignments", class: "vol-list" },
        ...vs.assignments.map((a) => {
          const v = a.volunteer || {};
          return el(
            "li",
            { "data-volunteer": a.volunteer_id, "data-status": a.status },
            el("strong", { text: v.name || a.volunteer_id }),
            v.phone ? " " + v.phone : "",
            " · ",
            el("span", { class: "vol-as-status", text: t("vol.as." + a.status) }),
            a.offered_at ? " · " + formatTime(a.offered_at) : "",
            a.hours ? " · " + t("vol.b.hours", { h: a.hours }) : "",
            OPEN_TASK.has(a.status) && a.id ? withdrawButton(a) : "",
          );
        }),
      ),
    );
  }

  // The suggestions, to assign from while the ticket is open.
  if (vs.open) {
    const taken = new Set(vs.assignments.filter((a) => OPEN_TASK.has(a.status)).map((a) => a.volunteer_id));
    const list = (vs.suggestions || []).filter((s) => s.volunteer && !taken.has(s.volunteer.id));
    const form = el("form", { id: "vol-assign", novalidate: true });
    const fs = el("fieldset", {}, el("legend", { text: t("vol.b.suggested") }));
    if (!list.length) {
      fs.append(el("p", { class: "muted", id: "vol-suggestions-none", text: t("vol.b.noneSuggested") }));
    } else {
      const ol = el("ol", { class: "vol-list", id: "vol-suggestions" });
      for (const s of list) {
        const v = s.volunteer;
        const id = "vol-pick-" + v.id;
        const input = el("input", { type: "checkbox", id, name: "volunteer", value: v.id, "aria-describedby": id + "-why" });
        input.checked = vs.picked.has(v.id);
        input.addEventListener("change", () => {
          if (input.checked) vs.picked.add(v.id);
          else vs.picked.delete(v.id);
        });
        ol.append(
          el(
            "li",
            { "data-volunteer": v.id },
            el("label", { class: "check", for: id }, input, el("span", {}, el("strong", { text: v.name || v.id }), v.phone ? " " + v.phone : "")),
            el(
              "p",
              { class: "muted", id: id + "-why" },
              t("vol.b.distance", { m: Math.round(s.distance || 0) }) + " · " + t("vol.b.load", { n: s.load || 0 }),
              s.reason ? el("br") : "",
              half(s.reason || ""),
            ),
          ),
        );
      }
      fs.append(ol);
    }
    form.append(fs);
    form.append(el("p", { class: "alert", role: "alert", id: "vol-assign-alert", text: vs.assignError }));
    if (list.length) {
      const b = el("button", { type: "submit", class: "btn primary", id: "vol-assign-submit", text: t("vol.b.assign") });
      if (vs.busy) b.setAttribute("aria-disabled", "true");
      form.append(b);
    }
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      assign();
    });
    parts.push(form);
  }
  parts.push(el("p", { class: "visually-hidden", role: "status", id: "vol-status", text: vs.status }));
  box.replaceChildren(...parts);
}

async function assign() {
  if (vs.busy) return;
  const ids = [...vs.picked];
  if (!ids.length) {
    vs.assignError = t("vol.b.pickOne");
    draw();
    const first = document.querySelector('#vol-assign input[name="volunteer"]');
    if (first) first.focus();
    return;
  }
  const id = vs.ticket;
  vs.busy = true;
  vs.assignError = "";
  draw();
  try {
    const r = await request("POST", "/api/v1/tickets/" + encodeURIComponent(id) + "/volunteers", {
      body: { volunteer_ids: ids },
      headers: { "X-CSRF-Token": csrf() },
    });
    if (vs.ticket !== id) return;
    if (r.status === 401) {
      location.assign(withLang("/login"));
      return;
    }
    if (!r.ok) {
      vs.assignError = errText(r);
    } else {
      vs.picked.clear();
      vs.status = t("vol.b.done", { n: ids.length });
      // Show the new assignments at once; the reload brings the rest.
      vs.assignments = [...(r.data.assignments || []), ...vs.assignments.filter((a) => !ids.includes(a.volunteer_id))];
      load(id);
    }
  } catch (e) {
    if (e instanceof NetworkError) vs.assignError = t("board.err.network");
  } finally {
    vs.busy = false;
    draw();
    // The button pressed is gone with the redraw: keep the keyboard here.
    const h = $("vol-title");
    if (h && vs.status && !vs.assignError) {
      h.setAttribute("tabindex", "-1");
      h.focus();
    }
  }
}

// withdrawButton takes an open task back in two presses: the first asks
// "confirm?" in place (a volunteer who accepted is told by SMS, so a
// slip of the mouse must not do it), the second withdraws.
function withdrawButton(a) {
  const name = (a.volunteer && a.volunteer.name) || a.volunteer_id;
  const asking = vs.confirming === a.id;
  const b = el("button", {
    type: "button",
    class: "btn small vol-withdraw" + (asking ? " danger" : ""),
    "data-assignment": a.id,
    "aria-label": asking ? t("vol.b.withdrawAsk", { name }) : t("vol.b.withdrawWho", { name }),
    text: asking ? t("vol.b.withdrawConfirm") : t("vol.b.withdraw"),
  });
  b.addEventListener("click", () => {
    if (vs.confirming !== a.id) {
      vs.confirming = a.id;
      draw();
      const again = document.querySelector('.vol-withdraw[data-assignment="' + CSS.escape(a.id) + '"]');
      if (again) again.focus();
      return;
    }
    vs.confirming = "";
    withdraw(a);
  });
  return b;
}

// withdraw takes an open task back from its volunteer.
async function withdraw(a) {
  if (vs.busy) return;
  const v = a.volunteer || {};
  const id = vs.ticket;
  vs.busy = true;
  vs.assignError = "";
  try {
    const r = await request("POST", "/api/v1/assignments/" + encodeURIComponent(a.id) + "/withdraw", {
      headers: { "X-CSRF-Token": csrf() },
    });
    if (vs.ticket !== id) return;
    if (r.status === 401) {
      location.assign(withLang("/login"));
      return;
    }
    if (!r.ok) {
      vs.error = errText(r);
    } else {
      vs.error = "";
      vs.status = t("vol.b.withdrawn", { name: v.name || a.volunteer_id });
      vs.assignments = vs.assignments.map((x) => (x.id === a.id ? { ...x, status: "withdrawn" } : x));
      load(id);
    }
  } catch (e) {
    if (e instanceof NetworkError) vs.error = t("board.err.network");
  } finally {
    vs.busy = false;
    draw();
  }
}
