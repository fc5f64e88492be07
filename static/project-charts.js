// project-charts.js: what the two needs-project pages (projects.js, the
// list; project.js, one project) share: the monthly bar chart and the
// committees' bar list, drawn as inline SVG with DOM calls (no chart
// library, no innerHTML, no style attribute: the CSP allows none), the
// status and trend badges, and the figures in the reader's language.

import { t, lang } from "/i18n.js";
import { el } from "/api.js";

const SVG_NS = "http://www.w3.org/2000/svg";

// svg builds an SVG element as el() builds HTML ones: attributes set as
// given, "text" as textContent, never markup.
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

// PROJECT_STATUSES is the lifecycle order, the list's sort order too.
export const PROJECT_STATUSES = ["draft", "proposal", "purchased", "rejected", "merged", "retired"];

export function statusBadge(status) {
  return el("span", { class: "badge p-" + status, "data-status": status, text: t("proj.s." + status) });
}

// trendBadge names the trend (新 / 增长 / 持平 / 减少); null for none.
export function trendBadge(trend) {
  if (!trend) return null;
  return el("span", { class: "badge trend t-" + trend, "data-trend": trend, text: t("proj.trend." + trend) });
}

function locale() {
  return lang() === "en" ? "en-GB" : "zh-CN";
}

// num writes a count with the reader's digit grouping.
export function num(n) {
  return new Intl.NumberFormat(locale()).format(Number(n) || 0);
}

// yuan writes an amount, "¥40,320" or "¥99.50".
export function yuan(n) {
  const v = Number(n) || 0;
  const frac = Math.round(v * 100) % 100 !== 0;
  return (
    "¥" +
    new Intl.NumberFormat(locale(), { minimumFractionDigits: frac ? 2 : 0, maximumFractionDigits: 2 }).format(v)
  );
}

// pct writes a share 0..1 as a whole percentage.
export function pct(share) {
  return Math.round((Number(share) || 0) * 100) + "%";
}

// title is a project's title in the reader's language, falling back to
// the other, then to its id.
export function title(p) {
  if (!p) return "";
  const zh = p.title_zh || "";
  const en = p.title_en || "";
  return (lang() === "en" ? en || zh : zh || en) || p.id || "";
}

// monthLabel writes "2026-03" as 3月 or Mar, with the year where it is
// needed: on the first bar and in January (25年10月, Oct 25).
function monthLabel(m, first) {
  const [y, mo] = String(m).split("-").map((x) => parseInt(x, 10));
  if (!y || !mo) return String(m);
  const showYear = first || mo === 1;
  if (lang() !== "en") return (showYear ? String(y).slice(2) + "年" : "") + mo + "月";
  try {
    const name = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", month: "short" }).format(new Date(Date.UTC(y, mo - 1, 1)));
    return showYear ? name + " " + String(y).slice(2) : name;
  } catch (_) {
    return String(m);
  }
}

// monthChart draws the tickets of each month as bars, the latest month
// darker. For screen readers it is one image whose name lists the counts.
// compact draws the small chart of a list card: no value above each bar.
export function monthChart(months, { compact = false } = {}) {
  const list = months || [];
  // The drawing's units are about the pixels it is shown at (see
  // projects.css), so its 11px labels stay 11px.
  const W = compact ? 360 : 480;
  const H = compact ? 90 : 150;
  const top = compact ? 6 : 18;
  const bottom = 16;
  const n = Math.max(1, list.length);
  const step = W / n;
  const bw = Math.max(2, step * 0.7);
  const max = Math.max(1, ...list.map((m) => m.count || 0));
  const h = H - top - bottom;
  const names = list.map((m) => t("proj.chart.month", { month: m.month, n: m.count || 0 })).join(t("proj.chart.sep"));
  const root = svg("svg", {
    class: "proj-chart" + (compact ? " compact" : ""),
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": t("proj.chart.months", { list: names || t("proj.chart.none") }),
    preserveAspectRatio: "xMinYMin meet",
  });
  // Label every month while they fit, else every third.
  const every = step >= 34 ? 1 : step >= 16 ? 3 : 6;
  list.forEach((m, i) => {
    const c = m.count || 0;
    const bh = Math.round((c / max) * h);
    const x = i * step + (step - bw) / 2;
    const bar = svg("rect", {
      class: "bar" + (i === list.length - 1 ? " last" : ""),
      x: x.toFixed(1),
      y: top + h - bh,
      width: bw.toFixed(1),
      height: Math.max(bh, c > 0 ? 1 : 0),
      "data-month": m.month,
      "data-count": c,
    });
    bar.append(svg("title", { text: t("proj.chart.month", { month: m.month, n: c }) }));
    root.append(bar);
    if (!compact && c > 0) {
      root.append(svg("text", { class: "value", x: (x + bw / 2).toFixed(1), y: top + h - bh - 4, "text-anchor": "middle", text: String(c) }));
    }
    if (i % every === 0 || i === list.length - 1) {
      root.append(
        svg("text", { x: (x + bw / 2).toFixed(1), y: H - 3, "text-anchor": "middle", "aria-hidden": "true", text: monthLabel(m.month, i === 0) }),
      );
    }
  });
  root.append(svg("line", { class: "axis", x1: 0, x2: W, y1: top + h + 0.5, y2: top + h + 0.5 }));
  return root;
}

// committeeBars lists the committees, most tickets first, each with a bar
// as long as its share of the largest. The bars are decoration: the name
// and the count are text.
export function committeeBars(committees, nameOf, limit = 0) {
  const all = committees || [];
  const list = limit > 0 ? all.slice(0, limit) : all;
  const max = Math.max(1, ...list.map((c) => c.count || 0));
  const ul = el("ul", { class: "proj-bars" });
  for (const c of list) {
    const share = Math.round(((c.count || 0) / max) * 100);
    ul.append(
      el(
        "li",
        { "data-committee": c.committee },
        el("span", { class: "name", text: nameOf(c.committee) }),
        svg(
          "svg",
          { "aria-hidden": "true", focusable: "false" },
          svg("rect", { class: "track", x: 0, y: 0, width: "100%", height: "100%", rx: 3 }),
          svg("rect", { x: 0, y: 0, width: share + "%", height: "100%", rx: 3 }),
        ),
        el("span", { class: "count", text: num(c.count) }),
      ),
    );
  }
  if (limit > 0 && all.length > limit) {
    ul.append(el("li", { class: "muted", text: t("proj.moreCommittees", { n: all.length - limit }) }));
  }
  return ul;
}

// scoreBar is a 0..100 score as a bar, for the evaluation.
export function scoreBar(score) {
  const s = Math.max(0, Math.min(100, Math.round(Number(score) || 0)));
  return svg(
    "svg",
    { class: "score-bar", "aria-hidden": "true", focusable: "false", width: "100%", height: 12 },
    svg("rect", { class: "track", x: 0, y: 0, width: "100%", height: 12, rx: 3 }),
    svg("rect", { x: 0, y: 0, width: s + "%", height: 12, rx: 3 }),
  );
}

// errText is an API refusal as one line: the message and each field's.
export function errText(r) {
  const msg = (r.data && r.data.error) || "HTTP " + r.status;
  const fields = r.data && r.data.fields ? Object.values(r.data.fields).join("; ") : "";
  return t("staff.error", { msg: fields ? msg + ": " + fields : msg });
}

// shanghaiParts is the date and time of iso in Shanghai: {y, m, d, hh, mm}.
function shanghaiParts(date) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date)) {
    parts[p.type] = p.value;
  }
  return parts;
}

// whenRan says when a run started, as people say it: a run in the small
// hours of today is "last night"; today later is "today"; then
// "yesterday"; else the date.
export function whenRan(iso, now = new Date()) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const a = shanghaiParts(d);
  const b = shanghaiParts(now);
  const y = shanghaiParts(new Date(now.getTime() - 86400000));
  const time = a.hour + ":" + a.minute;
  const day = (p) => p.year + "-" + p.month + "-" + p.day;
  if (day(a) === day(b)) return t(parseInt(a.hour, 10) < 6 ? "proj.run.lastNight" : "proj.run.today", { time });
  if (day(a) === day(y)) return t("proj.run.yesterday", { time });
  return t("proj.run.on", { date: day(a), time });
}
