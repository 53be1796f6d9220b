// The supervisors' board: redraw from /api/supervisor/board whenever a live event arrives,
// and every 20 seconds anyway, so a dropped connection never leaves a stale picture.
// board-people.js draws its parts of the same picture through `board.onDraw`.
import { api, duration, el, live, plainError, plural, statusArea, ticketStatus, when } from "/static/core.js";

const $ = (id) => document.getElementById(id);
export const say = statusArea($("b-status"));

function text(node, value) { node.textContent = value; }
const row = (cells) => el("tr", {}, cells.map((c) => el("td", { text: c })));
// Presence counts in words a person reads: "2 available, 1 on a break".
const PRESENCE = { available: "available", "on-call": "on a call", "wrap-up": "in wrap-up", break: "on a break", offline: "offline" };

function draw(b) {
  const now = new Date(b.now);
  text($("b-waiting"), b.line.waiting);
  text($("b-longest"), b.line.longest_waiting_since ? duration((now - new Date(b.line.longest_waiting_since)) / 1000) : "–");
  text($("b-available"), `${b.line.listeners.available || 0} free`);
  text($("b-presence"), Object.entries(b.line.listeners).map(([k, v]) => `${v} ${PRESENCE[k] || k}`).join(", ") || "nobody signed on");
  const level = b.tonight.service_level;
  text($("b-level"), level == null ? "–" : `${Math.round(level * 100)}%`);
  text($("b-tonight"), `${b.tonight.offered} offered, ${b.tonight.answered} answered, ${b.tonight.abandoned} abandoned; ` +
    `average answer ${duration(b.tonight.average_speed_of_answer_seconds)}; target ${b.tonight.target}`);
  text($("b-needed"), plural(b.staffing.listeners_needed, "listener"));
  text($("b-staffing"), `${b.staffing.calls_per_hour} calls/h, ${b.staffing.handle_minutes} min each; rota ${b.staffing.rota_with_shrinkage} with breaks`);
  $("b-risk").replaceChildren(...(b.risk.length
    ? b.risk.map((r) => el("li", { class: "alert", text: `${when(r.flagged_at, now)} ${r.listener}: ${r.title}` }))
    : [el("li", { class: "muted", text: "None flagged." })]));
  $("b-sessions").replaceChildren(...b.sessions.map((s) => {
    const tr = row([s.listener, when(s.started_at, now), when(s.due_at, now), s.overrunning ? `over by ${duration(s.overrun_seconds)}` : "running"]);
    if (s.overrunning) tr.className = "overrun";
    return tr;
  }));
  const t = b.transfers;
  const statuses = Object.entries(t.by_status).map(([k, v]) => `${v} ${ticketStatus(k, { short: true })}`).join(", ");
  text($("b-transfers"), [
    statuses || "no tickets yet",
    plural(t.open_follow_ups, "follow-up") + " open",
    `${plural(t.dead_notifications, "partner notification")} undeliverable`,
    `last 4 weeks: median time to accept ${duration(t.waits.to_accept.median_seconds)}, to handover ${duration(t.waits.to_contact.median_seconds)}`,
    `longest open wait ${duration(t.waits.longest_open_wait_seconds)}`,
    t.waits.open_past_four_weeks ? `${plural(t.waits.open_past_four_weeks, "caller")} waiting over four weeks!` : "",
  ].filter(Boolean).join("; "));
  $("b-breached").replaceChildren(...t.breached.map((x) => {
    const tr = row([`#${x.id}${x.urgent ? " urgent" : ""}`, ticketStatus(x.status, { short: true }), when(x.accept_by, now), when(x.contact_by, now)]);
    // Not accepted in time: offer to hand the caller to the next service.
    tr.append(el("td", {}, x.status === "requested" ? el("button", { type: "button", "aria-label": `Re-route ticket ${x.id} to the next service`,
      onclick: (e) => reroute(x.id, e.currentTarget) }, "Re-route") : null));
    return tr;
  }));
}

// Keyed by id, so a redraw (every live event) never wipes a note a supervisor is typing.
const followUpItems = new Map();
function drawFollowUps(items, now) {
  const list = $("b-follow-ups");
  if (!items.length) {
    followUpItems.clear();
    list.replaceChildren(el("li", { class: "muted", text: "None open." }));
    return;
  }
  const keep = new Set(items.map((f) => f.id));
  for (const id of [...followUpItems.keys()]) if (!keep.has(id)) followUpItems.delete(id);
  list.replaceChildren(...items.map((f) => {
    if (followUpItems.has(f.id)) return followUpItems.get(f.id);
    const note = el("input", { id: `fu-note-${f.id}`, autocomplete: "off", maxlength: 1000 });
    const li = el("li", { class: "follow-up" },
      el("p", { class: "follow-up-head",
        text: `${when(f.created_at, now)} · ${f.caller}${f.service ? ` · ${f.service}` : ""}${f.listener ? ` · made by ${f.listener}` : ""}` }),
      el("p", { text: f.reason }),
      f.outcome_words ? el("p", { class: "muted small outcome-code", text: `How it ended: ${f.outcome_words}` }) : null,
      el("label", { for: `fu-note-${f.id}`, text: "What was done for the caller" }), note,
      el("button", { type: "button", "aria-label": `Resolve the follow-up for ${f.caller}`,
        onclick: (e) => resolve(f.id, note, e.currentTarget) }, "Resolve"));
    followUpItems.set(f.id, li);
    return li;
  }));
}
async function resolve(id, note, button) {
  if (note.value.trim().length < 3) { say("Say what was done for the caller first.", "error"); note.focus(); return; }
  button.disabled = true;
  try {
    await api("POST", `/api/supervisor/follow-ups/${id}/resolve`, { note: note.value.trim() });
    say("Follow-up resolved.", "ok");
  } catch (e) { button.disabled = false; say(`That follow-up could not be resolved: ${plainError(e)}`, "error"); }
  refresh();
}
async function reroute(id, button) {
  button.disabled = true;
  try {
    await api("POST", `/api/helpline/tickets/${id}/reroute`, { reason: "not accepted in time" });
    say(`Ticket #${id} re-routed to the next service.`, "ok");
  } catch (e) { say(`Ticket #${id} could not be re-routed: ${plainError(e)}`, "error"); }
  refresh();
}

const painters = [(b) => { draw(b); drawFollowUps(b.follow_ups || [], new Date(b.now)); }];
const connection = $("b-connection");
function showConnection(state) {
  // "Reconnecting" stays visible until both the stream and the snapshot are back.
  connection.dataset.state = state;
  connection.textContent = { live: "Live", reconnecting: "Reconnecting… the board may be out of date", connecting: "Connecting…" }[state];
}
let streamOpen = !window.EventSource;
async function refresh() {
  let b;
  try { b = await api("GET", "/api/supervisor/board"); } catch (e) { showConnection("reconnecting"); return; /* the next tick or event retries */ }
  for (const paint of painters) paint(b);
  showConnection(streamOpen ? "live" : "reconnecting");
}
export const board = { refresh, onDraw: (paint) => painters.push(paint), say };

const stream = live({}, { onState: (s) => {
  streamOpen = s === "live";
  if (streamOpen) refresh(); else showConnection("reconnecting");
} });
for (const type of ["hello", "queue", "presence", "callbacks", "session.due", "risk.immediate", "ticket.breach",
  "follow-up.created", "follow-up.resolved", "notification.dead", "alert", "help.asked",
  "monitor", "safeguarding", "ticket.changed"]) stream.on(type, refresh);
refresh();
setInterval(refresh, 20000);
