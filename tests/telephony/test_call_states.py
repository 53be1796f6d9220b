"""The call state table: every allowed move, and what it does to the listener (pure)."""

import pytest

from telephony.call_states import CALL_MOVES, CALL_STATES, CallMove, ListenerChange, next_step


@pytest.mark.parametrize(
    ("state", "move", "to", "listener"),
    [
        ("waiting", CallMove.claim, "claimed", ListenerChange.hold),
        ("claimed", CallMove.answer, "connected", ListenerChange.on_call),
        ("claimed", CallMove.hand_back, "waiting", ListenerChange.free),
        ("waiting", CallMove.overflow, "voicemail", None),
        ("connected", CallMove.rescue, "voicemail", None),
        ("waiting", CallMove.end, "ended", None),
        ("claimed", CallMove.end, "ended", ListenerChange.free),
        ("connected", CallMove.end, "ended", ListenerChange.wrap_up),
        ("voicemail", CallMove.end, "ended", ListenerChange.free),
    ],
)
def test_each_allowed_move(state, move, to, listener):
    assert next_step(state, move) == (to, listener)


def test_nothing_else_is_allowed():
    allowed = set(CALL_MOVES)
    refused = [(s, m) for s in CALL_STATES for m in CallMove if (s, m) not in allowed]
    assert all(next_step(s, m) is None for s, m in refused)
    assert all(next_step("ended", m) is None for m in CallMove)  # an ended call never moves again
    assert next_step("connected", CallMove.claim) is None  # a caller on the line is never taken twice
    assert next_step("waiting", CallMove.answer) is None  # nobody answers a caller nobody took
