import pytest

from transfers.tickets.states import (
    TRANSITIONS,
    TicketAction,
    TicketState,
    TicketStateError,
    allowed_actions,
    next_state,
)

S, A = TicketState, TicketAction
DRAWN = {  # DESIGN.md's drawing, written out independently of the module's table
    ("requested", "accept"): "accepted",
    ("accepted", "confirm_contact"): "in-progress",
    ("in-progress", "complete"): "completed",
    ("requested", "reject"): "rejected",
    ("accepted", "attempt_failed"): "on-hold",
    ("on-hold", "confirm_contact"): "in-progress",
    ("on-hold", "give_up"): "failed",
    ("requested", "cancel"): "cancelled",
    ("accepted", "cancel"): "cancelled",
    ("on-hold", "cancel"): "cancelled",
    ("on-hold", "attempt_failed"): "on-hold",
}
ALL_PAIRS = [(s.value, a.value) for s in TicketState for a in TicketAction]


@pytest.mark.parametrize("state,action", ALL_PAIRS)
def test_every_pair_is_allowed_exactly_as_drawn(state, action):
    if (state, action) in DRAWN:
        assert next_state(state, action) == DRAWN[(state, action)]
    else:
        with pytest.raises(TicketStateError) as err:
            next_state(state, action)
        assert err.value.status_code == 409 and f"is {state}" in err.value.detail


def test_the_table_has_nothing_more_than_the_drawing():
    assert {(s.value, a.value): t.value for (s, a), t in TRANSITIONS.items()} == DRAWN


def test_closed_tickets_allow_nothing():
    for state in ("rejected", "failed", "completed", "cancelled"):
        assert allowed_actions(state) == ()


def test_unknown_action_is_a_conflict_not_a_crash():
    with pytest.raises(TicketStateError, match="is requested"):
        next_state("requested", "teleport")
