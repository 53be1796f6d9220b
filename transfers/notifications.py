"""The partner-notification outbox: signed webhooks, retried with backoff, never silently dropped.

A ticket change writes a ``PartnerNotification`` row in its own transaction
(``queue_partner_notification``) and schedules a stored job. The job POSTs the notification to the
organisation's webhook URL, signed with the organisation's secret:

* body: ``{"id", "event", "ticket_id", "created_at", "data"}`` serialised once, compactly; those
  exact bytes are signed and sent;
* ``X-Openline-Timestamp``: unix seconds; ``X-Openline-Signature``: ``v1=`` + hex
  HMAC-SHA256(secret, timestamp + "." + raw body);
* ``X-Openline-Delivery``: the notification id (also the body's ``id``), ``X-Openline-Event``.

Delivery is at-least-once: before each POST the next attempt is stored (at exponential backoff)
as a safety net, and the POST happens after that commits, outside any transaction. A delivered
notification cancels the safety net; a failed attempt (timeout, connection error, any non-2xx
answer) is recorded and the safety net is the retry; a process that dies mid-send leaves it to
send again, so partners de-duplicate on the delivery id. Once the notification is 24 hours old a
failed attempt marks it ``dead`` and tells supervisors. The
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

from app.core.db import runtime_of, session_scope
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.events import DomainEvent, emit, publish_live
from app.core.jobs import Job, cancel_job, exponential_backoff, queue_job_now, schedule_job
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


def verify_delivery(
    secret: str, timestamp: str, body: bytes, signature: str, *, now_unix: float, tolerance_seconds: float = 300
) -> bool:
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


async def queue_partner_notification(
    session: AsyncSession, *, ticket: TransferTicket | None, organisation_id: int, event: str, body: dict[str, Any]
) -> PartnerNotification:
    """Write the outbox row in the caller's transaction and schedule its first delivery now.

    An organisation without a webhook still gets the row (status ``unconfigured``): the partner
    reads its queue instead, and no delivery is attempted. Only an admin's test delivery has no
    ticket.
    """
    runtime = runtime_of(session)
    now = runtime.clock.now()
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("no such organisation")
    if ticket is not None and ticket.id is None:
        await session.flush()
    configured = bool(organisation.webhook_url and organisation.webhook_secret_encrypted)
    notification = PartnerNotification(
        organisation_id=organisation_id,
        ticket_id=ticket.id if ticket is not None else None,
        event=event,
        body=body,
        status=PENDING if configured else UNCONFIGURED,
        attempts=0,
        created_at=now,
    )
    session.add(notification)
    await session.flush()
    if configured:
        await _schedule_attempt(session, notification, attempt=1, run_at=now)
    return notification


async def _schedule_attempt(
    session: AsyncSession, notification: PartnerNotification, *, attempt: int, run_at: Any
) -> None:
    await schedule_job(
        session,
        kind=JOB_KIND,
        key=f"partner-notification:{notification.id}:{attempt}",
        run_at=run_at,
        payload={"notification_id": notification.id},
    )


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


SEND_EVENT = "partner.notify.send"


async def deliver_partner_notification(session: AsyncSession, job: Job) -> None:
    """The ``partner.notify`` job: decide on one attempt and, before anything is sent, store the
    next attempt as a safety net. The POST itself happens after this commits (``send_notification``):
    no database transaction (on SQLite, the writer lock the Twilio webhooks need) is held while a
    partner's server takes its time. A process that dies mid-send leaves the safety net to retry."""
    notification = await session.get(PartnerNotification, job.payload.get("notification_id"), with_for_update=True)
    if notification is None or notification.status != PENDING:
        return  # delivered, dead or unconfigured already: never send again
    now = runtime_of(session).clock.now()
    await schedule_job(
        session,
        kind=JOB_KIND,
        key=_safety_net_key(notification.id, job.id),
        run_at=now + timedelta(seconds=exponential_backoff(notification.attempts + 1)),
        payload={"notification_id": notification.id},
    )
    emit(session, SEND_EVENT, notification_id=notification.id, safety_net=_safety_net_key(notification.id, job.id))


def _safety_net_key(notification_id: int, job_id: int) -> str:
    return f"partner-notification:{notification_id}:after-{job_id}"


async def send_notification(runtime: Runtime, event: DomainEvent) -> None:
    """POST one notification, then record the outcome in a short transaction of its own."""
    async with session_scope(runtime) as session:
        notification = await session.get(PartnerNotification, event.payload["notification_id"])
        organisation = await session.get(Organisation, notification.organisation_id) if notification else None
        if notification is None or notification.status != PENDING or organisation is None:
            return
        secret = runtime.crypto.decrypt(organisation.webhook_secret_encrypted)
        url, body, event_name = organisation.webhook_url, delivery_body(notification), notification.event
    if not url or not secret:
        async with session_scope(runtime) as session:
            await _record(
                session, event.payload, error="webhook no longer configured", status_code=None, unconfigured=True
            )
        return
    timestamp = str(int(runtime.clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Openline-Timestamp": timestamp,
        "X-Openline-Signature": sign_delivery(secret, timestamp, body),
        "X-Openline-Delivery": str(event.payload["notification_id"]),
        "X-Openline-Event": event_name,
    }
    error: str | None = None
    status_code: int | None = None
    try:
        async with _client(runtime) as client:
            response = await client.post(url, content=body, headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except httpx.HTTPError as exc:  # timeouts, connection errors, bad URLs
        error = type(exc).__name__
    async with session_scope(runtime) as session:
        await _record(session, event.payload, error=error, status_code=status_code)


async def _record(
    session: AsyncSession,
    payload: dict[str, Any],
    *,
    error: str | None,
    status_code: int | None,
    unconfigured: bool = False,
) -> None:
    notification = await session.get(PartnerNotification, payload["notification_id"], with_for_update=True)
    if notification is None or notification.status != PENDING:
        return
    organisation = await session.get(Organisation, notification.organisation_id)
    now = runtime_of(session).clock.now()
    facts = {
        "notification_id": notification.id,
        "organisation_id": notification.organisation_id,
        "status_code": status_code,
    }
    if unconfigured:
        notification.status, notification.last_error = UNCONFIGURED, error
        await cancel_job(session, payload["safety_net"])
        log.warning("partner webhook removed before delivery", extra=facts)
        return
    notification.attempts += 1
    if error is None:
        notification.status, notification.delivered_at, notification.last_error = DELIVERED, now, None
        await cancel_job(session, payload["safety_net"])
        log.info("partner notification delivered", extra=facts | {"attempts": notification.attempts})
        return
    notification.last_error = error[:500]
    if now - notification.created_at >= GIVE_UP_AFTER:
        notification.status = DEAD
        await cancel_job(session, payload["safety_net"])
        log.error("partner notification dead", extra=facts | {"attempts": notification.attempts})
        await publish_live(
            session,
            "role:supervisor",
            "notification.dead",
            {
                "id": notification.id,
                "organisation_id": notification.organisation_id,
                "organisation": organisation.name if organisation else None,
                "ticket_id": notification.ticket_id,
                "event": notification.event,
                "attempts": notification.attempts,
                "last_error": notification.last_error,
            },
        )
        return
    # The next attempt is the safety net stored before sending, at the backoff for this attempt.
    log.warning("partner notification failed, will retry", extra=facts | {"attempts": notification.attempts})


def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = runtime.extras.get(TRANSPORT_EXTRA)
    kwargs: dict[str, Any] = {"timeout": TIMEOUT_SECONDS, "follow_redirects": False}
    if transport is not None:
        kwargs["transport"] = transport
    return httpx.AsyncClient(**kwargs)


def register(runtime: Runtime) -> None:
    runtime.jobs.register(JOB_KIND, deliver_partner_notification, give_up_after=GIVE_UP_AFTER)
    runtime.bus.subscribe(SEND_EVENT, send_notification)


# --- administration ------------------------------------------------------------------------------


def _check_webhook_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500 or any(c.isspace() for c in url):
        raise Unprocessable("url", "must be an http:// or https:// address of at most 500 characters")


async def set_webhook(
    session: AsyncSession, *, organisation_id: int, url: str | None
) -> tuple[Organisation, str | None]:
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
    stmt = (
        sa.select(PartnerNotification, Organisation.name)
        .join(Organisation, Organisation.id == PartnerNotification.organisation_id)
        .where(PartnerNotification.status == DEAD)
        .order_by(PartnerNotification.created_at.desc(), PartnerNotification.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    return [
        {
            "id": n.id,
            "organisation_id": n.organisation_id,
            "organisation": name,
            "ticket_id": n.ticket_id,
            "event": n.event,
            "attempts": n.attempts,
            "last_error": n.last_error,
            "created_at": n.created_at,
        }
        for n, name in rows
    ]


TEST_EVENT = "webhook.test"


async def send_test_delivery(session: AsyncSession, *, organisation_id: int) -> PartnerNotification:
    """An admin checks a partner's receiver: a delivery with no ticket and no personal data, sent
    through the outbox like any other (signed with the current secret, retried, recorded)."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("no such organisation")
    if not (organisation.webhook_url and organisation.webhook_secret_encrypted):
        raise Unprocessable("url", "set the webhook URL first")
    notification = await queue_partner_notification(
        session,
        ticket=None,
        organisation_id=organisation_id,
        event=TEST_EVENT,
        body={"test": True, "note": "A test delivery from Openline's admin page: no caller, no ticket."},
    )
    # Sent as soon as this commits, so the admin sees at once whether the partner took it.
    queue_job_now(session, kind=JOB_KIND, payload={"notification_id": notification.id})
    return notification


async def list_deliveries(session: AsyncSession, *, organisation_id: int, limit: int = 50) -> list[PartnerNotification]:
    """An organisation's recent notifications, newest first (the caller reads no bodies)."""
    if await session.get(Organisation, organisation_id) is None:
        raise NotFound("no such organisation")
    stmt = (
        sa.select(PartnerNotification)
        .where(PartnerNotification.organisation_id == organisation_id)
        .order_by(PartnerNotification.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def retry_dead_notification(session: AsyncSession, *, notification_id: int) -> PartnerNotification:
    """Send a dead notification once more, now (the partner's receiver is fixed). It stays past
    its 24 hours, so one more failure makes it dead again rather than starting a new day of retries."""
    notification = await session.get(PartnerNotification, notification_id, with_for_update=True)
    if notification is None:
        raise NotFound("no such notification")
    if notification.status != DEAD:
        raise Conflict(f"only a dead delivery is retried; this one is {notification.status}", error="not_dead")
    notification.status = PENDING
    queue_job_now(session, kind=JOB_KIND, payload={"notification_id": notification.id})
    return notification
