"""The listener API's answers: support sessions, the call card, the call log, suggestions and the
helpline's view of its warm transfers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.responses import Timestamp
from transfers.tickets.schemas import AmendmentOut, TicketEventOut, TicketStatusOut


class SessionOut(BaseModel):
    """A support session with the server's times, so a reloaded page draws the same countdown."""

    id: int
    call_id: int | None
    listener_id: int
    started_at: Timestamp
    warning_at: Timestamp
    due_at: Timestamp
    ended_at: Timestamp | None
    overrun_seconds: int
    overrunning: bool
    ended_by: str | None = Field(
        None, description="Who ended the call: caller, listener, transfer, dropped, voicemail or system"
    )
    now: Timestamp


class CallerOnCard(BaseModel):
    number: str = Field(description="Masked, or withheld")
    withheld: bool


class CallCardOut(SessionOut):
    caller: CallerOnCard
    callback: bool = Field(description="A ring-back to someone who left a message")
    log_recorded: bool
    survey: str = Field(
        "not-asked",
        description="The caller's consent to the survey after the call: not-asked, declined, keypad "
        "or text (only the consent: never their answers)",
    )


class SurveyConsentOut(BaseModel):
    survey: str = Field(description="not-asked, declined, keypad (straight after the call) or text (tomorrow)")


class EarlierContactOut(BaseModel):
    at: Timestamp
    answered: bool
    listener: str | None
    title: str | None
    outcome: str | None


class OpenTransferOut(BaseModel):
    ticket_id: int
    status: str
    service: str
    created_at: Timestamp


class RepeatCallerOut(BaseModel):
    matched: bool
    withheld: bool
    earlier_contacts: int
    contacts: list[EarlierContactOut]
    open_transfers: list[OpenTransferOut]


class TransferBriefOut(BaseModel):
    ticket_id: int
    status: str
    service: str
    status_reason: str | None = Field(description="Why it was declined, given up or cancelled, in the partner's words")
    outcome_code: str | None = None
    outcome_words: str | None = Field(None, description="The coded outcome in the helpline's words")
    taken_back: bool = Field(False, description="The caller came back to the helpline team's follow-ups")
    what_next: str | None


class TonightCallOut(BaseModel):
    session_id: int
    started_at: Timestamp
    ended_at: Timestamp | None
    minutes: int
    overrun_seconds: int
    caller: str = Field(description="Masked, or withheld")
    title: str | None
    outcome: str | None
    log_recorded: bool
    transfer: TransferBriefOut | None = Field(description="The call's latest warm transfer (kept for older pages)")
    transfers: list[TransferBriefOut] = Field(description="Every warm transfer of the call, oldest first")
    ended_by: str | None = Field(
        description="Who ended the call: caller, listener, transfer, dropped, voicemail or system"
    )


class LogRevisionOut(BaseModel):
    revision: int
    at: Timestamp
    by: int
    reason: str | None


class CallLogOut(BaseModel):
    contact_type: str
    needs: list[str]
    risk_level: str
    consent_to_share: bool
    consent_covers: str | None
    sms_consent: bool
    title: str
    outcome: str | None
    revision: int
    summary: str | None
    notes: str | None
    history: list[LogRevisionOut]
    emergency_protocol: str | None = Field(None, description="Only at immediate risk: what to do now")


class SuggestionOut(BaseModel):
    service_id: int
    name: str
    organisation: str
    rank: int
    reasons: list[str]
    open_now: bool
    live_transfer_possible: bool
    matched_needs: list[str]
    fallback: bool = Field(description="The caller's locality team, always offered last")
    available: bool = Field(
        description="False only for a locality team kept as the last resort while its partner says it is out"
    )
    at_capacity: bool = Field(
        description="No places now, or its queue at its maximum: it can still be chosen, and the listener is told"
    )
    places: int | None = Field(description="Places for warm transfers now, as the partner said; null: not said")
    maximum: int | None
    waiting_list: str | None = Field(description="under-a-week, 1-4-weeks or over-4-weeks; null: not said")
    capacity_updated_at: Timestamp | None
    capacity_stale: bool = Field(description="Places or waiting list not confirmed for a day")
    capacity_words: list[str] = Field(description='What to show beside it, e.g. "2 places today", "updated 3 h ago"')


class HelplineTicketOut(TicketStatusOut):
    """A warm transfer as the helpline follows it until the handover is confirmed."""

    contact_number: str | None = Field(description="Masked")
    contact_method: str
    preferred_times: str | None
    rerouted_to_id: int | None
    follow_up: str | None = Field(description="Why the caller is back with the helpline, if they are")
    declined_reason: str | None = Field(
        description="The reason the partner gave for declining: this ticket's, or the one it was re-routed from"
    )
    what_next: str | None = Field(description="What happened to the caller after a decline, give-up or cancel")
    events: list[TicketEventOut]
    journey_id: str = Field(description="One id across the caller's linked warm transfers and follow-ups")
    share_journey: bool = Field(description="The caller agreed that the partners on the journey may see each other")
    amendments: list[AmendmentOut] = Field(description="What was changed after sending (numbers masked)")
    added_details: list[str]
