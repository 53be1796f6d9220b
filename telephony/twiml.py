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

from app.core.line import LANGUAGE, SAFETY, CallerWords
from app.core.settings import Settings
from telephony.urls import webhook_url

# The line's wording (app/core/line.py): the admin's, or the defaults there until one is saved.
DEFAULT_WORDS = CallerWords()
# Twilio's own hosted hold music (public domain classical recordings).
HOLD_MUSIC = (
    "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3",
    "http://com.twilio.music.classical.s3.amazonaws.com/ClockworkWaltz.mp3",
    "http://com.twilio.music.classical.s3.amazonaws.com/ith_chopin-15-2.mp3",
    "http://com.twilio.music.classical.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3",
)
VOICEMAIL_MAX_SECONDS = 120

APOLOGY = "Sorry, we are having some technical trouble. Please hold, and we will be with you as soon as we can."
OVERDUE = (
    "We are sorry you have been waiting so long; all our listeners are still busy. "
    "In a moment you can leave a message, and someone will call you back."
)
DISCONNECTED = (
    "We are sorry: the line to your listener dropped. Please leave a message after the tone, "
    "with the best way to reach you, and a listener will call you back as soon as they can."
)
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
def _say_then_hold(said: str, words: CallerWords, wait_url: str, status_url: str) -> tuple[str, str]:
    """The document around the conference's name, built once: (before, after)."""
    response = VoiceResponse()
    response.say(said, **_voice(words))
    _hold_in_conference(response, wait_url, status_url, ROOM_MARK)
    before, _, after = str(response).partition(ROOM_MARK)
    return before, after


def _held(settings: Settings, said: str, words: CallerWords, room: str) -> str:
    before, after = _say_then_hold(said, words, webhook_url(settings, "wait"), webhook_url(settings, "conference"))
    return before + escape(room) + after


def _voice(words: CallerWords) -> dict[str, str]:
    return {"voice": words.voice, "language": LANGUAGE}


def voicemail_prompt(words: CallerWords, reason: str) -> str:
    """What a caller hears before the tone; the emergency number always ends it."""
    said = {"line-closed": words.closed_message, "disconnected": DISCONNECTED}.get(reason, words.voicemail_prompt)
    return f"{said} {SAFETY}"


def greet_and_hold(settings: Settings, call_sid: str, words: CallerWords = DEFAULT_WORDS) -> str:
    return _held(settings, words.greeting, words, conference_name(call_sid))


def apologise_and_hold(settings: Settings, call_sid: str, words: CallerWords = DEFAULT_WORDS) -> str:
    """The fallback: something failed answering the call, but the caller still joins the queue."""
    return _held(settings, APOLOGY, words, conference_name(call_sid))


def hold_music(
    settings: Settings,
    *,
    position: int | None,
    announce: bool,
    overdue: bool,
    track: int = 0,
    words: CallerWords = DEFAULT_WORDS,
) -> str:
    """The conference wait URL: only Play, Say, Pause and Redirect are allowed here. Twilio runs
    this document once, so it ends by asking for the next one: music never runs out into silence,
    and the next document can announce a new position."""
    return _hold_music(
        webhook_url(settings, "wait"), position if announce else None, overdue, track % len(HOLD_MUSIC), words
    )


@lru_cache(maxsize=256)
def _hold_music(wait_url: str, position: int | None, overdue: bool, track: int, words: CallerWords) -> str:
    response = VoiceResponse()
    if overdue:
        response.say(OVERDUE, **_voice(words))
    elif position:
        response.say(words.position(position), **_voice(words))
    response.play(HOLD_MUSIC[track])
    response.redirect(wait_url, method="POST")
    return str(response)


def offer_voicemail(settings: Settings, reason: str, words: CallerWords = DEFAULT_WORDS) -> str:
    response = VoiceResponse()
    response.say(voicemail_prompt(words, reason), **_voice(words))
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
    response.say(NO_MESSAGE, **_voice(words))
    response.hangup()
    return str(response)


def line_closed(settings: Settings, words: CallerWords = DEFAULT_WORDS) -> str:
    return offer_voicemail(settings, "line-closed", words)


@cache
def message_saved(words: CallerWords = DEFAULT_WORDS) -> str:
    response = VoiceResponse()
    response.say(MESSAGE_SAVED, **_voice(words))
    response.hangup()
    return str(response)


def return_call(settings: Settings, room: str, words: CallerWords = DEFAULT_WORDS) -> str:
    """A ring-back answered: the caller waits in the call's own conference until the listener,
    rung now, joins; from there it runs as any call through the line."""
    return _held(settings, RETURNING_CALL, words, room)


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


# The caller's own word: two keypad questions after the listener has ended the call. Worded so
# that anyone overhearing learns nothing, and always ending with the way back.
SURVEY_INTRO = "Thank you for talking with us tonight. Before you go, two quick questions, with your keypad."
SURVEY_QUESTIONS = {
    1: "How much did this call help? Press a number from 1, not at all, to 5, a lot.",
    2: "Do you feel safer now? Press 1 for yes, or 2 for no.",
}
SURVEY_AGAIN = "Sorry, I did not catch that."
SURVEY_GOODBYE = "Thank you. Please call again whenever you need to. " + SAFETY + " Goodbye."
SURVEY_TIMEOUT_SECONDS = 8


def survey_question(settings: Settings, question: int, attempt: int, *, intro: bool = False) -> str:
    """One question as a one-key ``<Gather>``. Without a key Twilio goes on to the next verb
    rather than the action, so a ``<Redirect>`` to the same URL (with no ``Digits``) is how the
    silence is told apart and the question asked once more."""
    action = webhook_url(settings, "survey", q=question, attempt=attempt)
    response = VoiceResponse()
    if attempt > 1:
        response.say(SURVEY_AGAIN, **_voice(DEFAULT_WORDS))
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=SURVEY_TIMEOUT_SECONDS, action=action, method="POST", finish_on_key=""
    )
    if intro:
        gather.say(SURVEY_INTRO, **_voice(DEFAULT_WORDS))
    gather.say(SURVEY_QUESTIONS[question], **_voice(DEFAULT_WORDS))
    response.redirect(action, method="POST")
    return str(response)


def survey_goodbye() -> str:
    response = VoiceResponse()
    response.say(SURVEY_GOODBYE, **_voice(DEFAULT_WORDS))
    response.hangup()
    return str(response)
