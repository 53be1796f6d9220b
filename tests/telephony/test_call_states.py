"""The call state table: every allowed move, and what it does to the listener (pure)."""

import pytest

from telephony.call_states import CALL_MOVES, CALL_STATES, CallMove, ListenerChange, next_step, status_advances


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


@pytest.mark.parametrize(
    ("current", "current_sequence", "status", "sequence", "moves"),
    [
        ("ringing", -1, "in-progress", None, True),  # the caller joined their room
        ("in-progress", -1, "ringing", None, False),  # never backwards without a number
        ("in-progress", -1, "in-progress", None, False),  # a second join changes nothing
        ("in-progress", -1, "completed", 0, True),  # the end, numbered 0 (the only callback)
        ("completed", 0, "in-progress", None, False),  # a join delivered after the end
        ("completed", 0, "completed", 1, False),  # nothing moves a finished call
        ("ringing", 2, "in-progress", 1, False),  # a numbered status older than the last one
        ("ringing", 1, "no-answer", None, True),  # a final status always lies further along
    ],
)
def test_twilio_s_call_status_only_moves_forward(current, current_sequence, status, sequence, moves):
    assert status_advances(current, current_sequence, status, sequence) is moves
