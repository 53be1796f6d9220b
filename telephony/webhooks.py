"""Twilio's webhooks (DESIGN.md's public URL contract). Each handler checks the signature (the
``TwilioWebhook`` dependency), validates, calls one service function and answers TwiML. The database work
goes to this process's webhook writer (``webhook_writer``), which commits it with whatever else is
waiting and only then answers, so a 2xx means the delivery is stored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from app.core.responses import error_responses
from telephony.conference import apply_conference_event
from telephony.intake import parse_call_webhook, parse_conference_event
from telephony.ringback import answer_ring_back, apply_ring_back_status
from telephony.signature import TWILIO_HEADERS, SignedWebhook, TwilioWebhook
from telephony.survey import answer_survey, parse_survey_question, parse_text_webhook, receive_text
from telephony.urls import PREFIX
from telephony.voice import LegTag, answer_fallback, apply_call_status, hold_caller, receive_incoming_call
from telephony.voicemail import parse_voicemail_webhook, receive_voicemail
from telephony.webhook_session import Work, webhook_writer

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


async def stored(webhook: SignedWebhook, work: Work, *args: Any, **kwargs: Any) -> Response:
    """``work`` written by this process's webhook writer; its TwiML once that has committed."""
    return twiml_response(await webhook_writer(webhook.runtime).write(work, *args, **kwargs))


@router.post("/voice/incoming", openapi_extra=TWILIO_HEADERS)
async def answer_incoming_call(webhook: TwilioWebhook) -> Response:
    return await stored(
        webhook, receive_incoming_call, parse_call_webhook(webhook.form, "incoming", token=webhook.token)
    )


@router.post("/voice/status", openapi_extra=TWILIO_HEADERS)
async def receive_call_status(
    webhook: TwilioWebhook,
    leg: LegKind | None = None,
    call: int | None = None,
    claim: int | None = None,
    label: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    delivery = parse_call_webhook(webhook.form, "status", token=webhook.token)
    if leg == "ringback" and call is not None:
        return await stored(webhook, apply_ring_back_status, delivery, call_id=call)
    tag = LegTag(leg, call, claim, label) if leg is not None and call is not None else None
    return await stored(webhook, apply_call_status, delivery, leg=tag)


@router.post("/voice/wait", openapi_extra=TWILIO_HEADERS)
async def play_hold_music(webhook: TwilioWebhook) -> Response:
    delivery = parse_call_webhook(webhook.form, "wait", token=webhook.token, status_required=False, event="wait")
    return await stored(webhook, hold_caller, delivery)


@router.post("/conference/events", openapi_extra=TWILIO_HEADERS)
async def receive_conference_event(webhook: TwilioWebhook) -> Response:
    return await stored(webhook, apply_conference_event, parse_conference_event(webhook.form, token=webhook.token))


@router.post("/voice/fallback", openapi_extra=TWILIO_HEADERS)
async def answer_after_failure(webhook: TwilioWebhook) -> Response:
    delivery = parse_call_webhook(
        webhook.form, "fallback", token=webhook.token, status_required=False, event="fallback"
    )
    return twiml_response(await answer_fallback(webhook.runtime, delivery))


@router.post("/voice/voicemail", openapi_extra=TWILIO_HEADERS)
async def take_voicemail(webhook: TwilioWebhook, reason: str | None = None, event: str | None = None) -> Response:
    delivery = parse_voicemail_webhook(webhook.form, token=webhook.token, recording_callback=event == "recording")
    return await stored(webhook, receive_voicemail, delivery, reason=reason)


@router.post("/voice/ringback", openapi_extra=TWILIO_HEADERS)
async def answer_returned_call(webhook: TwilioWebhook, call: int) -> Response:
    """A caller rung back has answered (``AnsweredBy`` says whether it was a person)."""
    delivery = parse_call_webhook(webhook.form, "ringback", token=webhook.token, status_required=False, event="answer")
    return await stored(webhook, answer_ring_back, delivery, call_id=call)


@router.post("/voice/survey", openapi_extra=TWILIO_HEADERS)
async def ask_survey(
    webhook: TwilioWebhook,
    q: Literal["1", "2"] | None = None,
    attempt: Annotated[int | None, Query(ge=1, le=2)] = None,
) -> Response:
    """The keypad survey after the call: its start (redirected here by the end button) and each
    ``<Gather>`` action (``Digits``)."""
    question, attempt = parse_survey_question(q, attempt)
    digits = (webhook.form.get("Digits") or "-")[:8]
    event = "start" if question is None else f"q{question}-{attempt}"
    delivery = parse_call_webhook(
        webhook.form, "survey", token=webhook.token, status_required=False, event=event, key_parts=(digits,)
    )
    return await stored(webhook, answer_survey, delivery, question=question, attempt=attempt)


@router.post("/messaging/incoming", openapi_extra=TWILIO_HEADERS)
async def receive_incoming_text(webhook: TwilioWebhook) -> Response:
    """A text to the line's number (a survey reply, or STOP); stored once per MessageSid."""
    return await stored(webhook, receive_text, parse_text_webhook(webhook.form))
