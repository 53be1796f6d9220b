"""The listener's headset dashboard at ``/listener``, and ``/`` sending each person to their own page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from app.core.deps import OptionalUser
from app.core.web import HOME_BY_ROLE, render

router = APIRouter(include_in_schema=False)

# Supervisors also take calls on busy nights, so the listener view is theirs too.
LISTENER_PAGE_ROLES = ("listener", "supervisor")


@router.get("/")
async def go_home(user: OptionalUser):
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME_BY_ROLE.get(user.role, "/login"), status_code=303)


@router.get("/listener")
async def show_listener_dashboard(request: Request, user: OptionalUser):
    if user is None:
        return RedirectResponse("/login?next=/listener", status_code=303)
    if user.role not in LISTENER_PAGE_ROLES:
        return render(request, "forbidden.html", status_code=403, user=user)
    settings = request.app.state.runtime.settings
    return render(request, "listener.html", user=user, session_minutes=settings.session_minutes)
