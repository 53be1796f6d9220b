"""The few expressions SQLite and PostgreSQL spell differently, so every report query is written once."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement


def seconds_between(dialect: str, later: ColumnElement, earlier: ColumnElement) -> ColumnElement:
    """Whole seconds from one timestamp to another (SQLite stores naive UTC text)."""
    if dialect == "postgresql":
        span = sa.extract("epoch", later - earlier)
    else:
        span = (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
    return sa.cast(sa.func.round(span), sa.Integer)


def utc_hour(dialect: str, moment: ColumnElement) -> ColumnElement:
    """The UTC hour a timestamp falls in. SQLite knows no time zones, so the line's local hour of
    the week is found from these (at most 24 a day) in Python, the same way on both."""
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", moment), "YYYY-MM-DD HH24")
    return sa.func.strftime("%Y-%m-%d %H", moment)


def read_utc_hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=UTC)


def json_items(dialect: str, column: ColumnElement) -> sa.TableValuedAlias:
    """A JSON list column's items as rows (a call log's needs), joined beside their own row."""
    if dialect == "postgresql":
        return sa.func.json_array_elements_text(column).table_valued("value").lateral("item")
    return sa.func.json_each(column).table_valued("value").alias("item")
