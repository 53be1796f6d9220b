"""Where a call is in the helpline's flow, and every move it may make: the only place they live.

Like ``transfers/tickets/states.py`` for tickets. Each (state, move) pair names the state it leads to
and what it does to the listener holding the call, so the presence change is decided where the
move is, never separately:

```
waiting   --claim-->      claimed    (the listener is tied to the caller: one caller at a time)
claimed   --answer-->     connected  (the listener is on a call)
claimed   --hand_back-->  waiting    (their line did not connect: the listener is free again)
waiting   --overflow-->   voicemail  (waited too long: offered a message)
connected --rescue-->     voicemail  (left alone on the line: offered a message)
waiting|claimed|connected|voicemail --end--> ended
                          (from connected the listener goes into wrap-up; from claimed, free)
```

A call first arrives ``waiting`` (or ``voicemail`` while the line is closed). Pure: no database.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class CallMove(StrEnum):
    claim = "claim"
    answer = "answer"
    hand_back = "hand_back"
    overflow = "overflow"
    rescue = "rescue"
    end = "end"


class ListenerChange(StrEnum):
    """What a move does to the listener holding the call."""

    hold = "hold"  # tied to this caller (refused if they already hold another)
    on_call = "on-call"  # on the line with them
    wrap_up = "wrap-up"  # off the call, writing it up
    free = "free"  # off the call, their own presence kept


class Step(NamedTuple):
    to: str
    listener: ListenerChange | None


CALL_MOVES: dict[tuple[str, CallMove], Step] = {
    ("waiting", CallMove.claim): Step("claimed", ListenerChange.hold),
    ("claimed", CallMove.answer): Step("connected", ListenerChange.on_call),
    ("claimed", CallMove.hand_back): Step("waiting", ListenerChange.free),
    ("waiting", CallMove.overflow): Step("voicemail", None),
    ("connected", CallMove.rescue): Step("voicemail", None),
    ("waiting", CallMove.end): Step("ended", None),
    ("claimed", CallMove.end): Step("ended", ListenerChange.free),
    ("connected", CallMove.end): Step("ended", ListenerChange.wrap_up),
    ("voicemail", CallMove.end): Step("ended", ListenerChange.free),
}
CALL_STATES = ("waiting", "claimed", "connected", "voicemail", "ended")
LIVE_STATES = ("waiting", "claimed", "connected", "voicemail")


def next_step(state: str, move: CallMove) -> Step | None:
    """The step ``move`` takes from ``state``; None when it is not allowed from there."""
    return CALL_MOVES.get((state, move))
