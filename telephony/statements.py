"""Prebuilt SQL for the webhooks' hot path.

A statement built once and executed with fresh parameters skips SQLAlchemy's per-call statement
construction and cache-key work; on a small machine that is most of a webhook's database cost.
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import is_postgres
from telephony.models import Call, WebhookDelivery

CALLS: sa.Table = Call.__table__  # type: ignore[assignment]
DELIVERIES: sa.Table = WebhookDelivery.__table__  # type: ignore[assignment]


@cache
def _insert_unless_present(dialect: str, table: sa.Table, key: str, returning: str | None) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=[key])
    return stmt.returning(table.c[returning]) if returning else stmt


def insert_unless_present(session: AsyncSession, table: sa.Table, key: str, returning: str | None = None) -> sa.Insert:
    """INSERT ... ON CONFLICT (key) DO NOTHING [RETURNING ...], for this session's database."""
    return _insert_unless_present("postgresql" if is_postgres(session) else "sqlite", table, key, returning)


STORED_REPLY = sa.select(DELIVERIES.c.reply).where(DELIVERIES.c.dedupe_key == sa.bindparam("key"))
WAITING_SNAPSHOT = (sa.select(sa.func.count(), sa.func.min(CALLS.c.waiting_since))
                    .where(CALLS.c.queue_state == "waiting"))
