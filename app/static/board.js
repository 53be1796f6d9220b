// The supervisors' board: redraw from /api/supervisor/board whenever a live event arrives,
// and every 20 seconds anyway, so a dropped connection never leaves a stale picture.
(function () {
  "use strict";
  const hours = (h) => (h === null || h === undefined ? "–" : h < 48 ? `${h} h` : `${Math.round(h / 24)} days`);
  const $ = (id) => document.getElementById(id);
  const time = (iso) => iso ? new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }) : "–";
  const minutes = (s) => s == null ? "–" : s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`
    : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  // Targets can be days away: name the day.
  const day = (iso) => iso ? new Date(iso).toLocaleString("en-GB", { weekday: "short", hour: "2-digit", minute: "2-digit" }) : "–";
  function text(el, value) { el.textContent = value; }
  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    return tr;
  }
  function draw(b) {
    const now = new Date(b.now);
    text($("b-waiting"), b.line.waiting);
    text($("b-longest"), b.line.longest_waiting_since ? minutes((now - new Date(b.line.longest_waiting_since)) / 1000) : "–");
    text($("b-available"), `${b.line.listeners.available || 0} free`);
    text($("b-presence"), Object.entries(b.line.listeners).map(([k, v]) => `${v} ${k}`).join(", ") || "nobody signed on");
    const level = b.tonight.service_level;
    text($("b-level"), level == null ? "–" : `${Math.round(level * 100)}%`);
    text($("b-tonight"), `${b.tonight.offered} offered, ${b.tonight.answered} answered, ${b.tonight.abandoned} abandoned; ` +
      `average answer ${minutes(b.tonight.average_speed_of_answer_seconds)}; target ${b.tonight.target}`);
    const needed = b.staffing.listeners_needed;
    text($("b-needed"), `${needed} ${needed === 1 ? "listener" : "listeners"}`);
    text($("b-staffing"), `${b.staffing.calls_per_hour} calls/h, ${b.staffing.handle_minutes} min each; rota ${b.staffing.rota_with_shrinkage} with breaks`);
    const risk = $("b-risk"); risk.replaceChildren();
    for (const r of b.risk) {
      const li = document.createElement("li"); li.className = "alert";
      li.textContent = `${time(r.flagged_at)} ${r.listener}: ${r.title}`; risk.appendChild(li);
    }
    if (!b.risk.length) { const li = document.createElement("li"); li.className = "muted"; li.textContent = "None flagged."; risk.appendChild(li); }
    $("b-sessions").replaceChildren(...b.sessions.map((s) => {
      const tr = row([s.listener, time(s.started_at), time(s.due_at), s.overrunning ? `over by ${minutes(s.overrun_seconds)}` : "running"]);
      if (s.overrunning) tr.className = "overrun";
      return tr;
    }));
    const t = b.transfers;
    const statuses = Object.entries(t.by_status).map(([k, v]) => `${v} ${k}`).join(", ");
    text($("b-transfers"), [
      statuses || "no tickets yet",
      `${t.open_follow_ups} follow-ups open`,
      `${t.dead_notifications} partner notifications undeliverable`,
      `median time to accept ${hours(t.waits.to_accept.median_hours)}, to handover ${hours(t.waits.to_contact.median_hours)}`,
      `longest open wait ${hours(t.waits.longest_open_wait_hours)}`,
      t.waits.open_past_four_weeks ? `${t.waits.open_past_four_weeks} waiting over four weeks!` : "",
    ].filter(Boolean).join("; "));
    $("b-breached").replaceChildren(...t.breached.map((x) => {
      const tr = row([`#${x.id}${x.urgent ? " urgent" : ""}`, x.status, day(x.accept_by), day(x.contact_by)]);
      const td = document.createElement("td");
      if (x.status === "requested") {
        // Not accepted in time: offer to hand the caller to the next service.
        const button = document.createElement("button");
        button.type = "button"; button.textContent = "Re-route";
        button.setAttribute("aria-label", `Re-route ticket ${x.id} to the next service`);
        button.addEventListener("click", () => reroute(x.id, button));
        td.appendChild(button);
      }
      tr.appendChild(td);
      return tr;
    }));
  }
  // Keyed by id, so a redraw (every live event) never wipes a note a supervisor is typing.
  const followUpItems = new Map();
  function drawFollowUps(items) {
    const list = $("b-follow-ups");
    if (!items.length) {
      followUpItems.clear();
      const li = document.createElement("li"); li.className = "muted"; li.textContent = "None open."; list.replaceChildren(li); return;
    }
    const keep = new Set(items.map((f) => f.id));
    for (const id of [...followUpItems.keys()]) if (!keep.has(id)) followUpItems.delete(id);
    list.replaceChildren(...items.map((f) => {
      if (followUpItems.has(f.id)) return followUpItems.get(f.id);
      const li = document.createElement("li"); li.className = "follow-up";
      const head = document.createElement("p"); head.className = "follow-up-head";
      head.textContent = `${day(f.created_at)} · ${f.caller}${f.service ? ` · ${f.service}` : ""}${f.listener ? ` · made by ${f.listener}` : ""}`;
      const why = document.createElement("p"); why.textContent = f.reason;
      const label = document.createElement("label"); label.htmlFor = `fu-note-${f.id}`; label.textContent = "What was done for the caller";
      const note = document.createElement("input"); note.id = `fu-note-${f.id}`; note.autocomplete = "off";
      const button = document.createElement("button"); button.type = "button"; button.textContent = "Resolve";
      button.setAttribute("aria-label", `Resolve the follow-up for ${f.caller}`);
      button.addEventListener("click", () => resolve(f.id, note, button));
      li.append(head, why, label, note, button);
      followUpItems.set(f.id, li);
      return li;
    }));
  }
  async function resolve(id, note, button) {
    if (note.value.trim().length < 3) { $("b-status").textContent = "Say what was done for the caller first."; note.focus(); return; }
    button.disabled = true;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const r = await fetch(`/api/supervisor/follow-ups/${id}/resolve`, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ note: note.value.trim() }) }).catch(() => null);
    if (!r || !r.ok) { button.disabled = false; $("b-status").textContent = "That follow-up could not be resolved; try again."; }
    else $("b-status").textContent = "Follow-up resolved.";
    refresh();
  }
  async function reroute(id, button) {
    button.disabled = true;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const r = await fetch(`/api/helpline/tickets/${id}/reroute`, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ reason: "not accepted in time" }) }).catch(() => null);
    const status = $("b-status");
    if (status) status.textContent = r && r.ok ? `Ticket #${id} re-routed to the next service.` : `Ticket #${id} could not be re-routed; refresh and try again.`;
    refresh();
  }
  // Other scripts on the page (board-people.js) draw their parts of the same picture.
  const painters = [(b) => { draw(b); drawFollowUps(b.follow_ups || []); }];
  const connection = $("b-connection");
  function showConnection(state) {
    // "Reconnecting" stays visible until both the stream and the snapshot are back.
    connection.dataset.state = state;
    connection.textContent = { live: "Live", reconnecting: "Reconnecting… the board may be out of date", connecting: "Connecting…" }[state];
  }
  let streamOpen = false;
  async function refresh() {
    try {
      const r = await fetch("/api/supervisor/board", { credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      const b = await r.json();
      for (const paint of painters) paint(b);
      showConnection(streamOpen || !window.EventSource ? "live" : "reconnecting");
    } catch (e) { showConnection("reconnecting"); /* the next tick or event retries */ }
  }
  window.openlineBoard = { refresh, onDraw: (paint) => painters.push(paint), minutes, time, day };
  refresh();
  setInterval(refresh, 20000);
  if (window.EventSource) {
    const live = new EventSource("/api/live");
    live.onopen = () => { streamOpen = true; refresh(); };
    live.onerror = () => { streamOpen = false; showConnection("reconnecting"); };
    live.onmessage = refresh;
    for (const type of ["hello", "queue", "presence", "callbacks", "session.due", "risk.immediate", "ticket.breach",
                        "follow-up.created", "follow-up.resolved", "notification.dead", "alert", "help.asked",
                        "monitor", "safeguarding", "ticket.changed"]) live.addEventListener(type, refresh);
  }
})();
