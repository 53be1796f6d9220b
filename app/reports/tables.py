"""The report's figures laid out as tables: one shape for the page, the SVG, the JSON and the CSV,
so all four say the same thing. A cell is a text label or a ``Figure`` (a number and its base)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.reports import service as figures
from app.reports.callers_said import measure_caller_survey, survey_rows
from app.reports.figures import Cell, Figure, Spread, share, shown
from app.reports.periods import Period
from transfers.tickets.models import TICKET_STATES
from transfers.tickets.states import HELPED, NOT_HELPED

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
THIS, BEFORE = "this period", "period before"


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Figure | Cell]]
    # Which columns a chart draws against each row's label (the first column): this period and,
    # where it is compared, the period before.
    chart: str = "bars"
    label_columns: int = 1
    value_columns: tuple[int, ...] = ()

    def cells(self, *, exact: bool) -> list[list[Cell]]:
        return [[shown(cell, exact=exact) for cell in row] for row in self.rows]


async def _calls(session: AsyncSession, period: Period, now: datetime) -> Table:
    this = figures.call_rows(await figures.measure_calls(session, period))
    before = figures.call_rows(await figures.measure_calls(session, period.before()))
    rows: list[list[Figure | Cell]] = [
        [label, unit, a, b] for (label, unit, a), (_, _, b) in zip(this, before, strict=True)
    ]
    return Table("calls", "Calls", ["figure", "unit", THIS, BEFORE], rows, label_columns=2, value_columns=(2, 3))


async def _hours(session: AsyncSession, period: Period, now: datetime) -> Table:
    grid = await figures.count_by_hour_of_week(session, period)
    rows: list[list[Figure | Cell]] = [
        [day, *(Figure.count(n) for n in hours)] for day, hours in zip(DAYS, grid, strict=True)
    ]
    return Table(
        "hours",
        "Calls by hour of the week (local time)",
        ["day", *(f"{h:02d}" for h in range(24))],
        rows,
        chart="heatmap",
    )


async def _repeat_callers(session: AsyncSession, period: Period, now: datetime) -> Table:
    this = await figures.measure_repeat_callers(session, period)
    before = await figures.measure_repeat_callers(session, period.before())

    def row(label: str, pick: Callable[[figures.RepeatFigures], int]) -> list[Figure | Cell]:
        return [label, Figure.count(pick(this)), Figure.count(pick(before))]

    rows = [
        row("Callers with a number shown", lambda f: f.known_callers),
        row("Callers who rang more than once", lambda f: f.repeat_callers),
        row("Calls from those callers", lambda f: f.repeat_calls),
        row("Calls from withheld numbers (never matched)", lambda f: f.withheld_calls),
    ]
    return Table("repeat-callers", "Repeat callers", ["figure", THIS, BEFORE], rows, value_columns=(1, 2))


async def _call_logs(session: AsyncSession, period: Period, now: datetime) -> Table:
    this = await figures.count_log_answers(session, period)
    before = await figures.count_log_answers(session, period.before())
    rows: list[list[Figure | Cell]] = []
    for question in ("contact type", "need", "risk level", "outcome"):
        answers = figures.LOG_CHOICES.get(question) or sorted(set(this[question]) | set(before[question]))
        rows += [
            [question, answer, Figure.count(this[question][answer]), Figure.count(before[question][answer])]
            for answer in answers
        ]
    return Table(
        "call-logs",
        "What listeners recorded",
        ["question", "answer", THIS, BEFORE],
        rows,
        label_columns=2,
        value_columns=(2, 3),
    )


async def _transfers(session: AsyncSession, period: Period, now: datetime) -> Table:
    this = await figures.count_transfers(session, period)
    before = await figures.count_transfers(session, period.before())
    order = {state: i for i, state in enumerate(TICKET_STATES)}
    keys = sorted(set(this) | set(before), key=lambda k: (k[0], order[k[1]]))
    rows: list[list[Figure | Cell]] = [
        [service, state, Figure.count(this.get((service, state), 0)), Figure.count(before.get((service, state), 0))]
        for service, state in keys
    ]
    this_ended = await figures.count_outcomes(session, period)
    before_ended = await figures.count_outcomes(session, period.before())
    # Shares of the coded ones: what share went on to ongoing support, and why the rest did not.
    for heading, words, pick in (
        ("Completed: how the caller was helped (%)", HELPED, lambda f: f.helped),
        ("Declined or given up: why (%)", NOT_HELPED, lambda f: f.not_helped),
    ):
        rows += [
            [
                heading,
                label,
                share(pick(this_ended)[code], pick(this_ended).total()),
                share(pick(before_ended)[code], pick(before_ended).total()),
            ]
            for code, label in words.items()
        ]
    return Table(
        "transfers",
        "Warm transfers by service and state",
        ["service", "state", THIS, BEFORE],
        rows,
        label_columns=2,
        value_columns=(2, 3),
    )


def _spread_row(measure: str, which: str, s: Spread, within: Figure | None = None) -> list[Figure | Cell]:
    times = (Figure(v, s.count) for v in (s.mean, s.median, s.p90, s.longest))
    return [measure, which, Figure.count(s.count), *times, within]


async def _handovers(session: AsyncSession, period: Period, now: datetime) -> Table:
    this = await figures.measure_handovers(session, period, now)
    before = await figures.measure_handovers(session, period.before(), now)
    rows: list[list[Figure | Cell]] = []
    for which, f in ((THIS, this), (BEFORE, before)):
        rows.append(_spread_row("Time to accept", which, f.to_accept))
    for which, f in ((THIS, this), (BEFORE, before)):
        within = share(f.handed_over_within_four_weeks, f.to_handover.count)
        rows.append(_spread_row("Time to handover", which, f.to_handover, within))
    alliance = [figures.ALLIANCE_MEAN_HOURS, None, None, figures.ALLIANCE_LONGEST_HOURS, 100.0]
    rows.append(["Alliance's figure: contact to support", "", None, *alliance])
    for which, f in ((THIS, this), (BEFORE, before)):
        rows.append(["Still waiting past 4 weeks", which, Figure.count(f.waiting_past_four_weeks), *[None] * 5])
    columns = [
        "measure",
        "period",
        "transfers",
        "mean (h)",
        "median (h)",
        "90th percentile (h)",
        "longest (h)",
        "within 4 weeks (%)",
    ]
    return Table("handovers", "Time to accept and to handover", columns, rows, label_columns=2, value_columns=(3,))


async def _partners(session: AsyncSession, period: Period, now: datetime) -> Table:
    this = await figures.measure_partners(session, period)
    before = await figures.measure_partners(session, period.before())
    rows: list[list[Figure | Cell]] = []
    for service, f in this.items():
        earlier = before.get(service)
        rows.append(
            [
                service,
                Figure.count(f.tickets),
                share(f.accepted, f.tickets),
                share(f.accepted_in_time, f.tickets),
                share(f.reached, f.tickets),
                share(f.reached_in_time, f.tickets),
                share(earlier.reached_in_time, earlier.tickets) if earlier else None,
            ]
        )
    columns = [
        "service",
        "transfers",
        "accepted (%)",
        "accepted within target (%)",
        "reached (%)",
        "reached within target (%)",
        f"reached within target (%), {BEFORE}",
    ]
    return Table("partners", "Each partner's warm transfers against its targets", columns, rows, value_columns=(5, 6))


async def _caller_survey(session: AsyncSession, period: Period, now: datetime) -> Table:
    this = await measure_caller_survey(session, period)
    before = await measure_caller_survey(session, period.before())
    return Table(
        "caller-survey",
        "What callers said",
        ["question", "answer", THIS, BEFORE],
        survey_rows(this, before),
        chart="helped",  # the chart draws how much the call helped; every figure is in the table
        label_columns=2,
        value_columns=(2, 3),
    )


SECTIONS: dict[str, Callable[[AsyncSession, Period, datetime], Awaitable[Table]]] = {
    "calls": _calls,
    "hours": _hours,
    "repeat-callers": _repeat_callers,
    "call-logs": _call_logs,
    "transfers": _transfers,
    "handovers": _handovers,
    "partners": _partners,
    "caller-survey": _caller_survey,
}


async def build_report_table(session: AsyncSession, *, section: str, period: Period, now: datetime) -> Table:
    return await SECTIONS[section](session, period, now)


async def build_report(session: AsyncSession, *, period: Period, now: datetime) -> list[Table]:
    return [await build(session, period, now) for build in SECTIONS.values()]
