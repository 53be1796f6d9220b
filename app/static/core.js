// The small core every page script shares (a plain ES module, no build step): the JSON API with
// one error convention, an element builder, times in one format, the helpline's words for a
// ticket's status, and the live stream with its connection state.
//
//   import { api, el, when, live } from "/static/core.js";
//
// Also: statusArea() (one message at a time in a page's status box), typing() (a shortcut key is
// ignored while the person types in a field) and serverClock() (times counted on the server's
// clock, whatever the browser's says).

export const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

// Every failure is an ApiError: status 0 when Openline could not be reached, otherwise the HTTP
// status with the project's error body ({error, detail}).
export class ApiError extends Error {
  constructor(status, error, detail) {
    super(error || (status ? `HTTP ${status}` : "network"));
    Object.assign(this, { status, error: error || (status ? null : "network"), detail: detail === undefined ? null : detail });
  }
}

// Resolves to the JSON body (null for 204 or an empty body). A missing resource that is a normal
// state (no call running) is answered 200 with null by the server, never 404, so a page in normal
// use never logs a console error.
export async function api(method, path, body, { idempotencyKey, headers: extra } = {}) {
  const headers = Object.assign({ Accept: "application/json" }, extra || {});
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf();
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const init = { method, credentials: "same-origin", headers };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  let response;
  try { response = await fetch(path, init); } catch (e) { throw new ApiError(0, "network", null); }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data && data.error, data && data.detail);
  return data;
}

const sentence = (s) => { const t = String(s).trim(); return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? "" : "."); };

// What to tell a person about a failed request, in a sentence. Field errors name the field.
export function plainError(err, { fields = {} } = {}) {
  if (!err) return "Something went wrong.";
  if (err.status === 0) return "Cannot reach Openline: check the connection and try again.";
  if (err.status === 401) return "You have been signed out: reload the page to sign in again.";
  if (err.error === "csrf_failed") return "This page is out of date: reload it and try again.";
  const d = err.detail;
  if (typeof d === "string" && d) return sentence(d);
  if (Array.isArray(d) && d.length) {
    return d.map((x) => { const f = String(x.field || "").split(".")[0]; return `${fields[f] || f || "Request"}: ${x.message}`; }).join("; ") + ".";
  }
  return `Something went wrong (${err.status}).`;
}

// el("button", {class: "primary", text: "Accept", onclick: fn, disabled: true}, child, [more]).
// null, undefined and false attributes and children are skipped; `true` makes a bare attribute.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

// ---- times: 24-hour en-GB everywhere, with the day when it is not today ---------------------
const pad = (n) => String(n).padStart(2, "0");
export const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}`;
const sameDay = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

// "20:05" today, "Tue 2 Dec 20:05" on another day (the year too when it is not this year).
export function when(iso, now = new Date()) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "–";
  if (sameDay(d, now)) return clock(d);
  const date = d.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short",
    year: d.getFullYear() === now.getFullYear() ? undefined : "numeric" }).replace(/,/g, "");
  return `${date} ${clock(d)}`;
}

// Chromium draws a date input in the browser's own locale (month first on a US-English browser),
// whatever the page's lang says: so the chosen day is also said in words beside it, in en-GB.
export function dayInWords(value) {
  if (!value) return "";
  const [day, time] = value.split("T");
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(y, m - 1, d);
  if (!y || Number.isNaN(date.getTime())) return "";
  const words = date.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric" }).replace(/,/g, "");
  return time ? `${words}, ${time.slice(0, 5)}` : words;
}

export function dateInWords(input) {
  let words = input.parentElement.querySelector(`.date-words[data-for="${input.name}"]`);
  if (!words) {
    words = el("small", { class: "date-words muted", "data-for": input.name });
    input.after(words);
    for (const kind of ["input", "change"]) input.addEventListener(kind, () => { words.textContent = dayInWords(input.value); });
  }
  words.textContent = dayInWords(input.value);
  return words;
}

// A length of time for people: "45 s", "3 min 05 s", "2 h 10 min", "3 days 4 h".
export function duration(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 48 * 3600) { const m = Math.floor(s / 60); return `${Math.floor(m / 60)} h ${m % 60} min`; }
  const h = Math.floor(s / 3600);
  return `${Math.floor(h / 24)} days ${h % 24} h`;
}

export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// The server's "now" as the page last learnt it: countdowns stay right after a reload and
// whatever the browser's clock says. learn(iso, plusMs) takes a server time (plus what had
// already passed on the server by then).
export function serverClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    learn(iso, plusMs = 0) { const t = Date.parse(iso); if (!Number.isNaN(t)) offset = t + plusMs - Date.now(); },
  };
}

// ---- the page's status area ------------------------------------------------------------------
const TONE = { error: "alert", alert: "alert", ok: "good", good: "good", info: "notice", notice: "notice" };

// statusArea(box, { fade }) returns say(text, kind, { link, stay }): one message at a time in the
// box, styled by kind ("error", "ok", "info"; or the class names "alert", "good", "notice"), with
// an optional link after it. With fade the message goes after 6 s (15 s for an error) unless
// stay is set; say("") empties the box.
export function statusArea(box, { fade = false } = {}) {
  let timer = null;
  return function say(text, kind = "info", { link = null, stay = false } = {}) {
    clearTimeout(timer);
    if (!box) return;
    if (!text) { box.replaceChildren(); return; }
    const tone = TONE[kind] || "notice";
    box.replaceChildren(el("p", { class: tone }, text, link ? " " : null, link));
    if (fade && !stay) timer = setTimeout(() => box.replaceChildren(), tone === "alert" ? 15000 : 6000);
  };
}

// ---- field errors (a 422's detail: [{field, message}]) -----------------------------------------
// Each message goes in errorBox(field) (the form's catch-all box when the field has none), and
// input(field) is marked aria-invalid; the first marked control gets the focus. clearFieldErrors
// empties a form's .field-error boxes and marks.
export function showFieldErrors(detail, { errorBox, input }) {
  let first = null;
  for (const item of detail) {
    const field = String(item.field || "body").split(".")[0];
    const box = errorBox(field);
    if (box) box.textContent = (box.textContent ? box.textContent + " " : "") + item.message;
    const control = input(field);
    if (control) { control.setAttribute("aria-invalid", "true"); first = first || control; }
  }
  if (first) first.focus();
}
export function clearFieldErrors(form) {
  for (const box of form.querySelectorAll(".field-error")) box.textContent = "";
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

// A single-key shortcut must not fire while the person is typing in a field.
export function typing(target) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) return true;
  if (tag !== "INPUT") return false;
  return !["checkbox", "radio", "button", "submit", "reset"].includes((target.type || "").toLowerCase());
}

// ---- the helpline's words for a ticket's status ---------------------------------------------
// "in-progress" is the partner's confirmation of the handover.
export const TICKET_STATUS = {
  requested: "Waiting for the partner to accept",
  accepted: "Accepted: the partner will contact the caller",
  "on-hold": "Accepted: the partner is still trying to reach the caller",
  "in-progress": "Handover confirmed",
  completed: "Completed by the partner",
  rejected: "Declined by the partner",
  failed: "Back with the helpline: the partner could not reach the caller",
  cancelled: "Cancelled by the helpline",
};
// The same in a few words, for counts and narrow columns ("3 waiting to be accepted").
export const TICKET_STATUS_SHORT = {
  requested: "waiting to be accepted", accepted: "accepted", "on-hold": "partner still trying",
  "in-progress": "handover confirmed", completed: "completed", rejected: "declined",
  failed: "back with the helpline", cancelled: "cancelled",
};
export const ticketStatus = (status, { short = false } = {}) =>
  (short ? TICKET_STATUS_SHORT : TICKET_STATUS)[status] || String(status || "–").replace(/-/g, " ");

// ---- who ended a call (calls.ended_by) ------------------------------------------------------
export const ENDED_BY = {
  caller: "Caller hung up",
  listener: "Listener ended the call",
  transfer: "Handed over",
  dropped: "Line dropped",
  voicemail: "Ended at voicemail",
  system: "Closed by the system",
};
// "Caller hung up 21:14"; "" when nobody has ended it yet. ``now``: the server's, where the page keeps it.
export const endedBy = (code, iso, now = new Date()) => (code ? `${ENDED_BY[code] || code} ${when(iso, now)}` : "");

// ---- the live stream -------------------------------------------------------------------------
// live({ "ticket.changed": fn, hello: fn }, { onState }) opens /api/live once and calls fn(data,
// event) for each event of that type (data parsed from JSON, or null). onState("live" |
// "reconnecting" | "stopped") lets a page show a visible reconnecting state. Returns { on(type,
// fn), close() }; without EventSource it returns the same shape and never calls back.
export function live(handlers = {}, { onState } = {}) {
  const table = new Map();
  const state = (s) => { if (onState) onState(s); };
  if (!window.EventSource) return { on() {}, close() {} };
  const source = new EventSource("/api/live");
  const attach = (type) => source.addEventListener(type, (event) => {
    let data = null;
    try { data = event.data ? JSON.parse(event.data) : null; } catch (e) { data = null; }
    // One failing handler must not starve the others of the event.
    for (const fn of table.get(type) || []) { try { fn(data, event); } catch (e) { console.error(e); } }
  });
  const on = (type, fn) => {
    if (!table.has(type)) { table.set(type, []); attach(type); }
    table.get(type).push(fn);
  };
  for (const [type, fn] of Object.entries(handlers)) on(type, fn);
  source.addEventListener("open", () => state("live"));
  source.addEventListener("error", () => state(source.readyState === EventSource.CLOSED ? "stopped" : "reconnecting"));
  return { on, close: () => source.close() };
}
