"""Prebuilt SQL for the webhooks' hot path (inserts through ``app.core.db.insert_unless_present``).

A statement built once and executed with fresh parameters skips SQLAlchemy's per-call statement
construction and cache-key work; on a small machine that is most of a webhook's database cost.
"""

from __future__ import annotations

import sqlalchemy as sa

from telephony.models import Call, CallParticipant, WebhookDelivery

CALLS: sa.Table = Call.__table__  # type: ignore[assignment]
DELIVERIES: sa.Table = WebhookDelivery.__table__  # type: ignore[assignment]
PARTICIPANTS: sa.Table = CallParticipant.__table__  # type: ignore[assignment]


STORED_REPLY = sa.select(DELIVERIES.c.reply).where(DELIVERIES.c.dedupe_key == sa.bindparam("key"))
# What a stored delivery turned out to be (telephony.intake.record_outcome), and its reply if it changed.
SET_OUTCOME = (
    sa.update(DELIVERIES).where(DELIVERIES.c.dedupe_key == sa.bindparam("key")).values(outcome=sa.bindparam("outcome"))
)
SET_OUTCOME_AND_REPLY = SET_OUTCOME.values(reply=sa.bindparam("reply"))
WAITING_SNAPSHOT = sa.select(sa.func.count(), sa.func.min(CALLS.c.waiting_since)).where(
    CALLS.c.queue_state == "waiting"
)

# A call's conference events stored while an earlier one is still on its way (telephony.conference).
HELD = "held"
HELD_EVENTS = (
    sa.select(DELIVERIES.c.id, DELIVERIES.c.call_sid, DELIVERIES.c.event, DELIVERIES.c.sequence, DELIVERIES.c.fields)
    .where(
        DELIVERIES.c.call_id == sa.bindparam("call_id"),
        DELIVERIES.c.endpoint == "conference",
        DELIVERIES.c.outcome == HELD,
    )
    .order_by(DELIVERIES.c.sequence, DELIVERIES.c.id)
)
SETTLE_HELD = (
    sa.update(DELIVERIES).where(DELIVERIES.c.id == sa.bindparam("row_id")).values(outcome=sa.bindparam("outcome"))
)
TIE_ARRIVED = (
    sa.update(DELIVERIES)
    .where(DELIVERIES.c.dedupe_key == sa.bindparam("key"))
    .values(call_id=sa.bindparam("call_id"), outcome=sa.bindparam("outcome"))
)
