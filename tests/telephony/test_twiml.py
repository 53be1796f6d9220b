"""TwiML builders: pure functions, checked by parsing what they produce."""

import xml.etree.ElementTree as ET

from app.core.settings import Settings
from telephony import twiml

SETTINGS = Settings(_env_file=None, environment="development", public_url="https://line.example/")


def verbs(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(xml))


def test_the_caller_is_greeted_then_held_in_their_own_conference():
    say, dial = verbs(twiml.greet_and_hold(SETTINGS, "CA123"))
    assert say.tag == "Say" and "listener" in say.text
    conference = dial.find("Conference")
    assert conference.text == "call-CA123"
    assert conference.attrib == {
        "beep": "false",
        "startConferenceOnEnter": "false",
        "endConferenceOnExit": "true",
        "waitUrl": "https://line.example/telephony/voice/wait",
        "waitMethod": "POST",
        "statusCallback": "https://line.example/telephony/conference/events",
        "statusCallbackMethod": "POST",
        "statusCallbackEvent": "start end join leave hold",
    }


def test_hold_music_announces_the_position_only_when_asked_and_never_runs_out():
    announced = verbs(twiml.hold_music(SETTINGS, position=3, announce=True, overdue=False))
    assert [v.tag for v in announced] == ["Say", "Play", "Redirect"] and "caller number 3" in announced[0].text
    quiet = verbs(twiml.hold_music(SETTINGS, position=3, announce=False, overdue=False))
    assert [v.tag for v in quiet] == ["Play", "Redirect"]
    # Twilio runs a wait document once: it must ask for the next one, or the caller hears silence.
    assert quiet[-1].text == "https://line.example/telephony/voice/wait" and quiet[-1].get("method") == "POST"
    overdue = verbs(twiml.hold_music(SETTINGS, position=3, announce=True, overdue=True))
    assert "leave a message" in overdue[0].text and "caller number" not in overdue[0].text


def test_voicemail_records_up_to_two_minutes_and_never_ends_in_silence():
    say, record, goodbye, hangup = verbs(twiml.offer_voicemail(SETTINGS, "overflow"))
    assert "after the tone" in say.text and "999" in say.text
    assert record.get("action") == "https://line.example/telephony/voice/voicemail?reason=overflow"
    assert record.get("maxLength") == "120" and record.get("playBeep") == "true"
    assert record.get("recordingStatusCallback").endswith("/voicemail?reason=overflow&event=recording")
    assert goodbye.tag == "Say" and hangup.tag == "Hangup"
    assert "cannot take calls" in verbs(twiml.line_closed(SETTINGS))[0].text


def test_the_fallback_apologises_and_still_queues_the_caller():
    say, dial = verbs(twiml.apologise_and_hold(SETTINGS, "CA9"))
    assert "trouble" in say.text and dial.find("Conference").text == "call-CA9"


def test_a_status_callback_answer_is_empty():
    assert verbs(twiml.empty()) == []
