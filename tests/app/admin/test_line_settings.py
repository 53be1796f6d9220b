"""The line's own settings in /admin, on both databases: admins only, checked like a service's
hours, audited with before and after, and followed by the telephony (the greeting callers hear,
a holiday sending them to voicemail, the longest wait) without a query per webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.core.jobs import run_due_jobs
from app.core.line import REFRESH_SECONDS
from tests.telephony.conftest import calls, simulator_for

GREETING = "Hello, you have reached the Somerset night line. A listener will be with you soon."
# A Tuesday evening in winter (UK time is UTC).
TUESDAY_EVENING = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


@pytest.fixture
async def admin(harness):
    await harness.add_user("root", "admin")
    return await harness.signed_in("root")


async def _audit(harness) -> list[AuditEvent]:
    async with session_scope(harness.runtime) as session:
        stmt = sa.select(AuditEvent).where(AuditEvent.action == "change_line_settings").order_by(AuditEvent.id)
        return list((await session.scalars(stmt)).all())


async def test_the_defaults_are_the_environment_until_an_admin_saves(make_harness):
    harness = await make_harness(max_wait_seconds=300, line_open=True)
    await harness.add_user("root", "admin")
    admin = await harness.signed_in("root")
    shown = (await admin.get("/api/admin/line")).json()
    assert shown["max_wait_seconds"] == 300 and shown["taking_calls"] and shown["hours"] is None
    assert shown["open_now"] and shown["open_words"] == "Open now, 24 hours a day."
    assert shown["language"] == "en-GB" and shown["voice"] in shown["voices"]
    assert "max_wait_seconds" in shown["defaults"] and "greeting" in shown["defaults"]
    # The closed message and the voicemail prompt always end with the emergency number.
    assert shown["heard"]["closed_message"]["says"].endswith("please call 999.")
    assert "caller number 2" in shown["heard"]["position_wording"]["says"]


@pytest.mark.parametrize("role", ["listener", "supervisor"])
async def test_only_an_admin_reads_or_changes_them(harness, role):
    await harness.add_user("someone", role)
    client = await harness.signed_in("someone")
    assert (await client.get("/api/admin/line")).status_code == 403
    refused = await client.patch("/api/admin/line", json={"greeting": "Hello"})
    assert refused.status_code == 403
    assert await _audit(harness) == []


async def test_bad_hours_and_wording_are_422_naming_the_field_and_save_nothing(harness, admin):
    cases = [
        ({"hours": [{"days": "mon-fri", "opens": "18:00", "closes": "08:00"}]}, "hours", "run backwards"),
        ({"hours": [{"days": "funday", "opens": "18:00", "closes": "23:00"}]}, "hours", "unknown day"),
        ({"hours": [{"days": "daily", "opens": "6pm", "closes": "23:00"}]}, "hours", "HH:MM"),
        ({"hours": []}, "hours", "at least 1"),
        (
            {"closures": [{"starts": "2026-12-26", "ends": "2026-12-25", "note": "Christmas"}]},
            "closures",
            "before it starts",
        ),
        ({"closures": [{"starts": "2026-12-25", "ends": "2026-12-25"}]}, "closures", "required"),
        ({"max_wait_seconds": 5}, "max_wait_seconds", "greater than or equal to 30"),
        ({"greeting": "x" * 401}, "greeting", "at most 400"),
        ({"position_wording": "You are next in line."}, "position_wording", "{position}"),
        ({"voice": "Polly.Joanna"}, "voice", "British English"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ]
    for body, field, words in cases:
        response = await admin.patch("/api/admin/line", json=body | {"greeting": body.get("greeting", "Hi there")})
        assert response.status_code == 422, (body, response.text)
        detail = response.json()["detail"]
        assert any(item["field"].startswith(field) and words in item["message"] for item in detail), (body, detail)
    assert await _audit(harness) == []
    assert "greeting" in (await admin.get("/api/admin/line")).json()["defaults"]


async def test_a_change_is_audited_with_who_and_before_and_after(harness, admin):
    saved = await admin.patch(
        "/api/admin/line", json={"greeting": "  Hello,\n  you are through.  ", "max_wait_seconds": 420}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["greeting"] == "Hello, you are through." and saved.json()["updated_by"] == "user:root"
    again = await admin.patch("/api/admin/line", json={"max_wait_seconds": 420})  # no change: no audit row
    assert again.status_code == 200
    back = await admin.patch("/api/admin/line", json={"greeting": None})
    assert back.json()["greeting"].startswith("Thank you for calling") and "greeting" in back.json()["defaults"]
    first, second = await _audit(harness)
    assert first.actor == "user:root" and first.subject_type == "line_settings"
    assert first.detail == {
        "greeting": {"from": None, "to": "Hello, you are through."},
        "max_wait_seconds": {"from": None, "to": 420},
    }
    assert second.detail == {"greeting": {"from": "Hello, you are through.", "to": None}}
    found = (await admin.get("/api/admin/audit", params={"action": "change_line_settings"})).json()
    assert len(found["events"]) == 2


async def test_the_preview_says_what_callers_would_hear_without_saving(harness, admin):
    preview = await admin.post(
        "/api/admin/line/preview",
        json={
            "closed_message": "We are closed tonight.",
            "position_wording": "You are number {position} in the queue.",
        },
    )
    assert preview.status_code == 200, preview.text
    heard = preview.json()
    assert heard["closed_message"]["says"] == "We are closed tonight. If you are in danger right now, please call 999."
    assert heard["position_wording"]["says"] == "You are number 2 in the queue." and heard["greeting"]["seconds"] >= 3
    assert (await admin.post("/api/admin/line/preview", json={"position_wording": "no place"})).status_code == 422
    assert await _audit(harness) == []


async def test_a_caller_hears_the_saved_greeting_in_the_chosen_voice(harness, admin):
    sim = simulator_for(harness)
    saved = await admin.patch("/api/admin/line", json={"greeting": GREETING, "voice": "Polly.Brian-Neural"})
    assert saved.status_code == 200, saved.text
    caller = sim.caller()
    assert GREETING in await caller.arrive()
    [reply] = [d for d in await _replies(harness) if "<Conference" in d]
    assert f'<Say language="en-GB" voice="Polly.Brian-Neural">{GREETING}</Say>' in reply
    [call] = await calls(harness)
    assert call.queue_state == "waiting"
    await sim.close()


async def _replies(harness) -> list[str]:
    from telephony.models import WebhookDelivery

    async with session_scope(harness.runtime) as session:
        return [r or "" for r in (await session.scalars(sa.select(WebhookDelivery.reply))).all()]


async def test_on_a_holiday_callers_hear_the_closed_message_and_can_leave_one(harness, admin):
    harness.clock.set(TUESDAY_EVENING)
    sim = simulator_for(harness)
    saved = await admin.patch(
        "/api/admin/line",
        json={
            "closures": [{"starts": "2026-12-01", "ends": "2026-12-01", "note": "Staff training"}],
            "closed_message": "The line is closed today for staff training. Please leave a message after the tone.",
        },
    )
    assert saved.status_code == 200, saved.text
    assert not saved.json()["open_now"] and "Staff training" in saved.json()["open_words"]
    caller = sim.caller()
    heard = await caller.arrive()
    assert "closed today for staff training" in heard and "999" in heard and caller.state == "recording"
    await caller.leave_message(seconds=9)
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state in ("voicemail", "ended") and call.listener_id is None
    # The next day the line is open again, without anyone touching it.
    harness.clock.advance(hours=12)
    next_caller = sim.caller(number="+447700900222")
    assert "Thank you for calling" in await next_caller.arrive()
    await sim.close()


async def test_outside_the_weekly_hours_callers_go_to_voicemail(harness, admin):
    harness.clock.set(TUESDAY_EVENING)
    sim = simulator_for(harness)
    hours = [{"days": "daily", "opens": "08:00", "closes": "18:00"}]
    saved = (await admin.patch("/api/admin/line", json={"hours": hours})).json()
    assert not saved["open_now"] and saved["open_words"].startswith(
        "Closed now (outside opening hours); opens tomorrow 8:00"
    )
    assert "cannot take calls" in await sim.caller().arrive()
    harness.clock.advance(hours=13)  # 09:00 on Wednesday
    assert "Thank you for calling" in await sim.caller(number="+447700900333").arrive()
    await sim.close()


async def test_the_overflow_job_honours_the_saved_longest_wait(harness, admin):
    sim = simulator_for(harness)
    assert (await admin.patch("/api/admin/line", json={"max_wait_seconds": 60})).status_code == 200
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    harness.clock.advance(seconds=59)
    await run_due_jobs(harness.runtime)
    assert (await calls(harness))[0].queue_state == "waiting"
    harness.clock.advance(seconds=2)
    assert await run_due_jobs(harness.runtime) >= 1
    await sim.deliver()
    [call] = await calls(harness)
    assert call.queue_state == "voicemail" and call.wait_seconds == 61 and caller.state == "recording"
    await sim.close()


async def test_a_longer_wait_saved_after_a_caller_arrived_is_honoured_too(harness, admin):
    sim = simulator_for(harness)
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    assert (await admin.patch("/api/admin/line", json={"max_wait_seconds": 1200})).status_code == 200
    harness.clock.advance(seconds=harness.runtime.settings.max_wait_seconds + 1)  # the old deadline
    await run_due_jobs(harness.runtime)
    assert (await calls(harness))[0].queue_state == "waiting"
    harness.clock.advance(seconds=1200 - harness.runtime.settings.max_wait_seconds)
    assert await run_due_jobs(harness.runtime) >= 1
    assert (await calls(harness))[0].queue_state == "voicemail"
    await sim.close()


async def test_the_saved_position_wording_is_what_a_waiting_caller_hears(harness, admin):
    sim = simulator_for(harness)
    wording = "You are number {position} in the queue. Thank you for holding."
    await admin.patch("/api/admin/line", json={"position_wording": wording, "position_announce_seconds": 20})
    caller = sim.caller()
    await caller.arrive()
    await sim.deliver()
    assert "You are number 1 in the queue." in " ".join(caller.heard)
    harness.clock.advance(seconds=10)
    assert "You are number" not in await caller.hear_hold_music()
    harness.clock.advance(seconds=11)  # the saved interval (20 s), not the environment's 45 s
    assert "You are number 1 in the queue." in await caller.hear_hold_music()
    await sim.close()


async def test_switching_the_line_off_sends_callers_to_voicemail(harness, admin):
    sim = simulator_for(harness)
    saved = (await admin.patch("/api/admin/line", json={"taking_calls": False})).json()
    assert not saved["open_now"] and saved["open_words"].startswith("Closed: not taking calls")
    assert "cannot take calls" in await sim.caller().arrive()
    await sim.close()


async def test_webhooks_read_the_settings_from_memory_and_another_process_follows_within_the_interval(
    make_harness, monkeypatch
):
    here = await make_harness()
    there = await make_harness()  # a second app process on the same database
    await here.add_user("root", "admin")
    admin = await here.signed_in("root")
    sim_there = simulator_for(there)
    assert "Thank you for calling" in await sim_there.caller().arrive()  # reads (and caches) the defaults

    reads = []
    loader = there.runtime.line.loader

    async def counting(runtime, now):
        reads.append(now)
        return await loader(runtime, now)

    monkeypatch.setattr(there.runtime.line, "loader", counting)
    assert (await admin.patch("/api/admin/line", json={"greeting": GREETING})).status_code == 200
    for n in range(3):  # within the interval: still the copy it had, and no query for it
        assert "Thank you for calling" in await sim_there.caller(number=f"+44770090010{n}").arrive()
    assert reads == []
    there.clock.advance(seconds=REFRESH_SECONDS)
    assert GREETING in await sim_there.caller(number="+447700900199").arrive()
    assert GREETING in await sim_there.caller(number="+447700900198").arrive()
    assert len(reads) == 1
    await sim_there.close()


@pytest.mark.parametrize(
    "hours,closures,moment,open_",
    [
        (None, [], "2026-12-25T12:00", True),
        (None, [("2026-12-25", "2026-12-26")], "2026-12-24T23:59", True),
        (None, [("2026-12-25", "2026-12-26")], "2026-12-25T00:00", False),
        (None, [("2026-12-25", "2026-12-26")], "2026-12-26T23:59", False),
        ([("daily", "18:00", "24:00")], [], "2026-12-01T17:59", False),
        ([("daily", "18:00", "24:00")], [], "2026-12-01T23:59", True),
        ([("daily", "18:00", "24:00")], [("2026-12-01", "2026-12-01")], "2026-12-01T19:00", False),
        ([("daily", "18:00", "24:00")], [("2026-12-01", "2026-12-01")], "2026-12-02T19:00", True),
        # British Summer Time: 18:00 in London is 17:00 UTC.
        ([("daily", "18:00", "24:00")], [], "2026-07-01T17:30", True),
        ([("weekdays", "09:00", "17:00")], [], "2026-12-05T10:00", False),
    ],
)
def test_when_the_line_is_open_is_worked_out_once_from_hours_and_closures(hours, closures, moment, open_):
    from app.admin.line import build_line_settings
    from tests.conftest import test_settings

    at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    stored = {
        "hours": [{"days": d, "opens": o, "closes": c} for d, o, c in hours] if hours else None,
        "closures": [{"starts": s, "ends": e, "note": "closed"} for s, e in closures],
        "timezone": "Europe/London",
    }
    line = build_line_settings(stored, test_settings("sqlite+aiosqlite://"), at - timedelta(seconds=5))
    assert line.is_open(at) is open_
