"""Data-key rotation: every encrypted column re-encrypted under the newest key, a short batch per
transaction so the line stays up, and safe to stop and start again (what is already under the
newest key is skipped by its key id)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of, session_scope
from app.core.runtime import Runtime
from app.models import metadata

# Every column that holds a ciphertext, by table. A new encrypted column belongs here too.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "calls": ("from_encrypted",),
    "callback_requests": ("recording_url_encrypted",),
    "call_log_revisions": ("summary_encrypted", "notes_encrypted"),
    "transfer_tickets": ("caller_name_encrypted", "contact_number_encrypted", "shared_summary_encrypted"),
    "ticket_amendments": ("changes_encrypted",),
    "safeguarding_records": (
        "concern_encrypted",
        "risk_factors_encrypted",
        "protective_factors_encrypted",
        "location_encrypted",
        "outcome_note_encrypted",
    ),
    "organisations": ("webhook_secret_encrypted",),
}


@dataclass
class Batch:
    rows: int
    reencrypted: int
    last_id: int


def _stale(table: sa.Table, columns: tuple[str, ...], current_prefix: str) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.and_(table.c[c].is_not(None), ~table.c[c].startswith(current_prefix)) for c in columns))


async def count_stale(session: AsyncSession) -> dict[str, int]:
    """Rows per table with a ciphertext not yet under the newest key."""
    prefix = runtime_of(session).crypto.current_key_id + ":"
    counts = {}
    for name, columns in ENCRYPTED_COLUMNS.items():
        table = metadata.tables[name]
        counts[name] = await session.scalar(sa.select(sa.func.count()).where(_stale(table, columns, prefix))) or 0
    return counts


async def reencrypt_batch(session: AsyncSession, *, table_name: str, after_id: int, limit: int) -> Batch:
    """The next ``limit`` rows past ``after_id`` with an old ciphertext, under the newest key. Each
    column is written only if it still holds what was read: a change made meanwhile (already under
    the newest key) wins."""
    crypto = runtime_of(session).crypto
    table = metadata.tables[table_name]
    columns = ENCRYPTED_COLUMNS[table_name]
    stale = _stale(table, columns, crypto.current_key_id + ":")
    rows = (
        await session.execute(
            sa.select(table.c.id, *(table.c[c] for c in columns))
            .where(table.c.id > after_id, stale)
            .order_by(table.c.id)
            .limit(limit)
        )
    ).all()
    done = 0
    for row in rows:
        for column in columns:
            old = getattr(row, column)
            new = crypto.reencrypt(old)
            if new == old:
                continue
            result = await session.execute(
                sa.update(table).where(table.c.id == row.id, table.c[column] == old).values({column: new})
            )
            done += result.rowcount or 0
    return Batch(rows=len(rows), reencrypted=done, last_id=rows[-1].id if rows else after_id)


async def rotate_keys(runtime: Runtime, *, batch_size: int = 200) -> dict[str, int]:
    """Re-encrypt everything under the newest key, one short transaction per batch; the ciphertexts
    re-encrypted per table, audited once at the end."""
    done: dict[str, int] = {}
    for table_name in ENCRYPTED_COLUMNS:
        after_id, done[table_name] = 0, 0
        while True:
            async with session_scope(runtime) as session:
                batch = await reencrypt_batch(session, table_name=table_name, after_id=after_id, limit=batch_size)
            done[table_name] += batch.reencrypted
            after_id = batch.last_id
            if batch.rows < batch_size:
                break
    async with session_scope(runtime) as session:
        await record_audit(
            session,
            actor="system:keys",
            action="rotate_data_keys",
            subject_type="data_key",
            subject_id=0,
            key_id=runtime.crypto.current_key_id,
            reencrypted=done,
        )
    return done
