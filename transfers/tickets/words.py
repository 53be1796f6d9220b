"""What happens next to a caller whose warm transfer ended without a handover, in one sentence:
the one source of these words for the partner who declined, the listener and the helpline, so
all of them read what actually happened (re-routed to which service, or back with the team)."""

from __future__ import annotations

from transfers.tickets.states import HELPED, NOT_HELPED

# What each amendable field is called on the helpline's and the partner's screens.
AMENDED_FIELDS = {
    "detail": "a new detail",
    "preferred_times": "when to reach them",
    "contact_method": "how to reach them",
    "contact_number": "the number to ring",
}


def outcome_words(code: str | None) -> str | None:
    """Pure. A coded outcome (states.OUTCOME_CODES) in the helpline's words; None before one is recorded."""
    if code is None:
        return None
    return HELPED.get(code) or NOT_HELPED.get(code) or code.replace("-", " ")


def _because(reason: str | None) -> str:
    text = (reason or "").strip().rstrip(".").strip()
    return f": {text}" if text else ""


def what_next(status: str, *, reason: str | None, rerouted_to: str | None) -> str | None:
    """Pure. None while the ticket is still with its partner or the handover was confirmed."""
    if status == "rejected" and rerouted_to:
        return f"Declined{_because(reason)}. The caller has been re-routed to {rerouted_to}."
    if status == "rejected":
        return f"Declined{_because(reason)}. The caller is back with the helpline team, who will choose another service with them."
    if status == "failed":
        return f"The partner could not reach the caller{_because(reason)}. The caller is back with the helpline team's follow-ups."
    if status == "cancelled":
        return f"Cancelled by the helpline{_because(reason)}. Please do not contact the caller."
    return None
