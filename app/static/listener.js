// The listener's headset dashboard. Everything shown comes from the JSON APIs; the live stream
// (/api/live) says when to redraw, and each "hello" (a fresh connection) reloads it all, so a
// dropped connection or a reload never leaves a stale picture.
//
// Times are the server's: the page keeps the offset between the server's "now" and the
// browser's clock, so the countdown is right after a reload and whatever the browser's clock says.
//
// The other scripts of the page import `page` from here; headset.js (a classic script) finds the
// same object as window.openline:
//   page.api(method, path, body)   core.js api()
//   page.say(text, kind)           a message in the page's status area
//   page.onLive(type, handler)     handler(data, event) for each live event of that type
//   page.currentSession()          the call card shown now (or null)
//   page.when(iso)                 core.js when(), "today" on the server's clock
//   document event "openline:session"  detail: the call card, or null when none is shown
import { api, clearFieldErrors, csrf, duration, el, endedBy, live, plainError, serverClock, showFieldErrors, statusArea, ticketStatus, typing,
  when as whenAt } from "/static/core.js";

const $ = (id) => document.getElementById(id);
const WARNING_PROMPT = "Start wrapping up, or offer a warm transfer.";
const RING_LENGTH = 2 * Math.PI * 52;
// A log that could not reach Openline is sent again after 2 s, 4 s, 8 s … at most every 30 s.
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;

const state = {
  card: null,            // the session being shown (GET /sessions/current, or kept after it ended)
  prompt: null,          // the warning prompt from the server, once it fired
  longestSince: null,    // the longest-waiting caller's waiting_since (server time)
  logSessionId: null,    // the session the log form writes to
  logRecorded: false,
  correcting: false,
  presence: null,
  submitting: false,
  log: null,             // the recorded log, as the server returned it
  needLabels: {},        // need slug -> label
  retryMs: 0,            // while a log waits to be sent again: the current backoff
  retryTimer: null,
};
const server = serverClock();
const say = statusArea($("status"), { fade: true });
const stream = live({}, { onState: (s) => { $("conn").hidden = s === "live"; } });

// ---- helpers --------------------------------------------------------------------------

function mmss(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
// "Today" is the server's day, as the countdown's time is the server's.
const when = (iso) => whenAt(iso, new Date(server.now()));
// "Caller hung up 21:14", or plainly when the call ended if the server has not said who ended it.
const endedText = (c) => (c.ended_by ? endedBy(c.ended_by, c.ended_at, new Date(server.now())) : `Call ended ${when(c.ended_at)}`);
function words(value) { return value ? String(value).replace(/-/g, " ") : "–"; }
function onLive(type, handler) { stream.on(type, handler); }
// 409 log_missing (take next, ring back, start a callback, become available): say so and offer
// to open that log.
async function sayError(e) {
  say(plainError(e), "error");
  if (e.error !== "log_missing") return;
  const rows = await api("GET", "/api/listener/tonight").catch(() => []);
  const row = rows.find((c) => c.ended_at && !c.log_recorded);
  if (row) $("status").append(el("button", { type: "button", class: "primary", text: "Open that log",
    onclick: () => { openLogFor(row.session_id, false); focusLog(); say(""); } }));
}

// ---- presence ---------------------------------------------------------------------------

function drawPresence(p) {
  state.presence = p.status;
  for (const radio of document.querySelectorAll('input[name="presence"]')) radio.checked = radio.value === p.status;
  $("on-call").hidden = p.status !== "on-call";
}
async function loadPresence() {
  try { drawPresence(await api("GET", "/api/listener/presence")); } catch (e) { say(plainError(e), "error"); }
}
async function setPresence(status) {
  try {
    drawPresence(await api("PUT", "/api/listener/presence", { status }));
    say(`You are now ${words(status)}.`, "ok");
  } catch (e) {
    sayError(e);
    loadPresence();
  }
}

// ---- queue and callbacks ----------------------------------------------------------------

function drawQueue(waiting, longestSince) {
  $("q-waiting").textContent = waiting;
  $("q-waiting-word").textContent = waiting === 1 ? "caller waiting" : "callers waiting";
  state.longestSince = longestSince ? new Date(longestSince).getTime() : null;
  tickQueue();
}
function tickQueue() {
  $("q-longest").textContent = state.longestSince ? duration((server.now() - state.longestSince) / 1000) : "–";
}
async function loadQueue() {
  try {
    const q = await api("GET", "/api/listener/queue");
    // The queue has no "now"; the longest wait it reports gives the server's clock all the same.
    if (q.longest_waiting_since && q.longest_wait_seconds != null) {
      server.learn(q.longest_waiting_since, q.longest_wait_seconds * 1000);
    }
    drawQueue(q.waiting, q.longest_waiting_since);
  } catch (e) { say(plainError(e), "error"); }
}

async function takeNext() {
  const button = $("take-next");
  if (button.disabled) return;
  // The page knows a call is running: say so rather than ask the server for a refusal.
  if (state.card && !state.card.ended_at) { say("You are with a caller now: take the next one when this call ends.", "info"); return; }
  button.disabled = true;
  try {
    const caller = await api("POST", "/api/listener/calls/next");
    say(`Connecting you to ${caller.from_masked}…`, "info");
  } catch (e) {
    if (e.error === "nobody_waiting") say("Nobody is waiting right now.", "info");
    else await sayError(e);
  } finally {
    button.disabled = false;
    loadQueue();
  }
}

async function loadCallbacks() {
  let list;
  try { list = await api("GET", "/api/listener/callbacks"); } catch (e) { say(plainError(e), "error"); return; }
  const ul = $("callbacks");
  if (!list.length) { ul.replaceChildren(el("li", { class: "muted", text: "None waiting." })); return; }
  ul.replaceChildren(...list.map((cb) => {
    const label = `${cb.from_masked} · ${when(cb.created_at)}${cb.urgent ? " · urgent" : ""}`;
    const li = el("li", { class: "callback" + (cb.urgent ? " urgent" : "") },
      el("span", { class: "cb-who", text: label }),
      el("span", { class: "muted small", text: `${words(cb.reason)}${cb.has_recording ? ", message left" : ""}` }));
    if (cb.recording) {
      // Played through Openline (audited); the browser never sees Twilio's address for it.
      li.append(el("audio", { controls: "", preload: "none", src: cb.recording, class: "cb-voicemail",
        "aria-label": `Voicemail from ${label}` }));
    }
    const tries = cb.attempts || [];
    if (tries.length) {
      li.append(el("ul", { class: "plain cb-attempts small", "aria-label": "Ring-backs so far" },
        ...tries.map((a) => el("li", { text: attemptWords(a) }))));
    }
    const ringing = tries.some((a) => a.result == null || (a.result === "answered" && !a.ended_at));
    const actions = el("span", { class: "cb-actions" });
    if (cb.status === "open") {
      actions.append(el("button", { type: "button", text: "Claim", "aria-label": `Claim callback ${label}`,
        onclick: () => act("POST", `/api/listener/callbacks/${cb.id}/claim`, "Callback claimed: ring the caller back.") }));
    } else {
      const callBack = el("button", { type: "button", class: "primary", text: ringing ? "Ringing…" : "Call back",
        "aria-label": `Call back ${label}`,
        onclick: () => act("POST", `/api/listener/callbacks/${cb.id}/ring`,
          "Ringing the caller from the line's number; your headset rings when they answer.") });
      callBack.disabled = ringing || cb.from_masked === "withheld";
      actions.append(callBack, el("button", { type: "button", text: "Done", "aria-label": `Mark callback ${label} done`,
        onclick: () => act("POST", `/api/listener/callbacks/${cb.id}/complete`, "Callback marked done.") }));
    }
    li.append(actions);
    return li;
  }));
}
// "no answer at 21:14": what each ring-back came to, in the helpline's words.
const ATTEMPT_WORDS = { answered: "answered", "no-answer": "no answer", busy: "line busy", failed: "could not connect",
  canceled: "cancelled", voicemail: "their voicemail answered (nothing left on it)", "hung-up": "hung up before you joined" };
function attemptWords(a) {
  if (a.result == null) return `ringing since ${when(a.started_at)}`;
  const at = a.result === "answered" ? a.started_at : (a.ended_at || a.started_at);
  return `${ATTEMPT_WORDS[a.result] || words(a.result)} at ${when(at)}`;
}
async function act(method, path, done) {
  try { await api(method, path); say(done, "ok"); } catch (e) { await sayError(e); }
  await Promise.all([loadCallbacks(), loadCard(), loadPresence()]);
}

// ---- the call card and the countdown ring -------------------------------------------------

function showCard(card) {
  const changed = (state.card && state.card.id) !== (card && card.id);
  state.card = card;
  $("no-call").hidden = !!card;
  $("on-call-view").hidden = !card;
  if (!card) { tickRing(); document.dispatchEvent(new CustomEvent("openline:session", { detail: null })); return; }
  server.learn(card.now);
  $("caller-number").textContent = card.caller ? (card.caller.withheld ? "Number withheld" : card.caller.number) : "–";
  $("call-started").textContent = `${card.callback ? "Callback" : "Call"} started ${when(card.started_at)}`;
  $("end-callback").hidden = !(card.callback && !card.ended_at);
  drawSurveyConsent(card);
  const ended = $("call-ended");
  ended.hidden = !card.ended_at;
  ended.textContent = card.ended_at ? `${endedText(card)}. Finish the log when you are ready.` : "";
  if (changed) {
    state.prompt = null;
    loadRepeat(card.id);
    openLogFor(card.id, !!card.log_recorded);
  }
  tickRing();
  document.dispatchEvent(new CustomEvent("openline:session", { detail: card }));
}

// ---- the caller's consent to the survey after the call -------------------------------------
// Only the consent lives here: the caller's answers never come back to this page.

function drawSurveyConsent(card) {
  const select = $("f-survey");
  select.value = card.survey || "not-asked";
  // A text cannot reach a withheld number; the keypad follows only a call through the line, still on.
  select.querySelector('option[value="text"]').disabled = !!(card.caller && card.caller.withheld);
  select.querySelector('option[value="keypad"]').disabled = !!card.ended_at || !!card.callback;
  $("err-survey").textContent = "";
  select.removeAttribute("aria-invalid");
}

async function recordSurveyConsent(event) {
  const card = state.card;
  if (!card) return;
  const select = event.target;
  $("err-survey").textContent = "";
  select.removeAttribute("aria-invalid");
  try {
    const saved = await api("PUT", `/api/listener/sessions/${card.id}/survey`, { survey: select.value });
    card.survey = saved.survey;
    say(saved.survey === "keypad" ? "Noted: the keypad questions follow when you hang up."
      : saved.survey === "text" ? "Noted: a text goes to the caller tomorrow." : "Noted.", "good");
  } catch (e) {
    select.value = card.survey || "not-asked";
    if (Array.isArray(e.detail)) showFieldErrors(e.detail, { errorBox: () => $("err-survey"), input: () => select });
    else say(plainError(e), "error");
  }
}

async function loadCard() {
  let card;
  try { card = await api("GET", "/api/listener/sessions/current"); } catch (e) { say(plainError(e), "error"); return; }
  // No call running (null): keep an ended call on screen so its log can still be written.
  if (card || !(state.card && state.card.ended_at)) showCard(card);
}

function tickRing() {
  const card = state.card;
  const ring = $("ring");
  if (!card) return;
  const started = new Date(card.started_at).getTime();
  const warning = new Date(card.warning_at).getTime();
  const due = new Date(card.due_at).getTime();
  const now = card.ended_at ? new Date(card.ended_at).getTime() : server.now();
  const total = due - started;
  const left = (due - now) / 1000;
  const phase = now >= due ? "due" : now >= warning ? "warning" : "normal";
  ring.classList.toggle("is-warning", phase === "warning");
  ring.classList.toggle("is-due", phase === "due");
  ring.dataset.phase = phase;
  const remainingFraction = Math.min(1, Math.max(0, (due - now) / total));
  const arc = $("ring-arc");
  arc.style.strokeDasharray = `${RING_LENGTH}`;
  arc.style.strokeDashoffset = `${phase === "due" ? 0 : RING_LENGTH * (1 - remainingFraction)}`;
  const over = mmss(-left);
  $("ring-time").textContent = phase === "due" ? `+${over}` : mmss(left);
  $("ring-sub").textContent = card.ended_at ? "ended" : phase === "due" ? "over" : "left";
  $("ring-label").textContent = phase === "due"
    ? `${Math.round(total / 60000)} minutes are up` : `${mmss(left)} left of ${Math.round(total / 60000)} minutes`;
  const prompt = $("warning-prompt");
  const showPrompt = phase !== "normal" && !card.ended_at;
  if (prompt.hidden === showPrompt) prompt.hidden = !showPrompt;
  const promptText = phase === "due" ? "Time is up: wrap up gently, or offer a warm transfer. The call stays open."
    : (state.prompt || WARNING_PROMPT);
  if (prompt.textContent !== promptText) prompt.textContent = promptText;
  const overrun = $("overrun-note");
  overrun.hidden = phase !== "due";
  overrun.textContent = phase === "due" ? `Overrunning by ${over}` : "";
}

async function loadRepeat(sessionId) {
  const summary = $("repeat-summary");
  summary.textContent = "Checking earlier contacts…";
  $("repeat-contacts").replaceChildren();
  $("repeat-transfers").replaceChildren();
  let r;
  try { r = await api("GET", `/api/listener/sessions/${sessionId}/repeat-caller`); } catch (e) {
    summary.textContent = "Earlier contacts could not be loaded.";
    return;
  }
  if (!state.card || state.card.id !== sessionId) return;
  $("repeat").classList.toggle("matched", !!r.matched);
  summary.textContent = r.withheld ? "Number withheld: earlier contacts cannot be matched."
    : r.matched ? `Repeat caller: ${r.earlier_contacts} earlier contact${r.earlier_contacts === 1 ? "" : "s"}`
    : "First contact from this number.";
  $("repeat-contacts").replaceChildren(...r.contacts.map((c) => el("li", { class: "contact" },
    el("span", { class: "when", text: when(c.at) }),
    el("span", { text: c.answered ? `with ${c.listener || "a listener"}` : "not answered" }),
    el("span", { class: "title", text: c.title || "log not recorded" }),
    el("span", { class: "muted", text: c.outcome ? words(c.outcome) : "" }))));
  $("repeat-transfers").replaceChildren(...r.open_transfers.map((t) => el("li", { class: "contact transfer" },
    el("span", { class: "badge warn", text: ticketStatus(t.status) }),
    el("span", { text: `Open warm transfer to ${t.service}` }),
    el("span", { class: "muted", text: `since ${when(t.created_at)}` }))));
}

// ---- the call log -------------------------------------------------------------------------

const form = $("log-form");
// The log's fields' error boxes are err-<field>; err-body takes the rest.
const clearErrors = () => clearFieldErrors(form);
const showErrors = (detail) => showFieldErrors(detail, {
  errorBox: (field) => $(`err-${field}`) || $("err-body"),
  input: (field) => form.querySelector(`[name="${field}"]`),
});

function readForm() {
  const fd = new FormData(form);
  const consent = fd.get("consent_to_share");
  return {
    contact_type: fd.get("contact_type"),
    needs: fd.getAll("needs"),
    risk_level: fd.get("risk_level") || "none",
    consent_to_share: consent === "yes" ? true : consent === "no" ? false : null,
    consent_covers: (fd.get("consent_covers") || "").trim() || null,
    sms_consent: $("f-sms_consent").checked,
    title: (fd.get("title") || "").trim(),
    summary: fd.get("summary") || "",
    notes: fd.get("notes") || "",
    outcome: fd.get("outcome") || null,
  };
}
function fillForm(log) {
  form.elements.contact_type.value = log.contact_type;
  for (const box of form.querySelectorAll('input[name="needs"]')) box.checked = log.needs.includes(box.value);
  for (const r of form.querySelectorAll('input[name="risk_level"]')) r.checked = r.value === log.risk_level;
  for (const r of form.querySelectorAll('input[name="consent_to_share"]')) {
    r.checked = r.value === (log.consent_to_share ? "yes" : "no");
  }
  form.elements.consent_covers.value = log.consent_covers || "";
  $("f-sms_consent").checked = !!log.sms_consent;
  form.elements.title.value = log.title;
  form.elements.summary.value = log.summary || "";
  form.elements.notes.value = log.notes || "";
  form.elements.outcome.value = log.outcome || "";
}

function drawLogMode() {
  const recorded = state.logRecorded;
  const locked = !state.logSessionId || (recorded && !state.correcting) || state.submitting;
  for (const input of form.querySelectorAll("input, select, textarea")) input.disabled = locked;
  $("log-done").hidden = !recorded;
  // Once recorded, what was recorded is shown as plain text; the form comes back for a correction.
  const showSummary = recorded && !state.correcting;
  $("log-summary").hidden = !showSummary;
  $("log-body").hidden = showSummary;
  if (showSummary && state.log) drawLogSummary(state.log);
  $("log-submit").hidden = recorded && !state.correcting;
  $("log-submit").disabled = !state.logSessionId || state.submitting;
  $("log-submit").textContent = state.submitting ? "Saving…" : state.correcting ? "Save correction" : "Record log";
  $("log-correct").hidden = !recorded || state.correcting;
  $("log-cancel-correction").hidden = !state.correcting;
  $("correction").hidden = !state.correcting;
}

function drawLogSummary(log) {
  const needLabels = (log.needs || []).map((slug) => state.needLabels[slug] || words(slug));
  const rows = [
    ["Title", log.title],
    ["Contact", words(log.contact_type)],
    ["Needs", needLabels.join(", ") || "none recorded"],
    ["Risk", words(log.risk_level)],
    ["Consent", log.consent_to_share ? `yes: ${log.consent_covers || ""}` : "no"],
    ["SMS", log.sms_consent ? "yes" : "no"],
    ["Outcome", words(log.outcome)],
  ];
  $("log-summary").replaceChildren(...rows.flatMap(([k, v]) => [
    el("dt", { text: k }), el("dd", { class: k === "Risk" && log.risk_level === "immediate" ? "risk" : "", text: v })]));
}

function showEmergency(text) {
  const box = $("emergency");
  box.hidden = !text;
  box.textContent = text || "";
}

async function openLogFor(sessionId, recorded) {
  if (state.logSessionId === sessionId) return;
  stopRetry();
  state.logSessionId = sessionId;
  state.logRecorded = false;
  state.correcting = false;
  state.log = null;
  form.reset();
  clearErrors();
  showEmergency(null);
  $("log-for").textContent = "Record once: what you write travels with any warm transfer.";
  drawLogMode();
  if (recorded) {
    try {
      const log = await api("GET", `/api/listener/sessions/${sessionId}/log`);
      if (state.logSessionId !== sessionId) return;
      fillForm(log);
      state.log = log;
      state.logRecorded = true;
      showEmergency(log.emergency_protocol);
    } catch (e) { if (e.status !== 404) say(plainError(e), "error"); }
    drawLogMode();
  }
}

async function submitLog(event) {
  event.preventDefault();
  if (state.submitting || !state.logSessionId) return;
  clearErrors();
  const body = readForm();
  if (!body.title) { showErrors([{ field: "title", message: "Give the call a short title." }]); return; }
  const correcting = state.correcting;
  if (correcting) body.correction_reason = (form.elements.correction_reason.value || "").trim();
  const sessionId = state.logSessionId;
  const retried = state.retryMs > 0;
  state.submitting = true;
  drawLogMode();
  const path = `/api/listener/sessions/${sessionId}/log${correcting ? "/revisions" : ""}`;
  try {
    const log = await api("POST", path, body);
    stopRetry();
    state.log = log;
    state.logRecorded = true;
    state.correcting = false;
    form.elements.correction_reason.value = "";
    showEmergency(log.emergency_protocol);
    say(`${correcting ? "Correction saved" : "Log recorded"}${retried ? ": Openline answered again and it is saved" : ""}.`, "ok");
    if (state.card && state.card.id === sessionId) state.card.log_recorded = true;
    loadTonight();
  } catch (e) {
    if (e.status === 0) { waitToResend(); return; }
    // Sent once already (the answer was lost on the way back): what was recorded is shown.
    if (retried && e.status === 409 && !correcting) { stopRetry(); state.submitting = false; openSavedLog(sessionId); return; }
    stopRetry();
    if (e.status === 422 && Array.isArray(e.detail)) {
      say("The log needs a few changes: see the fields marked below.", "error");
      state.submitting = false;
      drawLogMode();
      showErrors(e.detail);
      return;
    }
    say(plainError(e), "error");
  } finally {
    state.submitting = false;
    drawLogMode();
  }
}

// Openline could not be reached: the form keeps what was written (still editable) and is sent
// again by itself, with backoff, while the page is open and as soon as the stream reconnects.
function waitToResend() {
  state.retryMs = state.retryMs ? Math.min(RETRY_MAX_MS, state.retryMs * 2) : RETRY_FIRST_MS;
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(retryLog, state.retryMs);
  // Said beside the button the listener just pressed, and in the page's status area.
  const text = `Not saved yet: Openline cannot be reached. The log stays here and is sent again by itself ` +
    `(next try in ${Math.round(state.retryMs / 1000)} s, and as soon as the connection is back). Keep this page open.`;
  $("log-pending").textContent = text;
  $("log-pending").hidden = false;
  say(text, "error", { stay: true });
}
function retryLog() {
  if (!state.retryMs || state.submitting || !state.logSessionId) return;
  clearTimeout(state.retryTimer);
  form.requestSubmit();
}
function stopRetry() {
  clearTimeout(state.retryTimer);
  state.retryMs = 0;
  $("log-pending").hidden = true;
}
async function openSavedLog(sessionId) {
  try {
    const log = await api("GET", `/api/listener/sessions/${sessionId}/log`);
    fillForm(log);
    Object.assign(state, { log, logRecorded: true, correcting: false });
    say("Log recorded.", "ok");
  } catch (e) { say(plainError(e), "error"); }
  drawLogMode();
}

async function loadNeeds() {
  const box = $("needs-list");
  try {
    const needs = await api("GET", "/api/directory/needs");
    state.needLabels = Object.fromEntries(needs.map((n) => [n.slug, n.label]));
    box.replaceChildren(...needs.map((n) => el("label", {},
      el("input", { type: "checkbox", name: "needs", value: n.slug }), ` ${n.label}`)));
    if (!needs.length) box.replaceChildren(el("span", { class: "muted", text: "No need categories set up." }));
    drawLogMode();
  } catch (e) {
    box.replaceChildren(el("span", { class: "muted", text: "Need categories could not be loaded." }));
  }
}

// ---- tonight ------------------------------------------------------------------------------

async function loadTonight() {
  let rows;
  try { rows = await api("GET", "/api/listener/tonight"); } catch (e) { say(plainError(e), "error"); return; }
  const body = $("tonight");
  if (!rows.length) { body.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No calls yet tonight." }))); return; }
  body.replaceChildren(...rows.map((c) => {
    const title = el("td", {});
    if (c.log_recorded) title.textContent = c.title;
    else {
      title.append(el("span", { class: "badge warn", text: "log not recorded" }));
      if (c.ended_at && c.session_id !== state.logSessionId) {
        title.append(" ", el("button", { type: "button", class: "link", text: "Write log",
          "aria-label": `Write the log for the call at ${when(c.started_at)}`,
          onclick: () => { openLogFor(c.session_id, false); focusLog(); } }));
      }
    }
    const length = c.ended_at ? `${c.minutes} min` : "on now";
    // Every warm transfer of the call (a decline re-routed makes a second), oldest first.
    const transfers = c.transfers || (c.transfer ? [c.transfer] : []);
    return el("tr", { class: c.ended_at ? "" : "live" },
      el("td", { text: when(c.started_at) }),
      el("td", { text: length + (c.overrun_seconds ? ` (+${mmss(c.overrun_seconds)})` : "") }),
      el("td", { class: "mono", text: c.caller }),
      title,
      el("td", { text: [c.ended_by && endedText(c), words(c.outcome)].filter((w) => w && w !== "–").join("; ") || "–" }),
      // The coded outcome, small, in the helpline's words (transfers/tickets/words.py).
      el("td", {}, transfers.length ? transfers.map((t, i) => [i ? "; " : "", `${t.service}: ${ticketStatus(t.status)}`,
        t.outcome_words ? el("span", { class: "muted small outcome-code", text: ` (${t.outcome_words})` }) : "",
        t.taken_back ? el("span", { class: "muted small", text: " · back with the team" }) : ""]) : "–"));
  }));
}

// ---- live events --------------------------------------------------------------------------

function onSessionEvent(data) {
  if (!data) return;
  server.learn(data.now);
  if (!state.card || state.card.id !== data.id) { loadCard(); loadPresence(); return; }
  Object.assign(state.card, { warning_at: data.warning_at, due_at: data.due_at, ended_at: data.ended_at });
  tickRing();
}

onLive("hello", () => { loadAll(); retryLog(); });
onLive("queue", (d) => { drawQueue(d.waiting, d.longest_waiting_since); loadQueue(); });
onLive("callbacks", () => loadCallbacks());
onLive("presence", () => loadPresence());
onLive("session.started", (d) => {
  say("");  // "Connecting you…" is done
  onSessionEvent(d); loadCard(); loadPresence(); loadTonight();
});
onLive("session.warning", (d) => {
  if (d && d.prompt) state.prompt = d.prompt;
  onSessionEvent(d);
});
onLive("session.due", (d) => onSessionEvent(d));
onLive("session.ended", (d) => {
  onSessionEvent(d);
  if (state.card && d && state.card.id === d.id) {
    Object.assign(state.card, { ended_at: d.ended_at, ended_by: d.ended_by });
    // Logged already: nothing left to do on this call. Otherwise keep it on screen for the log.
    showCard(state.logRecorded && state.logSessionId === d.id ? null : state.card);
  }
  loadPresence();
  loadTonight();
});
onLive("ticket.changed", () => loadTonight());

// ---- keyboard -----------------------------------------------------------------------------

function focusLog() {
  const target = form.querySelector("input:not([disabled]), select:not([disabled]), textarea:not([disabled])");
  form.scrollIntoView({ block: "start", behavior: "smooth" });
  if (target) { target.focus(); return; }
  $("log-title").setAttribute("tabindex", "-1");
  $("log-title").focus();
}
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if ($("shortcuts").open && event.key !== "?") return;
  const key = event.key;
  if (key === "n" || key === "N") { event.preventDefault(); takeNext(); }
  else if (key === "l" || key === "L") { event.preventDefault(); focusLog(); }
  else if (key === "a" || key === "A") { event.preventDefault(); setPresence("available"); }
  else if (key === "b" || key === "B") { event.preventDefault(); setPresence("break"); }
  else if (key === "?") { event.preventDefault(); showShortcuts(); }
});
function showShortcuts() {
  const dialog = $("shortcuts");
  if (dialog.open) return;
  if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
}

// ---- wiring -------------------------------------------------------------------------------

async function loadAll() {
  await Promise.all([loadPresence(), loadQueue(), loadCallbacks(), loadCard(), loadTonight()]);
}

for (const radio of document.querySelectorAll('input[name="presence"]')) {
  radio.addEventListener("change", () => { if (radio.checked) setPresence(radio.value); });
}
$("take-next").addEventListener("click", takeNext);
$("show-shortcuts").addEventListener("click", showShortcuts);
$("f-survey").addEventListener("change", recordSurveyConsent);
$("end-callback").addEventListener("click", async () => {
  if (!state.card) return;
  try {
    const ended = await api("POST", `/api/listener/sessions/${state.card.id}/end`);
    state.card.ended_at = ended.ended_at;
    showCard(state.card);
    say("Callback session ended.", "ok");
  } catch (e) { say(plainError(e), "error"); }
  loadPresence(); loadTonight(); loadCallbacks();
});
form.addEventListener("submit", submitLog);
$("log-correct").addEventListener("click", () => {
  state.correcting = true;
  drawLogMode();
  form.elements.correction_reason.focus();
});
$("log-cancel-correction").addEventListener("click", async () => {
  state.correcting = false;
  clearErrors();
  const id = state.logSessionId;
  try { fillForm(await api("GET", `/api/listener/sessions/${id}/log`)); } catch (e) { /* keep what is shown */ }
  drawLogMode();
});

export const page = { csrf: csrf(), api, say, onLive, when, currentSession: () => state.card };
window.openline = page;

drawLogMode();
loadNeeds();
window.addEventListener("online", retryLog);
// hello loads everything; this covers a browser without EventSource, and a slow first hello.
loadAll();
setInterval(() => { tickRing(); tickQueue(); }, 1000);
// A safety net: presence can change by itself (wrap-up ending), and streams can stall.
setInterval(() => { loadPresence(); loadQueue(); }, 30000);
