"""The helpline team's follow-ups: callers whose warm transfer could not go through (declined back
to the helpline, or the partner could not reach them). Until one is resolved, the helpline still
owns that caller."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of
from app.core.errors import Conflict, NotFound
from app.core.events import publish_live
from app.core.security import User
from telephony.models import Call
from transfers.directory.models import Service
from transfers.tickets.models import FollowUp, TransferTicket


async def list_open_follow_ups(session: AsyncSession) -> list[dict[str, Any]]:
    """Oldest first: the caller who has waited longest for the helpline to act comes first."""
    rows = (
        await session.execute(
            sa.select(
                FollowUp,
                TransferTicket.status,
                TransferTicket.urgent,
                Service.name,
                Call.from_masked,
                User.display_name,
            )
            .outerjoin(TransferTicket, TransferTicket.id == FollowUp.ticket_id)
            .outerjoin(Service, Service.id == TransferTicket.service_id)
            .outerjoin(Call, Call.id == FollowUp.call_id)
            .outerjoin(User, User.id == TransferTicket.created_by)
            .where(FollowUp.resolved_at.is_(None))
            .order_by(FollowUp.created_at, FollowUp.id)
        )
    ).all()
    return [
        {
            "id": f.id,
            "ticket_id": f.ticket_id,
            "ticket_status": status,
            "urgent": bool(urgent),
            "service": service,
            "caller": masked or "unknown",
            "listener": listener,
            "reason": f.reason,
            "created_at": f.created_at.isoformat(),
        }
        for f, status, urgent, service, masked, listener in rows
    ]


async def resolve_follow_up(session: AsyncSession, *, follow_up_id: int, user: User, note: str) -> dict[str, Any]:
    """Say what was done for the caller; recorded in the audit trail."""
    now = runtime_of(session).clock.now()
    resolved = await session.execute(
        sa.update(FollowUp)
        .where(FollowUp.id == follow_up_id, FollowUp.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=user.id)
    )
    if not resolved.rowcount:
        if await session.get(FollowUp, follow_up_id) is None:
            raise NotFound("no such follow-up")
        raise Conflict("this follow-up was already resolved", error="already_resolved")
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="resolve_follow_up",
        subject_type="follow_up",
        subject_id=follow_up_id,
        note=note,
    )
    await publish_live(session, "role:supervisor", "follow-up.resolved", {"id": follow_up_id})
    return {"id": follow_up_id, "resolved_at": now.isoformat(), "resolved_by": user.display_name}
