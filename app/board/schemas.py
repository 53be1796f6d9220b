"""The supervisors' board as JSON: the line now, sessions, risk, warm transfers, tonight, staffing."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.responses import Timestamp
from transfers.tickets.schemas import FollowUpOut


class LineNowOut(BaseModel):
    waiting: int
    longest_waiting_since: Timestamp | None
    listeners: dict[str, int] = Field(description="Listeners by presence status")
    open_callbacks: int


class RunningSessionOut(BaseModel):
    id: int
    listener: str
    started_at: Timestamp
    due_at: Timestamp
    overrunning: bool
    overrun_seconds: int


class RiskFlagOut(BaseModel):
    log_id: int
    session_id: int
    title: str
    listener: str
    flagged_at: Timestamp


class HoursOut(BaseModel):
    mean_hours: float | None
    median_hours: float | None
    count: int


class HandoverWaitsOut(BaseModel):
    to_accept: HoursOut
    to_contact: HoursOut
    longest_open_wait_hours: float | None
    open_past_four_weeks: int


class BreachedTicketOut(BaseModel):
    id: int
    status: str
    urgent: bool
    accept_by: Timestamp
    contact_by: Timestamp


class TransfersNowOut(BaseModel):
    by_status: dict[str, int]
    waits: HandoverWaitsOut
    dead_notifications: int
    dead_jobs: int
    open_follow_ups: int
    breached: list[BreachedTicketOut]


class TonightOut(BaseModel):
    offered: int
    answered: int
    abandoned: int
    answered_within_target: int
    average_speed_of_answer_seconds: float | None
    longest_wait_seconds: int | None
    service_level: float | None
    target: str


class StaffingOut(BaseModel):
    calls_per_hour: float
    handle_minutes: float
    listeners_needed: int
    rota_with_shrinkage: int


class BoardOut(BaseModel):
    now: Timestamp
    line: LineNowOut
    sessions: list[RunningSessionOut]
    risk: list[RiskFlagOut]
    transfers: TransfersNowOut
    follow_ups: list[FollowUpOut]
    tonight: TonightOut
    staffing: StaffingOut
