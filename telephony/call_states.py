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

from datetime import datetime
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
# Twilio's own call status, beside the flow above: where it ends, and (without a SequenceNumber)
# the order it only moves forward along.
# A call that ends without ever being answered ends in one of these: for a dialled leg (listener
# or partner), the news that they will not join.
NEVER_ANSWERED = ("busy", "failed", "no-answer", "canceled")
FINAL_CALL_STATUSES = ("completed", *NEVER_ANSWERED)
STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3}
LIVE_STATES = ("waiting", "claimed", "connected", "voicemail")


def status_advances(current: str, current_sequence: int, status: str, sequence: int | None) -> bool:
    """Whether Twilio's ``status`` (numbered ``sequence``, if it was) moves a call on from
    ``current``: nothing moves a finished call; a numbered status must be newer than the last
    applied; an unnumbered one must lie further along (a final status always does)."""
    if current in FINAL_CALL_STATUSES:
        return False
    if sequence is not None:
        return sequence > current_sequence
    return status in FINAL_CALL_STATUSES or STATUS_RANK.get(status, 0) > STATUS_RANK.get(current, 0)


def next_step(state: str, move: CallMove) -> Step | None:
    """The step ``move`` takes from ``state``; None when it is not allowed from there."""
    return CALL_MOVES.get((state, move))


class EndedBy(StrEnum):
    """Who ended a call, as the listener's tonight list and the board say it."""

    caller = "caller"  # hung up
    listener = "listener"  # ended it from their page
    transfer = "transfer"  # left a partner or crisis worker with the caller (a warm transfer)
    dropped = "dropped"  # a line was lost: the listener's leg left on its own, or the caller's failed
    voicemail = "voicemail"  # ended at the voicemail prompt (a message, or hanging up there)
    system = "system"  # closed by reconciliation: Twilio had finished it without telling us


ENDED_BY = tuple(e.value for e in EndedBy)


class Leg(NamedTuple):
    """One leg in the caller's conference, as the conference events left it."""

    role: str
    joined_at: datetime | None
    left_at: datetime | None


class CallEnd(NamedTuple):
    was: str  # the call's state when it ended
    caller_status: str  # Twilio's final status of the caller's own call
    legs: tuple[Leg, ...] = ()
    closed_by: EndedBy | None = None  # the end button or reconciliation, which know who they are
    before_voicemail: bool = False  # hung up while still waiting, before voicemail reached them


def left_with(legs: tuple[Leg, ...], role: str) -> bool:
    """The listener left while someone in ``role`` was on with the caller. Times are compared
    inclusively: events applied in one instant still count as overlapping."""
    listener_left = [leg.left_at for leg in legs if leg.role == "listener" and leg.left_at is not None]
    if not listener_left:
        return False
    left = max(listener_left)
    return any(
        leg.role == role
        and leg.joined_at is not None
        and leg.joined_at <= left
        and (leg.left_at is None or leg.left_at >= left)
        for leg in legs
    )


def who_ended(end: CallEnd) -> EndedBy:
    """Pure: who ended a call, from how it ended and the conference legs applied in sequence order
    (so a duplicate or out-of-order event cannot change the answer)."""
    if end.closed_by is not None:
        return end.closed_by
    if left_with(end.legs, "partner"):
        return EndedBy.transfer
    if left_with(end.legs, "supervisor"):
        return EndedBy.listener  # they left the caller with a supervisor who had joined
    if end.before_voicemail:
        return EndedBy.caller
    if any(leg.role == "listener" and leg.left_at is not None for leg in end.legs):
        # The deliberate way off a call is the end button (closed_by); a listener's leg leaving
        # the caller on their own was their line dropping.
        return EndedBy.dropped
    if end.was == "voicemail":
        return EndedBy.voicemail
    if end.caller_status == "failed":
        return EndedBy.dropped
    return EndedBy.caller
