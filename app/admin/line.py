"""The line's own settings: read and changed by admins, read by the telephony through the
runtime's cache (app/core/line.py), for which this module is the loader.

Hours and closures are checked and worked out with the directory's own tools (transfers/hours.py,
transfers/availability.py), so the line and its partners' services read opening times alike.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.models import LINE_ROW, LineSettingsRow
from app.admin.schemas import LineSettingsChange
from app.core.audit import record_audit
from app.core.db import insert_ignore, runtime_of
from app.core.events import DomainEvent, emit
from app.core.line import LANGUAGE, VOICES, CallerWords, LineSettings, Span
from app.core.runtime import Runtime
from app.core.settings import Settings
from telephony import twiml
from transfers.availability import Closure, parse_closures
from transfers.hours import describe_next_opening, open_spans, parse_schedule

LINE_CHANGED = "line.settings_changed"
# How far ahead a loaded copy knows the opening times; far beyond its re-read interval.
SPANS_AHEAD = timedelta(days=2)
# A calm reading pace for the estimate beside each message (about 150 words a minute).
WORDS_PER_SECOND = 2.5
WORDING = ("greeting", "closed_message", "voicemail_prompt", "position_wording", "voice")
FIELDS = (
    "taking_calls",
    "hours",
    "timezone",
    "closures",
    "max_wait_seconds",
    "position_announce_seconds",
    *WORDING,
)
DEFAULT_ZONE = "Europe/London"


# ---- pure: a row (or none yet) and the environment's settings, into what the line does ----------


def _values(row: LineSettingsRow | None) -> dict[str, Any]:
    return {name: getattr(row, name) if row is not None else None for name in FIELDS}


def caller_words(stored: dict[str, Any]) -> CallerWords:
    defaults = CallerWords()
    return CallerWords(**{name: stored.get(name) or getattr(defaults, name) for name in WORDING})


def _closed_spans(closures: tuple[Closure, ...], zone: ZoneInfo) -> list[Span]:
    def start_of(day) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    return [(start_of(c.starts), start_of(c.ends + timedelta(days=1))) for c in closures]


def _less(spans: list[Span], closed: list[Span]) -> list[Span]:
    for shut_from, shut_to in closed:
        kept: list[Span] = []
        for start, end in spans:
            if shut_to <= start or shut_from >= end:
                kept.append((start, end))
                continue
            if start < shut_from:
                kept.append((start, shut_from))
            if shut_to < end:
                kept.append((shut_to, end))
        spans = kept
    return spans


def build_line_settings(stored: dict[str, Any], settings: Settings, now: datetime) -> LineSettings:
    """What the telephony needs, worked out once per load: webhooks then only compare times."""
    closures = parse_closures(stored.get("closures") or [])
    hours = stored.get("hours")
    spans: tuple[Span, ...] | None = None
    if hours is not None or closures:
        zone_name = stored.get("timezone") or DEFAULT_ZONE
        start, until = now - timedelta(minutes=1), now + SPANS_AHEAD
        # Open around the clock but for closures: no weekly schedule to walk through.
        opening = open_spans(parse_schedule(hours), zone_name, start, until) if hours is not None else [(start, until)]
        spans = tuple(_less(opening, _closed_spans(closures, ZoneInfo(zone_name))))
    taking_calls = stored.get("taking_calls")
    return LineSettings(
        words=caller_words(stored),
        max_wait_seconds=stored.get("max_wait_seconds") or settings.max_wait_seconds,
        position_announce_seconds=stored.get("position_announce_seconds") or settings.position_announce_seconds,
        taking_calls=settings.line_open if taking_calls is None else taking_calls,
        open_spans=spans,
        spans_until=now + SPANS_AHEAD if spans is not None else None,
    )


def _day(moment) -> str:
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b')}"


def describe_line(stored: dict[str, Any], line: LineSettings, now: datetime) -> str:
    """Whether a caller reaches a listener now, in the admin's words."""
    if not line.taking_calls:
        return "Closed: not taking calls. Every caller hears the closed message and can leave a message."
    zone = stored.get("timezone") or DEFAULT_ZONE
    today = now.astimezone(ZoneInfo(zone)).date()
    for closure in parse_closures(stored.get("closures") or []):
        if closure.starts <= today <= closure.ends:
            return f"Closed today: {closure.note or 'a closure'}, until the end of {_day(closure.ends)}. Callers hear the closed message."
    if stored.get("hours") is None:
        return "Open now, 24 hours a day."
    said = describe_next_opening(parse_schedule(stored["hours"]), zone, now)
    if line.is_open(now):
        return said[0].upper() + said[1:] + "."
    return f"Closed now (outside opening hours); {said.removeprefix('closed now: ')}. Callers hear the closed message."


def _spoken(says: str) -> dict[str, Any]:
    return {"says": says, "seconds": max(1, math.ceil(len(says.split()) / WORDS_PER_SECOND))}


def heard(words: CallerWords) -> dict[str, Any]:
    """Everything a caller hears for each message, as the TwiML builders say it."""
    return {
        "greeting": _spoken(words.greeting),
        "closed_message": _spoken(twiml.voicemail_prompt(words, "line-closed")),
        "voicemail_prompt": _spoken(twiml.voicemail_prompt(words, "overflow")),
        "position_wording": _spoken(words.position(2)),
    }


def _shown(stored: dict[str, Any], row: LineSettingsRow | None, settings: Settings, now: datetime) -> dict[str, Any]:
    line = build_line_settings(stored, settings, now)
    return {
        "taking_calls": line.taking_calls,
        "hours": stored["hours"],
        "timezone": stored["timezone"] or DEFAULT_ZONE,
        "closures": stored["closures"] or [],
        "max_wait_seconds": line.max_wait_seconds,
        "position_announce_seconds": line.position_announce_seconds,
        **{name: getattr(line.words, name) for name in WORDING},
        "language": LANGUAGE,
        "voices": VOICES,
        # hours and closures: null and [] are the defaults (24/7, no closures).
        "defaults": [n for n in FIELDS if stored[n] is None or (n == "closures" and not stored[n])],
        "open_now": line.is_open(now),
        "open_words": describe_line(stored, line, now),
        "heard": heard(line.words),
        "updated_at": row.updated_at if row is not None else None,
        "updated_by": row.updated_by if row is not None else None,
    }


# ---- the database -----------------------------------------------------------------------------


async def show_line_settings(session: AsyncSession) -> dict[str, Any]:
    runtime = runtime_of(session)
    row = await session.get(LineSettingsRow, LINE_ROW)
    return _shown(_values(row), row, runtime.settings, runtime.clock.now())


def _given(change: LineSettingsChange) -> dict[str, Any]:
    given = change.model_dump(mode="json", exclude_unset=True)
    if "closures" in given and given["closures"] is None:
        given["closures"] = []
    return given


async def change_line_settings(session: AsyncSession, change: LineSettingsChange, *, actor: str) -> dict[str, Any]:
    """Save what was given (null: back to the default), audited with each field's before and after.
    Every process's telephony follows: this one as soon as the change commits, others within
    their cache's re-read interval."""
    runtime = runtime_of(session)
    # The row is made on the first save; locked, so two admins saving at once apply one after the other.
    await insert_ignore(session, LineSettingsRow, {"id": LINE_ROW}, ["id"])
    row = await session.scalar(
        sa.select(LineSettingsRow)
        .where(LineSettingsRow.id == LINE_ROW)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    before = _values(row)
    given = _given(change)
    changed = {name: {"from": before[name], "to": value} for name, value in given.items() if before[name] != value}
    if changed:
        for name, value in given.items():
            setattr(row, name, value)
        row.updated_at, row.updated_by = runtime.clock.now(), actor
        await record_audit(
            session,
            actor=actor,
            action="change_line_settings",
            subject_type="line_settings",
            subject_id=LINE_ROW,
            **changed,
        )
        await session.flush()
        emit(session, LINE_CHANGED)
    return _shown(_values(row), row, runtime.settings, runtime.clock.now())


async def preview_line_words(session: AsyncSession, change: LineSettingsChange) -> dict[str, Any]:
    """What callers would hear with these words (nothing is saved)."""
    row = await session.get(LineSettingsRow, LINE_ROW)
    return heard(caller_words(_values(row) | _given(change)))


async def load_line_settings(runtime: Runtime, now: datetime) -> LineSettings:
    """The cache's loader: one small read, in a session of its own, so a webhook's transaction
    never carries it."""
    async with runtime.sessionmaker() as session:
        row = await session.get(LineSettingsRow, LINE_ROW)
        return build_line_settings(_values(row), runtime.settings, now)


async def _refresh(runtime: Runtime, _event: DomainEvent) -> None:
    runtime.line.invalidate()


def register(runtime: Runtime) -> None:
    runtime.line.loader = load_line_settings
    runtime.bus.subscribe(LINE_CHANGED, _refresh)
