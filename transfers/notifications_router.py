"""Partner notifications: supervisors see dead deliveries (admins set webhooks in app/admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.core.deps import CurrentSupervisor, SessionDep
from app.core.responses import SIGNED_IN, error_responses
from transfers import notifications

router = APIRouter(tags=["partner notifications"], responses=error_responses(*SIGNED_IN))


class DeadNotificationOut(BaseModel):
    id: int
    organisation_id: int
    organisation: str
    ticket_id: int | None
    event: str
    attempts: int
    last_error: str | None
    created_at: datetime


@router.get("/api/supervisor/notifications/dead", response_model=list[DeadNotificationOut])
async def show_dead_notifications(session: SessionDep, _supervisor: CurrentSupervisor):
    """Partner notifications that could not be delivered within 24 hours (bodies are not shown)."""
    return await notifications.list_dead_notifications(session)
