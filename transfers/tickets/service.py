"""Warm-transfer ticket service functions (they never commit)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from transfers.states import ACTIVE_STATES
from transfers.tickets.models import TransferTicket


async def list_queue(session: AsyncSession, *, service_id: int) -> list[TransferTicket]:
    """A service's queue: tickets still active, urgent first, then newest."""
    stmt = (sa.select(TransferTicket)
            .where(TransferTicket.service_id == service_id, TransferTicket.status.in_([str(s) for s in ACTIVE_STATES]))
            .order_by(TransferTicket.urgent.desc(), TransferTicket.created_at.desc(), TransferTicket.id.desc()))
    return list((await session.scalars(stmt)).all())
