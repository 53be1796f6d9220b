"""Prebuilt SQL for the webhooks' hot path (inserts through ``app.core.db.insert_unless_present``).

A statement built once and executed with fresh parameters skips SQLAlchemy's per-call statement
construction and cache-key work; on a small machine that is most of a webhook's database cost.
"""

from __future__ import annotations

import sqlalchemy as sa

from telephony.models import Call, WebhookDelivery

CALLS: sa.Table = Call.__table__  # type: ignore[assignment]
DELIVERIES: sa.Table = WebhookDelivery.__table__  # type: ignore[assignment]


STORED_REPLY = sa.select(DELIVERIES.c.reply).where(DELIVERIES.c.dedupe_key == sa.bindparam("key"))
WAITING_SNAPSHOT = sa.select(sa.func.count(), sa.func.min(CALLS.c.waiting_since)).where(
    CALLS.c.queue_state == "waiting"
)
