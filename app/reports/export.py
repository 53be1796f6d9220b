"""One table as the JSON download and as the CSV download: the same columns, the same rows."""

from __future__ import annotations

import csv
import io

from app.reports.periods import Period
from app.reports.schemas import ReportTableOut
from app.reports.tables import Table


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
