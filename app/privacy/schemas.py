"""The caller-rights API's bodies and answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.responses import Timestamp

Number = Field(
    min_length=3,
    max_length=32,
    description="The caller's phone number, in any usual form (+447700900321, 07700 900321); looked up by its keyed hash",
)


class CallerIn(BaseModel):
    number: str = Number


class ErasureIn(CallerIn):
    confirm: Literal[True] = Field(description="true: the admin has read what will be kept and why")


class RestrictionIn(CallerIn):
    restricted: bool = Field(description="true holds every call (kept past retention, never erased); false lifts it")
    reason: str | None = Field(None, max_length=200, description="why, e.g. 'complaint under investigation'")


class KeptOut(BaseModel):
    call_id: int
    why: str


class CallSummaryOut(BaseModel):
    id: int
    number: str | None = Field(description="masked, except in an export")
    rang_at: Timestamp
    answered_at: Timestamp | None
    ended_at: Timestamp | None
    held: bool
    held_reason: str | None


class CallerFoundOut(BaseModel):
    calls: list[CallSummaryOut]
    counts: dict[str, int]
    kept_on_erasure: list[KeptOut]


class ExportCallOut(CallSummaryOut):
    wait_seconds: int | None


class ExportLogOut(BaseModel):
    session_id: int
    revision: int
    recorded_at: Timestamp
    contact_type: str
    needs: list[str]
    risk_level: str
    consent_to_share: bool
    consent_covers: str | None
    title: str
    summary: str | None
    notes: str | None
    outcome: str | None


class TrailOut(BaseModel):
    at: Timestamp
    actor: str
    action: str
    to: str
    reason: str | None


class ExportTransferOut(BaseModel):
    id: int
    status: str
    created_at: Timestamp
    caller_name: str | None
    contact_number: str | None
    preferred_times: str | None
    shared_summary: str | None
    consent_covers: str | None
    outcome: str | None
    trail: list[TrailOut]
    amendments: list[dict[str, Any]] = Field(
        default_factory=list, description="What the helpline added after sending: each version, before and after"
    )


class ExportSafeguardingOut(BaseModel):
    id: int
    flagged_at: Timestamp
    concern: str | None
    risk_factors: str | None
    protective_factors: str | None
    location: str | None
    outcome: str | None
    outcome_note: str | None
    closed_at: Timestamp | None


class ExportVoicemailOut(BaseModel):
    id: int
    left_at: Timestamp
    seconds: int | None
    recording_held: bool


class CallerExportOut(BaseModel):
    number: str
    exported_at: Timestamp
    calls: list[ExportCallOut]
    call_logs: list[ExportLogOut]
    warm_transfers: list[ExportTransferOut]
    safeguarding_records: list[ExportSafeguardingOut]
    voicemails: list[ExportVoicemailOut]
    kept_on_erasure: list[KeptOut]


class ErasureOut(BaseModel):
    erased: dict[str, int]
    kept: list[KeptOut]


class RestrictionOut(BaseModel):
    restricted: bool
    reason: str | None
    calls: list[CallSummaryOut]


class PersonalReadOut(BaseModel):
    at: Timestamp
    actor: str
    action: str
    subject_type: str
    subject_id: int
