// phone.js: the phone simulator (phone.html). It plays a resident's phone
// through the simulator's JSON API (/sim/, package simulator), which calls
// the hotline's real Twilio webhooks with signed requests: dial, press
// keys, say (type) words, leave a message, hang up, and text the hotline.
//
// Its strings live here rather than in i18n.js, which holds the resident
// pages' own; the shared ones (site name, navigation, language switch,
// phone number errors) come from i18n.js. Marked elements use data-sim
// (textContent) and data-sim-aria-label, the way data-i18n works.

import { init, t, lang, onLangChange } from "/i18n.js";
import { request, NetworkError, spacedID, spokenID, formatTime, el } from "/api.js";

const STRINGS = {
  zh: {
    doctitle: "电话模拟 - 曹家渡街道居民需求热线",
    title: "电话模拟",
    nav: "电话模拟",
    intro: "试用工具：这个页面扮演一部手机，拨打热线、按键、说话、发短信。它向热线发送和真实电话一模一样的请求，所以这里看到的就是来电居民听到和收到的。",
    off: "电话模拟没有开启（正式运行时是关闭的）。",
    "call.title": "打电话",
    from: "我的手机号",
    "from.hint": "模拟来电显示的号码，例如 13800138000。",
    to: "拨打",
    dial: "拨打",
    hangup: "挂断",
    speak: "朗读热线说的话（用浏览器的语音）",
    ticket: "热线报出的编号",
    log: "通话内容",
    typed: "已按：",
    keypad: "拨号键盘",
    "key.star": "星号",
    "key.hash": "井号",
    silence: "不再按键（等候超时）",
    say: "说话（把要说的话打出来）",
    "say.hint": "热线问您问题或请您留言时，在这里输入，然后点「说」。",
    "say.send": "说",
    tech: "技术细节（发给热线的请求）",
    "sms.title": "短信",
    "sms.hint": "和热线之间的短信，每 2 秒刷新一次。",
    "sms.empty": "还没有短信。",
    "sms.body": "写短信",
    "sms.send": "发送",
    "sms.sending": "正在发送……",
    "sms.needBody": "请先写短信内容。",
    "sms.me": "我",
    "sms.hotline": "热线",
    "sms.via.reply": "即时回复",
    "sms.via.rest": "热线发送",
    "sms.ticket": "编号：{id}",

    "state.idle": "未通话",
    "state.dialling": "正在接通……",
    "state.live": "通话中",
    "state.ended": "通话已结束：{why}",
    "status.completed": "已挂断",
    "status.failed": "接通失败",
    "status.no-answer": "无人接听",
    "status.busy": "占线",
    "status.canceled": "已取消",

    "who.hotline": "热线",
    "who.me": "我",
    "me.keys": "按了 {keys}",
    "me.silence": "（没有出声，等候超时）",
    "me.hangup": "（挂断）",
    "me.record": "（留言）{text}",
    play: "（播放一段录音）",
    pause: "（停顿 {n} 秒）",
    beep: "（嘀——开始录音）",
    transfer: "（转接到 {n}，模拟中不会接通）",
    error: "热线出错，电话被挂断：{why}",

    "wait.keys": "请按键，按 # 结束。",
    "wait.keysN": "请按 {n} 个键。",
    "wait.speech": "请说话：在下面输入，然后点「说」。",
    "wait.either": "请按键，或者在下面输入要说的话。",
    "wait.record": "正在录音：在下面输入留言，然后点「说」。",

    "err.noCall": "请先拨打热线。",
    "err.wantSpeech": "这一步要说话，不用按键：请在下面输入。",
    "err.wantKeys": "这一步要按键，不用说话：请用拨号键盘。",
    "err.notWaiting": "热线现在没有在等您回答。",
    "err.busy": "热线还在回答上一步，请稍等。",
    "err.network": "网络连接出了问题，请再试一次。",
    "err.failed": "没有成功：{why}",
  },
  en: {
    doctitle: "Phone simulator - Caojiadu Street Residents' Hotline",
    title: "Phone simulator",
    nav: "Phone simulator",
    intro: "A trial tool: this page plays a mobile phone that calls the hotline, presses keys, speaks and texts. It sends the hotline exactly the requests a real call sends, so what you see here is what a caller hears and receives.",
    off: "The phone simulator is not turned on (it is off in production).",
    "call.title": "Call",
    from: "My mobile number",
    "from.hint": "The caller's number the hotline sees, e.g. 13800138000.",
    to: "Calling",
    dial: "Call",
    hangup: "Hang up",
    speak: "Read the hotline's words aloud (browser voice)",
    ticket: "Ticket number read out by the hotline",
    log: "The call",
    typed: "Keys pressed:",
    keypad: "Keypad",
    "key.star": "star",
    "key.hash": "hash",
    silence: "No more keys (wait for the timeout)",
    say: "Speak (type what you would say)",
    "say.hint": "When the hotline asks you something or asks for a message, type it here and press “Say”.",
    "say.send": "Say",
    tech: "Technical detail (requests sent to the hotline)",
    "sms.title": "Text messages",
    "sms.hint": "Messages with the hotline, refreshed every 2 seconds.",
    "sms.empty": "No messages yet.",
    "sms.body": "Write a message",
    "sms.send": "Send",
    "sms.sending": "Sending…",
    "sms.needBody": "Please write a message first.",
    "sms.me": "Me",
    "sms.hotline": "Hotline",
    "sms.via.reply": "instant reply",
    "sms.via.rest": "sent by the hotline",
    "sms.ticket": "Ticket number: {id}",

    "state.idle": "Not in a call",
    "state.dialling": "Connecting…",
    "state.live": "In a call",
    "state.ended": "Call ended: {why}",
    "status.completed": "hung up",
    "status.failed": "could not connect",
    "status.no-answer": "no answer",
    "status.busy": "busy",
    "status.canceled": "cancelled",

    "who.hotline": "Hotline",
    "who.me": "Me",
    "me.keys": "pressed {keys}",
    "me.silence": "(silence until the timeout)",
    "me.hangup": "(hung up)",
    "me.record": "(message) {text}",
    play: "(plays a recording)",
    pause: "(pause of {n} s)",
    beep: "(beep — recording starts)",
    transfer: "(transfer to {n}; not connected in the simulator)",
    error: "The hotline failed and the call was dropped: {why}",

    "wait.keys": "Press keys, then # to finish.",
    "wait.keysN": "Press {n} key(s).",
    "wait.speech": "Speak: type below and press “Say”.",
    "wait.either": "Press keys, or type what you would say below.",
    "wait.record": "Recording: type your message below and press “Say”.",

    "err.noCall": "Call the hotline first.",
    "err.wantSpeech": "This step wants speech, not keys: type below.",
    "err.wantKeys": "This step wants keys, not speech: use the keypad.",
    "err.notWaiting": "The hotline is not waiting for an answer now.",
    "err.busy": "The hotline is still answering the last step; please wait.",
    "err.network": "The network connection failed; please try again.",
    "err.failed": "That did not work: {why}",
  },
};

function s(key, vars) {
  let v = STRINGS[lang()][key];
  if (v === undefined) v = STRINGS.zh[key];
  if (v === undefined) return key;
  if (vars) v = v.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return v;
}

function applyStrings() {
  for (const e of document.querySelectorAll("[data-sim]")) e.textContent = s(e.dataset.sim);
  for (const e of document.querySelectorAll("[data-sim-aria-label]")) {
    e.setAttribute("aria-label", s(e.dataset.simAriaLabel));
  }
}

const $ = (id) => document.getElementById(id);

const state = {
  call: null, // the simulator's view of the current call
  calling: false, // a dial is on its way
  busy: false, // a request for the call is on its way
  log: [], // {who: "hotline"|"me"|"aside"|"error", kind, text, language, vars}
  typed: "",
  webhooks: [],
  startedAt: 0,
  alert: null, // {key, vars}
  thread: [],
  threadSig: "",
  fromError: false,
};

function live() {
  return state.call && !state.call.ended;
}

function setAlert(key, vars) {
  state.alert = key ? { key, vars } : null;
  $("sim-alert").textContent = key ? s(key, vars) : "";
}

function failure(r) {
  const why = (r.data && r.data.error) || "HTTP " + r.status;
  if (r.status === 409 && /still answering/.test(why)) return setAlert("err.busy");
  setAlert("err.failed", { why });
}

// Speaking is optional and off by default: the words are always shown.
function speak(p) {
  if (!$("speak").checked || !("speechSynthesis" in window) || p.kind !== "say") return;
  try {
    const u = new SpeechSynthesisUtterance(p.text);
    u.lang = /^en/i.test(p.language || "") ? "en-US" : "zh-CN";
    window.speechSynthesis.speak(u);
  } catch (_) {
    // No voice for the language: the text is on the screen anyway.
  }
}

function hush() {
  if ("speechSynthesis" in window) {
    try {
      window.speechSynthesis.cancel();
    } catch (_) {
      // nothing to stop
    }
  }
}

// take applies the simulator's answer for the call.
function take(view) {
  for (const p of view.prompts || []) {
    if (p.kind === "say") state.log.push({ who: "hotline", kind: "say", text: p.text, language: p.language });
    else if (p.kind === "error") state.log.push({ who: "error", kind: "error", text: p.text });
    else state.log.push({ who: "aside", kind: p.kind, text: p.text });
    speak(p);
  }
  state.webhooks = state.webhooks.concat(view.webhooks || []);
  const wasLive = live();
  state.call = view;
  state.typed = "";
  render();
  if (wasLive && view.ended) $("dial").focus();
}

async function dial() {
  if (state.calling || live()) return;
  const from = $("sim-from").value.trim();
  state.fromError = false;
  setAlert(null);
  hush();
  state.calling = true;
  state.call = null;
  state.log = [];
  state.webhooks = [];
  render();
  try {
    const r = await request("POST", "/sim/calls", { body: { from }, credentials: "omit" });
    if (r.ok) {
      state.startedAt = Date.now();
      state.calling = false;
      take(r.data);
      if (live()) $("hangup").focus();
      return;
    }
    if (r.status === 400 && r.data.fields && r.data.fields.from) {
      state.fromError = true;
      $("sim-from").focus();
    } else failure(r);
  } catch (e) {
    setAlert(e instanceof NetworkError ? "err.network" : "err.failed", { why: String(e) });
  } finally {
    state.calling = false;
    render();
  }
}

async function send(body, entry) {
  if (!live()) return setAlert("err.noCall");
  if (state.busy) return setAlert("err.busy");
  setAlert(null);
  state.busy = true;
  if (entry) state.log.push(entry);
  render();
  try {
    const r = await request("POST", "/sim/calls/" + encodeURIComponent(state.call.sid) + "/input", {
      body,
      credentials: "omit",
    });
    state.busy = false;
    if (r.ok) take(r.data);
    else failure(r);
  } catch (e) {
    setAlert(e instanceof NetworkError ? "err.network" : "err.failed", { why: String(e) });
  } finally {
    state.busy = false;
    render();
  }
}

async function hangup() {
  if (!live()) return;
  hush();
  state.log.push({ who: "me", kind: "hangup" });
  try {
    const r = await request("POST", "/sim/calls/" + encodeURIComponent(state.call.sid) + "/hangup", {
      credentials: "omit",
    });
    if (r.ok) take(r.data);
    else failure(r);
  } catch (e) {
    setAlert(e instanceof NetworkError ? "err.network" : "err.failed", { why: String(e) });
  }
  render();
  refreshInbox();
}

function press(k) {
  if (!live()) return setAlert("err.noCall");
  const w = state.call.wait;
  if (!w) return setAlert("err.notWaiting");
  if (w.kind === "record") {
    // A key ends the recording; with nothing typed, nothing was said.
    return send({ digits: k }, { who: "me", kind: "keys", text: k });
  }
  if (!(w.input || []).includes("dtmf")) return setAlert("err.wantSpeech");
  setAlert(null);
  state.typed += k;
  const finished = w.finish_on_key && w.finish_on_key.includes(k);
  const full = w.num_digits > 0 && state.typed.length >= w.num_digits;
  if (finished || full) {
    const keys = state.typed;
    return send({ digits: keys }, { who: "me", kind: "keys", text: keys });
  }
  render();
}

function silence() {
  if (!live()) return setAlert("err.noCall");
  if (!state.call.wait) return setAlert("err.notWaiting");
  if (state.typed) {
    // Twilio hands over the keys pressed so far when the timeout comes.
    const keys = state.typed;
    return send({ digits: keys }, { who: "me", kind: "keys", text: keys });
  }
  send({ silence: true }, { who: "me", kind: "silence" });
}

function say(ev) {
  ev.preventDefault();
  if (!live()) return setAlert("err.noCall");
  const w = state.call.wait;
  if (!w) return setAlert("err.notWaiting");
  if (w.kind === "gather" && !(w.input || []).includes("speech")) return setAlert("err.wantKeys");
  const text = $("say").value.trim();
  if (!text) return $("say").focus();
  $("say").value = "";
  const entry = w.kind === "record" ? { who: "me", kind: "record", text } : { who: "me", kind: "speech", text };
  send({ speech: text }, entry);
}

function lineText(e) {
  switch (e.kind) {
    case "say":
    case "speech":
      return e.text;
    case "keys":
      return s("me.keys", { keys: e.text });
    case "silence":
      return s("me.silence");
    case "hangup":
      return s("me.hangup");
    case "record":
      return s("me.record", { text: e.text });
    case "play":
      return s("play");
    case "pause":
      return s("pause", { n: e.text });
    case "beep":
      return s("beep");
    case "error":
      return s("error", { why: e.text.replace(/^An application error has occurred\. /, "") });
    case "note":
      if (e.text.startsWith("transfer: ")) return s("transfer", { n: e.text.slice(10) });
      return e.text;
  }
  return e.text || "";
}

function clock() {
  const secs = Math.max(0, Math.floor((Date.now() - state.startedAt) / 1000));
  return String(Math.floor(secs / 60)).padStart(2, "0") + ":" + String(secs % 60).padStart(2, "0");
}

function renderState() {
  const p = $("call-state");
  p.parentElement.classList.toggle("live", !!live());
  // The clock sits outside the live region: announced every second, it
  // would drown everything else a screen reader has to say.
  $("call-clock").textContent = live() ? clock() : "";
  if (state.calling) p.textContent = s("state.dialling");
  else if (live()) p.textContent = s("state.live");
  else if (state.call) {
    const st = state.call.status;
    p.textContent = s("state.ended", { why: STRINGS.zh["status." + st] ? s("status." + st) : st });
  } else p.textContent = s("state.idle");
}

function waitText(w) {
  if (!w) return "";
  if (w.kind === "record") return s("wait.record");
  const keys = (w.input || []).includes("dtmf");
  const speech = (w.input || []).includes("speech");
  if (keys && speech) return s("wait.either");
  if (speech) return s("wait.speech");
  return w.num_digits > 0 ? s("wait.keysN", { n: w.num_digits }) : s("wait.keys");
}

function render() {
  const on = live();
  $("dial").hidden = !!on;
  $("hangup").hidden = !on;
  if (state.calling) $("dial").setAttribute("aria-disabled", "true");
  else $("dial").removeAttribute("aria-disabled");
  $("sim-from").disabled = !!on || state.calling;
  renderState();

  const err = $("sim-from-error");
  err.hidden = !state.fromError;
  err.textContent = state.fromError ? t("field.phone") : "";
  if (state.fromError) $("sim-from").setAttribute("aria-invalid", "true");
  else $("sim-from").removeAttribute("aria-invalid");

  const ol = $("call-log");
  ol.dataset.sid = state.call ? state.call.sid : "";
  ol.replaceChildren(
    ...state.log.map((e) => {
      const cls = e.who === "me" ? "me" : e.who === "error" ? "error" : e.who === "aside" ? "aside" : "hotline";
      const li = el("li", { class: cls, "data-kind": e.kind });
      if (e.language) li.lang = /^en/i.test(e.language) ? "en" : "zh-CN";
      if (e.who === "me" || e.who === "hotline") li.append(el("span", { class: "sim-who", text: s("who." + e.who) }));
      li.append(lineText(e));
      return li;
    }),
  );

  ol.scrollTop = ol.scrollHeight;

  const w = on ? state.call.wait : null;
  $("call-wait").textContent = state.busy ? "…" : waitText(w);
  // Where the answer will go: a step name a tester (or a test) can read.
  $("call-wait").dataset.action = !state.busy && w ? w.action : "";
  $("keys-typed").textContent = state.typed;
  for (const b of document.querySelectorAll("#keypad button, #silence, #say-send")) b.disabled = !on;
  $("say").disabled = !on;

  const ids = (state.call && state.call.ticket_ids) || [];
  const box = $("call-ticket");
  box.hidden = ids.length === 0;
  if (ids.length) {
    const id = ids[ids.length - 1];
    const no = $("call-ticket-no");
    no.replaceChildren(
      el("span", { "aria-hidden": "true", text: spacedID(id) }),
      el("span", { class: "visually-hidden", text: spokenID(id) }),
    );
    no.dataset.id = id;
  }

  $("call-webhooks").replaceChildren(
    ...state.webhooks.map((x) =>
      el(
        "li",
        { class: x.error ? "bad" : undefined },
        x.method + " " + x.url + " → " + (x.status || "—") + (x.error ? " " + x.error : ""),
      ),
    ),
  );
}

// The SMS pane.

function renderThread() {
  const ol = $("sms-thread");
  $("sms-empty").hidden = state.thread.length > 0;
  ol.replaceChildren(
    ...state.thread.map((m) => {
      const mine = m.direction === "out";
      const li = el("li", { class: mine ? "me" : "hotline", "data-via": m.via });
      let who = mine ? s("sms.me") : s("sms.hotline");
      if (!mine && (m.via === "reply" || m.via === "rest")) who += " · " + s("sms.via." + m.via);
      li.append(el("span", { class: "sim-who", text: who }), m.body);
      for (const id of m.ticket_ids || []) {
        li.append(el("mark", { class: "sim-time", text: s("sms.ticket", { id: spacedID(id) }) }));
      }
      li.append(el("time", { class: "sim-time", datetime: m.at, text: formatTime(m.at) }));
      return li;
    }),
  );
  ol.scrollTop = ol.scrollHeight;
}

let polling = false;

async function refreshInbox() {
  const phone = $("sim-from").value.trim();
  if (!phone || polling) return;
  polling = true;
  try {
    const r = await request("GET", "/sim/inbox?phone=" + encodeURIComponent(phone), { credentials: "omit" });
    if (!r.ok) return; // a half-typed number: nothing to show yet
    const msgs = r.data.messages || [];
    const sig = JSON.stringify(msgs.map((m) => [m.sid, m.status]));
    if (sig !== state.threadSig) {
      state.threadSig = sig;
      state.thread = msgs;
      renderThread();
    }
  } catch (_) {
    // The next poll tries again.
  } finally {
    polling = false;
  }
}

let smsBusy = false;

async function sendSMS(ev) {
  ev.preventDefault();
  if (smsBusy) return;
  const body = $("sms-body").value.trim();
  const err = $("sms-body-error");
  if (!body) {
    err.textContent = s("sms.needBody");
    err.hidden = false;
    $("sms-body").setAttribute("aria-invalid", "true");
    $("sms-body").focus();
    return;
  }
  err.hidden = true;
  $("sms-body").removeAttribute("aria-invalid");
  setAlert(null);
  smsBusy = true;
  $("sms-send").setAttribute("aria-disabled", "true");
  $("sms-send").textContent = s("sms.sending");
  try {
    const r = await request("POST", "/sim/sms", {
      body: { from: $("sim-from").value.trim(), body },
      credentials: "omit",
    });
    if (r.ok) {
      $("sms-body").value = "";
      if (r.data.error) setAlert("err.failed", { why: r.data.error });
    } else if (r.status === 400 && r.data.fields && r.data.fields.from) {
      state.fromError = true;
      render();
    } else failure(r);
  } catch (e) {
    setAlert(e instanceof NetworkError ? "err.network" : "err.failed", { why: String(e) });
  } finally {
    smsBusy = false;
    $("sms-send").removeAttribute("aria-disabled");
    $("sms-send").textContent = s("sms.send");
  }
  refreshInbox();
}

async function start() {
  init();
  applyStrings();
  onLangChange(() => {
    applyStrings();
    render();
    renderThread();
    if (state.alert) setAlert(state.alert.key, state.alert.vars);
  });
  $("dial").addEventListener("click", dial);
  $("hangup").addEventListener("click", hangup);
  for (const b of document.querySelectorAll("#keypad button")) {
    b.addEventListener("click", () => press(b.dataset.key));
  }
  $("silence").addEventListener("click", silence);
  $("say-form").addEventListener("submit", say);
  $("sms-form").addEventListener("submit", sendSMS);
  $("sim-from").addEventListener("change", () => {
    state.fromError = false;
    state.threadSig = "";
    state.thread = [];
    renderThread();
    render();
    refreshInbox();
  });
  // Closing or leaving the page hangs up, as putting the phone down
  // would: the hotline then gets the call's status callback.
  window.addEventListener("pagehide", () => {
    if (live() && navigator.sendBeacon) {
      navigator.sendBeacon("/sim/calls/" + encodeURIComponent(state.call.sid) + "/hangup");
    }
  });
  render();
  renderThread();

  let cfg;
  try {
    cfg = await request("GET", "/sim/config", { credentials: "omit" });
  } catch (_) {
    return setAlert("err.network");
  }
  if (!cfg.ok) {
    $("sim-off").hidden = false;
    $("sim-ui").hidden = true;
    return;
  }
  $("sim-to").textContent = cfg.data.hotline_number || "";
  refreshInbox();
  setInterval(refreshInbox, 2000);
  setInterval(() => {
    if (live()) $("call-clock").textContent = clock();
  }, 1000);
}

start();
