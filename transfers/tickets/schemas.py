"""A warm-transfer ticket as the API shows it: the shared status, the partner's view (what the
caller agreed to share) and the helpline team's follow-ups."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.responses import Timestamp


class TicketEventOut(BaseModel):
    """One step of the audit trail: who moved the ticket, when, from and to which state, why."""

    at: Timestamp
    actor: str
    action: str
    from_: str | None = Field(alias="from")
    to: str
    reason: str | None
    outcome_code: str | None = None

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class TicketStatusOut(BaseModel):
    """A ticket without personal data."""

    ticket_id: int
    service_id: int
    service: str
    status: str
    urgent: bool
    mode: str
    live_state: str | None
    needs: list[str]
    risk_level: str
    accept_by: Timestamp
    contact_by: Timestamp
    accepted_at: Timestamp | None
    handover_at: Timestamp | None
    handover_confirmed: bool
    completed_at: Timestamp | None
    rerouted_from_id: int | None
    status_reason: str | None
    outcome_code: str | None = Field(
        description="On complete: ongoing-support, one-off-intervention, peer-support. On decline or give-up: "
        "could-not-contact, no-capacity, not-eligible, did-not-attend, caller-declined, referred-elsewhere"
    )
    outcome_words: str | None = Field(None, description="The coded outcome in the helpline's words")
    amendment_version: int = Field(0, description="The latest amendment after sending (0: as first sent)")
    taken_back: bool = Field(
        False, description="The ticket came back to the helpline team's follow-ups (given up, or not accepted in time)"
    )
    created_at: Timestamp
    updated_at: Timestamp


class ConsentOut(BaseModel):
    covers: str
    recorded_at: Timestamp
    sms: bool


class ChangeOut(BaseModel):
    before: str | None
    after: str | None


class AmendmentOut(BaseModel):
    """One version added after sending: who, when, which fields, before and after."""

    version: int
    at: Timestamp
    actor: str
    fields: list[str] = Field(description="detail, preferred_times, contact_method, contact_number")
    changes: dict[str, ChangeOut]


class JourneyStepOut(BaseModel):
    """Another warm transfer on the caller's journey: which service, and where it stands. Nothing
    of another organisation's notes."""

    service: str
    status: str
    updated_at: Timestamp
    yours: bool = Field(description="The ticket is one of your own organisation's")


class JourneyOut(BaseModel):
    journey_id: str
    ticket_id: int
    others: list[JourneyStepOut]


class PartnerTicketOut(TicketStatusOut):
    """What the caller agreed to share, how and when to reach them, and what the partner may do next."""

    caller_name: str | None
    contact_method: str
    contact_number: str | None
    preferred_times: str | None
    age: int | None
    locality: str | None
    shared_summary: str | None
    consent: ConsentOut
    contact_attempts: int
    outcome: str | None
    allowed_actions: list[str]
    what_next: str | None = Field(description="What happened to the caller after a decline, give-up or cancel")
    events: list[TicketEventOut]
    journey_id: str | None = Field(
        None, description="The caller's journey across partners; only when the caller agreed to share it"
    )
    journey: list[JourneyStepOut] = Field(
        default_factory=list, description="The caller's other warm transfers on the journey (with consent)"
    )
    amendments: list[AmendmentOut] = Field(default_factory=list, description="What the helpline changed after sending")
    added_details: list[str] = Field(default_factory=list, description="Details the helpline added after sending")


class TicketPageOut(BaseModel):
    """One page of the polling contract: tickets changed since a moment, oldest change first."""

    tickets: list[TicketStatusOut]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page, and keep it for the next poll; null only when nothing "
        "has changed yet"
    )
    more: bool = Field(description="A full page: ask again at once with next_cursor")


class FollowUpOut(BaseModel):
    """A caller back with the helpline after a warm transfer did not go through."""

    id: int
    ticket_id: int | None
    ticket_status: str | None
    urgent: bool
    outcome_code: str | None = None
    outcome_words: str | None = Field(None, description="The coded outcome in the helpline's words")
    journey_id: str | None = None
    service: str | None
    caller: str = Field(description="Masked number, or unknown")
    listener: str | None
    reason: str
    created_at: Timestamp


class FollowUpResolvedOut(BaseModel):
    id: int
    resolved_at: Timestamp
    resolved_by: str
