// The listener's side of the shift lead: Ask for help (G), Immediate risk (R) and who else is on
// the line.
import { api, el, plainError, typing } from "/static/core.js";
import { page as ol } from "/static/listener.js";

const $ = (id) => document.getElementById(id);
const MODE_WORDS = { listen: "is listening", coach: "is coaching you (only you hear them)", barge: "is speaking with you and the caller" };

async function askForHelp() {
  if (!ol.currentSession()) { ol.say("Help is for a call in progress.", "error"); return; }
  try {
    await api("POST", "/api/listener/calls/current/help");
    ol.say("Every supervisor has been asked to come to your call.", "ok");
  } catch (e) { ol.say(typeof e.detail === "string" ? plainError(e) : "Could not reach the supervisors; try again.", "error"); }
}
async function flagRisk() {
  if (!ol.currentSession()) { ol.say("Immediate risk is flagged on a call in progress.", "error"); return; }
  try {
    const record = await api("POST", "/api/listener/calls/current/immediate-risk", {});
    showProtocol(record);
    ol.say("Immediate risk flagged: supervisors alerted.", "ok");
  } catch (e) { ol.say("The flag did not go through; tell a supervisor in person now.", "error"); }
}
function showProtocol(record) {
  const list = $("risk-protocol");
  list.replaceChildren(...(record.protocol || []).map((step) => el("li", { text: step })));
  $("risk-panel").hidden = false;
  document.dispatchEvent(new CustomEvent("openline:risk", { detail: record }));
}
async function loadOthers() {
  const box = $("others-on-line");
  if (!ol.currentSession()) { box.hidden = true; return; }
  try {
    const others = await api("GET", "/api/listener/calls/current/others");
    box.hidden = !others.length;
    box.textContent = others.map((o) => `${o.name} (supervisor) ${MODE_WORDS[o.mode]}`).join("; ");
  } catch (e) { box.hidden = true; }
}
$("ask-help").addEventListener("click", askForHelp);
$("flag-risk").addEventListener("click", flagRisk);
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if ($("shortcuts").open) return;
  if (event.key === "g" || event.key === "G") { event.preventDefault(); askForHelp(); }
  else if (event.key === "r" || event.key === "R") { event.preventDefault(); flagRisk(); }
});
ol.onLive("monitor", loadOthers);
ol.onLive("hello", loadOthers);
document.addEventListener("openline:session", () => { $("risk-panel").hidden = true; loadOthers(); });
