// login.js: staff sign-in on /login. On success the session cookie is set
// by the server and the browser goes to /staff.

import { init, t, onLangChange, withLang } from "/i18n.js";
import { request, NetworkError } from "/api.js";

const $ = (id) => document.getElementById(id);

let alert = null; // {key, vars}
let busy = false;

function setAlert(a) {
  alert = a;
  $("login-alert").textContent = a ? t(a.key, a.vars) : "";
}

async function login(ev) {
  ev.preventDefault();
  if (busy) return;
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    setAlert({ key: "login.bad" });
    $(username ? "password" : "username").focus();
    return;
  }
  busy = true;
  setAlert(null);
  $("login-submit").setAttribute("aria-disabled", "true");
  $("login-status").textContent = t("login.busy");
  try {
    const r = await request("POST", "/api/v1/login", { body: { username, password } });
    if (r.ok) {
      location.assign(withLang("/staff"));
      return;
    }
    $("password").value = "";
    if (r.status === 401 || r.status === 400) {
      setAlert({ key: "login.bad" });
      $("password").focus();
    } else if (r.status === 429) {
      setAlert(r.retryAfter > 0 ? { key: "login.tooManyWait", vars: { s: r.retryAfter } } : { key: "login.tooMany" });
    } else {
      setAlert({ key: "login.error" });
    }
  } catch (e) {
    setAlert({ key: e instanceof NetworkError ? "login.network" : "login.error" });
  } finally {
    busy = false;
    $("login-submit").removeAttribute("aria-disabled");
    $("login-status").textContent = "";
  }
}

init();
onLangChange(() => setAlert(alert));
$("login").addEventListener("submit", login);

// Already signed in: straight to the tickets.
request("GET", "/api/v1/me")
  .then((r) => {
    if (r.ok) location.replace(withLang("/staff"));
  })
  .catch(() => {});
