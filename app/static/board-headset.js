// The supervisor's headset on the board: the listener page's headset (headset.js) with the
// board's own adapter. The monitoring leg rings client:supervisor_<id> (the browser's Voice SDK),
// the practice headset (simulated telephony) or a desk phone; the supervisor answers, mutes, and
// leaves here. Listen / Coach / Barge stay on each listener's row (board-people.js).
//
// The practice headset learns its line from the board itself: the supervisor's own leg on a
// listener's call ("dialling" rings, "joined" is connected), redrawn on every live event.
import { api } from "/static/core.js";
import { board, say } from "/static/board.js";

const handlers = new Map();
const emit = (type, data) => (handlers.get(type) || []).forEach((fn) => { try { fn(data); } catch (e) { console.error(e); } });

let me = null;
let line = { state: "idle", call_id: null };

// Pure: the supervisor's line from the board's listeners (null id: not known yet).
export function lineOf(listeners, myId) {
  for (const p of listeners || []) {
    const on = p.call && p.call.supervisor;
    if (on && on.supervisor_id === myId) {
      return { state: on.state === "joined" ? "connected" : "ringing", call_id: p.call.id };
    }
  }
  return { state: "idle", call_id: null };
}

function follow(board) {
  if (me === null) return;
  const next = lineOf(board.listeners, me);
  if (next.state === line.state && next.call_id === line.call_id) return;
  // A leg that is over reads "ended" once, so the headset stops ringing and clears its buttons.
  emit("headset", next.state === "idle" ? { state: "ended", call_id: line.call_id } : next);
  line = next;
}

window.openlineHeadset = {
  api: (method, path, body) => api(method, path, body),
  say,
  onLive(type, fn) { if (!handlers.has(type)) handlers.set(type, []); handlers.get(type).push(fn); },
  paths: { headset: "/api/supervisor/headset", token: "/api/supervisor/voice-token", hold: null },
  idleWords: "Ready. When you listen, coach or barge, your headset rings here.",
  ringingWords: "Your headset is ringing: answer to join the call.",
  connectedWords: "You are on the listener's call.",
  async leave(callId) {
    if (callId == null) return;
    await api("DELETE", `/api/supervisor/calls/${callId}/monitor`);
    say("You left the call.", "ok");
    board.refresh();
  },
};

api("GET", "/api/me").then((who) => { me = who.id; board.refresh(); }, () => {});
board.onDraw(follow);

const script = document.createElement("script");
script.src = "/static/headset.js";
document.body.append(script);
