"""The shift lead's routes: supervisors on a call (listen, coach, barge, leave, the practice
headset), and the listener's side (ask for help, who else is on the line)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from app.core.deps import CurrentHelpline, CurrentListener, CurrentSupervisor, RuntimeDep, SessionDep
from app.core.responses import SIGNED_IN, PathId, error_responses
from app.shiftlead.crisis import dial_crisis_line, hand_over_to_crisis_line, list_crisis_lines
from app.shiftlead.help import ask_for_help, current_call_of, join_from_board, list_others_on_my_line, live_call
from app.shiftlead.safeguarding import close_flag, flag_immediate_risk, read_record, record_for_call, update_record
from telephony.headset import choose_headset, press_practice_headset
from telephony.headset_api import PracticeActionOut
from telephony.monitoring import leave_call, supervisor_identity, switch_mode
from telephony.schemas import VoiceTokenOut
from telephony.tokens import issue_voice_token

router = APIRouter(tags=["supervisor"], responses=error_responses(*SIGNED_IN, 409, 503))
Mode = Literal["listen", "coach", "barge"]
CallId = PathId


class JoinIn(BaseModel):
    mode: Mode
    alert_key: str | None = Field(None, max_length=80, pattern=r"^[a-z-]+:[0-9]+$")


class ModeIn(BaseModel):
    mode: Mode


class LegOut(BaseModel):
    id: int
    call_id: int
    mode: Mode
    state: Literal["dialling", "joined", "left", "failed"]
    via: Literal["browser", "practice", "desk"]


class OtherOnLineOut(BaseModel):
    name: str
    role: str
    mode: Mode


class HelpOut(BaseModel):
    id: int
    call_id: int
    raised_at: str


@router.post("/api/supervisor/calls/{call_id}/monitor", response_model=LegOut, status_code=201)
async def join_listeners_call(call_id: CallId, body: JoinIn, runtime: RuntimeDep, supervisor: CurrentSupervisor):
    """Dial the supervisor into the call: ``listen`` (muted), ``coach`` (heard by the listener
    only) or ``barge`` (heard by both). Audited. 409 when the call has ended or another supervisor is on."""
    return await join_from_board(
        runtime, call_id=call_id, supervisor=supervisor, mode=body.mode, alert_key=body.alert_key
    )


@router.put("/api/supervisor/calls/{call_id}/monitor", response_model=LegOut)
async def switch_monitoring(call_id: CallId, body: ModeIn, runtime: RuntimeDep, supervisor: CurrentSupervisor):
    return await switch_mode(runtime, call_id=call_id, supervisor=supervisor, mode=body.mode)


@router.delete("/api/supervisor/calls/{call_id}/monitor", response_model=LegOut)
async def leave_listeners_call(call_id: CallId, runtime: RuntimeDep, supervisor: CurrentSupervisor):
    return await leave_call(runtime, call_id=call_id, supervisor=supervisor)


@router.post("/api/supervisor/headset/{action}", response_model=PracticeActionOut)
async def press_supervisor_headset(
    action: Literal["answer", "decline", "hangup", "mute", "unmute"], runtime: RuntimeDep, supervisor: CurrentSupervisor
):
    """Practice mode: the supervisor's practice headset answers, declines, mutes or hangs up."""
    return await press_practice_headset(
        runtime, user=supervisor, action=action, identity=supervisor_identity(supervisor)
    )


@router.get("/api/supervisor/voice-token", response_model=VoiceTokenOut)
async def issue_supervisor_headset_token(runtime: RuntimeDep, supervisor: CurrentSupervisor):
    """A voice token registering the supervisor's browser as ``supervisor_<id>``: the identity the
    monitoring leg rings (``client:supervisor_<id>``)."""
    return issue_voice_token(runtime.settings, supervisor)


class SupervisorHeadsetOut(BaseModel):
    kind: str = Field(description="twilio, practice, desk or unavailable")
    identity: str
    reason: str | None
    sdk_url: str | None
    dial_address: str | None = Field(None, description="Masked")


@router.get("/api/supervisor/headset", response_model=SupervisorHeadsetOut)
async def show_supervisor_headset(runtime: RuntimeDep, supervisor: CurrentSupervisor):
    """Which headset rings when the supervisor joins a call: browser, practice or desk."""
    return choose_headset(runtime.settings, supervisor)


@router.post("/api/listener/calls/current/help", response_model=HelpOut, status_code=201)
async def ask_supervisor_for_help(session: SessionDep, user: CurrentListener):
    """Alert every supervisor: this listener wants someone on their call."""
    return await ask_for_help(session, user=user)


@router.get("/api/listener/calls/current/others", response_model=list[OtherOnLineOut])
async def show_others_on_line(session: SessionDep, user: CurrentListener):
    """Who else is on the listener's call (a supervisor listening or coaching is shown only if the
    line tells listeners; one barging always is)."""
    return await list_others_on_my_line(session, user=user)


Outcome = Literal[
    "emergency-services-attended",
    "crisis-team-took-over",
    "safe-plan-agreed",
    "caller-ended-call",
    "no-further-action",
    "other",
]
Text = Annotated[str | None, Field(None, max_length=2000)]


class AlertedIn(BaseModel):
    who: str = Field(min_length=2, max_length=120)
    at: AwareDatetime


class SafeguardingIn(BaseModel):
    concern: Text = None
    risk_factors: Text = None
    protective_factors: Text = None
    location: Annotated[str | None, Field(None, max_length=500)] = None
    emergency_reference: Annotated[str | None, Field(None, max_length=64)] = None
    alerted: list[AlertedIn] | None = None


class CloseIn(BaseModel):
    outcome: Outcome
    note: Annotated[str | None, Field(None, max_length=2000)] = None


class SafeguardingOut(BaseModel):
    id: int
    call_id: int | None
    flagged_at: str
    concern: str | None
    risk_factors: str | None
    protective_factors: str | None
    location: str | None
    emergency_reference: str | None
    alerted: list[dict[str, Any]]
    crisis_line: str | None
    crisis_state: str | None
    crisis_number: str | None
    crisis_dialled_by: str | None
    crisis_dialled_at: str | None
    crisis_joined_at: str | None
    crisis_ended_at: str | None
    outcome: str | None
    outcome_note: str | None
    closed_at: str | None
    protocol: list[str]


@router.post("/api/listener/calls/current/immediate-risk", response_model=SafeguardingOut, status_code=201)
async def flag_risk_now(session: SessionDep, user: CurrentListener):
    """Flag immediate risk on the call in progress: supervisors alerted at once, the protocol returned."""
    return await flag_immediate_risk(session, user=user)


@router.get("/api/listener/calls/{call_id}/immediate-risk", response_model=SafeguardingOut | None)
async def show_call_safeguarding_record(call_id: CallId, session: SessionDep, user: CurrentListener):
    """The safeguarding record of one of the listener's calls; null when immediate risk was not flagged."""
    return await record_for_call(session, call_id=call_id, user=user)


@router.get("/api/helpline/safeguarding/{record_id}", response_model=SafeguardingOut)
async def show_safeguarding_record(record_id: PathId, session: SessionDep, user: CurrentHelpline):
    """A supervisor's read is audited: the record is the caller's personal data."""
    return await read_record(session, record_id=record_id, user=user)


@router.patch("/api/helpline/safeguarding/{record_id}", response_model=SafeguardingOut)
async def record_safeguarding(record_id: PathId, body: SafeguardingIn, session: SessionDep, user: CurrentHelpline):
    """Concern, risk and protective factors, the caller's location if given, who was alerted and
    when, the emergency-service reference. Audited (which fields, never their words)."""
    return await update_record(
        session, record_id=record_id, user=user, fields=body.model_dump(mode="json", exclude_unset=True)
    )


@router.post("/api/supervisor/safeguarding/{record_id}/close", response_model=SafeguardingOut)
async def close_immediate_risk(record_id: PathId, body: CloseIn, session: SessionDep, supervisor: CurrentSupervisor):
    """The flag leaves the board only when a supervisor closes it with an outcome."""
    return await close_flag(session, record_id=record_id, supervisor=supervisor, outcome=body.outcome, note=body.note)


class CrisisLineOut(BaseModel):
    id: int
    name: str
    number: str


class CrisisDialIn(BaseModel):
    line_id: int = Field(ge=1, le=1000)
    # The caller stays with the listener unless the listener chooses to hold them while briefing.
    hold_caller: bool = False


class CrisisHandoverIn(BaseModel):
    stay: bool = False


@router.get("/api/helpline/crisis-lines", response_model=list[CrisisLineOut])
async def show_crisis_lines(runtime: RuntimeDep, user: CurrentHelpline):
    """This line's crisis lines (``OPENLINE_CRISIS_LINES``)."""
    return list_crisis_lines(runtime.settings)


@router.post("/api/listener/calls/current/crisis-line", response_model=SafeguardingOut, status_code=201)
async def dial_crisis_line_in(body: CrisisDialIn, session: SessionDep, user: CurrentListener):
    """Dial a crisis line into the caller's conference (a warm transfer): immediate risk is flagged
    if it was not; the caller stays with the listener. Audited."""
    call = await current_call_of(session, user)
    return await dial_crisis_line(session, call=call, user=user, line_id=body.line_id, hold_caller=body.hold_caller)


@router.post("/api/supervisor/calls/{call_id}/crisis-line", response_model=SafeguardingOut, status_code=201)
async def dial_crisis_line_from_board(
    call_id: CallId, body: CrisisDialIn, session: SessionDep, supervisor: CurrentSupervisor
):
    call = await live_call(session, call_id)
    return await dial_crisis_line(
        session, call=call, user=supervisor, line_id=body.line_id, hold_caller=body.hold_caller
    )


@router.post("/api/helpline/safeguarding/{record_id}/crisis-line/handover", response_model=SafeguardingOut)
async def hand_over_to_crisis_worker(
    record_id: PathId, body: CrisisHandoverIn, session: SessionDep, user: CurrentHelpline
):
    """The crisis worker has joined and been briefed: the caller is theirs (``stay``: the listener stays on)."""
    return await hand_over_to_crisis_line(session, record_id=record_id, user=user, stay=body.stay)
