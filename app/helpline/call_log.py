"""The call log, recorded once per session; corrections are new audited revisions, never overwrites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit, record_personal_read
from app.core.db import insert_ignore, runtime_of
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.events import publish_live
from app.core.jobs import cancel_job
from app.core.security import User
from app.helpline.history import TONIGHT, call_of
from app.helpline.models import CallLog, CallLogRevision, SupportSession
from app.shiftlead.safeguarding import ensure_flag
from telephony.models import Call, CallbackRequest, ListenerPresence
from telephony.presence import change_presence
from telephony.survey import CONSENTS, record_survey_consent
from transfers.directory.service import known_need_slugs

EMERGENCY_PROTOCOL = (
    "Immediate risk: stay with the caller. If they are in danger now, call 999 (or ask a colleague "
    "to) with the caller's location; tell your supervisor, who has been alerted."
)


class CallLogIn(BaseModel):
    contact_type: Literal["support", "silent", "wrong-number", "abusive", "hang-up", "test"]
    needs: list[str] = Field(default_factory=list)
    risk_level: Literal["none", "low", "moderate", "high", "immediate"]
    consent_to_share: bool | None = None
    consent_covers: str | None = Field(None, max_length=500)
    sms_consent: bool = False
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field("", max_length=4000)
    notes: str = Field("", max_length=8000)
    outcome: Literal["supported", "warm-transfer", "signposted", "emergency-services", "caller-ended"] | None = None


class SurveyConsentIn(BaseModel):
    """Asked during the call: "may we ask you two short questions afterwards?" ``keypad``:
    straight after this call; ``text``: a text tomorrow (not to a withheld number)."""

    survey: Literal[CONSENTS]  # type: ignore[valid-type]


class CorrectionIn(CallLogIn):
    correction_reason: str = Field(min_length=3, max_length=500)


@dataclass(frozen=True)
class ConsentRecord:
    given: bool
    covers: str | None
    recorded_at: datetime | None
    recorded_by: int | None
    sms_consent: bool
    needs: list[str]
    risk_level: str
    summary: str | None


async def _check(session: AsyncSession, entry: CallLogIn) -> None:
    problems = []
    known = await known_need_slugs(session)
    problems += [{"field": "needs", "message": f"unknown need {n!r}"} for n in entry.needs if n not in known]
    # A silent call, a wrong number, a test: nobody to ask for consent, so it is not asked for.
    short = entry.contact_type not in runtime_of(session).settings.log_before_next_contact_types
    if entry.consent_to_share is None and not (short and not entry.needs):
        problems.append({"field": "consent_to_share", "message": "ask the caller and record yes or no"})
    elif entry.consent_to_share and not (entry.consent_covers or "").strip():
        problems.append({"field": "consent_covers", "message": "say what the caller agreed to share"})
    if entry.outcome is None:
        problems.append({"field": "outcome", "message": "an outcome is needed to close the log"})
    elif entry.outcome == "warm-transfer" and entry.consent_to_share is False:
        problems.append({"field": "outcome", "message": "a warm transfer needs the caller's consent to share"})
    if problems:
        raise Unprocessable(fields=problems)


async def _add_revision(
    session: AsyncSession, log: CallLog, number: int, entry: CallLogIn, user: User, reason: str | None
) -> CallLogRevision:
    runtime = runtime_of(session)
    now = runtime.clock.now()
    revision = CallLogRevision(
        call_log_id=log.id,
        revision=number,
        contact_type=entry.contact_type,
        needs=entry.needs,
        risk_level=entry.risk_level,
        consent_to_share=bool(entry.consent_to_share),
        consent_covers=entry.consent_covers,
        consent_recorded_at=now,
        consent_recorded_by=user.id,
        sms_consent=entry.sms_consent,
        title=entry.title,
        summary_encrypted=runtime.crypto.encrypt(entry.summary),
        notes_encrypted=runtime.crypto.encrypt(entry.notes),
        outcome=entry.outcome,
        correction_reason=reason,
        created_at=now,
        created_by=user.id,
    )
    session.add(revision)
    log.current_revision = number
    if entry.risk_level == "immediate" and log.risk_flagged_at is None:
        log.risk_flagged_at = now
        await publish_live(
            session,
            "role:supervisor",
            "risk.immediate",
            {"session_id": log.session_id, "listener": user.display_name, "title": entry.title},
        )
        await _flag_from_log(session, log, user)
    await session.flush()
    return revision


async def _flag_from_log(session: AsyncSession, log: CallLog, user: User) -> None:
    """Immediate risk chosen in the log, without the call card's button, still opens the call's
    safeguarding record and alerts supervisors; when the button was pressed this finds that record."""
    call = await call_of(session, await session.get(SupportSession, log.session_id))
    if call is not None:
        await ensure_flag(session, call=call, user=user, via="call_log")


async def record_call_log(
    session: AsyncSession, *, support: SupportSession, entry: CallLogIn, user: User
) -> dict[str, Any]:
    """Once per session: a second submit (a double click) gets the log already recorded."""
    await _check(session, entry)
    now = runtime_of(session).clock.now()
    created = await insert_ignore(
        session,
        CallLog,
        dict(session_id=support.id, created_at=now, created_by=user.id, current_revision=1),
        ["session_id"],
    )
    log = await session.scalar(sa.select(CallLog).where(CallLog.session_id == support.id))
    if created:
        await _add_revision(session, log, 1, entry, user, None)
        await _end_wrap_up_when_logged(session, support)
        # Who wrote a caller's notes; the answer carries them back, so this row is also the read.
        await record_audit(
            session,
            actor=f"user:{user.username}",
            action="record_call_log",
            subject_type="call_log",
            subject_id=log.id,
            revision=1,
        )
    else:
        # A second submit answers the log already stored: a read.
        await record_personal_read(
            session, actor=f"user:{user.username}", subject_type="support_session", subject_id=support.id
        )
    return await describe_call_log(session, support=support)


async def find_missing_log(session: AsyncSession, *, listener_id: int) -> tuple[SupportSession, str] | None:
    """The listener's latest ended session tonight whose log is not recorded yet, with the caller's
    masked number; None when there is none, or the line asks for no log first."""
    runtime = runtime_of(session)
    if not runtime.settings.log_before_next_contact_types:
        return None
    row = (
        await session.execute(
            sa.select(SupportSession, Call.from_masked)
            .outerjoin(CallLog, CallLog.session_id == SupportSession.id)
            .outerjoin(CallbackRequest, CallbackRequest.id == SupportSession.callback_request_id)
            .outerjoin(Call, Call.id == sa.func.coalesce(SupportSession.call_id, CallbackRequest.call_id))
            .where(
                SupportSession.listener_id == listener_id,
                SupportSession.ended_at >= runtime.clock.now() - TONIGHT,
                CallLog.id.is_(None),
            )
            .order_by(SupportSession.ended_at.desc(), SupportSession.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1] or "withheld") if row else None


async def require_log_before_next(session: AsyncSession, listener_id: int) -> None:
    """A ready check (telephony.presence): the last caller's log first, then the next caller."""
    missing = await find_missing_log(session, listener_id=listener_id)
    if missing is not None:
        _, caller = missing
        raise Conflict(f"record the log of your last call (caller {caller}) before taking another", error="log_missing")


async def _end_wrap_up_when_logged(session: AsyncSession, support: SupportSession) -> None:
    """Wrap-up is for writing the call up: once its log is recorded the listener is free at once,
    rather than at the end of the wrap-up time."""
    status = await session.scalar(
        sa.select(ListenerPresence.status).where(ListenerPresence.user_id == support.listener_id)
    )
    if status != "wrap-up" or support.ended_at is None:
        return
    if await find_missing_log(session, listener_id=support.listener_id) is not None:
        return  # another call of theirs still waits for its log
    await cancel_job(session, f"session-wrap-up:{support.id}")
    await change_presence(session, user_id=support.listener_id, status="available")


async def correct_call_log(
    session: AsyncSession, *, support: SupportSession, entry: CorrectionIn, user: User
) -> dict[str, Any]:
    await _check(session, entry)
    log = await session.scalar(sa.select(CallLog).where(CallLog.session_id == support.id).with_for_update())
    if log is None:
        raise NotFound("record the log before correcting it")
    await _add_revision(session, log, log.current_revision + 1, entry, user, entry.correction_reason)
    await record_audit(
        session,
        actor=f"user:{user.username}",
        action="correct_call_log",
        subject_type="call_log",
        subject_id=log.id,
        revision=log.current_revision,
        reason=entry.correction_reason,
    )
    return await describe_call_log(session, support=support)


async def read_call_log(session: AsyncSession, *, support: SupportSession, user: User) -> dict[str, Any]:
    """The log as its reader sees it, decrypted: the read is audited, by staff as by partners."""
    body = await describe_call_log(session, support=support)
    await record_personal_read(
        session, actor=f"user:{user.username}", subject_type="support_session", subject_id=support.id
    )
    return body


async def describe_call_log(session: AsyncSession, *, support: SupportSession) -> dict[str, Any]:
    log = await session.scalar(sa.select(CallLog).where(CallLog.session_id == support.id))
    if log is None:
        raise NotFound("no log recorded yet")
    crypto = runtime_of(session).crypto
    revisions = (
        await session.scalars(
            sa.select(CallLogRevision).where(CallLogRevision.call_log_id == log.id).order_by(CallLogRevision.revision)
        )
    ).all()
    current = revisions[-1]
    body = {
        k: getattr(current, k)
        for k in (
            "contact_type",
            "needs",
            "risk_level",
            "consent_to_share",
            "consent_covers",
            "sms_consent",
            "title",
            "outcome",
            "revision",
        )
    }
    body |= {
        "summary": crypto.decrypt(current.summary_encrypted),
        "notes": crypto.decrypt(current.notes_encrypted),
        "history": [
            {"revision": r.revision, "at": r.created_at.isoformat(), "by": r.created_by, "reason": r.correction_reason}
            for r in revisions
        ],
    }
    if current.risk_level == "immediate":
        body["emergency_protocol"] = EMERGENCY_PROTOCOL
    return body


async def current_consent(session: AsyncSession, support_session_id: int) -> ConsentRecord | None:
    """What the caller agreed to share, from the newest revision; None before a log exists."""
    revision = await session.scalar(
        sa.select(CallLogRevision)
        .join(
            CallLog,
            sa.and_(CallLog.id == CallLogRevision.call_log_id, CallLogRevision.revision == CallLog.current_revision),
        )
        .where(CallLog.session_id == support_session_id)
    )
    if revision is None:
        return None
    return ConsentRecord(
        revision.consent_to_share,
        revision.consent_covers,
        revision.consent_recorded_at,
        revision.consent_recorded_by,
        revision.sms_consent,
        list(revision.needs),
        revision.risk_level,
        runtime_of(session).crypto.decrypt(revision.summary_encrypted),
    )


async def record_survey_answer(
    session: AsyncSession, *, support: SupportSession, entry: SurveyConsentIn, user: User
) -> dict[str, Any]:
    """The caller's consent to the survey, recorded during the call (the keypad survey follows
    the end button at once, before any log is written). Only the consent: what the caller then
    answers is never shown to their listener."""
    call = await call_of(session, support)
    if call is None:
        raise Unprocessable("survey", "this session has no call to ask the caller about")
    if entry.survey == "keypad" and support.call_id is None:
        raise Unprocessable("survey", "a ring-back cannot go on to the keypad survey: offer a text instead")
    survey = await record_survey_consent(session, call_id=call.id, consent=entry.survey, user_id=user.id)
    return {"survey": survey}
