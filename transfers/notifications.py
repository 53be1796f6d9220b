"""The partner-notification outbox: signed webhooks, retried with backoff, never silently dropped.

A ticket change writes a ``PartnerNotification`` row in its own transaction
(``queue_partner_notification``) and schedules a stored job. The job POSTs the notification to the
organisation's webhook URL, signed with the organisation's secret:

* body: ``{"id", "event", "ticket_id", "created_at", "data"}`` serialised once, compactly; those
  exact bytes are signed and sent;
* ``X-Openline-Timestamp``: unix seconds; ``X-Openline-Signature``: ``v1=`` + hex
  HMAC-SHA256(secret, timestamp + "." + raw body);
* ``X-Openline-Delivery``: the notification id (also the body's ``id``), ``X-Openline-Event``.

Delivery is at-least-once: a process that dies after the partner answered but before the outcome
commits leaves the job pending, and it is sent again, so partners de-duplicate on the delivery id.

A failed attempt (timeout, connection error, any non-2xx answer) is recorded on the row by the
handler itself, which then schedules the next attempt as a new job at exponential backoff; once
the notification is 24 hours old a failed attempt marks it ``dead`` and tells supervisors. The
body is never logged (it may hold personal data): only ids and status codes are.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.errors import NotFound, Unprocessable
from app.core.events import publish_live
from app.core.jobs import Job, exponential_backoff, schedule_job
from transfers.directory.models import Organisation
from transfers.tickets.models import PartnerNotification, TransferTicket

if TYPE_CHECKING:
    from app.core.runtime import Runtime

log = logging.getLogger("openline.partner_notifications")

JOB_KIND = "partner.notify"
TRANSPORT_EXTRA = "partner_webhook_transport"
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT_SECONDS = 10.0
SIGNATURE_VERSION = "v1"

# Row statuses (the column is 12 characters wide).
PENDING, DELIVERED, DEAD, UNCONFIGURED = "pending", "delivered", "dead", "unconfigured"


# --- signing (pure; partners can copy verify_delivery) -------------------------------------------

def sign_delivery(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 over ``timestamp + "." + body`` keyed with the webhook secret."""
    message = timestamp.encode() + b"." + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_delivery(secret: str, timestamp: str, body: bytes, signature: str, *, now_unix: float,
                    tolerance_seconds: float = 300) -> bool:
    """True when ``signature`` is ours for exactly these bytes and the timestamp is fresh.

    Compare in constant time, and reject timestamps more than ``tolerance_seconds`` away from
    now so a captured delivery cannot be replayed later.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now_unix - sent_at) > tolerance_seconds:
        return False
    expected = sign_delivery(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), (signature or "").encode())


# --- the outbox ----------------------------------------------------------------------------------

async def queue_partner_notification(session: AsyncSession, *, ticket: TransferTicket, organisation_id: int,
                                     event: str, body: dict[str, Any]) -> PartnerNotification:
    """Write the outbox row in the caller's transaction and schedule its first delivery now.

    An organisation without a webhook still gets the row (status ``unconfigured``): the partner
    reads its queue instead, and no delivery is attempted.
    """
    runtime = runtime_of(session)
    now = runtime.clock.now()
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("no such organisation")
    if ticket.id is None:
        await session.flush()
    configured = bool(organisation.webhook_url and organisation.webhook_secret_encrypted)
    notification = PartnerNotification(organisation_id=organisation_id, ticket_id=ticket.id, event=event, body=body,
                                       status=PENDING if configured else UNCONFIGURED, attempts=0, created_at=now)
    session.add(notification)
    await session.flush()
    if configured:
        await _schedule_attempt(session, notification, attempt=1, run_at=now)
    return notification


async def _schedule_attempt(session: AsyncSession, notification: PartnerNotification, *, attempt: int,
                            run_at: Any) -> None:
    await schedule_job(session, kind=JOB_KIND, key=f"partner-notification:{notification.id}:{attempt}",
                       run_at=run_at, payload={"notification_id": notification.id})


def delivery_body(notification: PartnerNotification) -> bytes:
    """The exact bytes sent (and signed): compact JSON, built once per attempt."""
    document = {
        "id": notification.id,
        "event": notification.event,
        "ticket_id": notification.ticket_id,
        "created_at": notification.created_at.isoformat(),
        "data": notification.body,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


async def deliver_partner_notification(session: AsyncSession, job: Job) -> None:
    """The ``partner.notify`` job: one delivery attempt, its outcome recorded on the row.

    Delivery failures are caught and recorded here (the job loop would roll them back); anything
    else (a crash) propagates, leaving the job pending to be run again.
    """
    runtime = runtime_of(session)
    notification_id = job.payload.get("notification_id")
    notification = await session.get(PartnerNotification, notification_id, with_for_update=True)
    if notification is None or notification.status != PENDING:
        return  # delivered, dead or unconfigured already: never send again
    organisation = await session.get(Organisation, notification.organisation_id)
    secret = runtime.crypto.decrypt(organisation.webhook_secret_encrypted) if organisation else None
    if organisation is None or not organisation.webhook_url or not secret:
        notification.status = UNCONFIGURED
        notification.last_error = "webhook no longer configured"
        log.warning("partner webhook removed before delivery", extra={"notification_id": notification.id})
        return

    body = delivery_body(notification)
    timestamp = str(int(runtime.clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Openline-Timestamp": timestamp,
        "X-Openline-Signature": sign_delivery(secret, timestamp, body),
        "X-Openline-Delivery": str(notification.id),
        "X-Openline-Event": notification.event,
    }
    error: str | None = None
    try:
        async with _client(runtime) as client:
            response = await client.post(organisation.webhook_url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
        status_code: int | None = response.status_code
    except httpx.HTTPError as exc:  # timeouts, connection errors, bad URLs
        error = type(exc).__name__
        status_code = None

    now = runtime.clock.now()
    notification.attempts += 1
    if error is None:
        notification.status = DELIVERED
        notification.delivered_at = now
        notification.last_error = None
        log.info("partner notification delivered", extra={
            "notification_id": notification.id, "organisation_id": organisation.id, "status_code": status_code,
            "attempts": notification.attempts})
        return

    notification.last_error = error[:500]
    if now - notification.created_at >= GIVE_UP_AFTER:
        notification.status = DEAD
        log.error("partner notification dead", extra={
            "notification_id": notification.id, "organisation_id": organisation.id, "status_code": status_code,
            "attempts": notification.attempts})
        await publish_live(session, "role:supervisor", "notification.dead", {
            "id": notification.id, "organisation_id": organisation.id, "organisation": organisation.name,
            "ticket_id": notification.ticket_id, "event": notification.event, "attempts": notification.attempts,
            "last_error": notification.last_error})
        return
    delay = exponential_backoff(notification.attempts)
    log.warning("partner notification failed, will retry", extra={
        "notification_id": notification.id, "organisation_id": organisation.id, "status_code": status_code,
        "attempts": notification.attempts, "retry_in_seconds": delay})
    await _schedule_attempt(session, notification, attempt=notification.attempts + 1,
                            run_at=now + timedelta(seconds=delay))


def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = runtime.extras.get(TRANSPORT_EXTRA)
    kwargs: dict[str, Any] = {"timeout": TIMEOUT_SECONDS, "follow_redirects": False}
    if transport is not None:
        kwargs["transport"] = transport
    return httpx.AsyncClient(**kwargs)


def register(runtime: Runtime) -> None:
    runtime.jobs.register(JOB_KIND, deliver_partner_notification, give_up_after=GIVE_UP_AFTER)


# --- administration ------------------------------------------------------------------------------

def _check_webhook_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500 or any(c.isspace() for c in url):
        raise Unprocessable("url", "must be an http:// or https:// address of at most 500 characters")


async def set_webhook(session: AsyncSession, *, organisation_id: int, url: str | None) -> tuple[Organisation, str | None]:
    """Set (or with ``None`` clear) an organisation's webhook; a new secret is made each time.

    Returns the organisation and the plaintext secret, which is stored only encrypted and shown
    this once.
    """
    runtime = runtime_of(session)
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("no such organisation")
    if url is None:
        organisation.webhook_url = None
        organisation.webhook_secret_encrypted = None
        secret = None
    else:
        url = url.strip()
        _check_webhook_url(url)
        secret = secrets.token_urlsafe(32)
        organisation.webhook_url = url
        organisation.webhook_secret_encrypted = runtime.crypto.encrypt(secret)
    organisation.updated_at = runtime.clock.now()
    await session.flush()
    return organisation, secret


async def list_dead_notifications(session: AsyncSession, *, limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries that gave up, newest first, without their bodies (those may hold personal data)."""
    stmt = (sa.select(PartnerNotification, Organisation.name)
            .join(Organisation, Organisation.id == PartnerNotification.organisation_id)
            .where(PartnerNotification.status == DEAD)
            .order_by(PartnerNotification.created_at.desc(), PartnerNotification.id.desc())
            .limit(limit))
    rows = (await session.execute(stmt)).all()
    return [
        {"id": n.id, "organisation_id": n.organisation_id, "organisation": name, "ticket_id": n.ticket_id,
         "event": n.event, "attempts": n.attempts, "last_error": n.last_error, "created_at": n.created_at}
        for n, name in rows
    ]
