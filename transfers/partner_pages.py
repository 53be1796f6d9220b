"""The partner dashboard at ``/partner``: a partner organisation's workers and their
enhanced-support queues. The page is a shell; it works the queues through the partner API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from app.core.deps import ClockDep, OptionalUser, SessionDep, csrf_token_for
from transfers.directory import service as directory

router = APIRouter(include_in_schema=False)

# transfers may import only app.core, so the page renders from the shared templates folder itself
# (the same files and the same context as app.web.render) rather than importing app.web.
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "app" / "templates"))


def render(request: Request, name: str, status_code: int = 200, **context: Any):
    context.setdefault("user", None)
    return TEMPLATES.TemplateResponse(request, name, {"csrf_token": csrf_token_for(request), **context},
                                      status_code=status_code)


@router.get("/partner")
async def show_partner_dashboard(request: Request, user: OptionalUser, session: SessionDep, clock: ClockDep):
    if user is None:
        return RedirectResponse("/login?next=/partner", status_code=303)
    if user.role != "partner" or user.organisation_id is None:
        return render(request, "forbidden.html", status_code=403, user=user)
    organisation = await directory.find_organisation(session, user.organisation_id)
    services = await directory.list_services(session, organisation_id=organisation.id)
    # Targets count down against the server's clock, not the worker's computer clock.
    return render(request, "partner.html", user=user, organisation=organisation, services=services,
                  server_now=clock.now().isoformat())
