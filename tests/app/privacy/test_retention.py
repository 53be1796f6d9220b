"""Retention: what is past its days is deleted or anonymised in batches, what is held is kept, a
dry run only counts, a real purge is audited; a setting below its floor refuses to start."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli import cli
from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.events import LiveEvent
from app.core.security import LoginAttempt
from app.core.settings import development_settings
from app.helpline.models import CallLogRevision
from app.privacy.retention import run_retention
from app.shiftlead.models import SafeguardingRecord
from telephony.models import Call, WebhookDelivery
from tests.conftest import load_demo_directory
from tests.scenarios import GOOD, logged_session, service_id, transfer, voicemail_claimed
from transfers.tickets.models import TicketEvent, TransferTicket

SAFEGUARDED, HELD, ORDINARY = "+447700900401", "+447700900402", "+447700900403"


async def _three_callers_a_year_ago(harness, sim) -> dict[str, int]:
    """Three callers who rang and hung up while waiting; one with an open safeguarding record, one
    held by an admin; a logged session; then 400 days pass."""
    await load_demo_directory(harness)
    await logged_session(harness)
    for number in (SAFEGUARDED, HELD, ORDINARY):
        caller = sim.caller(number)
        await caller.arrive()
        await sim.deliver()
        await caller.hang_up()
        await sim.deliver()
    async with session_scope(harness.runtime) as session:
        calls = {c.from_masked: c for c in (await session.scalars(sa.select(Call))).all()}
        ids = {n: next(c.id for m, c in calls.items() if m.endswith(n[-3:])) for n in (SAFEGUARDED, HELD, ORDINARY)}
        held = await session.get(Call, ids[HELD])
        held.held_at, held.held_reason = harness.clock.now(), "complaint under investigation"
        user = await harness.add_user("ash", "supervisor")
        session.add(
            SafeguardingRecord(
                call_id=ids[SAFEGUARDED],
                flagged_by=user.id,
                flagged_at=harness.clock.now(),
                concern_encrypted=harness.runtime.crypto.encrypt("said they had a plan"),
                alerted=[],
                updated_at=harness.clock.now(),
            )
        )
    harness.clock.advance(days=400)
    return ids


async def _call(harness, call_id: int) -> Call:
    async with session_scope(harness.runtime) as session:
        return await session.get(Call, call_id)


async def test_a_dry_run_counts_and_changes_nothing(harness, sim):
    ids = await _three_callers_a_year_ago(harness, sim)
    due = await run_retention(harness.runtime, dry_run=True)
    assert due["call_records"] == 1  # only the ordinary caller: the others are held
    assert due["call_logs"] == 1 and due["webhook_deliveries"] > 0 and due["safeguarding"] == 0
    assert due["audit"] == 0  # kept for years
    assert (await _call(harness, ids[ORDINARY])).from_hash is not None
    async with session_scope(harness.runtime) as session:
        assert (
            await session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == due["webhook_deliveries"]
        )
        assert await session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "retention_purge")) is None


async def test_the_purge_anonymises_calls_keeps_the_held_and_is_audited(make_harness, sim, harness):
    ids = await _three_callers_a_year_ago(harness, sim)
    due = await run_retention(harness.runtime, dry_run=True)
    # A batch of one: many short transactions, the same result.
    small = await make_harness(retention_batch_size=1)
    done = await run_retention(small.runtime)
    assert done == due

    ordinary = await _call(harness, ids[ORDINARY])
    assert (ordinary.from_encrypted, ordinary.from_hash, ordinary.from_masked) == (None, None, "erased")
    assert ordinary.wait_seconds is not None and ordinary.ended_at is not None  # the counts stay for reports
    for kept in (SAFEGUARDED, HELD):
        call = await _call(harness, ids[kept])
        assert harness.runtime.crypto.decrypt(call.from_encrypted) == kept and call.from_hash
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Call)) == 3
        assert await session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
        assert await session.scalar(sa.select(sa.func.count()).select_from(LiveEvent)) == 0
        assert await session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 0  # 90 days
        revision = await session.scalar(sa.select(CallLogRevision))
        assert revision.summary_encrypted is None and revision.needs == ["money", "housing"]
        record = await session.scalar(sa.select(SafeguardingRecord))
        assert harness.runtime.crypto.decrypt(record.concern_encrypted) == "said they had a plan"
        audit = (await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "retention_purge"))).all()
    assert len(audit) == 1 and audit[0].actor == "system:retention"
    assert audit[0].detail["call_records"] == 1 and audit[0].detail["webhook_deliveries"] == due["webhook_deliveries"]
    # Run again: nothing left to do, nothing audited.
    assert set((await run_retention(harness.runtime)).values()) == {0}


async def test_a_closed_safeguarding_record_goes_after_its_years_then_its_call(harness, sim):
    ids = await _three_callers_a_year_ago(harness, sim)
    async with session_scope(harness.runtime) as session:
        record = await session.scalar(sa.select(SafeguardingRecord))
        record.closed_at = harness.clock.now()
    harness.clock.advance(days=harness.runtime.settings.retain_safeguarding_days - 1)
    assert (await run_retention(harness.runtime))["safeguarding"] == 0
    # Closed, the record no longer holds its call: the call is anonymised, the record kept.
    assert (await _call(harness, ids[SAFEGUARDED])).from_hash is None
    harness.clock.advance(days=2)
    assert (await run_retention(harness.runtime))["safeguarding"] == 1


@pytest.mark.parametrize(
    ("setting", "floor"), [("retain_safeguarding_days", 2190), ("retain_audit_days", 2190), ("retain_jobs_days", 1)]
)
def test_a_retention_below_its_floor_is_refused_at_start_up(setting, floor):
    with pytest.raises(ValidationError):
        development_settings(**{setting: floor - 1})
    assert development_settings(**{setting: floor}).retention_days(setting[7:-5]) == floor


def test_the_refusal_says_the_floor_and_why():
    with pytest.raises(ValidationError) as refused:
        development_settings(retain_safeguarding_days=365)
    message = str(refused.value)
    assert "OPENLINE_RETAIN_SAFEGUARDING_DAYS=365 is below the minimum of 2190 days" in message
    assert "Limitation Act 1980" in message


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_cli_reports_a_dry_run_and_refuses_a_short_setting(harness, db_url, monkeypatch):
    monkeypatch.setenv("OPENLINE_DATABASE_URL", db_url)
    monkeypatch.setenv("OPENLINE_ENVIRONMENT", "development")
    runner = CliRunner()
    dry = await asyncio.to_thread(runner.invoke, cli, ["retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "call_records: 0 due" in dry.output and "audit: 0 due" in dry.output
    monkeypatch.setenv("OPENLINE_RETAIN_AUDIT_DAYS", "30")
    refused = await asyncio.to_thread(runner.invoke, cli, ["retention"])
    assert refused.exit_code == 2 and "OPENLINE_RETAIN_AUDIT_DAYS=30 is below the minimum" in refused.output


async def test_a_finished_warm_transfer_is_anonymised_after_its_days_an_open_one_never(harness):
    await load_demo_directory(harness)
    session_id, client = await logged_session(harness)
    money = await service_id(harness, "ca-money")
    finished = (await transfer(client, session_id, money)).json()["ticket_id"]
    still_open = (await transfer(client, session_id, await service_id(harness, "mind-safe-space"))).json()["ticket_id"]
    cancelled = await client.post(f"/api/helpline/tickets/{finished}/cancel", json={"reason": "Jamie asked us to stop"})
    assert cancelled.status_code == 200, cancelled.text
    harness.clock.advance(days=harness.runtime.settings.retain_tickets_days + 1)
    assert (await run_retention(harness.runtime))["tickets"] == 1
    async with session_scope(harness.runtime) as session:
        gone, kept = (await session.get(TransferTicket, finished)), (await session.get(TransferTicket, still_open))
        reasons = (await session.scalars(sa.select(TicketEvent.reason).where(TicketEvent.ticket_id == finished))).all()
    assert (gone.caller_name_encrypted, gone.contact_number_encrypted, gone.shared_summary_encrypted) == (None,) * 3
    assert gone.status == "cancelled" and gone.needs == ["money", "housing"]  # what the reports count
    assert set(reasons) == {None}
    assert harness.runtime.crypto.decrypt(kept.caller_name_encrypted) == "Jamie"


async def test_a_survey_keeps_its_answers_but_not_the_number_s_hash_past_its_days(harness):
    from telephony.models import CallerSurvey

    now = harness.clock.now()
    async with session_scope(harness.runtime) as session:
        session.add_all(
            [
                CallerSurvey(way="text", state="asked", consented_at=now, number_hash="a" * 64),
                CallerSurvey(way="keypad", state="answered", consented_at=now, helped=4, safer=True),
            ]
        )
    harness.clock.advance(days=8)
    done = await run_retention(harness.runtime)
    assert done["survey_numbers"] == 1
    async with session_scope(harness.runtime) as session:
        rows = (await session.scalars(sa.select(CallerSurvey).order_by(CallerSurvey.id))).all()
    assert [(r.number_hash, r.helped, r.safer) for r in rows] == [(None, None, None), (None, 4, True)]


async def test_a_ring_backs_log_is_held_with_the_call_that_left_the_message(harness, sim):
    """A ring-back's session hangs off the callback, not a call: its log is kept while that call
    is held, and purged with the rest once the hold is lifted."""
    await load_demo_directory(harness)
    _, sam, callback_id = await voicemail_claimed(harness, sim, number=HELD)
    session_id = (await sam.post(f"/api/listener/callbacks/{callback_id}/session")).json()["id"]
    assert (await sam.post(f"/api/listener/sessions/{session_id}/log", json=GOOD)).status_code == 201
    await harness.add_user("admin", "admin")
    admin = await harness.signed_in("admin")
    hold = {"number": HELD, "restricted": True, "reason": "complaint"}
    assert (await admin.post("/api/admin/callers/restrict", json=hold)).status_code == 200
    harness.clock.advance(days=400)
    assert (await run_retention(harness.runtime, dry_run=True))["call_logs"] == 0
    admin = await harness.signed_in("admin")  # a year on: signed in afresh
    lifted = await admin.post("/api/admin/callers/restrict", json=hold | {"restricted": False})
    assert lifted.status_code == 200
    assert (await run_retention(harness.runtime, dry_run=True))["call_logs"] == 1
