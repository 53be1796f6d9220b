"""Twilio's webhooks (DESIGN.md's public URL contract). Each handler checks the signature (the
``TwilioForm`` dependency), validates, calls one service function and answers TwiML. The database work
goes to this process's webhook writer (``WebhookWriter``), which commits it with whatever else is
waiting and only then answers, so a 2xx means the delivery is stored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.core.deps import RuntimeDep
from app.core.responses import error_responses
from telephony.conference import apply_conference_event
from telephony.intake import parse_call_webhook, parse_conference_event
from telephony.ringback import answer_ring_back, apply_ring_back_status
from telephony.signature import IdempotencyToken, TwilioForm
from telephony.survey import answer_survey, parse_survey_question, parse_text_webhook, receive_text
from telephony.urls import PREFIX
from telephony.voice import LegTag, answer_fallback, apply_call_status, hold_caller, receive_incoming_call
from telephony.voicemail import parse_voicemail_webhook, receive_voicemail
from telephony.webhook_session import WebhookWriter

# Twilio posts signed forms and reads TwiML back; 403 is a signature that does not match.
router = APIRouter(
    prefix=PREFIX,
    tags=["Twilio webhooks"],
    default_response_class=Response,
    responses={200: {"description": "TwiML", "content": {"application/xml": {"schema": {"type": "string"}}}}}
    | error_responses(403, 413, 422, said={403: "X-Twilio-Signature does not match"}),
)
LegKind = Literal["listener", "partner", "supervisor", "ringback"]


def twiml_response(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


@router.post("/voice/incoming")
async def answer_incoming_call(form: TwilioForm, token: IdempotencyToken, writer: WebhookWriter) -> Response:
    return twiml_response(await writer.write(receive_incoming_call, parse_call_webhook(form, "incoming", token=token)))


@router.post("/voice/status")
async def receive_call_status(
    form: TwilioForm,
    token: IdempotencyToken,
    writer: WebhookWriter,
    leg: LegKind | None = None,
    call: int | None = None,
    claim: int | None = None,
    label: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    delivery = parse_call_webhook(form, "status", token=token)
    if leg == "ringback" and call is not None:
        return twiml_response(await writer.write(apply_ring_back_status, delivery, call_id=call))
    tag = LegTag(leg, call, claim, label) if leg is not None and call is not None else None
    return twiml_response(await writer.write(apply_call_status, delivery, leg=tag))


@router.post("/voice/wait")
async def play_hold_music(form: TwilioForm, token: IdempotencyToken, writer: WebhookWriter) -> Response:
    delivery = parse_call_webhook(form, "wait", token=token, status_required=False, event="wait")
    return twiml_response(await writer.write(hold_caller, delivery))


@router.post("/conference/events")
async def receive_conference_event(form: TwilioForm, token: IdempotencyToken, writer: WebhookWriter) -> Response:
    return twiml_response(await writer.write(apply_conference_event, parse_conference_event(form, token=token)))


@router.post("/voice/fallback")
async def answer_after_failure(form: TwilioForm, token: IdempotencyToken, runtime: RuntimeDep) -> Response:
    delivery = parse_call_webhook(form, "fallback", token=token, status_required=False, event="fallback")
    return twiml_response(await answer_fallback(runtime, delivery))


@router.post("/voice/voicemail")
async def take_voicemail(
    form: TwilioForm,
    token: IdempotencyToken,
    writer: WebhookWriter,
    reason: str | None = None,
    event: str | None = None,
) -> Response:
    delivery = parse_voicemail_webhook(form, token=token, recording_callback=event == "recording")
    return twiml_response(await writer.write(receive_voicemail, delivery, reason=reason))


@router.post("/voice/ringback")
async def answer_returned_call(form: TwilioForm, token: IdempotencyToken, writer: WebhookWriter, call: int) -> Response:
    """A caller rung back has answered (``AnsweredBy`` says whether it was a person)."""
    delivery = parse_call_webhook(form, "ringback", token=token, status_required=False, event="answer")
    return twiml_response(await writer.write(answer_ring_back, delivery, call_id=call))


@router.post("/voice/survey")
async def ask_survey(
    form: TwilioForm,
    token: IdempotencyToken,
    writer: WebhookWriter,
    q: Literal["1", "2"] | None = None,
    attempt: Annotated[int | None, Query(ge=1, le=2)] = None,
) -> Response:
    """The keypad survey after the call: its start (redirected here by the end button) and each
    ``<Gather>`` action (``Digits``)."""
    question, attempt = parse_survey_question(q, attempt)
    digits = (form.get("Digits") or "-")[:8]
    event = "start" if question is None else f"q{question}-{attempt}"
    delivery = parse_call_webhook(form, "survey", token=token, status_required=False, event=event, key_parts=(digits,))
    return twiml_response(await writer.write(answer_survey, delivery, question=question, attempt=attempt))


@router.post("/messaging/incoming")
async def receive_incoming_text(form: TwilioForm, writer: WebhookWriter) -> Response:
    """A text to the line's number (a survey reply, or STOP); stored once per MessageSid."""
    return twiml_response(await writer.write(receive_text, parse_text_webhook(form)))
