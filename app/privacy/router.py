"""Admins' JSON API for a caller's rights and the personal-data audit. Numbers travel in request
bodies, not URLs, so they never reach an access log; the audit search takes one in its query, as
its callers expect (the server's access log is off)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from app.core.deps import CurrentAdmin, SessionDep
from app.core.responses import SIGNED_IN, error_responses
from app.core.web import render
from app.privacy import service
from app.privacy.printable import printable_time
from app.privacy.schemas import (
    CallerExportOut,
    CallerFoundOut,
    CallerIn,
    ErasureIn,
    ErasureOut,
    PersonalReadOut,
    RestrictionIn,
    RestrictionOut,
)

# The printable export is a page (a form's POST from an admin's browser), outside the JSON API.
pages = APIRouter(include_in_schema=False)
router = APIRouter(
    prefix="/api/admin",
    tags=["privacy"],
    responses=error_responses(*SIGNED_IN, said={404: "No records for that number"}),
)


@router.post("/callers/find", response_model=CallerFoundOut)
async def find_caller(body: CallerIn, session: SessionDep, admin: CurrentAdmin):
    return await service.find_caller_records(session, number=body.number, user=admin)


@router.post("/callers/export", response_model=CallerExportOut)
async def export_caller(body: CallerIn, session: SessionDep, admin: CurrentAdmin):
    return await service.export_caller_records(session, number=body.number, user=admin)


@router.post("/callers/erase", response_model=ErasureOut)
async def erase_caller(body: ErasureIn, session: SessionDep, admin: CurrentAdmin):
    return await service.erase_caller_records(session, number=body.number, user=admin)


@router.post("/callers/restrict", response_model=RestrictionOut)
async def restrict_caller(body: RestrictionIn, session: SessionDep, admin: CurrentAdmin):
    return await service.restrict_caller_records(
        session, number=body.number, restricted=body.restricted, reason=body.reason, user=admin
    )


@router.get("/audit/personal-data", response_model=list[PersonalReadOut])
async def search_personal_data_reads(
    session: SessionDep,
    admin: CurrentAdmin,
    actor: Annotated[str | None, Query(max_length=120, description="e.g. user:sam, or sam")] = None,
    caller_number: Annotated[str | None, Query(min_length=3, max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    return await service.search_personal_reads(session, actor=actor, number=caller_number, limit=limit)


@pages.post("/admin/callers/export", response_class=HTMLResponse)
async def export_caller_page(
    request: Request,
    number: Annotated[str, Form(min_length=3, max_length=32)],
    session: SessionDep,
    admin: CurrentAdmin,
):
    export = await service.export_caller_records(session, number=number, user=admin)
    return render(request, "privacy_export.html", export=export, when=printable_time)
