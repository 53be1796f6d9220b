"""The partner-notification outbox, seen from the partner's side: a local receiver verifies every
signature exactly as a partner would, and can be told to fail, time out or take the request while
the Openline worker dies before recording it."""

import json
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.db import session_scope
from app.core.events import LiveEvent
from app.core.jobs import Job, exponential_backoff, run_due_jobs
from transfers.directory.models import Organisation, Service
from transfers.notifications import (
    JOB_KIND,
    TRANSPORT_EXTRA,
    queue_partner_notification,
    set_webhook,
    sign_delivery,
    verify_delivery,
)
from transfers.tickets.models import PartnerNotification, TransferTicket

HOOK_URL = "https://partner.example.org/hooks/openline"
DATA = {"service_id": 1, "urgent": False, "needs": ["money"], "contact_method": "phone"}


class WorkerKilled(BaseException):
    """The worker process is killed (like SIGKILL/SystemExit): nothing after this point runs."""


class Receiver:
    """A partner's endpoint. ``plan`` scripts the next calls: "500", "timeout" or "crash-after"."""

    def __init__(self, clock, secret):
        self.clock = clock
        self.secret = secret
        self.plan: list[str] = []
        self.calls: list = []  # when each request left Openline
        self.deliveries: list[dict] = []  # verified and accepted
        self.rejected = 0
        self.app = Starlette(routes=[Route("/hooks/openline", self.endpoint, methods=["POST"])])

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        if not verify_delivery(
            self.secret,
            headers.get("x-openline-timestamp", ""),
            body,
            headers.get("x-openline-signature", ""),
            now_unix=self.clock.now().timestamp(),
        ):
            self.rejected += 1
            return Response(status_code=401)
        if self.plan and self.plan[0] == "500":
            self.plan.pop(0)
            return Response(status_code=500)
        self.deliveries.append({"headers": dict(headers), "body": body, "at": self.clock.now()})
        return Response(status_code=204)


class ReceiverTransport(httpx.AsyncBaseTransport):
    def __init__(self, receiver: Receiver):
        self.receiver = receiver
        self.inner = httpx.ASGITransport(app=receiver.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        receiver = self.receiver
        receiver.calls.append(receiver.clock.now())
        step = receiver.plan[0] if receiver.plan else None
        if step == "timeout":
            receiver.plan.pop(0)
            raise httpx.ReadTimeout("the partner did not answer", request=request)
        if step == "crash-after":
            receiver.plan.pop(0)
            response = await self.inner.handle_async_request(request)
            await response.aread()
            raise WorkerKilled("worker process died before recording the outcome")
        return await self.inner.handle_async_request(request)


async def _setup(harness, *, webhook: bool = True):
    now = harness.clock.now()
    listener = await harness.add_user("sam", "listener")
    async with session_scope(harness.runtime) as session:
        org = Organisation(slug="alpha", name="Alpha Advice", created_at=now, updated_at=now)
        session.add(org)
        await session.flush()
        service = Service(
            slug="alpha-money",
            organisation_id=org.id,
            name="Money advice",
            needs=["money"],
            areas=[],
            schedule=[],
            created_at=now,
            updated_at=now,
        )
        session.add(service)
        await session.flush()
        ticket = TransferTicket(
            service_id=service.id,
            created_by=listener.id,
            needs=["money"],
            risk_level="low",
            consent_covers="needs and summary",
            consent_recorded_at=now,
            consent_recorded_by=listener.id,
            accept_by=now + timedelta(hours=16),
            contact_by=now + timedelta(hours=40),
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        await session.flush()
        secret = None
        if webhook:
            _, secret = await set_webhook(session, organisation_id=org.id, url=HOOK_URL)
    receiver = Receiver(harness.clock, secret)
    harness.runtime.extras[TRANSPORT_EXTRA] = ReceiverTransport(receiver)
    return org, ticket, receiver


async def _queue(harness, org, ticket, event="ticket.created"):
    async with session_scope(harness.runtime) as session:
        notification = await queue_partner_notification(
            session, ticket=ticket, organisation_id=org.id, event=event, body=DATA
        )
    return notification.id


async def _notification(runtime, notification_id) -> PartnerNotification:
    async with session_scope(runtime) as session:
        return await session.get(PartnerNotification, notification_id)


async def test_a_partner_receives_one_signed_delivery_with_the_exact_body(harness):
    org, ticket, receiver = await _setup(harness)
    sent_at = harness.clock.now()
    notification_id = await _queue(harness, org, ticket)

    await run_due_jobs(harness.runtime)

    assert receiver.rejected == 0 and len(receiver.deliveries) == 1
    delivery = receiver.deliveries[0]
    expected = {
        "id": notification_id,
        "event": "ticket.created",
        "ticket_id": ticket.id,
        "created_at": sent_at.isoformat(),
        "data": DATA,
    }
    assert delivery["body"] == json.dumps(expected, separators=(",", ":")).encode()
    headers = delivery["headers"]
    timestamp = str(int(sent_at.timestamp()))
    assert headers["content-type"] == "application/json"
    assert headers["x-openline-timestamp"] == timestamp
    assert headers["x-openline-signature"] == sign_delivery(receiver.secret, timestamp, delivery["body"])
    assert headers["x-openline-signature"].startswith("v1=")
    assert headers["x-openline-delivery"] == str(notification_id)
    assert headers["x-openline-event"] == "ticket.created"

    row = await _notification(harness.runtime, notification_id)
    assert (row.status, row.attempts, row.delivered_at, row.last_error) == ("delivered", 1, sent_at, None)
    harness.clock.advance(hours=30)
    await run_due_jobs(harness.runtime)
    assert len(receiver.calls) == 1  # delivered means never sent again


async def test_the_outbox_row_commits_or_rolls_back_with_the_ticket_change(harness):
    org, ticket, receiver = await _setup(harness)
    with pytest.raises(RuntimeError):
        async with session_scope(harness.runtime) as session:
            await queue_partner_notification(
                session, ticket=ticket, organisation_id=org.id, event="ticket.cancelled", body=DATA
            )
            raise RuntimeError("the ticket change failed")
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(PartnerNotification)) == 0
        assert await session.scalar(sa.select(sa.func.count()).where(Job.kind == JOB_KIND)) == 0
    await run_due_jobs(harness.runtime)
    assert receiver.calls == []


async def test_failures_are_retried_at_backoff_then_delivered_once(harness):
    org, ticket, receiver = await _setup(harness)
    receiver.plan = ["500", "timeout"]
    start = harness.clock.now()
    notification_id = await _queue(harness, org, ticket, event="ticket.rerouted")

    await run_due_jobs(harness.runtime)  # attempt 1: the partner answers 500
    row = await _notification(harness.runtime, notification_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")

    harness.clock.advance(seconds=29)
    await run_due_jobs(harness.runtime)
    assert len(receiver.calls) == 1  # nothing before the 30 s backoff
    harness.clock.advance(seconds=1)
    await run_due_jobs(harness.runtime)  # attempt 2: the partner does not answer
    row = await _notification(harness.runtime, notification_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 2, "ReadTimeout")

    harness.clock.advance(seconds=59)
    await run_due_jobs(harness.runtime)
    assert len(receiver.calls) == 2  # nothing before the 60 s backoff
    harness.clock.advance(seconds=1)
    await run_due_jobs(harness.runtime)  # attempt 3 succeeds

    assert receiver.calls == [start, start + timedelta(seconds=30), start + timedelta(seconds=90)]
    assert len(receiver.deliveries) == 1 and receiver.rejected == 0
    assert receiver.deliveries[0]["headers"]["x-openline-delivery"] == str(notification_id)
    # Every attempt is signed afresh with its own timestamp.
    assert receiver.deliveries[0]["headers"]["x-openline-timestamp"] == str(
        int((start + timedelta(seconds=90)).timestamp())
    )
    row = await _notification(harness.runtime, notification_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert row.delivered_at == start + timedelta(seconds=90)

    harness.clock.advance(hours=2)
    await run_due_jobs(harness.runtime)
    assert len(receiver.calls) == 3


async def test_a_partner_down_for_a_day_gives_a_dead_notification_supervisors_see(harness):
    org, ticket, receiver = await _setup(harness)
    receiver.plan = ["500"] * 1000
    start = harness.clock.now()
    notification_id = await _queue(harness, org, ticket)

    for _ in range(60):
        await run_due_jobs(harness.runtime)
        row = await _notification(harness.runtime, notification_id)
        if row.status != "pending":
            break
        harness.clock.advance(minutes=30)
    assert row.status == "dead"
    assert harness.clock.now() - start >= timedelta(hours=24)
    assert row.attempts == len(receiver.calls) > 10 and row.last_error == "HTTP 500"
    assert receiver.deliveries == []
    gaps = [b - a for a, b in zip(receiver.calls, receiver.calls[1:])]
    # Never sooner than the backoff, never more than an hour (plus this test's 30-minute step) apart.
    assert all(gap >= timedelta(seconds=exponential_backoff(n)) for n, gap in enumerate(gaps, start=1))
    assert max(gaps) <= timedelta(hours=1, minutes=30)

    async with session_scope(harness.runtime) as session:
        events = (await session.scalars(sa.select(LiveEvent).where(LiveEvent.type == "notification.dead"))).all()
    assert [(e.audience, e.data["id"], e.data["ticket_id"], e.data["organisation"]) for e in events] == [
        ("role:supervisor", notification_id, ticket.id, "Alpha Advice")
    ]

    await harness.add_user("jo", "supervisor")
    supervisor = await harness.signed_in("jo")
    dead = await supervisor.get("/api/supervisor/notifications/dead")
    assert dead.status_code == 200
    [item] = dead.json()
    assert item["id"] == notification_id and item["organisation"] == "Alpha Advice"
    assert item["ticket_id"] == ticket.id and item["event"] == "ticket.created"
    assert item["attempts"] == row.attempts and item["last_error"] == "HTTP 500"
    assert "data" not in item and "body" not in item and "money" not in dead.text

    await harness.add_user("sam2", "listener")
    listener = await harness.signed_in("sam2")
    assert (await listener.get("/api/supervisor/notifications/dead")).status_code == 403

    calls = len(receiver.calls)
    receiver.plan = []
    harness.clock.advance(hours=48)
    await run_due_jobs(harness.runtime)
    assert len(receiver.calls) == calls  # dead: no further attempts


async def test_a_worker_dying_mid_delivery_leaves_it_pending_and_a_restarted_worker_delivers(make_harness):
    first = await make_harness()
    org, ticket, receiver = await _setup(first)
    receiver.plan = ["crash-after"]
    start = first.clock.now()
    notification_id = await _queue(first, org, ticket)

    with pytest.raises(WorkerKilled):  # the partner stored it, but the worker died before committing
        await run_due_jobs(first.runtime)
    assert len(receiver.deliveries) == 1
    row = await _notification(first.runtime, notification_id)
    assert (row.status, row.attempts, row.delivered_at) == ("pending", 0, None)

    restarted = await make_harness()  # a new process on the same database
    restarted.runtime.extras[TRANSPORT_EXTRA] = ReceiverTransport(receiver)
    restarted.clock.advance(minutes=5)
    await run_due_jobs(restarted.runtime)

    row = await _notification(restarted.runtime, notification_id)
    assert (row.status, row.attempts) == ("delivered", 1)
    assert row.delivered_at == start + timedelta(minutes=5)
    # At-least-once: the partner saw it twice, with the same delivery id and body id to de-duplicate on.
    assert [d["headers"]["x-openline-delivery"] for d in receiver.deliveries] == [str(notification_id)] * 2
    assert {json.loads(d["body"])["id"] for d in receiver.deliveries} == {notification_id}
    restarted.clock.advance(hours=30)
    await run_due_jobs(restarted.runtime)
    assert len(receiver.deliveries) == 2


async def test_an_organisation_without_a_webhook_gets_the_row_but_no_delivery(harness):
    org, ticket, receiver = await _setup(harness, webhook=False)
    notification_id = await _queue(harness, org, ticket)
    harness.clock.advance(hours=1)
    await run_due_jobs(harness.runtime)

    row = await _notification(harness.runtime, notification_id)
    assert (row.status, row.attempts, row.delivered_at) == ("unconfigured", 0, None)
    assert row.body == DATA
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).where(Job.kind == JOB_KIND)) == 0
    assert receiver.calls == []


async def test_an_admin_sets_a_webhook_and_sees_its_secret_once(harness):
    org, ticket, _ = await _setup(harness, webhook=False)
    await harness.add_user("admin1", "admin")
    admin = await harness.signed_in("admin1")

    response = await admin.put(f"/api/admin/organisations/{org.id}/webhook", json={"url": HOOK_URL})
    assert response.status_code == 200
    shown = response.json()
    assert shown["organisation_id"] == org.id and shown["url"] == HOOK_URL
    secret = shown["secret"]
    assert isinstance(secret, str) and len(secret) >= 40

    listing = await admin.get("/api/directory/organisations")
    assert listing.status_code == 200 and secret not in listing.text
    assert [o["webhook_url"] for o in listing.json() if o["id"] == org.id] == [HOOK_URL]
    # The URL changes only with a new secret: the plain directory edit refuses it.
    sneaky = await admin.patch(
        f"/api/directory/organisations/{org.id}", json={"webhook_url": "https://elsewhere.example"}
    )
    assert sneaky.status_code == 422 and sneaky.json()["detail"][0]["field"] == "webhook_url"
    async with session_scope(harness.runtime) as session:
        stored = await session.get(Organisation, org.id)
        assert secret not in stored.webhook_secret_encrypted
        assert harness.runtime.crypto.decrypt(stored.webhook_secret_encrypted) == secret

    # The partner verifies deliveries with the secret it was shown.
    receiver = Receiver(harness.clock, secret)
    harness.runtime.extras[TRANSPORT_EXTRA] = ReceiverTransport(receiver)
    await _queue(harness, org, ticket)
    await run_due_jobs(harness.runtime)
    assert len(receiver.deliveries) == 1 and receiver.rejected == 0

    again = await admin.put(f"/api/admin/organisations/{org.id}/webhook", json={"url": HOOK_URL})
    assert again.json()["secret"] != secret  # each call rotates the secret

    for bad in ("ftp://partner.example.org/hook", "partner.example.org/hook", "https://", "javascript:alert(1)"):
        invalid = await admin.put(f"/api/admin/organisations/{org.id}/webhook", json={"url": bad})
        assert invalid.status_code == 422, bad
        assert [f["field"] for f in invalid.json()["detail"]] == ["url"]
    missing = await admin.put("/api/admin/organisations/999999/webhook", json={"url": HOOK_URL})
    assert missing.status_code == 404

    await harness.add_user("jo", "supervisor")
    supervisor = await harness.signed_in("jo")
    assert (
        await supervisor.put(f"/api/admin/organisations/{org.id}/webhook", json={"url": HOOK_URL})
    ).status_code == 403
    async with harness.client() as anonymous:
        assert (
            await anonymous.put(f"/api/admin/organisations/{org.id}/webhook", json={"url": HOOK_URL})
        ).status_code == 401

    cleared = await admin.put(f"/api/admin/organisations/{org.id}/webhook", json={"url": None})
    assert cleared.status_code == 200 and cleared.json() == {"organisation_id": org.id, "url": None, "secret": None}


def test_signatures_verify_only_the_exact_fresh_body():
    secret, timestamp, body = "s3cret-value", "1795464000", b'{"id":1,"event":"ticket.created"}'
    signature = sign_delivery(secret, timestamp, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert signature == sign_delivery(secret, timestamp, body)
    assert verify_delivery(secret, timestamp, body, signature, now_unix=1795464000 + 299)
    assert not verify_delivery(secret, timestamp, body.replace(b"1", b"2"), signature, now_unix=1795464000)
    assert not verify_delivery(secret, timestamp, body + b" ", signature, now_unix=1795464000)
    assert not verify_delivery("another-secret", timestamp, body, signature, now_unix=1795464000)
    assert not verify_delivery(secret, "1795464001", body, signature, now_unix=1795464000)  # timestamp is signed
    assert not verify_delivery(secret, timestamp, body, signature, now_unix=1795464000 + 301)  # stale
    assert not verify_delivery(secret, timestamp, body, signature, now_unix=1795464000 - 301)  # from the future
    assert not verify_delivery(secret, "not-a-time", body, signature, now_unix=1795464000)
    assert not verify_delivery(secret, timestamp, body, "", now_unix=1795464000)
