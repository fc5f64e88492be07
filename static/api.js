// api.js: calls to the hotline's JSON API (docs/API.md) and small helpers
// shared by the pages.

import { lang } from "/i18n.js";

// NetworkError means the request may or may not have reached the server:
// nothing came back.
export class NetworkError extends Error {}

// request sends a JSON request and answers {status, ok, data, retryAfter}.
// data is the parsed JSON body ({} when there is none or it is not JSON).
// It throws NetworkError only when no answer came back at all.
//
// Resident pages pass credentials "omit": a staff member signed in on the
// same browser must still file as a resident, and a cookie-authenticated
// POST would need a CSRF token the resident form does not have.
export async function request(method, path, { body, headers = {}, credentials = "same-origin" } = {}) {
  const init = {
    method,
    headers: { Accept: "application/json", ...headers },
    credentials,
    cache: "no-store",
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new NetworkError(e && e.message ? e.message : "network error");
  }
  let data = {};
  try {
    const text = await res.text();
    if (text) data = JSON.parse(text);
  } catch (_) {
    // A proxy's HTML error page, say: keep the status, drop the body.
    data = {};
  }
  const ra = parseInt(res.headers.get("Retry-After") || "", 10);
  return { status: res.status, ok: res.ok, data, retryAfter: Number.isFinite(ra) ? ra : 0 };
}

// newKey returns a fresh idempotency key: a UUID where the browser offers
// one (crypto.randomUUID needs a secure context), else 128 random bits.
export function newKey() {
  if (window.crypto && typeof crypto.randomUUID === "function") {
    try {
      return crypto.randomUUID();
    } catch (_) {
      // fall through
    }
  }
  const b = new Uint8Array(16);
  if (window.crypto && crypto.getRandomValues) {
    crypto.getRandomValues(b);
  } else {
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(Math.random() * 256);
  }
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// asciiDigits turns full-width digits (what a Chinese input method often
// types: "１３８") into ASCII and drops spaces, dashes and dots.
export function asciiDigits(s) {
  return String(s || "")
    .replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 48))
    .replace(/[\s\-－.·]/g, "");
}

// spacedID groups a ticket id in fours for reading aloud: "160035" →
// "1600 35".
export function spacedID(id) {
  return String(id || "").replace(/(\d{4})(?=\d)/g, "$1 ");
}

// spokenID is the id digit by digit, for screen readers, which would read
// "1600 35" as one thousand six hundred.
export function spokenID(id) {
  return String(id || "").split("").join(" ");
}

// formatTime shows an RFC 3339 time in Shanghai time, whatever the
// device's zone, since every place the hotline serves is there.
export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return "";
  try {
    return new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "zh-CN", {
      timeZone: "Asia/Shanghai",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    }).format(d);
  } catch (_) {
    return d.toLocaleString();
  }
}

// el builds an element: el("p", {class: "x", text: "hi"}, child…).
// text is set as textContent, never as HTML, so server strings are safe.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c);
  }
  return e;
}
