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
    median_seconds: int | None
    count: int


class HandoverWaitsOut(BaseModel):
    to_accept: HoursOut
    to_contact: HoursOut
    longest_open_wait_hours: float | None
    longest_open_wait_seconds: int | None
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


class AlertOut(BaseModel):
    key: str = Field(description="What to acknowledge, e.g. help:3")
    kind: str = Field(description="immediate-risk, help, long-wait, overrun or notification-dead")
    text: str
    since: Timestamp
    call_id: int | None
    listener_id: int | None
    acknowledged_by: str | None
    acknowledged_at: Timestamp | None


class SupervisorOnLineOut(BaseModel):
    supervisor: str
    mode: str
    state: str
    supervisor_id: int


class ListenerCallOut(BaseModel):
    id: int
    caller: str = Field(description="Masked: never the number")
    wait_seconds: int | None
    state: str
    immediate_risk_id: int | None
    help_asked_at: Timestamp | None
    supervisor: SupervisorOnLineOut | None


class ListenerSessionOut(BaseModel):
    id: int
    started_at: Timestamp
    due_at: Timestamp
    elapsed_seconds: int | None
    overrun_seconds: int
    risk_level: str | None
    log_recorded: bool


class ListenerRowOut(BaseModel):
    id: int
    name: str
    presence: str
    presence_since: Timestamp | None
    presence_seconds: int | None
    call: ListenerCallOut | None
    session: ListenerSessionOut | None


class WaitingOut(BaseModel):
    kind: str = Field(description="caller (in the queue) or callback")
    id: int
    caller: str = Field(description="Masked: never the number")
    since: Timestamp | None
    wait_seconds: int | None
    urgent: bool
    reason: str | None = None


class OpenTransferOut(BaseModel):
    id: int
    service: str
    status: str
    urgent: bool
    accept_by: Timestamp
    contact_by: Timestamp
    accept_in_seconds: int | None
    contact_in_seconds: int
    breached: bool


class BoardOut(BaseModel):
    now: Timestamp
    alerts: list[AlertOut]
    listeners: list[ListenerRowOut]
    waiting: list[WaitingOut]
    open_transfers: list[OpenTransferOut]
    line: LineNowOut
    sessions: list[RunningSessionOut]
    risk: list[RiskFlagOut]
    transfers: TransfersNowOut
    follow_ups: list[FollowUpOut]
    tonight: TonightOut
    staffing: StaffingOut
