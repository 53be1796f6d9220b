"""Group commit: concurrent webhooks share one transaction, each answered only after it commits;
a delivery that fails is undone alone and answered as it would have been without company; and a
server killed with ``kill -9`` in the middle of a burst has stored every delivery it acknowledged
and nothing half of any other."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from app.core.db import session_scope
from app.core.errors import Conflict
from app.core.jobs import PENDING, Job, run_due_jobs, schedule_job
from telephony.calls import insert_call
from telephony.intake import parse_call_webhook
from telephony.models import Call, WebhookDelivery
from telephony.voice import receive_incoming_call
from telephony.webhook_session import webhook_writer
from tests.conftest import PUBLIC_URL, TWILIO_TOKEN
from tests.conftest import test_settings as settings_for
from tests.servers import process_serving
from tests.telephony.conftest import calls, deliveries, rows

NUMBER = "+447700900123"


def incoming(sid: str) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": NUMBER,
        "To": "+441234000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def sid(n: int) -> str:
    return f"CA{n:032x}"


def signed(path: str, form: dict[str, str]) -> tuple[str, str, dict[str, str]]:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, form)
    return path, urlencode(form), {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}


async def post(client: httpx.AsyncClient, path: str, form: dict[str, str]) -> httpx.Response:
    path, body, headers = signed(path, form)
    return await client.post(path, content=body, headers=headers)


async def test_a_burst_of_calls_is_stored_in_a_few_commits_and_each_answered_with_its_own_conference(harness, client):
    writer = webhook_writer(harness.runtime)
    before = writer.batches
    answers = await asyncio.gather(*(post(client, "/telephony/voice/incoming", incoming(sid(n))) for n in range(30)))
    assert [a.status_code for a in answers] == [200] * 30
    assert all(f"call-{sid(n)}" in a.text for n, a in enumerate(answers))
    assert sorted(c.call_sid for c in await calls(harness)) == [sid(n) for n in range(30)]
    assert len(await deliveries(harness)) == 30
    assert writer.batches - before < 30  # shared commits, not one each


async def test_a_job_and_a_webhook_take_turns_and_a_failing_job_still_lets_the_webhook_in(harness, client):
    """On SQLite a job holds the database from its claim to its commit, so a webhook that comes
    meanwhile waits for it, then is stored; on PostgreSQL, which locks rows, it does not wait.
    A job that fails records its failure in a transaction of its own, after letting go."""
    started, go_on = asyncio.Event(), asyncio.Event()

    async def stuck_then_fails(session, job):
        started.set()
        await go_on.wait()
        raise RuntimeError("the partner's record was not there")

    harness.runtime.jobs.register("test.stuck", stuck_then_fails)
    async with session_scope(harness.runtime) as session:
        await schedule_job(session, kind="test.stuck", key="stuck-1", run_at=harness.clock.now())
    jobs = asyncio.create_task(run_due_jobs(harness.runtime))
    await asyncio.wait_for(started.wait(), 10)
    answer = asyncio.create_task(post(client, "/telephony/voice/incoming", incoming(sid(1))))
    writer = webhook_writer(harness.runtime)
    for _ in range(1000):  # until the webhook has reached the writer
        if writer.task is not None:
            break
        await asyncio.sleep(0)
    if harness.runtime.settings.is_sqlite:
        await asyncio.sleep(0.05)  # room to finish, if it were not waiting its turn
        assert not answer.done() and await calls(harness) == []
        go_on.set()
    assert (await asyncio.wait_for(answer, 10)).status_code == 200
    go_on.set()
    assert await asyncio.wait_for(jobs, 10) == 0  # ran, failed, recorded: never stuck behind itself
    [job] = [j for j in await rows(harness, Job) if j.key == "stuck-1"]
    assert (job.status, job.attempts, "partner's record" in job.last_error) == (PENDING, 1, True)
    assert [c.call_sid for c in await calls(harness)] == [sid(1)]


async def test_a_duplicate_in_the_same_batch_gets_the_stored_reply_and_changes_nothing(harness, client):
    answers = await asyncio.gather(*(post(client, "/telephony/voice/incoming", incoming(sid(7))) for _ in range(5)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1 and f"call-{sid(7)}" in answers[0].text
    assert len(await calls(harness)) == 1 and len(await deliveries(harness)) == 1


async def test_a_delivery_that_fails_is_undone_alone_and_its_batch_mates_are_stored(harness):
    writer = webhook_writer(harness.runtime)
    tried: list[str] = []

    async def half_then_fail(session, form):
        tried.append(form["CallSid"])
        await insert_call(session, form, queue_state="waiting")  # written, then the delivery fails
        raise Conflict("this delivery cannot be applied")

    def good(n: int):
        return writer.write(receive_incoming_call, parse_call_webhook(incoming(sid(n)), "incoming"))

    results = await asyncio.gather(
        good(1), writer.write(half_then_fail, incoming(sid(2))), good(3), return_exceptions=True
    )
    assert isinstance(results[1], Conflict)
    assert f"call-{sid(1)}" in results[0] and f"call-{sid(3)}" in results[2]
    assert sorted(c.call_sid for c in await calls(harness)) == [sid(1), sid(3)]  # nothing of the failed one
    assert tried == [sid(2), sid(2)]  # in the batch, then alone: the answer it gets is its own
    assert len(await rows(harness, Job, Job.kind == "telephony.overflow")) == 2


def server_env(db_url: str) -> dict[str, str]:
    settings = settings_for(db_url)
    return {
        "OPENLINE_DATABASE_URL": db_url,
        "OPENLINE_ENVIRONMENT": "test",
        "OPENLINE_PUBLIC_URL": PUBLIC_URL,
        "OPENLINE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "OPENLINE_DATA_KEY": settings.data_key.get_secret_value(),
        "OPENLINE_TELEPHONY": "twilio",
        "OPENLINE_TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "OPENLINE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "OPENLINE_TWILIO_CALLER_ID": settings.twilio_caller_id,
        "OPENLINE_RUN_JOBS": "false",
        "OPENLINE_LOG_LEVEL": "WARNING",
    }


@pytest.mark.parametrize("burst", [400])
async def test_kill_9_mid_batch_loses_no_acknowledged_delivery_and_half_writes_none(harness, db_url, burst):
    """`openline serve` takes a burst of new calls over 32 connections and is killed (SIGKILL) once
    some have been answered, while others are still in its writer's hands."""
    args = ["-c", "from app.cli import main; main()", "serve", "--port", "{port}"]
    acknowledged: set[str] = set()
    async with process_serving(args, server_env(db_url)) as (base, process):
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
            enough = asyncio.Event()

            async def deliver(n: int) -> None:
                try:
                    answer = await post(http, "/telephony/voice/incoming", incoming(sid(n)))
                except httpx.TransportError:
                    return  # killed before it answered: Twilio would retry it
                if answer.status_code == 200:
                    acknowledged.add(sid(n))
                    if len(acknowledged) >= burst // 8:
                        enough.set()

            sending = [asyncio.create_task(deliver(n)) for n in range(burst)]
            await asyncio.wait_for(enough.wait(), 60)
            os.kill(process.pid, signal.SIGKILL)
            await asyncio.gather(*sending)
    if db_url.startswith("sqlite"):
        # The killed writer's WAL is recovered by the next connection; nothing should be locked.
        sqlite3.connect(db_url.split("///", 1)[1]).execute("PRAGMA integrity_check").fetchone()
    stored_calls = {c.call_sid for c in await calls(harness)}
    stored_deliveries = {
        d.call_sid for d in await rows(harness, WebhookDelivery, WebhookDelivery.endpoint == "incoming")
    }
    overflow_jobs = await rows(harness, Job, Job.kind == "telephony.overflow")
    assert 0 < len(acknowledged) < burst  # the kill did land in the middle
    assert acknowledged <= stored_calls  # every 2xx was stored
    assert stored_calls == stored_deliveries  # no call without its delivery, nor the reverse
    assert len(overflow_jobs) == len(stored_calls)  # and each call's follow-up with it
    assert len(stored_calls) < burst  # some were lost with the process, unacknowledged
    waiting = await rows(harness, Call, Call.queue_state == "waiting")
    assert len(waiting) == len(stored_calls)


async def test_a_batch_waits_for_another_connections_write_lock_without_stalling_the_server(harness, db_url):
    """Another connection (the CLI, a job) holds SQLite's write lock: the writer, whose statements
    run on the event loop's thread, waits for it asynchronously and the server answers meanwhile."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL locks rows, not the database")
    writer = webhook_writer(harness.runtime)
    holder = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        writing = asyncio.create_task(
            writer.write(receive_incoming_call, parse_call_webhook(incoming(sid(41)), "incoming"))
        )
        async with harness.client() as other:
            for _ in range(5):  # the loop is free: other requests are answered while it waits
                assert (await other.get("/healthz")).status_code == 200
        assert not writing.done()
    finally:
        holder.rollback()
        holder.close()
    assert f"call-{sid(41)}" in await asyncio.wait_for(writing, 30)
    assert [c.call_sid for c in await calls(harness)] == [sid(41)]


async def test_a_caller_who_hangs_up_while_waiting_leaves_no_follow_on_work(harness, client):
    """Nothing to end and nobody ringing: no session.end or stop-ringing job is written for them."""
    assert (await post(client, "/telephony/voice/incoming", incoming(sid(51)))).status_code == 200
    ended = incoming(sid(51)) | {"CallStatus": "completed", "SequenceNumber": "2", "CallDuration": "30"}
    assert (await post(client, "/telephony/voice/status", ended)).status_code == 200
    (call,) = await calls(harness)
    assert call.queue_state == "ended" and call.abandoned
    kinds = {job.kind for job in await rows(harness, Job)}
    assert "session.end" not in kinds and "telephony.stop_ringing" not in kinds, kinds
