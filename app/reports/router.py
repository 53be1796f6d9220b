"""``/reports`` and ``/api/reports/{section}``: supervisors, admins and commissioners; the
commissioner sees small counts suppressed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.core.deps import ClockDep, OptionalUser, SessionDep, require_role
from app.core.errors import AppError
from app.core.responses import SIGNED_IN, error_responses
from app.core.security import Role, User
from app.core.web import render
from app.reports.export import csv_name, export_report_table, write_csv
from app.reports.page import compose_report_page
from app.reports.periods import choose_period
from app.reports.schemas import Format, ReportTableOut, Section

READERS = (Role.supervisor, Role.admin, Role.commissioner)
CurrentReader = Annotated[User, Depends(require_role(*READERS))]
# Ten characters hold both 23/11/2026 and 2026-11-23.
First = Annotated[str | None, Query(alias="from", max_length=10, description="First day: 23/11/2026 or 2026-11-23")]
Last = Annotated[str | None, Query(alias="to", max_length=10, description="Last day, included")]

router = APIRouter(tags=["reports"], responses=error_responses(*SIGNED_IN))


def sees_exact_numbers(user: User) -> bool:
    return user.role != Role.commissioner


@router.get(
    "/api/reports/{section}",
    response_model=ReportTableOut,
    response_model_by_alias=True,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def download_report(
    section: Annotated[Section, Path()],
    session: SessionDep,
    reader: CurrentReader,
    clock: ClockDep,
    first: First = None,
    last: Last = None,
    format: Format = "json",
):
    """One part of the report for a date range (the last 7 days by default), with the period before."""
    report = await export_report_table(
        session, section=section, first=first, last=last, now=clock.now(), exact=sees_exact_numbers(reader)
    )
    if format == "csv":
        disposition = f'attachment; filename="{csv_name(report)}"'
        return Response(write_csv(report), media_type="text/csv", headers={"Content-Disposition": disposition})
    return report


@router.get("/reports", include_in_schema=False)
async def show_reports(
    request: Request, session: SessionDep, user: OptionalUser, clock: ClockDep, first: First = None, last: Last = None
):
    if user is None:
        return RedirectResponse("/login?next=/reports", status_code=303)
    if user.role not in READERS:
        return render(request, "forbidden.html", status_code=403, user=user)
    try:
        period = choose_period(first, last, clock.now())
    except AppError as problem:
        return render(
            request,
            "reports.html",
            status_code=422,
            user=user,
            problem=problem.detail,
            period=None,
            asked=(first, last),
        )
    exact = sees_exact_numbers(user)
    sections = await compose_report_page(session, period=period, now=clock.now(), exact=exact)
    return render(
        request,
        "reports.html",
        user=user,
        period=period,
        before=period.before(),
        sections=sections,
        exact=exact,
        problem=None,
        query=f"from={period.first.isoformat()}&to={period.last.isoformat()}",
    )
