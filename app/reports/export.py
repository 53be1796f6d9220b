"""One table as the JSON download and as the CSV download: the same columns, the same rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.reports.periods import Period, choose_period
from app.reports.schemas import ReportTableOut
from app.reports.tables import Table, build_report_table


def describe_table(table: Table, period: Period, *, exact: bool) -> ReportTableOut:
    before = period.before()
    return ReportTableOut(
        section=table.key,  # type: ignore[arg-type]
        title=table.title,
        first=period.first,
        last=period.last,
        before_from=before.first,
        before_to=before.last,
        suppressed=not exact,
        columns=table.columns,
        rows=table.cells(exact=exact),
    )


def write_csv(report: ReportTableOut) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(report.columns)
    writer.writerows(["" if cell is None else cell for cell in row] for row in report.rows)
    return out.getvalue()


async def export_report_table(
    session: AsyncSession, *, section: str, first: str | None, last: str | None, now: datetime, exact: bool
) -> ReportTableOut:
    """One part of the report for the range asked (the last 7 days by default), as this reader may see it."""
    period = choose_period(first, last, now)
    table = await build_report_table(session, section=section, period=period, now=now)
    return describe_table(table, period, exact=exact)


def csv_name(report: ReportTableOut) -> str:
    return f"openline-{report.section}-{report.first}-to-{report.last}.csv"
