"""The /reports page's content: every table, as this reader may see it, with its chart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.reports.export import describe_table
from app.reports.periods import Period
from app.reports.schemas import ReportTableOut
from app.reports.svg import draw_chart
from app.reports.tables import build_report


async def compose_report_page(
    session: AsyncSession, *, period: Period, now: datetime, exact: bool
) -> list[tuple[ReportTableOut, str]]:
    page = []
    for table in await build_report(session, period=period, now=now):
        report = describe_table(table, period, exact=exact)
        page.append((report, draw_chart(table, report.rows)))
    return page
