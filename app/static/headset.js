// The listener's headset: one interface whatever the server chose (GET /api/listener/headset).
//
//   twilio    Twilio's Voice SDK in the page (served by Openline at /static/vendor/...)
//   practice  simulated telephony: the same buttons drive the simulator
//   desk      the listener's desk phone or SIP set rings; the page only says so
//   unavailable  the reason, and what to use instead
//
// Every kind offers the same controls (answer, decline, mute, hold, hang up, device choice);
// ringing is a tone (WebAudio, no file), the tab's title and, if the listener allowed it, a
// notification. Shortcuts: U answer, D decline, M mute, H hold, X hang up (see the ? overlay).
// Needs window.openline (listener.js): api(), onLive(), say(). Another page (the board) gives its
// own adapter as window.openlineHeadset: the same three, plus where its headset lives (paths), what
// hanging up a connected line means there (leave()), and no hold when it has none.
(function () {
  "use strict";
  const ol = window.openlineHeadset || window.openline;
  if (!ol || !document.getElementById("headset")) return;
  const paths = Object.assign({ headset: "/api/listener/headset", token: "/api/listener/voice-token" }, ol.paths);
  const canHold = !ol.paths || !!ol.paths.hold;
  const $ = (id) => document.getElementById(id);
  const DEVICES_KEY = "openline.headset.devices";
  const TITLE = document.title;
  const QUALITY_WORDS = {
    "high-rtt": "the line is slow (delay)", "low-mos": "the call sounds poor",
    "high-jitter": "the sound is choppy", "high-packet-loss": "sound is being lost",
    "high-packets-lost-fraction": "sound is being lost", "low-bytes-received": "no sound is arriving",
    "low-bytes-sent": "your microphone is not being heard", "constant-audio-input-level": "your microphone seems silent",
    "constant-audio-output-level": "no sound from the caller",
  };

  const view = { line: "idle", callId: null, muted: false, held: false, warnings: new Set(), busy: false };
  let headset = null;

  // ---- ringing: tone, title, notification ---------------------------------------------------

  const ringer = {
    ctx: null, timer: null, sinkId: "",
    context() {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      if (!this.ctx) this.ctx = new Ctx();
      if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
      return this.ctx;
    },
    burst(at) {
      // The UK ring: 400 + 450 Hz, twice 0.4 s with 0.2 s between.
      const ctx = this.ctx;
      const gain = ctx.createGain();
      gain.gain.value = 0;
      gain.connect(ctx.destination);
      for (const hz of [400, 450]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start(at);
        osc.stop(at + 1.0);
      }
      for (const start of [at, at + 0.6]) {
        gain.gain.setValueAtTime(0.12, start);
        gain.gain.setValueAtTime(0, start + 0.4);
      }
    },
    start() {
      if (this.timer) return;
      const ctx = this.context();
      if (!ctx) return;
      const ring = () => { try { this.burst(ctx.currentTime + 0.05); } catch (e) { /* audio not allowed yet */ } };
      ring();
      this.timer = setInterval(ring, 3000);
    },
    stop() { clearInterval(this.timer); this.timer = null; },
    async useSpeaker(id) {
      this.sinkId = id;
      if (this.ctx && this.ctx.setSinkId) { try { await this.ctx.setSinkId(id); } catch (e) { /* keep default */ } }
    },
  };
  // Browsers start audio only after the person has touched the page: unlock it on the first touch.
  const unlock = () => { ringer.context(); document.removeEventListener("pointerdown", unlock); document.removeEventListener("keydown", unlock); };
  document.addEventListener("pointerdown", unlock);
  document.addEventListener("keydown", unlock);

  let notice = null;
  function notify() {
    if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
    try { notice = new Notification("A caller is ringing", { body: "Openline: answer on your headset.", tag: "openline-ring" }); }
    catch (e) { notice = null; }
  }
  function drawNotifyOffer() {
    $("hs-notify").hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  // ---- drawing --------------------------------------------------------------------------------

  const STATUS = {
    idle: ol.idleWords || "Ready. When you take a caller, your headset rings here.",
    dialling: "Connecting to the caller…",
    ringing: ol.ringingWords || "A caller is ringing: answer when you are ready.",
    connected: ol.connectedWords || "You are with the caller.",
  };
  function draw() {
    const box = $("headset");
    const live = view.line === "connected";
    box.dataset.line = view.line;
    box.dataset.muted = String(view.muted);
    box.dataset.held = String(view.held);
    const controls = headset && headset.controls;
    $("headset-controls").hidden = !controls;
    $("hs-answer").disabled = view.busy || view.line !== "ringing";
    $("hs-decline").disabled = view.busy || view.line !== "ringing";
    $("hs-mute").disabled = view.busy || !live;
    $("hs-hold").disabled = view.busy || !live;
    $("hs-hold").hidden = !canHold;
    $("hs-hangup").disabled = view.busy || !(live || view.line === "ringing");
    $("hs-mute").setAttribute("aria-pressed", String(view.muted));
    $("hs-hold").setAttribute("aria-pressed", String(view.held));
    $("hs-mute-word").textContent = view.muted ? "Unmute" : "Mute";
    $("hs-hold-word").textContent = view.held ? "Take off hold" : "Hold";
    if (headset && headset.controls) {
      let text = STATUS[view.line] || STATUS.idle;
      if (live && view.held) text = "The caller is on hold and hears the hold music.";
      else if (live && view.muted) text = "You are muted: the caller cannot hear you.";
      $("headset-status").textContent = text;
    }
    const warn = $("headset-warning");
    const words = [...view.warnings].map((w) => QUALITY_WORDS[w] || w.replace(/-/g, " "));
    warn.hidden = !words.length;
    warn.textContent = words.length ? `Call quality: ${words.join("; ")}.` : "";
    const ringing = view.line === "ringing";
    document.title = ringing ? `Ringing · ${TITLE}` : TITLE;
    document.body.classList.toggle("headset-ringing", ringing);
    if (ringing) ringer.start(); else { ringer.stop(); if (notice) { notice.close(); notice = null; } }
  }

  function setLine(line, callId) {
    if (line === "ringing" && view.line === "connected" && callId === view.callId) return;  // a late callback
    const was = view.line;
    view.line = line;
    if (callId !== undefined) view.callId = callId;
    if (line !== "connected") { view.muted = false; view.held = false; view.warnings.clear(); }
    if (line === "ended") view.line = "idle";
    if (line === "ringing" && was !== "ringing") notify();
    draw();
  }

  function problem(text) { ol.say(text, "error"); }
  function plain(e) {
    const d = e && e.detail;
    if (typeof d === "string") return d.charAt(0).toUpperCase() + d.slice(1) + ".";
    return "The headset could not do that; try again.";
  }

  async function act(work) {
    if (view.busy) return;
    view.busy = true;
    draw();
    try { await work(); } catch (e) { problem(plain(e)); } finally { view.busy = false; draw(); }
  }

  // ---- devices (remembered in this browser) -------------------------------------------------

  function remembered() {
    try { return JSON.parse(localStorage.getItem(DEVICES_KEY) || "{}"); } catch (e) { return {}; }
  }
  function remember(kind, id) {
    const all = remembered();
    all[kind] = id;
    try { localStorage.setItem(DEVICES_KEY, JSON.stringify(all)); } catch (e) { /* private mode */ }
  }
  function fillSelect(select, devices, chosen, fallback) {
    const options = devices.map((d, i) => {
      const o = document.createElement("option");
      o.value = d.deviceId;
      o.textContent = d.label || `${fallback} ${i + 1}`;
      return o;
    });
    select.replaceChildren(...options);
    if (!options.length) {
      const o = document.createElement("option");
      o.value = "";
      o.textContent = `Default ${fallback.toLowerCase()}`;
      select.replaceChildren(o);
    }
    if (chosen && devices.some((d) => d.deviceId === chosen)) select.value = chosen;
  }
  async function browserDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return { inputs: [], outputs: [] };
    try {
      const all = await navigator.mediaDevices.enumerateDevices();
      return { inputs: all.filter((d) => d.kind === "audioinput"), outputs: all.filter((d) => d.kind === "audiooutput") };
    } catch (e) { return { inputs: [], outputs: [] }; }
  }
  async function drawDevices() {
    const lists = headset && headset.devices ? await headset.devices() : await browserDevices();
    const chosen = remembered();
    fillSelect($("hs-input"), lists.inputs, chosen.input, "Microphone");
    fillSelect($("hs-output"), lists.outputs, chosen.output, "Speaker");
    $("headset-devices").hidden = !(headset && headset.controls);
  }

  // ---- the kinds ------------------------------------------------------------------------------

  class PracticeHeadset {
    constructor(info) { this.info = info; this.controls = true; }
    start() {
      ol.onLive("headset", (d) => { if (d && d.state) setLine(d.state, d.call_id); });
      $("headset-kind").textContent = "Practice headset";
    }
    press(action) { return ol.api("POST", `${paths.headset}/${action}`); }
    async answer() { await this.press("answer"); }
    async decline() { await this.press("decline"); setLine("ended"); }
    async mute(on) { view.muted = (await this.press(on ? "mute" : "unmute")).muted; }
    async hangUp() { await this.press("hangup"); }
    callEnded() { /* the simulator ended this leg with the call */ }
    async useInput(id) { remember("input", id); }
    async useOutput(id) { remember("output", id); await ringer.useSpeaker(id); }
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(Object.assign(new Error("sdk"), { detail: "the browser headset could not be loaded" }));
      document.head.append(s);
    });
  }

  class TwilioHeadset {
    constructor(info) { this.info = info; this.controls = true; this.call = null; this.device = null; }
    async token() { return (await ol.api("GET", paths.token)).token; }
    async start() {
      $("headset-kind").textContent = "Browser headset";
      $("headset-status").textContent = "Starting your browser headset…";
      await loadScript(this.info.sdk_url);
      const device = this.device = new window.Twilio.Device(await this.token(), {
        closeProtection: "A caller may be on the line: leaving this page hangs up.",
        codecPreferences: ["opus", "pcmu"],
      });
      device.on("registered", () => { $("headset-status").textContent = STATUS.idle; });
      device.on("unregistered", () => { $("headset-status").textContent = "Your browser headset is offline."; });
      device.on("error", (err) => problem(`Headset problem: ${err.message || err}`));
      device.on("tokenWillExpire", async () => {
        try { device.updateToken(await this.token()); } catch (e) { problem("The headset's sign-in could not be renewed: reload the page."); }
      });
      device.on("incoming", (call) => this.incoming(call));
      device.audio.on("deviceChange", () => drawDevices());
      await device.register();
      const chosen = remembered();
      if (chosen.input) this.useInput(chosen.input).catch(() => {});
      if (chosen.output) this.useOutput(chosen.output).catch(() => {});
    }
    incoming(call) {
      this.call = call;
      const over = () => { if (this.call === call) { this.call = null; setLine("ended"); } };
      call.on("accept", () => setLine("connected"));
      call.on("disconnect", over);
      call.on("cancel", over);
      call.on("reject", over);
      call.on("mute", (muted) => { view.muted = muted; draw(); });
      call.on("warning", (name) => { view.warnings.add(name); draw(); });
      call.on("warning-cleared", (name) => { view.warnings.delete(name); draw(); });
      call.on("error", (err) => problem(`Call problem: ${err.message || err}`));
      setLine("ringing");
    }
    async answer() { if (this.call) this.call.accept(); }
    async decline() { if (this.call) this.call.reject(); }
    async mute(on) { if (this.call) this.call.mute(on); }
    async hangUp() { if (this.call) this.call.disconnect(); }
    callEnded() { if (this.call) this.call.disconnect(); }
    async devices() {
      const audio = this.device && this.device.audio;
      if (!audio) return browserDevices();
      return { inputs: [...audio.availableInputDevices.values()], outputs: [...audio.availableOutputDevices.values()] };
    }
    async useInput(id) { remember("input", id); if (this.device && id) await this.device.audio.setInputDevice(id); }
    async useOutput(id) {
      remember("output", id);
      const audio = this.device && this.device.audio;
      if (audio && id && audio.isOutputSelectionSupported) {
        await audio.speakerDevices.set(id);
        await audio.ringtoneDevices.set(id);
      }
    }
  }

  class PlainHeadset {
    // A desk phone rings by itself; an unavailable headset only explains.
    constructor(info) { this.info = info; this.controls = false; }
    start() {
      const desk = this.info.kind === "desk";
      $("headset-kind").textContent = desk ? "Desk phone" : "No headset";
      $("headset-status").textContent = desk
        ? `Your desk phone will ring (${this.info.dial_address}) when you take a caller.`
        : `The browser headset is not available: ${this.info.reason}.`;
      $("headset").classList.toggle("is-unavailable", !desk);
    }
  }

  // ---- hold (the server holds the caller in the conference) ---------------------------------

  async function hold(on) {
    const result = await ol.api("POST", paths.hold || "/api/listener/calls/current/hold", { hold: on });
    view.held = result.hold;
  }

  // ---- wiring -------------------------------------------------------------------------------

  const ACTIONS = {
    answer: () => act(() => headset.answer()),
    decline: () => act(() => headset.decline()),
    mute: () => act(() => headset.mute(!view.muted)),
    hold: () => act(() => (canHold ? hold(!view.held) : null)),
    hangup: () => act(async () => {
      if (view.line !== "connected") return headset.hangUp();
      // Hanging up ends the call for the caller too (with a partner on the line, only the
      // listener leaves): nobody is left on hold music, or told their listener's line dropped.
      // On the board it is the supervisor leaving the call they joined.
      if (ol.leave) await ol.leave(view.callId);
      else await ol.api("POST", "/api/listener/calls/current/end");
      view.held = false;
      headset.callEnded();
    }),
  };
  const KEYS = { u: "answer", d: "decline", m: "mute", h: "hold", x: "hangup" };
  $("hs-answer").addEventListener("click", ACTIONS.answer);
  $("hs-decline").addEventListener("click", ACTIONS.decline);
  $("hs-mute").addEventListener("click", ACTIONS.mute);
  $("hs-hold").addEventListener("click", ACTIONS.hold);
  $("hs-hangup").addEventListener("click", ACTIONS.hangup);
  $("hs-input").addEventListener("change", (e) => act(() => headset.useInput(e.target.value)));
  $("hs-output").addEventListener("change", (e) => act(() => headset.useOutput(e.target.value)));
  $("hs-notify").addEventListener("click", async () => {
    try { await Notification.requestPermission(); } catch (e) { /* the browser said no */ }
    drawNotifyOffer();
  });

  function typing(target) {
    const tag = target && target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return true;
    return tag === "INPUT" && !["checkbox", "radio", "button", "submit", "reset"].includes((target.type || "").toLowerCase());
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const shortcuts = $("shortcuts");
    if (shortcuts && shortcuts.open) return;
    const action = KEYS[event.key.toLowerCase()];
    if (!action || !headset || !headset.controls) return;
    event.preventDefault();
    ACTIONS[action]();
  });

  async function sync() {
    // A reload or a reconnected stream: the server says whether a caller is ringing or on.
    if (!(headset instanceof PracticeHeadset)) return;
    try {
      const info = await ol.api("GET", paths.headset);
      if (!info.state) return;  // the board's adapter reports the line itself
      setLine(info.state === "dialling" ? "dialling" : info.state, info.call_id);
    } catch (e) { /* the next live event redraws */ }
  }

  async function start() {
    let info;
    try { info = await ol.api("GET", paths.headset); } catch (e) {
      $("headset-status").textContent = "Your headset could not be checked: reload the page.";
      return;
    }
    const Kind = { twilio: TwilioHeadset, practice: PracticeHeadset }[info.kind] || PlainHeadset;
    headset = new Kind(info);
    try { await headset.start(); } catch (e) {
      problem(plain(e));
      headset = new PlainHeadset({ kind: "unavailable", reason: "it could not start; ask for a desk phone or practice mode" });
      headset.start();
    }
    if (headset.controls) {
      setLine(!info.state || info.state === "idle" ? "idle" : info.state, info.call_id);
      ol.onLive("hello", sync);
      ol.onLive("session.ended", () => { if (view.line !== "idle" && !(headset instanceof TwilioHeadset)) sync(); });
    }
    drawNotifyOffer();
    draw();
    drawDevices();
  }

  start();
})();
