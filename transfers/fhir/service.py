"""Finding a partner's tickets and reading each as a Task, through the partner API's own sharing
(so what a case system sees, and the audit of that read, is the same as on /api/partner/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from transfers.directory.models import Organisation, Service
from transfers.fhir.resources import SharedCaller, TaskChange, moves_to, task_of
from transfers.tickets.models import TransferTicket
from transfers.tickets.polling import BY_CHANGE, changed_after
from transfers.tickets.service import ActionInput, apply_action, find_ticket
from transfers.tickets.sharing import describe_for_partner
from transfers.tickets.states import VersionChanged


async def describe_task(session: AsyncSession, *, ticket: TransferTicket, actor: str) -> dict[str, Any]:
    service = await session.get(Service, ticket.service_id)
    assert service is not None
    organisation = await session.get(Organisation, service.organisation_id)
    assert organisation is not None
    shared = await describe_for_partner(session, ticket=ticket, actor=actor)
    return task_of(
        ticket,
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        service_name=service.name,
        caller=SharedCaller(shared["caller_name"], shared["contact_number"]),
        what_next=shared["what_next"],
    )


async def read_task(session: AsyncSession, *, ticket_id: int, organisation_id: int, actor: str) -> dict[str, Any]:
    ticket = await find_ticket(session, ticket_id, organisation_id=organisation_id)
    return await describe_task(session, ticket=ticket, actor=actor)


async def search_tasks(
    session: AsyncSession,
    *,
    organisation_id: int,
    actor: str,
    changed: tuple[str, datetime] | None,
    statuses: list[str] | None,
    owner: int | None,
    count: int,
    after: tuple[datetime, int] | None = None,
) -> tuple[list[dict[str, Any]], int, tuple[datetime, int] | None]:
    """(a page of up to ``count`` Tasks, how many match in all, where the next page starts or
    None on the last), oldest change first, so a case system polling with
    ``_lastUpdated=gt{last seen}`` misses none; ``after`` is the previous page's last Task."""
    if owner is not None and owner != organisation_id:
        return [], 0, None
    matching = (
        sa.select(TransferTicket)
        .join(Service, Service.id == TransferTicket.service_id)
        .where(Service.organisation_id == organisation_id)
    )
    if changed is not None:
        prefix, moment = changed
        matching = matching.where(
            TransferTicket.updated_at > moment if prefix == "gt" else TransferTicket.updated_at >= moment
        )
    if statuses:
        matching = matching.where(TransferTicket.status.in_(statuses))
    total = await session.scalar(sa.select(sa.func.count()).select_from(matching.subquery()))
    if after is not None:
        matching = matching.where(changed_after(*after))
    page = (await session.scalars(matching.order_by(*BY_CHANGE).limit(count + 1))).all()
    tickets, more = page[:count], len(page) > count
    following = (tickets[-1].updated_at, tickets[-1].id) if more else None
    return [await describe_task(session, ticket=t, actor=actor) for t in tickets], total or 0, following


async def change_task(
    session: AsyncSession,
    *,
    ticket_id: int,
    organisation_id: int,
    actor: str,
    change: TaskChange,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Through the ticket service, so the move is the state table's, with its trail, timers,
    re-routing and partner notifications. With ``expected_version`` (If-Match) a Task changed
    since it was read is a 412 before anything else is checked, and the move itself only lands
    on that version (a change in between is a 412 too, with nothing written)."""
    ticket = await find_ticket(session, ticket_id, organisation_id=organisation_id)
    if expected_version is not None and expected_version != ticket.version:
        raise VersionChanged(ticket.version, expected_version)
    action = moves_to(ticket.status, change.status)
    ticket = await apply_action(
        session,
        ticket=ticket,
        change=ActionInput(
            action,
            actor,
            reason=change.reason,
            outcome=change.outcome,
            outcome_code=change.outcome_code,
            expected_version=expected_version,
        ),
    )
    # The answer carries the caller's details, so it is audited as a read even after a move.
    return await describe_task(session, ticket=ticket, actor=actor)
