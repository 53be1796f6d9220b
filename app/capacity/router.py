"""``/reports/capacity`` and ``/api/capacity``: the capacity and demand model, with a what-if."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import Field

from app.capacity.heatmap import draw_heatmap
from app.capacity.schemas import CapacityOut
from app.capacity.service import WhatIf, describe_capacity
from app.core.deps import OptionalUser, SessionDep, require_role
from app.core.errors import Unprocessable
from app.core.responses import DB_INT_MAX, SIGNED_IN, error_responses
from app.core.security import Role, User
from app.core.web import render
from transfers.hours import DAY_NAMES

# Aggregates only, never a caller: supervisors and admins. Not commissioners yet: the pinch points name localities with their few waiting tickets, and
# small numbers are not suppressed here as they are in /reports.
VIEWERS = (Role.supervisor, Role.admin)
CapacityViewer = Annotated[User, Depends(require_role(*VIEWERS))]

router = APIRouter(tags=["capacity"], responses=error_responses(*SIGNED_IN))

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def read_what_if(
    add_listeners: Annotated[int, Query(ge=0, le=50, description="Listeners added to the chosen hours")] = 0,
    add_days: Annotated[list[Day] | None, Query(max_length=7, description="Days to add them on; all if none")] = None,
    add_from: Annotated[int, Query(ge=0, le=23, description="First hour (line's time) to add them")] = 0,
    add_to: Annotated[int, Query(ge=1, le=24, description="Hour they go off, after add_from")] = 24,
    pause: Annotated[
        list[Annotated[int, Field(ge=1, le=DB_INT_MAX)]] | None,
        Query(max_length=20, description="Services to pause: their warm transfers are re-routed"),
    ] = None,
) -> WhatIf:
    if add_to <= add_from:
        raise Unprocessable("add_to", "must be later than add_from")
    days = tuple(d for d in DAY_NAMES if d in (add_days or DAY_NAMES))
    return WhatIf(add_listeners, days, add_from, add_to, tuple(dict.fromkeys(pause or ())))


WhatIfQuery = Annotated[WhatIf, Depends(read_what_if)]
Weeks = Annotated[int | None, Query(ge=1, le=52, description="Past weeks to learn from (default: the setting)")]
Shrinkage = Annotated[
    float | None, Query(ge=0, le=0.8, description="Share of a rota lost to breaks, training and sickness")
]


@router.get("/api/capacity", response_model=CapacityOut)
async def show_capacity(
    session: SessionDep, _viewer: CapacityViewer, what_if: WhatIfQuery, weeks: Weeks = None, shrinkage: Shrinkage = None
):
    return await describe_capacity(session, weeks=weeks, shrinkage=shrinkage, what_if=what_if)


@router.get("/reports/capacity", include_in_schema=False)
async def show_capacity_page(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    what_if: WhatIfQuery,
    weeks: Weeks = None,
    shrinkage: Shrinkage = None,
):
    if user is None:
        return RedirectResponse("/login?next=/reports/capacity", status_code=303)
    if user.role not in VIEWERS:
        return render(request, "forbidden.html", status_code=403, user=user)
    model = await describe_capacity(session, weeks=weeks, shrinkage=shrinkage, what_if=what_if)
    heatmap = draw_heatmap(model["hours"], title="Listeners on minus listeners needed, by hour of the week")
    return render(request, "capacity.html", user=user, model=model, heatmap=heatmap, days=DAY_NAMES)
