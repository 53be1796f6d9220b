"""Retention: each kind of data kept for its configured days, then deleted or anonymised in
bounded batches (one short transaction each), never what is held: a call with an open
safeguarding record, or one an admin has held. Call rows are anonymised, not deleted, so the
counts the reports read stay right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditEvent, record_audit
from app.core.db import runtime_of, session_scope
from app.core.events import LiveEvent
from app.core.jobs import CANCELLED, DEAD, DONE, Job
from app.core.runtime import Runtime
from app.core.security import LoginAttempt
from app.core.settings import RETENTION_FLOORS
from app.helpline.models import CallLog, CallLogRevision, SupportSession
from app.shiftlead.models import SafeguardingRecord
from telephony.call_states import FINAL_CALL_STATUSES
from telephony.models import Call, CallbackRequest, CallerSurvey, WebhookDelivery
from transfers.tickets.models import PartnerNotification, TicketAmendment, TicketEvent, TransferTicket

FINISHED_TICKETS = ("completed", "rejected", "failed", "cancelled")
ERASED = "erased"
RETENTION_EVERY = timedelta(hours=1)
# What anonymising clears, kind by kind: the same for a purge and for a caller's erasure. What is
# left (times, counts, needs, risk, outcomes) is what the reports count.
CALL_ERASED = {"from_encrypted": None, "from_hash": None, "from_masked": ERASED}
LOG_ERASED = {"summary_encrypted": None, "notes_encrypted": None, "correction_reason": None}
RECORDING_ERASED = {"recording_url_encrypted": None}
TICKET_ERASED = {
    "caller_name_encrypted": None,
    "contact_number_encrypted": None,
    "shared_summary_encrypted": None,
    "preferred_times": None,
    # The Task a partner's system holds is no longer what is here: a new version.
    "version": TransferTicket.version + 1,
}
# A survey's answers are kept (they name nobody); the number's keyed hash, there only to match a
# text reply, goes (the expiry job drops it sooner, once answered or after three days).
SURVEY_ERASED = {"number_hash": None}


def held_call_ids() -> sa.Select[Any]:
    """Calls kept whatever their age: held by an admin, or with a safeguarding record still open."""
    open_records = sa.select(SafeguardingRecord.call_id).where(
        SafeguardingRecord.call_id.is_not(None), SafeguardingRecord.closed_at.is_(None)
    )
    return sa.select(Call.id).where(sa.or_(Call.held_at.is_not(None), Call.id.in_(open_records)))


def _not_held(column: Any) -> sa.ColumnElement[bool]:
    return sa.or_(column.is_(None), column.not_in(held_call_ids()))


@dataclass(frozen=True)
class Kind:
    """One kind of data: its rows past ``cutoff`` that are due, and what is done to them (deleted,
    or these columns set; ``also`` tidies rows that hang off them)."""

    name: str
    model: Any
    due: Callable[[datetime], sa.ColumnElement[bool]]
    anonymise: dict[str, Any] | None = None
    also: Callable[[list[int]], list[sa.Executable]] | None = None


def _call_log_revisions_due(cutoff: datetime) -> sa.ColumnElement[bool]:
    # A ring-back's session reaches its call through the callback: held with that call too.
    unheld_logs = (
        sa.select(CallLog.id)
        .join(SupportSession, SupportSession.id == CallLog.session_id)
        .outerjoin(CallbackRequest, CallbackRequest.id == SupportSession.callback_request_id)
        .where(_not_held(sa.func.coalesce(SupportSession.call_id, CallbackRequest.call_id)))
    )
    return sa.and_(
        CallLogRevision.created_at < cutoff,
        sa.or_(CallLogRevision.summary_encrypted.is_not(None), CallLogRevision.notes_encrypted.is_not(None)),
        CallLogRevision.call_log_id.in_(unheld_logs),
    )


def ticket_trail_erased(ids: list[int]) -> list[sa.Executable]:
    return [
        sa.update(TicketEvent).where(TicketEvent.ticket_id.in_(ids)).values(reason=None),
        # What the helpline added after sending is the caller's text, before and after: it goes too.
        sa.delete(TicketAmendment).where(TicketAmendment.ticket_id.in_(ids)),
        sa.delete(PartnerNotification).where(
            PartnerNotification.ticket_id.in_(ids), PartnerNotification.status != "pending"
        ),
    ]


KINDS: tuple[Kind, ...] = (
    Kind(
        "call_records",
        Call,
        lambda cutoff: sa.and_(
            Call.created_at < cutoff,
            sa.or_(Call.ended_at.is_not(None), Call.status.in_(FINAL_CALL_STATUSES)),
            sa.or_(Call.from_encrypted.is_not(None), Call.from_hash.is_not(None)),
            _not_held(Call.id),
        ),
        anonymise=CALL_ERASED,
    ),
    Kind(
        "call_logs",
        CallLogRevision,
        _call_log_revisions_due,
        anonymise=LOG_ERASED,
    ),
    Kind(
        "safeguarding",
        SafeguardingRecord,
        lambda cutoff: sa.and_(
            SafeguardingRecord.closed_at.is_not(None),
            SafeguardingRecord.closed_at < cutoff,
            _not_held(SafeguardingRecord.call_id),
        ),
    ),
    Kind(
        "recordings",
        CallbackRequest,
        lambda cutoff: sa.and_(
            CallbackRequest.created_at < cutoff,
            CallbackRequest.recording_url_encrypted.is_not(None),
            _not_held(CallbackRequest.call_id),
        ),
        anonymise=RECORDING_ERASED,
    ),
    Kind(
        "tickets",
        TransferTicket,
        lambda cutoff: sa.and_(
            TransferTicket.updated_at < cutoff,
            TransferTicket.status.in_(FINISHED_TICKETS),
            sa.or_(
                TransferTicket.caller_name_encrypted.is_not(None),
                TransferTicket.contact_number_encrypted.is_not(None),
                TransferTicket.shared_summary_encrypted.is_not(None),
                TransferTicket.preferred_times.is_not(None),
            ),
            _not_held(TransferTicket.call_id),
        ),
        anonymise=TICKET_ERASED,
        also=ticket_trail_erased,
    ),
    Kind(
        "survey_numbers",
        CallerSurvey,
        lambda cutoff: sa.and_(CallerSurvey.consented_at < cutoff, CallerSurvey.number_hash.is_not(None)),
        anonymise=SURVEY_ERASED,
    ),
    Kind("webhook_deliveries", WebhookDelivery, lambda cutoff: WebhookDelivery.received_at < cutoff),
    Kind("live_events", LiveEvent, lambda cutoff: LiveEvent.created_at < cutoff),
    Kind(
        "jobs",
        Job,
        lambda cutoff: sa.and_(Job.status.in_((DONE, DEAD, CANCELLED)), Job.finished_at < cutoff),
    ),
    Kind("signin_attempts", LoginAttempt, lambda cutoff: LoginAttempt.at < cutoff),
    Kind("audit", AuditEvent, lambda cutoff: AuditEvent.at < cutoff),
)
assert {k.name for k in KINDS} == set(RETENTION_FLOORS), "every kind has a floor, every floor a kind"


def cutoff_for(session: AsyncSession, kind: Kind) -> datetime:
    runtime = runtime_of(session)
    return runtime.clock.now() - timedelta(days=runtime.settings.retention_days(kind.name))


async def count_due(session: AsyncSession) -> dict[str, int]:
    """What a purge would delete or anonymise now, per kind."""
    return {
        kind.name: await session.scalar(
            sa.select(sa.func.count()).select_from(kind.model).where(kind.due(cutoff_for(session, kind)))
        )
        or 0
        for kind in KINDS
    }


async def purge_batch(session: AsyncSession, *, kind: Kind, limit: int) -> int:
    """Up to ``limit`` of the kind's due rows deleted or anonymised; how many."""
    model = kind.model
    ids = list(
        (
            await session.scalars(
                sa.select(model.id).where(kind.due(cutoff_for(session, kind))).order_by(model.id).limit(limit)
            )
        ).all()
    )
    if not ids:
        return 0
    for statement in kind.also(ids) if kind.also else []:
        await session.execute(statement)
    if kind.anonymise is None:
        await session.execute(sa.delete(model).where(model.id.in_(ids)))
    else:
        await session.execute(sa.update(model).where(model.id.in_(ids)).values(kind.anonymise))
    return len(ids)


async def run_retention(runtime: Runtime, *, dry_run: bool = False, max_batches: int = 1000) -> dict[str, int]:
    """Counts per kind of what was (or, dry, would be) purged; a real purge is audited once with
    its counts. Each batch commits on its own, so the line is never blocked behind one purge."""
    if dry_run:
        async with session_scope(runtime) as session:
            return await count_due(session)
    limit = runtime.settings.retention_batch_size
    done = {kind.name: 0 for kind in KINDS}
    for kind in KINDS:
        for _ in range(max_batches):
            async with session_scope(runtime) as session:
                count = await purge_batch(session, kind=kind, limit=limit)
            done[kind.name] += count
            if count < limit:
                break
    if any(done.values()):
        async with session_scope(runtime) as session:
            await record_audit(
                session,
                actor="system:retention",
                action="retention_purge",
                subject_type="retention",
                subject_id=0,
                **done,
            )
    return done


async def purge_due(runtime: Runtime) -> None:
    await run_retention(runtime)


def register(runtime: Runtime) -> None:
    runtime.jobs.every("privacy.retention", RETENTION_EVERY, purge_due)
