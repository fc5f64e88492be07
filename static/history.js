// One entry of a ticket's history, as the staff list and the live board
// both show it: when, what, the status it left, a move between units, the
// note and who acted. unitName turns a unit id into the page's name for it.
import { t, statusName, eventName } from "/i18n.js";
import { formatTime, el } from "/api.js";

export function historyItem(ev, unitName) {
  const li = el(
    "li",
    {},
    el("time", { datetime: ev.at || undefined, text: formatTime(ev.at) }),
    el("span", { class: "what", text: eventName(ev.type) }),
  );
  if (ev.status) li.append(" ", el("span", { class: "badge s-" + ev.status, text: statusName(ev.status) }));
  if (ev.unit_id || ev.from_unit_id) {
    const move = ev.from_unit_id
      ? t("staff.d.move", { from: unitName(ev.from_unit_id), to: unitName(ev.unit_id) })
      : unitName(ev.unit_id);
    li.append(el("p", { class: "note", text: move }));
  }
  if (ev.note) li.append(el("p", { class: "note", text: ev.note }));
  if (ev.actor) li.append(el("p", { class: "note muted", text: t("staff.d.by", { actor: ev.actor }) }));
  return li;
}
