"""The browser headset's wiring on /listener, against a stand-in for Twilio's Voice SDK that has
the SDK's interface (Device: register, updateToken, audio, events; Call: accept, reject, mute,
disconnect, events). The real SDK would open a connection to Twilio, which tests never do."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from telephony.headset import SDK_DIST
from tests.browser.conftest import sign_in_at
from tests.servers import serving
from tests.telephony.conftest import calls, simulator_for

WAIT = 10_000
KEYS = dict(twilio_api_key_sid="SK" + "2" * 32, twilio_api_key_secret="k" * 32, twilio_twiml_app_sid="AP" + "3" * 32)
STAND_IN = """
(function () {
  class Emitter {
    constructor() { this.handlers = {}; }
    on(name, fn) { (this.handlers[name] = this.handlers[name] || []).push(fn); return this; }
    emit(name, ...args) { for (const fn of this.handlers[name] || []) fn(...args); }
  }
  class Call extends Emitter {
    constructor() { super(); this.log = []; }
    accept() { this.log.push("accept"); this.emit("accept", this); }
    reject() { this.log.push("reject"); this.emit("reject"); }
    mute(on) { this.log.push(on ? "mute" : "unmute"); this.emit("mute", on, this); }
    disconnect() { this.log.push("disconnect"); this.emit("disconnect", this); }
  }
  class Device extends Emitter {
    constructor(token, options) {
      super();
      window.__sdk = { device: this, tokens: [token], options, calls: [], inputs: [], speakers: [] };
      const devices = new Map([["mic-1", { deviceId: "mic-1", label: "Laptop microphone" }],
                               ["mic-2", { deviceId: "mic-2", label: "Jabra headset" }]]);
      const outputs = new Map([["spk-1", { deviceId: "spk-1", label: "Jabra headset" }]]);
      const audio = new Emitter();
      Object.assign(audio, {
        availableInputDevices: devices, availableOutputDevices: outputs, isOutputSelectionSupported: true,
        setInputDevice: async (id) => { window.__sdk.inputs.push(id); },
        speakerDevices: { set: async (id) => { window.__sdk.speakers.push(id); } },
        ringtoneDevices: { set: async () => {} },
      });
      this.audio = audio;
    }
    async register() { this.emit("registered"); }
    updateToken(token) { window.__sdk.tokens.push(token); }
    ring() { const call = new Call(); window.__sdk.calls.push(call); this.emit("incoming", call); return call; }
  }
  window.Twilio = { Device };
})();
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_browser_headset_rings_answers_mutes_warns_holds_and_hangs_up(make_harness, browser, tmp_path):
    sdk = tmp_path / "node_modules" / SDK_DIST
    sdk.parent.mkdir(parents=True)
    sdk.write_text(STAND_IN)
    harness = await make_harness(public_url="http://127.0.0.1", node_modules_dir=str(tmp_path / "node_modules"), **KEYS)
    await harness.add_user("sam", "listener")
    sim = simulator_for(harness)
    async with serving(harness.app) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console: {msg.text}")
                if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                else None
            ),
        )
        headset = page.locator("#headset")
        try:
            await sign_in_at(page, base, "/listener", "sam")
            await expect(page.locator("#headset-kind")).to_have_text("Browser headset", timeout=WAIT)
            await expect(page.locator("#headset-status")).to_contain_text("Ready")
            assert await page.evaluate("window.__sdk.tokens[0].split('.').length") == 3

            caller = sim.caller("+447700900777")
            await caller.arrive()
            await sim.deliver()
            async with page.expect_response("**/api/listener/calls/next"):
                await page.keyboard.press("n")
            await sim.deliver()
            [call] = await calls(harness)
            assert call.queue_state == "connected"

            # The SDK's incoming call rings the page; U answers it.
            await page.evaluate("window.__sdk.device.ring()")
            await expect(headset).to_have_attribute("data-line", "ringing", timeout=WAIT)
            await expect(page).to_have_title("Ringing · Listener · Openline")
            await page.keyboard.press("u")
            await expect(headset).to_have_attribute("data-line", "connected", timeout=WAIT)
            await page.keyboard.press("m")
            await expect(page.locator("#hs-mute")).to_have_attribute("aria-pressed", "true")
            assert await page.evaluate("window.__sdk.calls[0].log") == ["accept", "mute"]

            # Call-quality warnings from the SDK are shown, and go when cleared.
            await page.evaluate("window.__sdk.calls[0].emit('warning', 'high-rtt')")
            await expect(page.locator("#headset-warning")).to_contain_text("delay")
            await page.evaluate("window.__sdk.calls[0].emit('warning-cleared', 'high-rtt')")
            await expect(page.locator("#headset-warning")).to_be_hidden()

            # Hold is the server's: the caller is held in the conference (by its CF SID).
            await page.keyboard.press("h")
            await expect(page.locator("#hs-hold")).to_have_attribute("aria-pressed", "true", timeout=WAIT)
            assert sim.conferences[call.conference_name].participants[caller.sid].hold is True
            assert f"/Conferences/{call.conference_sid}/" in sim.rest_requests[-1]["path"]

            # The token is renewed before it expires; the microphone choice is remembered.
            await page.evaluate("window.__sdk.device.emit('tokenWillExpire')")
            await page.wait_for_function("window.__sdk.tokens.length === 2")
            await page.locator("summary", has_text="Microphone and speaker").click()
            await page.get_by_label("Microphone").select_option("mic-2")
            await page.wait_for_function("window.__sdk.inputs.includes('mic-2')")
            assert "mic-2" in await page.evaluate("localStorage.getItem('openline.headset.devices')")

            # Hanging up while the caller is held ends the call for them too: no music on an empty line.
            await page.keyboard.press("x")
            await expect(headset).to_have_attribute("data-line", "idle", timeout=WAIT)
            assert await page.evaluate("window.__sdk.calls[0].log.at(-1)") == "disconnect"
            assert sim.calls[caller.sid].ended and caller.sid not in sim.conferences[call.conference_name].participants
            assert problems == []
        finally:
            await context.close()
            await sim.close()
