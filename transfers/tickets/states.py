"""The warm-transfer ticket state machine (FHIR R4 Task.status words), in one table.

requested --accept--> accepted --confirm_contact--> in-progress --complete--> completed
requested --reject(reason)--> rejected
accepted  --attempt_failed--> on-hold --confirm_contact--> in-progress
on-hold   --give_up(reason)--> failed
requested|accepted|on-hold --cancel(reason)--> cancelled
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from app.core.errors import Conflict, PreconditionFailed


class TicketState(StrEnum):
    requested = "requested"
    accepted = "accepted"
    rejected = "rejected"
    in_progress = "in-progress"
    on_hold = "on-hold"
    failed = "failed"
    completed = "completed"
    cancelled = "cancelled"


class TicketAction(StrEnum):
    accept = "accept"
    reject = "reject"
    attempt_failed = "attempt_failed"
    confirm_contact = "confirm_contact"
    complete = "complete"
    give_up = "give_up"
    cancel = "cancel"


S, A = TicketState, TicketAction

# The only place transitions live.
TRANSITIONS: dict[tuple[TicketState, TicketAction], TicketState] = {
    (S.requested, A.accept): S.accepted,
    (S.requested, A.reject): S.rejected,
    (S.requested, A.cancel): S.cancelled,
    (S.accepted, A.confirm_contact): S.in_progress,
    (S.accepted, A.attempt_failed): S.on_hold,
    (S.accepted, A.cancel): S.cancelled,
    (S.on_hold, A.confirm_contact): S.in_progress,
    # A partner keeps trying: each further failed attempt is recorded and the ticket stays on hold.
    (S.on_hold, A.attempt_failed): S.on_hold,
    (S.on_hold, A.give_up): S.failed,
    (S.on_hold, A.cancel): S.cancelled,
    (S.in_progress, A.complete): S.completed,
}

PARTNER_ACTIONS = frozenset({A.accept, A.reject, A.attempt_failed, A.confirm_contact, A.complete, A.give_up})
HELPLINE_ACTIONS = frozenset({A.cancel})
REASON_REQUIRED = frozenset({A.reject, A.give_up, A.cancel})
# Until the handover is confirmed the helpline still owns the caller.
OPEN_STATES = frozenset({S.requested, S.accepted, S.on_hold})
ACTIVE_STATES = OPEN_STATES | {S.in_progress}
TERMINAL_STATES = frozenset({S.rejected, S.failed, S.completed, S.cancelled})

# Coded outcomes beside the free text, so the reports can say what share went on to ongoing
# support and why warm transfers did not go through. Code -> the helpline's words for it.
HELPED = {
    "ongoing-support": "Ongoing support",
    "one-off-intervention": "One-off intervention",
    "peer-support": "Text or online peer support",
}
NOT_HELPED = {
    "could-not-contact": "Could not contact",
    "no-capacity": "No capacity",
    "not-eligible": "Not eligible",
    "did-not-attend": "Did not attend",
    "caller-declined": "Caller declined",
    "referred-elsewhere": "Referred elsewhere",
}
OUTCOME_CODES: dict[TicketAction, dict[str, str]] = {A.complete: HELPED, A.reject: NOT_HELPED, A.give_up: NOT_HELPED}


class TicketStateError(Conflict):
    """409 naming the ticket's current state (and what may be done now), so a client can show
    what happened instead."""

    error = "invalid_transition"

    def __init__(self, detail: str, *, state: str, allowed: list[str] | None = None):
        super().__init__(detail)
        self.state = state
        self.allowed = allowed

    def body(self) -> dict[str, object]:
        extra = {} if self.allowed is None else {"allowed": self.allowed}
        return super().body() | {"state": self.state} | extra


class VersionChanged(PreconditionFailed):
    """412 naming the ticket's version now: it changed since the actor read it (If-Match)."""

    error = "version_changed"

    def __init__(self, current: int, expected: int):
        super().__init__(
            f"the ticket has changed since you read it (version {expected}; it is now {current}): read it again"
        )
        self.version = current

    def body(self) -> dict[str, object]:
        return super().body() | {"version": self.version}


def allowed_actions(state: str) -> tuple[TicketAction, ...]:
    return tuple(action for action in TicketAction if (TicketState(state), action) in TRANSITIONS)


def next_state(state: str, action: str, *, names: Mapping[TicketAction, str] | None = None) -> TicketState:
    """The state ``action`` leads to. ``names`` are the caller's own words for the actions it may
    take (a partner's API paths, say): a 409 then lists only those, in those words."""
    try:
        key = (TicketState(state), TicketAction(action))
    except ValueError:
        raise TicketStateError(f"cannot {action} a ticket that is {state}", state=state) from None
    if key not in TRANSITIONS:
        actions = allowed_actions(state)
        allowed = [names[a] for a in actions if a in names] if names is not None else [str(a) for a in actions]
        word = names.get(key[1], str(action)) if names is not None else str(action)
        listed = ", ".join(allowed) or "nothing: it is closed"
        raise TicketStateError(
            f"cannot {word} a ticket that is {state} (allowed now: {listed})", state=state, allowed=allowed
        )
    return TRANSITIONS[key]
