"""``/board``: the supervisors' live view, and the JSON behind it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from app.board.service import describe_board
from app.core.deps import CurrentSupervisor, OptionalUser, SessionDep
from app.core.web import render

router = APIRouter(tags=["supervisor"])


@router.get("/api/supervisor/board")
async def show_board_data(session: SessionDep, _supervisor: CurrentSupervisor) -> dict[str, Any]:
    return await describe_board(session)


@router.get("/board", include_in_schema=False)
async def show_board(request: Request, user: OptionalUser):
    if user is None:
        return RedirectResponse("/login?next=/board", status_code=303)
    if user.role not in ("supervisor", "admin"):
        return render(request, "forbidden.html", status_code=403, user=user)
    return render(request, "board.html", user=user)
