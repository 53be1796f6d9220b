"""A fake Twilio for tests, the demo and practice mode.

* ``Simulator``: the simulated Twilio account. ``sim.app`` is its REST API (an ASGI app); point
  the app's REST client at it with ``connect(runtime, sim)`` (in-process) or
  ``OPENLINE_TWILIO_API_BASE`` (over HTTP). Webhooks go to the app at ``OPENLINE_PUBLIC_URL``,
  through ``webhook_transport`` when given (``httpx.ASGITransport(app=...)`` in tests).
* It is a strict twin: every REST request is checked against Twilio's published definition
  (``spec``, the extract ``twilio_api_v2010.json``) and Twilio's other rules (``From`` must be
  one of ``owned_numbers``; participant updates take the conference SID), and refused in
  Twilio's error shape otherwise.
* ``sim.caller(number)`` gives a ``SimulatedCaller`` with ``arrive()``, ``hear_hold_music()``,
  ``leave_message()`` and ``hang_up()``; ``sim.deliver(duplicate=, shuffle=, chaos=)`` sends the
  callbacks those (and the app's REST calls) led to. ``sim.drop(call_sid)`` drops a leg
  mid-call; ``busy``, ``failing``, ``unanswered`` and ``slow_to_answer`` are targets whose legs do
  so; ``sim.can_hear(listener, speaker)`` says who hears whom; ``sim.errors`` what Twilio's
  debugger would show.
* ``run_simulator(...)`` (``openline simulate``) serves the REST API on a port and, in practice
  mode, has callers ring now and then so the queue moves.
"""

from __future__ import annotations

from typing import Any

import httpx

from app.core.clock import Clock
from app.core.runtime import Runtime
from app.core.settings import Settings
from telephony.provider import use_transport
from telephony.simulator.callers import SimulatedCaller
from telephony.simulator.rest import answer_ringing, build_rest_app
from telephony.simulator.spec import TwilioError
from telephony.simulator.twilio_world import LINE_NUMBER, SILENCE, Outgoing, Sent, SimCall, SimulatedTwilio

__all__ = [
    "LINE_NUMBER",
    "SILENCE",
    "Outgoing",
    "Sent",
    "SimCall",
    "SimulatedCaller",
    "Simulator",
    "TwilioError",
    "connect",
]


class Simulator(SimulatedTwilio):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.app = build_rest_app(self)
        self._numbers = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None, **kwargs: Any) -> "Simulator":
        """The simulator for the Twilio account and public URL an Openline is configured with."""
        return cls(**(cls.settings_kwargs(settings) | kwargs), clock=clock)

    def answer_ringing(self) -> None:
        """Legs ringing a ``slow_to_answer`` target are answered now."""
        answer_ringing(self)

    def caller(self, number: str | None = None, *, line: str = LINE_NUMBER) -> SimulatedCaller:
        if number is None:
            self._numbers += 1
            number = f"+4477009{self._numbers:05d}"
        return SimulatedCaller(self, number, line)


def connect(runtime: Runtime, sim: Simulator) -> None:
    """Send the runtime's Twilio REST calls to the simulator, in-process."""
    use_transport(runtime, httpx.ASGITransport(app=sim.app))
