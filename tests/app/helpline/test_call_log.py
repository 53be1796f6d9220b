import asyncio

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.db import session_scope
from app.helpline.call_log import current_consent
from app.helpline.models import CallLog, CallLogRevision
from app.helpline.sessions import start_session
from tests.scenarios import GOOD
from transfers.directory.models import NeedCategory


async def _setup(harness, username="sam"):
    user = await harness.add_user(username, "listener")
    async with session_scope(harness.runtime) as session:
        if not await session.scalar(sa.select(NeedCategory.id).limit(1)):
            session.add_all([NeedCategory(slug="money", label="Money"), NeedCategory(slug="housing", label="Housing")])
        support = await start_session(session, call_id=None, listener_id=user.id, started_at=harness.clock.now())
    return support.id, await harness.signed_in(username)


async def test_a_log_is_recorded_once_and_its_summary_encrypted(harness):
    session_id, client = await _setup(harness)
    first, second = await asyncio.gather(
        client.post(f"/api/listener/sessions/{session_id}/log", json=GOOD),
        client.post(f"/api/listener/sessions/{session_id}/log", json=GOOD),
    )
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(CallLog)) == 1
        revision = await session.scalar(sa.select(CallLogRevision))
        consent = await current_consent(session, session_id)
    assert "rent" not in revision.summary_encrypted and first.json()["summary"] == "Behind on rent since May"
    assert consent.given and consent.covers == "needs, summary and number" and consent.needs == ["money", "housing"]


async def test_bad_logs_name_the_field(harness):
    session_id, client = await _setup(harness)
    path = f"/api/listener/sessions/{session_id}/log"
    cases = [
        ({"needs": ["magic"]}, "needs"),
        ({"consent_to_share": None}, "consent_to_share"),
        ({"consent_to_share": False, "outcome": "warm-transfer"}, "outcome"),
        ({"outcome": None}, "outcome"),
        ({"risk_level": "fine"}, "risk_level"),
    ]
    for change, field in cases:
        response = await client.post(path, json=GOOD | change)
        assert response.status_code == 422, change
        assert field in [p["field"] for p in response.json()["detail"]], response.json()
    assert (await client.get(path)).status_code == 404  # nothing half-written


async def test_someone_elses_session_is_no_such_session(harness):
    session_id, _ = await _setup(harness)
    _, other = await _setup(harness, "alex")
    for response in (
        await other.post(f"/api/listener/sessions/{session_id}/log", json=GOOD),
        await other.get(f"/api/listener/sessions/{session_id}/log"),
    ):
        assert response.status_code == 404 and response.json() == {"error": "not_found", "detail": "no such session"}


async def test_corrections_are_audited_revisions_not_overwrites(harness):
    session_id, client = await _setup(harness)
    await client.post(f"/api/listener/sessions/{session_id}/log", json=GOOD)
    fixed = await client.post(
        f"/api/listener/sessions/{session_id}/log/revisions",
        json=GOOD | {"title": "Rent arrears and debt", "correction_reason": "caller rang back"},
    )
    body = fixed.json()
    assert body["title"] == "Rent arrears and debt" and body["revision"] == 2
    assert [h["reason"] for h in body["history"]] == [None, "caller rang back"]
    async with session_scope(harness.runtime) as session:
        titles = (await session.scalars(sa.select(CallLogRevision.title).order_by(CallLogRevision.revision))).all()
        audit = await session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "correct_call_log"))
    assert titles == ["Rent arrears worry", "Rent arrears and debt"] and audit.detail["reason"] == "caller rang back"


async def test_immediate_risk_shows_the_protocol_and_alerts_supervisors(harness):
    from app.core.events import LiveEvent

    session_id, client = await _setup(harness)
    body = (
        await client.post(
            f"/api/listener/sessions/{session_id}/log",
            json=GOOD | {"risk_level": "immediate", "outcome": "emergency-services"},
        )
    ).json()
    assert "999" in body["emergency_protocol"]
    async with session_scope(harness.runtime) as session:
        alert = await session.scalar(sa.select(LiveEvent).where(LiveEvent.type == "risk.immediate"))
    assert alert.audience == "role:supervisor" and alert.data["title"] == "Rent arrears worry"
