"""What callers said: the short survey after a call (by keypad or by text), counted per period
by when the caller agreed. One GROUP BY over the bounded range; no caller is ever named, and the
rows hold no number at all."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.reports.figures import Figure, share
from app.reports.periods import Period
from telephony.models import CallerSurvey

HELPED_HEADING = "How much the call helped"
HELPED_WORDS = {1: "1 · not at all", 2: "2", 3: "3", 4: "4", 5: "5 · a lot"}


@dataclass(frozen=True)
class SurveyFigures:
    agreed: int  # callers who agreed to the survey (either way)
    declined: int
    answered: int  # surveys with at least one answer
    by_way: Counter[str]  # answered, by keypad or by text
    helped: Counter[int]
    safer_yes: int
    safer_no: int


async def measure_caller_survey(session: AsyncSession, period: Period) -> SurveyFigures:
    in_period = sa.and_(CallerSurvey.consented_at >= period.start, CallerSurvey.consented_at < period.end)
    rows = (
        await session.execute(
            sa.select(CallerSurvey.way, CallerSurvey.state, CallerSurvey.helped, CallerSurvey.safer, sa.func.count())
            .where(in_period)
            .group_by(CallerSurvey.way, CallerSurvey.state, CallerSurvey.helped, CallerSurvey.safer)
        )
    ).all()
    agreed = declined = answered = safer_yes = safer_no = 0
    by_way: Counter[str] = Counter()
    helped: Counter[int] = Counter()
    for way, state, helped_value, safer, n in rows:
        if way == "declined":
            declined += n
            continue
        agreed += n
        if state != "answered":
            continue
        answered += n
        by_way[way] += n
        if helped_value is not None:
            helped[int(helped_value)] += n
        if safer is True:
            safer_yes += n
        elif safer is False:
            safer_no += n
    return SurveyFigures(agreed, declined, answered, by_way, helped, safer_yes, safer_no)


def survey_rows(this: SurveyFigures, before: SurveyFigures) -> list[list[Figure | str | None]]:
    """The section's rows: question, answer, this period, the period before."""

    def both(pick) -> list[Figure]:
        return [pick(this), pick(before)]

    rows: list[list[Figure | str | None]] = [
        ["Survey", "Callers who agreed", *both(lambda f: Figure.count(f.agreed))],
        ["Survey", "Callers who said no", *both(lambda f: Figure.count(f.declined))],
        ["Survey", "Answered", *both(lambda f: Figure.count(f.answered))],
        ["Survey", "Answered by keypad", *both(lambda f: Figure.count(f.by_way["keypad"]))],
        ["Survey", "Answered by text", *both(lambda f: Figure.count(f.by_way["text"]))],
        ["Survey", "Response rate (%)", *both(lambda f: share(f.answered, f.agreed))],
    ]
    rows += [
        [HELPED_HEADING, words, *both(lambda f, key=key: Figure.count(f.helped[key]))]
        for key, words in HELPED_WORDS.items()
    ]
    rows += [
        ["Feel safer now", "Answered", *both(lambda f: Figure.count(f.safer_yes + f.safer_no))],
        ["Feel safer now", "Yes (%)", *both(lambda f: share(f.safer_yes, f.safer_yes + f.safer_no))],
    ]
    return rows
