"""A simulated person ringing the line: what they do, in the order Twilio would report it."""

from __future__ import annotations

from email.utils import format_datetime
from typing import TYPE_CHECKING

from telephony.simulator.resources import recording_json
from telephony.simulator.rooms import new_sid
from telephony.simulator.twilio_world import CALLER_STATUS_EVENTS, Outgoing, SimCall

if TYPE_CHECKING:
    from telephony.simulator.twilio_world import SimulatedTwilio


class SimulatedCaller:
    def __init__(self, sim: "SimulatedTwilio", number: str, line: str):
        self.sim = sim
        self.number = number
        self.line = line
        self.call: SimCall | None = None

    @property
    def sid(self) -> str:
        assert self.call is not None, "the caller has not rung yet"
        return self.call.sid

    @property
    def heard(self) -> list[str]:
        return self.call.heard if self.call else []

    @property
    def state(self) -> str:
        """new, waiting (on hold in their conference), connected, recording, or ended."""
        call = self.call
        if call is None:
            return "new"
        if call.ended:
            return "ended"
        if call.record_action:
            return "recording"
        conference = self.sim.conferences.get(call.conference or "")
        if conference is not None:
            return "connected" if conference.started else "waiting"
        return "ringing"

    async def arrive(self) -> str:
        """Ring the line: Twilio requests the voice URL (the fallback URL if that fails) and plays
        the answer; the status callbacks it owes go to the outbox."""
        sim = self.sim
        call = self.call = SimCall(
            new_sid("CA"),
            self.number,
            self.line,
            "inbound",
            status="ringing",
            status_callback=sim.status_url,
            status_events=CALLER_STATUS_EVENTS,
            created=sim.now(),
        )
        sim.calls[call.sid] = call
        sim.queue_status(call, "ringing")
        sent = await sim.post(Outgoing(sim.voice_url, sim.call_params(call, CallStatus="ringing"), call.sid))
        if sent.status >= 400 or sent.status == 0:
            sent = await sim.post(
                Outgoing(
                    sim.fallback_url,
                    sim.call_params(call, CallStatus="ringing", ErrorCode="11200", ErrorUrl=sim.voice_url),
                    call.sid,
                )
            )
        if 200 <= sent.status < 300:
            sim.queue_status(call, "in-progress")
        sim.follow(call, sent, kind="voice")
        return sent.body

    async def hear_hold_music(self) -> str:
        """Let the hold document play out. Twilio asked the wait URL once, when the caller began
        to wait; it asks again only where that document ended in ``<Redirect>`` (to that URL, with
        the verb's method), and a ``<Play loop="0">`` plays on. Returns what the caller heard next:
        the redirected document's TwiML, the looping music, or "" (silence, the document ran out)."""
        call = self.call
        assert call is not None and self.state == "waiting", "not waiting in a conference"
        after = call.hold_next
        if after is None:
            return ""
        if after.loop:
            call.heard.append(after.loop)
            return after.loop
        sent = await self.sim.post(Outgoing(after.url or "", self.sim.call_params(call), call.sid, method=after.method))
        self.sim.follow(call, sent, kind="wait")
        return sent.body

    async def leave_message(self, seconds: int = 20) -> str:
        """Speak after the tone, then stop: Twilio posts the Record action (and, later, the
        recording status callback) and plays what the action answers."""
        sim, call = self.sim, self.call
        assert call is not None and call.record_action, "not at a voicemail prompt"
        recording_sid = new_sid("RE")
        sim.recordings[recording_sid] = recording_json(sim, recording_sid, call.sid, seconds)
        recording = dict(
            RecordingSid=recording_sid,
            RecordingDuration=str(seconds),
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{sim.account_sid}/Recordings/{recording_sid}",
        )
        if call.recording_callback:
            sim.enqueue(
                Outgoing(
                    call.recording_callback,
                    dict(
                        AccountSid=sim.account_sid,
                        CallSid=call.sid,
                        RecordingStatus="completed",
                        RecordingChannels="1",
                        RecordingSource="RecordVerb",
                        RecordingStartTime=format_datetime(sim.now(), usegmt=True),
                        **recording,
                    ),
                    call.sid,
                )
            )
        action, call.record_action = call.record_action, None
        sent = await sim.post(Outgoing(action, sim.call_params(call, Digits="#", **recording), call.sid))
        sim.follow(call, sent, kind="voice")
        return sent.body

    @property
    def asked(self) -> bool:
        """Whether a ``<Gather>`` is waiting for the caller's keys."""
        return self.call is not None and self.call.gather is not None and not self.call.ended

    async def press(self, keys: str) -> str:
        """Press keys at a ``<Gather>``: Twilio stops at ``numDigits`` or the ``finishOnKey`` (not
        sent), posts ``Digits`` to the action with the action's method, and plays the answer."""
        sim, call = self.sim, self.call
        assert call is not None and call.gather is not None, "nothing is asking for keys"
        gather, call.gather = call.gather, None
        digits, finished = "", ""
        for key in keys:
            if gather.finish_on_key and key == gather.finish_on_key:
                finished = key
                break
            digits += key
            if gather.num_digits is not None and len(digits) >= gather.num_digits:
                break
        if not digits and finished:
            # Only the finish key: Twilio treats it as no input and goes on to the next verb.
            sim.play(call, gather.after)
            return ""
        params = sim.call_params(call, Digits=digits, FinishedOnKey=finished)
        sent = await sim.post(Outgoing(gather.action, params, call.sid, method=gather.method))
        sim.follow(call, sent, kind="voice")
        return sent.body

    async def stay_silent(self) -> None:
        """Press nothing: after the timeout Twilio plays the verbs after the ``<Gather>`` (it does
        not request the action)."""
        call = self.call
        assert call is not None and call.gather is not None, "nothing is asking for keys"
        gather, call.gather = call.gather, None
        self.sim.play(call, gather.after)
        await self.sim.deliver()

    async def hang_up(self) -> None:
        assert self.call is not None
        self.call.record_action = None
        self.call.gather = None
        self.sim.end_call(self.call, "completed")
