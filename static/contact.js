// contact.js: the resident's details in full, on request.
//
// Ticket lists and details show the phone, address and e-mail masked
// (138****5678, 长寿路 ***) and a recording only as "there is one". The
// button built here asks GET /api/v1/tickets/{id}/contact, which records the
// view in the audit log before it answers, and shows what came back. What
// was shown stays in this page's memory only, so a redraw (a language
// switch, a live update) keeps it without asking again.

import { t } from "/i18n.js";
import { request, NetworkError, el } from "/api.js";

const shown = new Map(); // ticket id → the answer of /contact

// hasMasked reports whether a staff ticket has anything to show in full.
function hasMasked(tk) {
  const c = tk.contact || {};
  const loc = tk.location || {};
  return !!(c.phone || c.email || loc.address || tk.has_media);
}

// contactPart returns the element for the ticket's details in full: a
// button, or the details once asked for. onSignedOut runs on a 401.
export function contactPart(tk, onSignedOut) {
  const box = el("div", { class: "contact-full", id: "contact-full" });
  if (!tk || !hasMasked(tk)) return box;
  const got = shown.get(tk.id);
  if (got) {
    render(box, got);
    return box;
  }
  const alert = el("div", { class: "alert", role: "alert" });
  const button = el("button", { type: "button", class: "btn small", id: "contact-show", text: t("contact.show") });
  button.addEventListener("click", async () => {
    button.disabled = true;
    alert.textContent = "";
    try {
      const r = await request("GET", "/api/v1/tickets/" + encodeURIComponent(tk.id) + "/contact");
      if (r.status === 401 && onSignedOut) {
        onSignedOut();
        return;
      }
      if (!r.ok) {
        alert.textContent = t("contact.failed", { msg: (r.data && r.data.error) || "HTTP " + r.status });
        button.disabled = false;
        return;
      }
      shown.set(tk.id, r.data);
      render(box, r.data);
    } catch (e) {
      alert.textContent = t("contact.failed", { msg: e instanceof NetworkError ? t("staff.network") : String(e) });
      button.disabled = false;
    }
  });
  box.append(button, alert);
  return box;
}

function render(box, c) {
  const dl = el("dl", { class: "facts" });
  const fact = (label, value) => {
    if (!value) return;
    const dd = el("dd");
    dd.append(value);
    dl.append(el("div", {}, el("dt", { text: label }), dd));
  };
  const who = [c.last_name, c.first_name].filter(Boolean).join(" ");
  fact(t("staff.d.contact"), who);
  fact(t("contact.phone"), c.phone);
  fact(t("contact.email"), c.email);
  fact(t("contact.address"), c.address);
  if (c.media_url && /^https?:\/\//i.test(c.media_url)) {
    fact(t("contact.media"), el("a", { href: c.media_url, rel: "noreferrer noopener", target: "_blank", text: t("contact.open") }));
  }
  box.replaceChildren(dl, el("p", { class: "muted", text: t("contact.recorded") }));
}

// placeContact puts contactPart(tk) right after the element after (the
// detail's facts), replacing the one a previous render put there.
export function placeContact(after, tk, onSignedOut) {
  const old = document.getElementById("contact-full");
  if (old) old.remove();
  if (tk) after.after(contactPart(tk, onSignedOut));
}
