// The shift lead's half of the board: alerts (seen, heard, acknowledged by name), every listener
// with their call and the Listen / Coach / Barge controls, waiting callers and callbacks, open
// warm transfers counting down. Draws through board.onDraw (board.js).
import { api, duration, el, plainError, ticketStatus, when } from "/static/core.js";
import { board } from "/static/board.js";

const $ = (id) => document.getElementById(id);
const minutes = duration;
let now = new Date();
const time = (iso) => when(iso, now);
const MODES = { listen: "Listen", coach: "Coach", barge: "Barge" };
const OUTCOMES = { "emergency-services-attended": "Emergency services attended", "crisis-team-took-over": "Crisis team took over",
  "safe-plan-agreed": "Safe plan agreed", "caller-ended-call": "Caller ended the call", "no-further-action": "No further action", other: "Other" };
let latest = null;
let meId = null;  // the supervisor signed in: their own monitor leg gets the controls
const heard = new Set();
let crisisLines = [];
// Safeguarding records opened on this board (each read is audited once, when opened).
const opened = new Map();

function button(label, onClick, extra = {}) {
  return el("button", Object.assign({ type: "button", onclick: (e) => onClick(e.currentTarget) }, extra), label);
}
const say = board.say;
// Resolves to { ok, data }: a refusal is said in the status area by act(), not thrown.
async function send(method, url, body) {
  try { return { ok: true, data: await api(method, url, body) }; } catch (e) { return { ok: false, error: e }; }
}
async function act(b, method, url, body, done) {
  b.disabled = true;
  const r = await send(method, url, body);
  b.disabled = false;
  if (r.ok) say(done, "ok"); else say(plainError(r.error), "error");
  board.refresh();
  return r;
}

// ---- alerts: a chime for each new one nobody has acknowledged ------------------------------
function chime() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  try {
    const ctx = new Ctx(); const gain = ctx.createGain(); gain.gain.value = 0.08; gain.connect(ctx.destination);
    for (const [hz, at] of [[880, 0], [660, 0.25]]) {
      const osc = ctx.createOscillator(); osc.frequency.value = hz; osc.connect(gain);
      osc.start(ctx.currentTime + at); osc.stop(ctx.currentTime + at + 0.2);
    }
  } catch (e) { /* no audio allowed yet: the alert is still shown */ }
}
function alertItem(a) {
  const li = el("li", { class: `board-alert kind-${a.kind}${a.acknowledged_by ? " acknowledged" : ""}` });
  li.dataset.key = a.key;
  li.append(el("p", { class: "alert-text" }, el("strong", { text: a.text }), ` · since ${time(a.since)}`));
  const actions = el("p", { class: "actions" });
  if (a.acknowledged_by) actions.append(el("span", { class: "badge ok", text: `Acknowledged by ${a.acknowledged_by} at ${time(a.acknowledged_at)}` }));
  else actions.append(button("Acknowledge", (b) => act(b, "POST", `/api/supervisor/alerts/${encodeURIComponent(a.key)}/acknowledge`, undefined, "Acknowledged."),
    { class: "primary", "aria-label": `Acknowledge: ${a.text}` }));
  if (a.kind === "help" && a.call_id) actions.append(button("Join as coach", (b) => join(b, a.call_id, "coach", a.key), { "aria-label": `Join ${a.text.replace(" asks for help", "")}'s call as coach` }));
  if (a.kind === "immediate-risk") actions.append(...riskActions(a));
  li.append(actions);
  const id = Number(a.key.split(":")[1]);
  if (a.key.startsWith("immediate-risk:") && opened.has(id)) li.append(recordView(opened.get(id)));
  return li;
}
function riskActions(a) {
  const id = Number(a.key.split(":")[1]), out = [];
  if (a.key.startsWith("immediate-risk:")) {
    out.push(button(opened.has(id) ? "Hide record" : "Read record", () => toggleRecord(id), { "aria-label": "Read the safeguarding record (audited)" }));
    out.push(closeRisk(a));
  }
  if (a.call_id) for (const line of crisisLines) {
    out.push(button(`Dial ${line.name}`, (b) => act(b, "POST", `/api/supervisor/calls/${a.call_id}/crisis-line`, { line_id: line.id },
      `Dialling ${line.name} into the call; the caller stays with the listener.`), { class: "danger", "aria-label": `Dial ${line.name} into the call` }));
  }
  return out;
}
async function toggleRecord(id) {
  if (opened.has(id)) { opened.delete(id); board.refresh(); return; }
  const r = await send("GET", `/api/helpline/safeguarding/${id}`);
  if (!r.ok) { say("The safeguarding record could not be read.", "error"); return; }
  opened.set(id, r.data); board.refresh();
}
function recordView(r) {
  const rows = [["Concern", r.concern], ["Risk factors", r.risk_factors], ["Protective factors", r.protective_factors],
    ["Location", r.location], ["Emergency reference", r.emergency_reference],
    ["Alerted", (r.alerted || []).map((x) => `${x.who} at ${time(x.at)}`).join("; ")],
    ["Crisis line", r.crisis_line ? `${r.crisis_line}: ${r.crisis_state}${r.crisis_dialled_by ? `, dialled by ${r.crisis_dialled_by} at ${time(r.crisis_dialled_at)}` : ""}` : null],
    ["Outcome", r.outcome ? r.outcome.replaceAll("-", " ") : "open"]];
  const dl = el("dl", { class: "sg-view" });
  for (const [k, v] of rows) dl.append(el("dt", { text: k }), el("dd", { text: v || "–" }));
  return dl;
}
function closeRisk(a) {
  const id = a.key.split(":")[1];
  const box = el("span", { class: "close-risk" });
  const select = el("select", { id: `risk-outcome-${id}`, "aria-label": "Outcome" });
  select.append(el("option", { value: "", text: "Outcome…" }));
  for (const [v, label] of Object.entries(OUTCOMES)) select.append(el("option", { value: v, text: label }));
  box.append(select, button("Close flag", (b) => {
    if (!select.value) { say("Choose the outcome before closing the flag.", "error"); select.focus(); return; }
    act(b, "POST", `/api/supervisor/safeguarding/${id}/close`, { outcome: select.value }, "Immediate-risk flag closed.");
  }, { "aria-label": "Close the immediate-risk flag with this outcome" }));
  return box;
}
function drawAlerts(b) {
  const list = $("b-alerts");
  if (!b.alerts.length) { list.replaceChildren(el("li", { class: "muted", text: "Nothing needs you now." })); return; }
  // Redraw without losing a chosen outcome: keep the select's value by key.
  const kept = new Map([...list.querySelectorAll("select")].map((s) => [s.id, s.value]));
  list.replaceChildren(...b.alerts.map(alertItem));
  for (const [id, value] of kept) { const s = document.getElementById(id); if (s) s.value = value; }
  const fresh = b.alerts.filter((a) => !a.acknowledged_by && !heard.has(a.key));
  for (const a of b.alerts) heard.add(a.key);
  if (fresh.length) { chime(); document.title = `(${b.alerts.filter((a) => !a.acknowledged_by).length}) Board · Openline`; }
  else if (!b.alerts.some((a) => !a.acknowledged_by)) document.title = "Board · Openline";
}

// ---- people: listeners with their call; Listen / Coach / Barge / Leave -----------------------
async function join(b, callId, mode, alertKey) {
  const r = await act(b, "POST", `/api/supervisor/calls/${callId}/monitor`, { mode, alert_key: alertKey || null },
    `Joining the call to ${mode === "listen" ? "listen" : mode === "coach" ? "coach the listener" : "speak to both"}…`);
  if (r.ok) headsetHint(r.data);
}
function headsetHint(leg) {
  const hint = $("b-headset");
  if (!leg || leg.state !== "dialling") { hint.hidden = true; return; }
  hint.hidden = false;
  hint.replaceChildren(leg.via === "practice" ? "Your practice headset is ringing: " : leg.via === "desk" ? "Your desk phone is ringing." : "Your headset is ringing.");
  if (leg.via === "practice") hint.append(button("Answer", (x) => act(x, "POST", "/api/supervisor/headset/answer", undefined, "On the line."), { class: "primary", "aria-label": "Answer on the practice headset" }));
}
function monitorControls(p) {
  const call = p.call, on = call.supervisor;
  const box = el("div", { class: "monitor", role: "group", "aria-label": `Supervise ${p.name}'s call` });
  if (on && on.supervisor_id !== meId) {
    box.append(el("span", { class: "badge warn", text: `${on.supervisor} is on this call (${on.mode})` }));
    return box;
  }
  for (const [mode, label] of Object.entries(MODES)) {
    const current = on && on.mode === mode;
    const b = button(label, (x) => on ? act(x, "PUT", `/api/supervisor/calls/${call.id}/monitor`, { mode }, `Now ${mode === "barge" ? "barging" : mode === "coach" ? "coaching" : "listening"}.`)
      : join(x, call.id, mode), { "aria-label": `${label} on ${p.name}'s call`, class: current ? "primary" : "" });
    b.setAttribute("aria-pressed", String(!!current));
    box.append(b);
  }
  if (on) box.append(button("Leave", (x) => act(x, "DELETE", `/api/supervisor/calls/${call.id}/monitor`, undefined, "You left the call."), { class: "danger", "aria-label": `Leave ${p.name}'s call` }));
  if (on) headsetHint(on.leg || on);
  return box;
}
function personItem(p) {
  const li = el("li", { class: `person presence-${p.presence}` });
  const s = p.session, call = p.call;
  const head = el("p", { class: "person-head" }, el("strong", { text: p.name }), " ",
    el("span", { class: "badge", text: p.presence }), ` for ${minutes(p.presence_seconds)}`);
  li.append(head);
  if (call) {
    const facts = [`caller ${call.caller}`, `waited ${minutes(call.wait_seconds)}`];
    if (s) facts.push(s.overrun_seconds > 0 ? `over by ${minutes(s.overrun_seconds)}` : `session ${minutes(s.elapsed_seconds)}`);
    facts.push(s && s.log_recorded ? `log recorded${s.risk_level ? ` (risk ${s.risk_level})` : ""}` : "no log yet");
    const line = el("p", { class: "person-call" }, facts.join(" · "));
    if (call.immediate_risk_id) line.append(" ", el("span", { class: "badge danger", text: "immediate risk" }));
    if (call.help_asked_at) line.append(" ", el("span", { class: "badge warn", text: `asked for help ${time(call.help_asked_at)}` }));
    if (s && s.overrun_seconds > 0) li.classList.add("overrun");
    li.append(line, monitorControls(p));
  }
  return li;
}
function drawPeople(b) {
  const people = $("b-people");
  people.replaceChildren(...(b.listeners.length ? b.listeners.map(personItem) : [el("li", { class: "muted", text: "Nobody signed on." })]));
  if (!b.listeners.some((p) => p.call && p.call.supervisor && p.call.supervisor.supervisor_id === meId)) headsetHint(null);
}

// ---- waiting and open warm transfers, counting down between redraws ------------------------
function countdown(seconds) {
  if (seconds == null) return "";
  return seconds < 0 ? `${minutes(-seconds)} late` : `in ${minutes(seconds)}`;
}
function drawQueues(b) {
  const q = b.waiting.map((w) => el("li", { class: w.urgent ? "urgent" : "" },
    `${w.kind === "caller" ? "Caller" : "Callback"} ${w.caller}${w.urgent ? " (urgent)" : ""} · waiting `,
    el("span", { class: "ticking", "data-up": String(w.wait_seconds), text: minutes(w.wait_seconds) })));
  $("b-queue").replaceChildren(...(q.length ? q : [el("li", { class: "muted", text: "Nobody waiting." })]));
  const t = b.open_transfers.map((x) => {
    const li = el("li", { class: x.breached ? "breached" : "" }, `#${x.id} ${x.service} · ${ticketStatus(x.status, { short: true })}${x.urgent ? " · urgent" : ""} · `);
    if (x.accept_in_seconds != null) { const s = el("span", { class: "ticking" }); s.dataset.down = String(x.accept_in_seconds); s.dataset.what = "accept"; li.append(s, " · "); }
    const c = el("span", { class: "ticking" }); c.dataset.down = String(x.contact_in_seconds); c.dataset.what = "contact"; li.append(c);
    return li;
  });
  $("b-open").replaceChildren(...(t.length ? t : [el("li", { class: "muted", text: "None open." })]));
  tick(0);
}
let drawnAt = Date.now();
function tick(extra) {
  const passed = extra === 0 ? 0 : Math.round((Date.now() - drawnAt) / 1000);
  for (const s of document.querySelectorAll(".ticking")) {
    if (s.dataset.up) s.textContent = minutes(Number(s.dataset.up) + passed);
    if (s.dataset.down) s.textContent = `${s.dataset.what} ${countdown(Number(s.dataset.down) - passed)}`;
  }
}
setInterval(() => tick(), 1000);

board.onDraw((b) => {
  latest = b; drawnAt = Date.now(); now = new Date(b.now);
  drawAlerts(b); drawPeople(b); drawQueues(b);
});
api("GET", "/api/helpline/crisis-lines").then((lines) => { crisisLines = lines; if (latest) board.refresh(); }).catch(() => {});
api("GET", "/api/me").then((me) => { meId = me.id; if (latest) board.refresh(); }).catch(() => {});
