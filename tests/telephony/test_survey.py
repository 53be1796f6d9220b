"""The caller's own word, through the strict twin: consent recorded during the call, the keypad
survey after the listener ends it, the text survey the next day and its reply, STOP, and what is
never shown to the listener."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.jobs import run_due_jobs
from telephony import twiml
from telephony.models import CallerSurvey, SurveyOptOut, WebhookDelivery
from telephony.survey import SURVEY_TEXT, read_key, read_text_reply, text_survey_time
from tests.scenarios import CALLER_NUMBER, answered, survey_consent
from tests.telephony.conftest import listener, rows, signed_post

# Pure rules


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("4 yes", (4, True)),
        ("4 1", (4, True)),
        ("4, Y", (4, True)),
        ("5 no", (5, False)),
        ("2 2", (2, False)),
        ("3", (3, None)),
        ("Yes", (None, True)),
        ("  1. nope ", (1, False)),
        ("9 yes", (None, True)),
        ("hello", None),
        ("", None),
    ],
)
def test_a_text_reply_is_read_as_people_write_it(body, expected):
    assert read_text_reply(body) == expected


@pytest.mark.parametrize(
    ("question", "digits", "expected"),
    [(1, "4", 4), (1, "1", 1), (1, "6", None), (1, "0", None), (1, "#", None), (1, None, None), (1, "45", None)]
    + [(2, "1", True), (2, "2", False), (2, "3", None), (2, "*", None)],
)
def test_a_key_is_an_answer_only_within_the_question_s_range(question, digits, expected):
    assert read_key(question, digits) == expected


@pytest.mark.parametrize(
    ("consented", "sent"),
    [
        ("2026-12-01T21:10:00+00:00", "2026-12-02T11:00:00+00:00"),  # winter: London is UTC
        ("2026-12-02T01:30:00+00:00", "2026-12-02T11:00:00+00:00"),  # the small hours: that morning
        ("2026-07-14T20:45:00+00:00", "2026-07-15T10:00:00+00:00"),  # summer: 11am BST
        ("2026-07-14T09:00:00+00:00", "2026-07-15T10:00:00+00:00"),
    ],
)
def test_the_survey_text_goes_the_next_day_in_the_late_morning_in_london(consented, sent):
    assert text_survey_time(datetime.fromisoformat(consented)) == datetime.fromisoformat(sent).astimezone(UTC)


# Keypad, straight after the call


async def on_call_with_consent(harness, sim, consent: str, number: str = CALLER_NUMBER):
    _, client = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, client, number=number)
    assert card["survey"] == "not-asked"
    answer = await survey_consent(client, card["id"], consent)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"survey": consent}
    return client, caller, card


async def end_call(sim, client):
    ended = await client.post("/api/listener/calls/current/end")
    assert ended.status_code == 200, ended.text
    await sim.deliver()


async def surveys(harness) -> list[CallerSurvey]:
    return await rows(harness, CallerSurvey)


async def test_a_caller_who_agreed_hears_the_keypad_survey_when_the_listener_ends_the_call(harness, sim):
    client, caller, _card = await on_call_with_consent(harness, sim, "keypad")
    await end_call(sim, client)
    assert twiml.SURVEY_INTRO in caller.heard and twiml.SURVEY_QUESTIONS[1] in caller.heard
    assert caller.asked and caller.state != "ended"
    await caller.press("4")
    assert caller.heard[-1] == twiml.SURVEY_QUESTIONS[2]
    await caller.press("1")
    await sim.deliver()
    assert caller.heard[-1] == twiml.SURVEY_GOODBYE and caller.state == "ended"
    [survey] = await surveys(harness)
    assert (survey.way, survey.state, survey.helped, survey.safer) == ("keypad", "answered", 4, True)
    assert survey.number_hash is None
    # The listener's end of the call stands, and they are free to log it.
    tonight = (await client.get("/api/listener/tonight")).json()
    assert tonight[0]["ended_by"] == "listener"


async def test_without_consent_the_end_button_hangs_up_as_before(harness, sim):
    _, client = await listener(harness, display_name="Sam")
    caller, _card = await answered(harness, sim, client)
    await end_call(sim, client)
    assert caller.state == "ended" and twiml.SURVEY_INTRO not in caller.heard
    assert await surveys(harness) == []


async def test_a_declined_survey_is_recorded_and_never_asked(harness, sim):
    client, caller, _card = await on_call_with_consent(harness, sim, "declined")
    await end_call(sim, client)
    assert caller.state == "ended" and twiml.SURVEY_INTRO not in caller.heard
    [survey] = await surveys(harness)
    assert (survey.way, survey.state) == ("declined", "declined")


async def test_a_missed_or_wrong_key_is_asked_again_once_then_the_survey_moves_on(harness, sim):
    client, caller, _card = await on_call_with_consent(harness, sim, "keypad")
    await end_call(sim, client)
    await caller.stay_silent()
    assert caller.heard[-2:] == [twiml.SURVEY_AGAIN, twiml.SURVEY_QUESTIONS[1]]
    await caller.press("9")  # not 1-5: the second try is the last
    assert caller.heard[-1] == twiml.SURVEY_QUESTIONS[2]
    await caller.press("7")
    assert caller.heard[-1] == twiml.SURVEY_QUESTIONS[1 + 1] and caller.asked
    await caller.press("2")
    await sim.deliver()
    [survey] = await surveys(harness)
    assert (survey.helped, survey.safer, survey.state) == (None, False, "answered")


async def test_a_caller_who_hangs_up_half_way_keeps_what_they_gave(harness, sim):
    client, caller, _card = await on_call_with_consent(harness, sim, "keypad")
    await end_call(sim, client)
    await caller.press("5")
    await caller.hang_up()
    await sim.deliver()
    [survey] = await surveys(harness)
    assert (survey.helped, survey.safer, survey.state) == (5, None, "answered")


async def test_a_repeated_gather_action_changes_nothing_and_a_forged_one_is_refused(harness, sim, client):
    listener_client, caller, _card = await on_call_with_consent(harness, sim, "keypad")
    await end_call(sim, listener_client)
    path = "/telephony/voice/survey?q=1&attempt=1"
    form = sim.call_params(caller.call, Digits="3")
    first = await signed_post(client, sim, path, form, **{"I-Twilio-Idempotency-Token": "tok-1"})
    again = await signed_post(client, sim, path, form, **{"I-Twilio-Idempotency-Token": "tok-1"})
    assert first.status_code == again.status_code == 200 and first.text == again.text
    forged = await client.post(path, data=form | {"Digits": "1"}, headers={"X-Twilio-Signature": "bogus"})
    assert forged.status_code == 403
    [survey] = await surveys(harness)
    assert survey.helped == 3
    bad = await signed_post(client, sim, "/telephony/voice/survey?q=3&attempt=1", form)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "q"


async def test_a_survey_request_for_a_call_without_consent_hangs_up(harness, sim, client):
    _, sam = await listener(harness, display_name="Sam")
    caller, _card = await answered(harness, sim, sam)
    reply = await signed_post(client, sim, "/telephony/voice/survey", sim.call_params(caller.call))
    assert reply.status_code == 200 and reply.text.endswith("<Response><Hangup /></Response>")


# Consent rules


async def test_a_withheld_number_cannot_be_texted_and_an_ended_call_cannot_go_to_the_keypad(harness, sim):
    _, client = await listener(harness, display_name="Sam")
    caller, card = await answered(harness, sim, client, number="anonymous")
    refused = await survey_consent(client, card["id"], "text")
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "survey"
    assert (await survey_consent(client, card["id"], "keypad")).status_code == 200
    await caller.hang_up()
    await sim.deliver()
    late = await survey_consent(client, card["id"], "keypad")
    assert late.status_code == 409
    assert (await survey_consent(client, card["id"], "maybe")).status_code == 422


async def test_another_listener_s_session_is_404(harness, sim):
    _client, _caller, card = await on_call_with_consent(harness, sim, "keypad")
    _, other = await listener(harness, "kim", display_name="Kim")
    assert (await survey_consent(other, card["id"], "declined")).status_code == 404


async def test_consent_can_be_changed_during_the_call_and_the_card_shows_it(harness, sim):
    client, _caller, card = await on_call_with_consent(harness, sim, "text")
    current = (await client.get("/api/listener/sessions/current")).json()
    assert current["survey"] == "text"
    assert (await survey_consent(client, card["id"], "not-asked")).status_code == 200
    assert await surveys(harness) == []
    harness.clock.advance(days=2)
    await run_due_jobs(harness.runtime)
    assert sim.messages == []  # the text job went with the consent


# Text, the next day


async def text_survey_sent(harness, sim, number: str = CALLER_NUMBER):
    client, caller, _card = await on_call_with_consent(harness, sim, "text", number=number)
    await end_call(sim, client)
    assert caller.state == "ended"
    harness.clock.advance(hours=2)
    await run_due_jobs(harness.runtime)
    assert sim.messages == []  # not at night
    [survey] = await surveys(harness)
    harness.clock.set(survey.text_due_at + timedelta(minutes=1))
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    return client


async def test_the_text_survey_goes_next_day_from_the_line_s_number_and_the_reply_is_taken(harness, sim):
    await text_survey_sent(harness, sim)
    [message] = sim.messages
    assert message["to"] == CALLER_NUMBER and message["body"] == SURVEY_TEXT
    assert message["from"] == harness.runtime.settings.twilio_caller_id
    [survey] = await surveys(harness)
    assert survey.state == "asked" and survey.number_hash is not None
    sim.text_line(CALLER_NUMBER, "4, Y")
    first, again = await sim.deliver(duplicate=True)
    assert first.status == again.status == 200 and first.body == again.body
    assert first.body.endswith("<Response />")
    [survey] = await surveys(harness)
    assert (survey.state, survey.helped, survey.safer, survey.number_hash) == ("answered", 4, True, None)
    texts = await rows(harness, WebhookDelivery, WebhookDelivery.endpoint == "messaging")
    assert [t.outcome for t in texts] == ["answered"]  # the retry was the same MessageSid
    assert all("From" not in t.fields and "Body" not in t.fields for t in texts)


async def test_a_second_reply_and_an_unknown_number_are_recorded_and_ignored(harness, sim):
    await text_survey_sent(harness, sim)
    sim.text_line(CALLER_NUMBER, "5 yes")
    sim.text_line(CALLER_NUMBER, "1 no")
    sim.text_line("+447700900999", "3 yes")
    sent = await sim.deliver()
    assert [s.status for s in sent] == [200, 200, 200]
    [survey] = await surveys(harness)
    assert (survey.helped, survey.safer) == (5, True)
    texts = await rows(harness, WebhookDelivery, WebhookDelivery.endpoint == "messaging")
    assert [t.outcome for t in texts] == ["answered", "unmatched", "unmatched"]


async def test_stop_ends_survey_texts_to_that_number(harness, sim):
    await text_survey_sent(harness, sim)
    sim.text_line(CALLER_NUMBER, "STOP")
    await sim.deliver()
    [survey] = await surveys(harness)
    assert (survey.state, survey.number_hash) == ("stopped", None)
    assert len(await rows(harness, SurveyOptOut)) == 1
    # The same caller rings again and agrees to a text: refused, they asked for none.
    _, kim = await listener(harness, "kim", display_name="Kim")
    _caller, card = await answered(harness, sim, kim)
    refused = await survey_consent(kim, card["id"], "text")
    assert refused.status_code == 422 and "no more" in refused.json()["detail"][0]["message"]


async def test_a_stop_between_consent_and_the_send_means_no_text(harness, sim):
    client, _caller, _card = await on_call_with_consent(harness, sim, "text")
    await end_call(sim, client)
    sim.text_line(CALLER_NUMBER, "stop")
    await sim.deliver()
    harness.clock.advance(days=1, hours=12)
    await run_due_jobs(harness.runtime)
    await sim.deliver()
    assert sim.messages == []
    [survey] = await surveys(harness)
    assert survey.state == "stopped" and survey.number_hash is None


async def test_an_unanswered_text_survey_expires_and_drops_the_number_s_hash(harness, sim):
    await text_survey_sent(harness, sim)
    harness.clock.advance(days=4)
    await run_due_jobs(harness.runtime)
    from telephony.survey import expire_surveys

    assert await expire_surveys(harness.runtime) == 1
    [survey] = await surveys(harness)
    assert (survey.state, survey.number_hash) == ("expired", None)
    sim.text_line(CALLER_NUMBER, "4 yes")
    await sim.deliver()
    [survey] = await surveys(harness)
    assert survey.helped is None


async def test_a_malformed_text_webhook_is_422_and_a_forged_one_403(harness, sim, client):
    bad = await signed_post(client, sim, "/telephony/messaging/incoming", {"MessageSid": "x", "Body": "4 yes"})
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["detail"]} == {"MessageSid", "From"}
    form = {"MessageSid": "SM" + "a" * 32, "From": CALLER_NUMBER, "Body": "4 yes"}
    forged = await client.post("/telephony/messaging/incoming", data=form, headers={"X-Twilio-Signature": "x"})
    assert forged.status_code == 403


async def test_the_keypad_survey_holds_when_callbacks_come_late_twice_and_out_of_order(harness):
    from tests.telephony.conftest import simulator_for

    sim = simulator_for(harness, chaos=True, seed=11)
    try:
        client, caller, card = await on_call_with_consent(harness, sim, "keypad")
        await end_call(sim, client)
        await sim.deliver()
        await caller.press("3")
        await sim.deliver()
        await caller.press("1")
        await sim.deliver()
        [survey] = await surveys(harness)
        assert (survey.helped, survey.safer, survey.state) == (3, True, "answered")
        # Once asked, the consent can no longer be changed from the page.
        late = await survey_consent(client, card["id"], "declined")
        assert late.status_code == 409
    finally:
        await sim.close()
