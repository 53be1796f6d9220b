"""The caller's own word: the short survey after a call, by keypad straight after it or by text
the next day, only when the caller agreed during the call.

* Consent is recorded by the listener during the call (``record_survey_consent``).
* Keypad: when the listener ends the call from their page and the caller agreed, the caller's
  call is redirected (not hung up) to ``/telephony/voice/survey``: two one-key ``<Gather>``
  questions, each answer saved as it comes, so a caller who hangs up half way keeps what they gave.
* Text: a stored job sends the two questions the next day, at a daytime hour in the line's own
  zone, from the line's number; the reply comes to ``/telephony/messaging/incoming`` and is matched
  by the keyed hash of the number, which is then dropped. STOP ends survey texts to that number.

Nothing here is shown to the listener who took the call: the answers reach only the reports.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import insert_unless_present, runtime_of, session_scope
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.jobs import cancel_job, schedule_job
from app.core.outbox import FIRST, CallOut, register_call_out
from app.core.runtime import Runtime
from telephony import twiml
from telephony.intake import Delivery, claim_delivery, record_outcome
from telephony.models import Call, CallerSurvey, SurveyOptOut
from telephony.provider import retry_when_unavailable, send_sms

log = logging.getLogger("openline.telephony")

CONSENTS = ("not-asked", "declined", "keypad", "text")
TEXT_SURVEY_JOB = "survey.text_caller"
EXPIRE_EVERY = timedelta(hours=1)
# A text survey waits this long for its reply; then the number's hash is dropped.
TEXT_REPLY_DAYS = 3
LINE_ZONE = "Europe/London"
TEXT_HOUR = time(11, 0)  # daytime: never a text at night, when others may see the phone light up
# A call in the small hours belongs to the evening before: "the next day" is that same morning.
NIGHT_ENDS = timedelta(hours=4)
SURVEY_TEXT = (
    "Hello from Openline. Thank you for calling us. Two quick questions, if you are happy to answer: "
    "how much did the call help, from 1 (not at all) to 5 (a lot)? And do you feel safer now, yes or no? "
    'Reply with both, for example "4 yes". Reply STOP for no more texts like this.'
)
# Twilio's own opt-out and opt-in words (it also blocks texts to a number that sent STOP).
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
START_WORDS = frozenset({"start", "unstop"})
YES = frozenset({"yes", "y", "yeah", "yep", "ye"})
NO = frozenset({"no", "n", "nope", "not"})
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


# Pure rules


def text_survey_time(consented_at: datetime, *, zone: str = LINE_ZONE) -> datetime:
    """When the survey text goes: the caller's next day, late morning in the line's zone (UTC)."""
    local = consented_at.astimezone(ZoneInfo(zone))
    day = (local - NIGHT_ENDS).date() + timedelta(days=1)
    return datetime.combine(day, TEXT_HOUR, tzinfo=ZoneInfo(zone)).astimezone(consented_at.tzinfo)


def read_key(question: int, digits: str | None) -> int | bool | None:
    """A keypad answer: 1-5 for how much the call helped; 1 yes / 2 no for feeling safer."""
    if digits is None or len(digits) != 1 or not digits.isdigit():
        return None
    key = int(digits)
    if question == 1:
        return key if 1 <= key <= 5 else None
    return {1: True, 2: False}.get(key)


def read_text_reply(body: str) -> tuple[int | None, bool | None] | None:
    """A text reply such as "4 yes", "4 1", "4, Y" or "5": (how much it helped, safer now); None
    when it answers neither."""
    words = re.findall(r"[a-z]+|\d+", body.lower())
    helped: int | None = None
    if words and words[0].isdigit():
        if len(words[0]) == 1 and 1 <= int(words[0]) <= 5:
            helped = int(words[0])
        words = words[1:]
    safer: bool | None = None
    if words:
        first = words[0]
        safer = True if first in YES or first == "1" else False if first in NO or first == "2" else None
    return None if helped is None and safer is None else (helped, safer)


def text_word(body: str) -> str:
    return body.strip().strip(".!").lower()


# Consent, during the call


async def record_survey_consent(session: AsyncSession, *, call_id: int, consent: str, user_id: int) -> str:
    """The listener records the caller's answer to "may we ask you two questions afterwards?".
    ``not-asked`` and ``declined`` are the default no; ``keypad`` is straight after this call,
    ``text`` the next day (only to a number not withheld, and not one that texted STOP)."""
    runtime = runtime_of(session)
    now = runtime.clock.now()
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFound("no call for this session", error="no_call")
    survey = await session.scalar(sa.select(CallerSurvey).where(CallerSurvey.call_id == call_id).with_for_update())
    if survey is not None and survey.state not in ("declined", "agreed"):
        raise Conflict("the caller has already been asked the survey", error="survey_asked")
    if consent == "keypad" and call.ended_at is not None:
        raise Conflict("the keypad survey is only straight after the call; it has ended", error="call_ended")
    if consent == "text":
        if call.from_withheld or call.from_hash is None:
            raise Unprocessable("survey", "the caller's number is withheld: a text cannot reach them")
        if await session.get(SurveyOptOut, call.from_hash) is not None:
            raise Unprocessable("survey", "this number asked for no more survey texts")
    if survey is not None:
        await cancel_job(session, _text_job_key(survey.id))
        if consent == "not-asked":
            await session.delete(survey)
            return consent
    elif consent == "not-asked":
        return consent
    else:
        survey = CallerSurvey(call_id=call_id, way=consent, state="agreed", consented_at=now)
        session.add(survey)
    survey.way = consent
    survey.state = "declined" if consent == "declined" else "agreed"
    survey.consented_at, survey.consented_by = now, user_id
    survey.number_hash = call.from_hash if consent == "text" else None
    survey.text_due_at = text_survey_time(now) if consent == "text" else None
    await session.flush()
    if consent == "text":
        await schedule_job(
            session,
            kind=TEXT_SURVEY_JOB,
            key=_text_job_key(survey.id),
            run_at=survey.text_due_at,
            # Counted from when it is due, not from the consent, for the outbox's give-up time.
            payload={"survey_id": survey.id, FIRST: survey.text_due_at.isoformat()},
        )
    return consent


async def survey_consent_of(session: AsyncSession, call_id: int | None) -> str:
    if call_id is None:
        return "not-asked"
    way = await session.scalar(sa.select(CallerSurvey.way).where(CallerSurvey.call_id == call_id))
    return way or "not-asked"


def _text_job_key(survey_id: int) -> str:
    return f"{TEXT_SURVEY_JOB}:{survey_id}"


async def keypad_survey_agreed(session: AsyncSession, call_id: int) -> bool:
    """Whether the end button should hand the caller to the keypad survey rather than hang up."""
    state = await session.scalar(
        sa.select(CallerSurvey.state).where(CallerSurvey.call_id == call_id, CallerSurvey.way == "keypad")
    )
    return state == "agreed"


# Keypad, straight after the call


async def answer_survey(session: AsyncSession, delivery: Delivery, *, question: int | None, attempt: int) -> str:
    """The survey URL: its first request (``question`` None, after the redirect) and each
    ``<Gather>`` action. A missing or wrong key asks once more, then moves on."""
    if (stored := await claim_delivery(session, delivery, reply="", outcome="survey")) is not None:
        return stored or twiml.hang_up()
    runtime = runtime_of(session)
    now = runtime.clock.now()
    survey = await session.scalar(
        sa.select(CallerSurvey)
        .join(Call, Call.id == CallerSurvey.call_id)
        .where(Call.call_sid == delivery.call_sid, CallerSurvey.way == "keypad")
        .with_for_update()
    )
    settings = runtime.settings
    if survey is None or survey.state not in ("agreed", "asked", "answered"):
        reply, outcome = twiml.hang_up(), "no-consent"
    elif question is None:
        if survey.state == "agreed":
            survey.state, survey.asked_at = "asked", now
        reply, outcome = twiml.survey_question(settings, 1, 1, intro=True), "asked"
    else:
        answer = read_key(question, delivery.form.get("Digits"))
        if answer is None and attempt < 2:
            reply, outcome = twiml.survey_question(settings, question, attempt + 1), "re-asked"
        else:
            if answer is not None:
                if question == 1:
                    survey.helped = int(answer)
                else:
                    survey.safer = bool(answer)
                survey.state, survey.answered_at = "answered", survey.answered_at or now
            outcome = "answered" if answer is not None else "skipped"
            reply = twiml.survey_question(settings, 2, 1) if question == 1 else twiml.survey_goodbye()
    await record_outcome(session, delivery, outcome, reply=reply)
    return reply


def parse_survey_question(raw: str | None, attempt: int | None) -> tuple[int | None, int]:
    if raw is None:
        return None, 1
    if raw not in ("1", "2") or attempt not in (1, 2):
        raise Unprocessable("q", "the survey has questions 1 and 2, each asked at most twice")
    return int(raw), attempt


# Text, the next day


async def _prepare_text(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Still wanted (agreed, not stopped)? The number is decrypted here, kept in memory for the send
    only, never written to the stored job."""
    survey = await session.get(CallerSurvey, payload["survey_id"], with_for_update=True)
    if survey is None or survey.way != "text" or survey.state != "agreed" or survey.number_hash is None:
        return None
    if await session.get(SurveyOptOut, survey.number_hash) is not None:
        survey.state, survey.number_hash = "stopped", None
        return None
    call = await session.get(Call, survey.call_id) if survey.call_id is not None else None
    number = runtime_of(session).crypto.decrypt(call.from_encrypted) if call is not None else None
    if not number:
        survey.state, survey.number_hash = "not-sent", None
        return None
    return payload | {"to": number, "body": SURVEY_TEXT}


async def _send_text(runtime: Runtime, payload: dict[str, Any]) -> str:
    return await send_sms(runtime, to=payload["to"], body=payload["body"])


async def _text_sent(session: AsyncSession, payload: dict[str, Any], result: Any) -> None:
    survey = await session.get(CallerSurvey, payload["survey_id"], with_for_update=True)
    if survey is not None and survey.state == "agreed":
        survey.state, survey.asked_at = "asked", runtime_of(session).clock.now()


async def _text_refused(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    # e.g. a landline, or a number Twilio knows has opted out: the survey is simply not asked.
    survey = await session.get(CallerSurvey, payload["survey_id"], with_for_update=True)
    if survey is not None and survey.state == "agreed":
        survey.state, survey.number_hash = "not-sent", None
    log.info("survey text not sent", extra={"survey_id": payload["survey_id"], "error": type(exc).__name__})


def parse_text_webhook(form: dict[str, str]) -> Delivery:
    """An inbound SMS; 422 if it is not one. Kept once per ``MessageSid``: a retry, with or
    without Twilio's idempotency token, changes nothing."""
    problems = []
    sid = form.get("MessageSid") or ""
    if not MESSAGE_SID.match(sid):
        problems.append({"field": "MessageSid", "message": "is not a Twilio message SID"})
    if not form.get("From"):
        problems.append({"field": "From", "message": "is required"})
    if problems:
        raise Unprocessable(fields=problems)
    return Delivery("messaging", None, "sms", None, form, None, (sid,))


async def receive_text(session: AsyncSession, delivery: Delivery) -> str:
    """A text to the line's number: a survey reply, STOP or START, or anything else (recorded,
    ignored). Always answered with empty TwiML: nothing is texted back from here."""
    reply = twiml.empty()
    if (stored := await claim_delivery(session, delivery, reply=reply)) is not None:
        return stored
    runtime = runtime_of(session)
    now = runtime.clock.now()
    number_hash = runtime.crypto.caller_hash(delivery.form.get("From"))
    body = delivery.form.get("Body") or ""
    word = text_word(body)
    if number_hash is None:
        outcome = "unmatched"
    elif word in STOP_WORDS:
        await _stop_texts(session, number_hash, now)
        outcome = "stopped"
    elif word in START_WORDS:
        await session.execute(sa.delete(SurveyOptOut).where(SurveyOptOut.number_hash == number_hash))
        outcome = "started"
    else:
        outcome = await _answer_by_text(session, number_hash, body, now)
    await record_outcome(session, delivery, outcome)
    log.info("text received", extra={"outcome": outcome})
    return reply


async def _stop_texts(session: AsyncSession, number_hash: str, now: datetime) -> None:
    await session.execute(
        insert_unless_present(session, SurveyOptOut.__table__, "number_hash"),
        {"number_hash": number_hash, "created_at": now},
    )
    await session.execute(
        sa.update(CallerSurvey)
        .where(CallerSurvey.number_hash == number_hash, CallerSurvey.state.in_(("agreed", "asked")))
        .values(state="stopped", number_hash=None)
    )


async def _answer_by_text(session: AsyncSession, number_hash: str, body: str, now: datetime) -> str:
    survey = await session.scalar(
        sa.select(CallerSurvey)
        .where(CallerSurvey.number_hash == number_hash, CallerSurvey.way == "text", CallerSurvey.state == "asked")
        .order_by(CallerSurvey.asked_at.desc(), CallerSurvey.id.desc())
        .limit(1)
        .with_for_update()
    )
    if survey is None:
        return "unmatched"  # an unknown number, or a second reply once the first was taken
    answer = read_text_reply(body)
    if answer is None:
        return "unreadable"  # the survey stays open for a reply that answers it
    survey.helped, survey.safer = answer
    survey.state, survey.answered_at, survey.number_hash = "answered", now, None
    return "answered"


async def expire_surveys(runtime: Runtime) -> int:
    """Hourly: a text survey unanswered after ``TEXT_REPLY_DAYS`` (or never sent by then) expires
    and its number's hash is dropped; an agreed keypad survey that never began (the caller hung
    up first) expires after a day."""
    now = runtime.clock.now()
    async with session_scope(runtime) as session:
        texts = await session.execute(
            sa.update(CallerSurvey)
            .where(
                CallerSurvey.way == "text",
                CallerSurvey.state.in_(("agreed", "asked")),
                sa.func.coalesce(CallerSurvey.asked_at, CallerSurvey.text_due_at)
                < now - timedelta(days=TEXT_REPLY_DAYS),
            )
            .values(state="expired", number_hash=None)
        )
        keypads = await session.execute(
            sa.update(CallerSurvey)
            .where(
                CallerSurvey.way == "keypad",
                CallerSurvey.state == "agreed",
                CallerSurvey.consented_at < now - timedelta(days=1),
            )
            .values(state="expired")
        )
        return int(texts.rowcount or 0) + int(keypads.rowcount or 0)


def register(runtime: Runtime) -> None:
    register_call_out(
        runtime,
        TEXT_SURVEY_JOB,
        CallOut(
            prepare=_prepare_text,
            send=retry_when_unavailable(_send_text),
            done=_text_sent,
            refused=_text_refused,
            retry_base_seconds=60,
            give_up_after=timedelta(hours=8),
        ),
    )
    runtime.jobs.every("survey.expire", EXPIRE_EVERY, expire_surveys)
