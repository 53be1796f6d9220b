"""TwiML the line answers with. Pure functions: settings and facts in, XML out.

The twilio library builds an element tree for every document, which cost more than the rest of an
incoming call's Python work; so each document is built by the library once per (settings, facts)
and kept, and the per-call part (the conference's name) is put into the kept text.

Whatever happens, a caller hears a person, a queue position, or a way to leave a message: no
builder here ends in silence.
"""

from __future__ import annotations

from functools import cache, lru_cache
from xml.sax.saxutils import escape

from twilio.twiml.voice_response import Dial, VoiceResponse

from app.core.settings import Settings
from telephony.urls import webhook_url

VOICE = {"voice": "Polly.Amy", "language": "en-GB"}
# Twilio's own hosted hold music (public domain classical recordings).
HOLD_MUSIC = (
    "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3",
    "http://com.twilio.music.classical.s3.amazonaws.com/ClockworkWaltz.mp3",
    "http://com.twilio.music.classical.s3.amazonaws.com/ith_chopin-15-2.mp3",
    "http://com.twilio.music.classical.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3",
)
VOICEMAIL_MAX_SECONDS = 120

GREETING = (
    "Thank you for calling the support line. Please stay on the line, "
    "and a listener will be with you as soon as they can."
)
APOLOGY = "Sorry, we are having some technical trouble. Please hold, and we will be with you as soon as we can."
OVERDUE = (
    "We are sorry you have been waiting so long; all our listeners are still busy. "
    "In a moment you can leave a message, and someone will call you back."
)
SAFETY = "If you are in danger right now, please call 999."
VOICEMAIL_PROMPTS = {
    "overflow": "All our listeners are still busy. Please leave a message after the tone, "
    "with the best way to reach you, and someone will call you back. " + SAFETY,
    "disconnected": "We are sorry: the line to your listener dropped. Please leave a message after the tone, "
    "with the best way to reach you, and a listener will call you back as soon as they can. " + SAFETY,
    "line-closed": "Our listeners cannot take calls at the moment. Please leave a message after the tone, "
    "with the best way to reach you, and someone will call you back. " + SAFETY,
}
NO_MESSAGE = "We did not hear a message. Please call again whenever you need to. " + SAFETY + " Goodbye."
MESSAGE_SAVED = "Thank you. Your message has been saved, and someone will call you back. " + SAFETY + " Goodbye."
CONFERENCE_EVENTS = "start end join leave hold"
# Whoever picks up may not be the caller: say who is ringing, never why they called.
RETURNING_CALL = "Hello. This is the support line, returning your call. Please hold for a moment."


def conference_name(call_sid: str) -> str:
    return f"call-{call_sid}"


def _hold_in_conference(response: VoiceResponse, wait_url: str, status_url: str, room: str) -> None:
    dial = Dial()
    dial.conference(
        room,
        # The caller waits (hearing the wait URL) until a listener, who starts it, joins; when the
        # caller leaves the conference is over, so nobody stays on a line with no caller.
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        beep=False,
        wait_url=wait_url,
        wait_method="POST",
        status_callback=status_url,
        status_callback_method="POST",
        # A space-separated string: the builder would print a Python list as "['start', ...]".
        status_callback_event=CONFERENCE_EVENTS,
    )
    response.append(dial)


ROOM_MARK = "ROOMMARK0"


@lru_cache(maxsize=64)
def _say_then_hold(words: str, wait_url: str, status_url: str) -> tuple[str, str]:
    """The document around the conference's name, built once: (before, after)."""
    response = VoiceResponse()
    response.say(words, **VOICE)
    _hold_in_conference(response, wait_url, status_url, ROOM_MARK)
    before, _, after = str(response).partition(ROOM_MARK)
    return before, after


def _held(settings: Settings, words: str, room: str) -> str:
    before, after = _say_then_hold(words, webhook_url(settings, "wait"), webhook_url(settings, "conference"))
    return before + escape(room) + after


def greet_and_hold(settings: Settings, call_sid: str) -> str:
    return _held(settings, GREETING, conference_name(call_sid))


def apologise_and_hold(settings: Settings, call_sid: str) -> str:
    """The fallback: something failed answering the call, but the caller still joins the queue."""
    return _held(settings, APOLOGY, conference_name(call_sid))


def hold_music(settings: Settings, *, position: int | None, announce: bool, overdue: bool, track: int = 0) -> str:
    """The conference wait URL: only Play, Say, Pause and Redirect are allowed here. Twilio runs
    this document once, so it ends by asking for the next one: music never runs out into silence,
    and the next document can announce a new position."""
    return _hold_music(webhook_url(settings, "wait"), position if announce else None, overdue, track % len(HOLD_MUSIC))


@lru_cache(maxsize=256)
def _hold_music(wait_url: str, position: int | None, overdue: bool, track: int) -> str:
    announce = position is not None
    response = VoiceResponse()
    if overdue:
        response.say(OVERDUE, **VOICE)
    elif announce and position:
        response.say(
            f"You are caller number {position}. Please stay on the line; "
            "a listener will be with you as soon as they can.",
            **VOICE,
        )
    response.play(HOLD_MUSIC[track])
    response.redirect(wait_url, method="POST")
    return str(response)


def offer_voicemail(settings: Settings, reason: str) -> str:
    response = VoiceResponse()
    response.say(VOICEMAIL_PROMPTS.get(reason, VOICEMAIL_PROMPTS["overflow"]), **VOICE)
    response.record(
        action=webhook_url(settings, "voicemail", reason=reason),
        method="POST",
        max_length=VOICEMAIL_MAX_SECONDS,
        play_beep=True,
        timeout=10,
        finish_on_key="#",
        # Also told when the recording is ready, in case the caller hangs up before the action runs.
        recording_status_callback=webhook_url(settings, "voicemail", reason=reason, event="recording"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    # Reached only when nothing was recorded.
    response.say(NO_MESSAGE, **VOICE)
    response.hangup()
    return str(response)


def line_closed(settings: Settings) -> str:
    return offer_voicemail(settings, "line-closed")


@cache
def message_saved() -> str:
    response = VoiceResponse()
    response.say(MESSAGE_SAVED, **VOICE)
    response.hangup()
    return str(response)


def return_call(settings: Settings, room: str) -> str:
    """A ring-back answered: the caller waits in the call's own conference until the listener,
    rung now, joins; from there it runs as any call through the line."""
    return _held(settings, RETURNING_CALL, room)


@cache
def hang_up() -> str:
    """Nothing said: an answering machine must not record that the support line rang."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


@cache
def empty() -> str:
    """What a status callback is answered with."""
    return str(VoiceResponse())
