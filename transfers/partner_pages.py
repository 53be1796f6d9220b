"""The partner dashboard at ``/partner``: a partner organisation's workers and their
enhanced-support queues. The page is a shell; it works the queues through the partner API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from app.core.deps import ClockDep, OptionalUser, SessionDep
from app.core.web import render
from transfers.directory import service as directory

router = APIRouter(include_in_schema=False)


@router.get("/partner")
async def show_partner_dashboard(request: Request, user: OptionalUser, session: SessionDep, clock: ClockDep):
    if user is None:
        return RedirectResponse("/login?next=/partner", status_code=303)
    if user.role != "partner" or user.organisation_id is None:
        return render(request, "forbidden.html", status_code=403, user=user)
    organisation = await directory.find_organisation(session, user.organisation_id)
    services = await directory.list_services(session, organisation_id=organisation.id)
    # Targets count down against the server's clock, not the worker's computer clock.
    return render(
        request,
        "partner.html",
        user=user,
        organisation=organisation,
        services=services,
        server_now=clock.now().isoformat(),
    )
