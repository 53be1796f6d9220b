"""Partner notifications: admins set an organisation's webhook; supervisors see dead deliveries."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from app.core.deps import CurrentAdmin, CurrentSupervisor, SessionDep
from app.core.responses import SIGNED_IN, PathId, error_responses
from transfers import notifications

router = APIRouter(tags=["partner notifications"], responses=error_responses(*SIGNED_IN))


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None


class WebhookOut(BaseModel):
    organisation_id: int
    url: str | None
    # Shown once, in this response; stored only encrypted.
    secret: str | None


class DeadNotificationOut(BaseModel):
    id: int
    organisation_id: int
    organisation: str
    ticket_id: int
    event: str
    attempts: int
    last_error: str | None
    created_at: datetime


@router.put("/api/admin/organisations/{organisation_id}/webhook", response_model=WebhookOut)
async def set_organisation_webhook(
    organisation_id: PathId, change: WebhookIn, session: SessionDep, _admin: CurrentAdmin
):
    """Set where an organisation's warm-transfer notifications are pushed, with a new secret.

    ``url`` must be an ``http://`` or ``https://`` address (422 otherwise; ``null`` turns pushes
    off). Every call makes a new secret and returns it **once**; it cannot be read again, so
    give it to the partner now. Notifications are POSTed as JSON::

        {"id": 41, "event": "ticket.created", "ticket_id": 7, "created_at": "...", "data": {...}}

    with the headers ``X-Openline-Timestamp`` (unix seconds), ``X-Openline-Signature``
    (``v1=<hex>``), ``X-Openline-Delivery`` (the notification id) and ``X-Openline-Event``.

    To verify a delivery, the partner computes HMAC-SHA256 keyed with the secret (its UTF-8
    bytes) over the timestamp header, a ``.``, and the **raw request body bytes** (before any
    JSON parsing), hex-encodes it, prefixes ``v1=``, and compares that with
    ``X-Openline-Signature`` in constant time. It should also reject a timestamp more than
    5 minutes from its own clock (replays). ``transfers.notifications.verify_delivery`` does
    exactly this. Answer any 2xx once stored; anything else (or no answer within 10 s) is
    retried with exponential backoff (30 s, 1 min, 2 min … hourly) for 24 hours. Deliveries are
    at-least-once: de-duplicate on ``X-Openline-Delivery``.
    """
    organisation, secret = await notifications.set_webhook(session, organisation_id=organisation_id, url=change.url)
    return WebhookOut(organisation_id=organisation.id, url=organisation.webhook_url, secret=secret)


@router.get("/api/supervisor/notifications/dead", response_model=list[DeadNotificationOut])
async def show_dead_notifications(session: SessionDep, _supervisor: CurrentSupervisor):
    """Partner notifications that could not be delivered within 24 hours (bodies are not shown)."""
    return await notifications.list_dead_notifications(session)
