"""Call records: creating them from Twilio's fields, loading them for a change, and the queue
snapshot every dashboard shows.

Locking: a webhook first stores its delivery (an INSERT), which on SQLite takes the database's
single write lock, so everything after it in the transaction is serialised; on PostgreSQL the call
row is loaded ``FOR UPDATE``. Either way, two callbacks about one call never interleave.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import is_withheld, mask_number
from app.core.db import defer_until_commit, insert_unless_present, is_postgres, runtime_of
from app.core.events import publish_live_to
from telephony.events import LIVE_QUEUE
from telephony.models import Call
from telephony.statements import CALLS, WAITING_SNAPSHOT
from telephony.twiml import conference_name

ACTIVE_STATES = ("claimed", "connected")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def seconds_between(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds()))


async def lock_call_by_id(session: AsyncSession, call_id: int) -> Call | None:
    """``lock_call`` for a unit of work that has not written yet (an event handler): on SQLite a
    no-op UPDATE takes the write lock first, so the read that follows cannot go stale."""
    if not is_postgres(session):
        await session.execute(
            sa.update(Call)
            .where(Call.id == call_id)
            .values(updated_at=Call.updated_at)
            .execution_options(synchronize_session=False)
        )
    return await lock_call(session, Call.id == call_id)


async def lock_call(session: AsyncSession, *criteria: Any) -> Call | None:
    """The call matching ``criteria``, fresh from the database and locked for this transaction."""
    stmt = sa.select(Call).where(*criteria).limit(1).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


def _locking(stmt: sa.Select) -> tuple[sa.Select, sa.Select]:
    """A ``lock_call`` query built once (it runs for every webhook): as SQLite and as PostgreSQL run it."""
    stmt = stmt.limit(1).execution_options(populate_existing=True)
    return stmt, stmt.with_for_update()


_BY_CALL_SID = _locking(sa.select(Call).where(Call.call_sid == sa.bindparam("sid")))
# By the room's name or (once known) its ConferenceSid.
_IN_CONFERENCE = _locking(
    sa.select(Call).where(
        sa.or_(Call.conference_name == sa.bindparam("name"), Call.conference_sid == sa.bindparam("sid"))
    )
)


async def _lock_prebuilt(
    session: AsyncSession, stmts: tuple[sa.Select, sa.Select], params: dict[str, Any]
) -> Call | None:
    return await session.scalar(stmts[1] if is_postgres(session) else stmts[0], params)


async def lock_call_by_sid(session: AsyncSession, call_sid: str | None) -> Call | None:
    """``lock_call`` for the call with this CallSid."""
    return await _lock_prebuilt(session, _BY_CALL_SID, {"sid": call_sid})


async def lock_call_in_conference(session: AsyncSession, name: str | None, conference_sid: str | None) -> Call | None:
    """``lock_call`` for the call whose conference is named ``name`` or has this ConferenceSid."""
    return await _lock_prebuilt(session, _IN_CONFERENCE, {"name": name or None, "sid": conference_sid or None})


def call_values(session: AsyncSession, form: dict[str, str], *, queue_state: str) -> dict[str, Any]:
    """A new call's columns from Twilio's fields: the number is kept only encrypted and hashed."""
    runtime = runtime_of(session)
    now = runtime.clock.now()
    number = form.get("From") or form.get("Caller")
    withheld = is_withheld(number)
    call_sid = form["CallSid"]
    return dict(
        call_sid=call_sid,
        direction=(form.get("Direction") or "inbound")[:20],
        status=form.get("CallStatus") or "ringing",
        status_sequence=-1,
        from_encrypted=None if withheld else runtime.crypto.encrypt(number),
        from_hash=runtime.crypto.caller_hash(number),
        from_withheld=withheld,
        from_masked=mask_number(number),
        to_number=(form.get("To") or None) and form["To"][:64],
        queue_state=queue_state,
        waiting_since=now,
        wait_seconds=0 if queue_state == "voicemail" else None,
        abandoned=False,
        conference_name=conference_name(call_sid),
        created_at=now,
        updated_at=now,
    )


async def insert_call(session: AsyncSession, form: dict[str, str], *, queue_state: str) -> int | None:
    """Create the call for a CallSid seen for the first time; None when it already exists."""
    values = call_values(session, form, queue_state=queue_state)
    stmt = insert_unless_present(session, CALLS, "call_sid", returning="id")
    return (await session.execute(stmt, values)).scalar()


async def queue_snapshot(session: AsyncSession) -> dict[str, Any]:
    count, oldest = (await session.execute(WAITING_SNAPSHOT)).one()
    return {"waiting": int(count), "longest_waiting_since": iso(oldest)}


async def publish_queue(session: AsyncSession) -> None:
    """Tell listeners' and supervisors' dashboards that the queue changed (sent at commit). In a
    batch of webhooks the snapshot is taken once, just before the batch commits: it is the same
    queue they all changed, and one event says so."""
    if not defer_until_commit(session, LIVE_QUEUE, _publish_queue_now):
        await _publish_queue_now(session)


async def _publish_queue_now(session: AsyncSession) -> None:
    snapshot = await queue_snapshot(session)
    await publish_live_to(session, ("role:listener", "role:supervisor"), LIVE_QUEUE, snapshot)


async def position_in_queue(session: AsyncSession, call: Call) -> int | None:
    if call.queue_state != "waiting" or call.waiting_since is None:
        return None
    ahead = await session.scalar(
        sa.select(sa.func.count()).where(
            Call.queue_state == "waiting",
            sa.or_(
                Call.waiting_since < call.waiting_since,
                sa.and_(Call.waiting_since == call.waiting_since, Call.id < call.id),
            ),
        )
    )
    return int(ahead or 0) + 1
