"""``/board``: the supervisors' live view, and the JSON behind it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from app.board.schemas import BoardOut
from app.board.service import describe_board
from app.core.deps import CurrentSupervisor, OptionalUser, SessionDep
from app.core.responses import SIGNED_IN, PathId, error_responses
from app.core.web import render
from app.shiftlead.alerts import acknowledge_alert
from transfers.tickets.follow_ups import list_open_follow_ups, resolve_follow_up
from transfers.tickets.schemas import FollowUpOut, FollowUpResolvedOut

router = APIRouter(tags=["supervisor"], responses=error_responses(*SIGNED_IN, 409))


@router.get("/api/supervisor/board", response_model=BoardOut)
async def show_board_data(session: SessionDep, _supervisor: CurrentSupervisor):
    return await describe_board(session)


class ResolveIn(BaseModel):
    note: str = Field(min_length=3, max_length=1000, description="What was done for the caller")


@router.get("/api/supervisor/follow-ups", response_model=list[FollowUpOut])
async def show_follow_ups(session: SessionDep, _supervisor: CurrentSupervisor):
    """Callers whose warm transfer did not go through and who are back with the helpline, oldest first."""
    return await list_open_follow_ups(session)


@router.post("/api/supervisor/follow-ups/{follow_up_id}/resolve", response_model=FollowUpResolvedOut)
async def resolve_follow_up_task(
    follow_up_id: PathId, entry: ResolveIn, session: SessionDep, supervisor: CurrentSupervisor
):
    return await resolve_follow_up(session, follow_up_id=follow_up_id, user=supervisor, note=entry.note)


@router.get("/board", include_in_schema=False)
async def show_board(request: Request, user: OptionalUser):
    if user is None:
        return RedirectResponse("/login?next=/board", status_code=303)
    if user.role not in ("supervisor", "admin"):
        return render(request, "forbidden.html", status_code=403, user=user)
    return render(request, "board.html", user=user)


class AcknowledgedOut(BaseModel):
    key: str
    acknowledged_by: str
    acknowledged_at: str


@router.post("/api/supervisor/alerts/{key}/acknowledge", response_model=AcknowledgedOut)
async def acknowledge_board_alert(
    key: Annotated[str, Path(max_length=80, pattern=r"^[a-z-]+:[0-9]+$")],
    session: SessionDep,
    supervisor: CurrentSupervisor,
):
    """The named supervisor takes this alert on (audited); everyone's board shows who."""
    return await acknowledge_alert(session, key=key, user=supervisor)
