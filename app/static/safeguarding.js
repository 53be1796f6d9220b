// The listener's immediate-risk tools: the safeguarding record beside the log (saved through
// PATCH /api/helpline/safeguarding/{id}, field errors shown), and a crisis line dialled into the
// call as a warm transfer, then handed over. Listens for the "openline:risk" event (shift-help.js)
// with the record just flagged.
import { api, clearFieldErrors, clock, el, plainError, showFieldErrors } from "/static/core.js";
import { page as ol } from "/static/listener.js";

const form = document.getElementById("sg-form");
const $ = (id) => document.getElementById(id);
const FIELDS = ["concern", "risk_factors", "protective_factors", "location", "emergency_reference"];
const CRISIS_WORDS = {
  ringing: (r) => `Ringing ${r.crisis_line}… The caller is still with you.`,
  joined: (r) => `${r.crisis_line} has joined. Brief them, then hand over.`,
  "handed-over": (r) => `Handed over to ${r.crisis_line}.`,
  "no-answer": (r) => `${r.crisis_line} did not answer. The caller is with you; supervisors have been told.`,
  busy: (r) => `${r.crisis_line} was busy. The caller is with you; supervisors have been told.`,
  failed: (r) => `${r.crisis_line} could not be dialled. The caller is with you; supervisors have been told.`,
};
let record = null;
let pendingAlerted = [];
// Bumped whenever the record shown changes, so an answer asked for before a flag (null: no
// record yet) cannot arrive after it and hide the form the listener has just opened.
let shown = 0;

const clearErrors = () => clearFieldErrors(form);
const showErrors = (detail) => showFieldErrors(detail, {
  errorBox: (field) => $(`sg-err-${field}`) || $("sg-err-body"),
  input: (field) => (field === "alerted" ? $("sg-alerted-who") : form.querySelector(`[name="${field}"]`)),
});
function fill(r, { keepTyping } = {}) {
  shown += 1;
  record = r;
  form.hidden = false;
  $("risk-panel").hidden = false;
  if ((r.protocol || []).length && !$("risk-protocol").children.length) {
    $("risk-protocol").replaceChildren(...r.protocol.map((s) => el("li", { text: s })));
  }
  if (!keepTyping) for (const f of FIELDS) $(`sg-${f}`).value = r[f] || "";
  $("sg-alerted-list").replaceChildren(...(r.alerted || []).map((a) =>
    el("li", { text: `${a.who} at ${ol.when(a.at)}` })));
  $("sg-outcome").textContent = r.outcome ? `Outcome: ${r.outcome.replaceAll("-", " ")} (closed by a supervisor).`
    : "Outcome: open until a supervisor closes the flag.";
  drawCrisis(r);
}
function drawCrisis(r) {
  const words = r.crisis_state && CRISIS_WORDS[r.crisis_state];
  $("crisis-status").textContent = words ? words(r) : "";
  $("crisis-handover").hidden = r.crisis_state !== "joined";
  const busy = r.crisis_state === "ringing" || r.crisis_state === "joined";
  for (const b of $("crisis-lines").querySelectorAll("button")) b.disabled = busy;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!record) return;
  clearErrors();
  const body = {};
  for (const f of FIELDS) body[f] = $(`sg-${f}`).value.trim() || null;
  const who = $("sg-alerted-who").value.trim(), at = $("sg-alerted-at").value;
  if (who || at) {
    if (!who || !at) { showErrors([{ field: "alerted", message: "Say who was alerted and at what time." }]); return; }
    const when = new Date(); const [h, m] = at.split(":").map(Number); when.setHours(h, m, 0, 0);
    pendingAlerted = [{ who, at: when.toISOString() }];
    body.alerted = pendingAlerted;
  }
  try {
    const saved = await api("PATCH", `/api/helpline/safeguarding/${record.id}`, body);
    $("sg-alerted-who").value = ""; $("sg-alerted-at").value = "";
    fill(saved);
    $("sg-saved").textContent = `Saved at ${clock(new Date())}.`;
  } catch (e) {
    if (e.status === 422 && Array.isArray(e.detail)) showErrors(e.detail);
    else $("sg-err-body").textContent = "The record was not saved; try again (your words are still here).";
  }
});

async function dial(line) {
  try {
    fill(await api("POST", "/api/listener/calls/current/crisis-line",
      { line_id: line.id, hold_caller: $("crisis-hold").checked }), { keepTyping: true });
    ol.say(`Dialling ${line.name} into the call.`, "ok");
  } catch (e) { ol.say(typeof e.detail === "string" ? plainError(e) : `${line.name} could not be dialled; try again or ring from a phone.`, "error"); }
}
async function handOver(stay) {
  if (!record) return;
  try {
    fill(await api("POST", `/api/helpline/safeguarding/${record.id}/crisis-line/handover`, { stay }), { keepTyping: true });
    ol.say(stay ? `Handed over to ${record.crisis_line}; you stay on the line.` : `Handed over to ${record.crisis_line}.`, "ok");
  } catch (e) { ol.say(typeof e.detail === "string" ? plainError(e) : "The handover did not go through.", "error"); }
}
async function loadLines() {
  try {
    const lines = await api("GET", "/api/helpline/crisis-lines");
    if (!lines.length) return;
    $("crisis-lines").replaceChildren(...lines.map((line) => {
      return el("button", { type: "button", class: "danger", "aria-label": `Dial ${line.name} (${line.number}) into the call`,
        onclick: () => dial(line) }, `Dial ${line.name}`);
    }));
    if (record) drawCrisis(record);
  } catch (e) { /* the panel says none is configured */ }
}
async function loadCurrent() {
  const card = ol.currentSession();
  if (!card || !card.call_id) { shown += 1; record = null; form.hidden = true; return; }
  const asked = shown;
  try {
    const found = await api("GET", `/api/listener/calls/${card.call_id}/immediate-risk`);
    if (asked !== shown && !found) return;
    if (found) fill(found, { keepTyping: !!record && record.id === found.id });
    else { record = null; form.hidden = true; }
  } catch (e) { /* kept as shown; the next live event asks again */ }
}
$("crisis-hand-over").addEventListener("click", () => handOver(false));
$("crisis-stay").addEventListener("click", () => handOver(true));
document.addEventListener("openline:risk", (event) => fill(event.detail));
document.addEventListener("openline:session", loadCurrent);
ol.onLive("safeguarding", (data) => { if (record && data.id === record.id) loadCurrent(); });
loadLines();
