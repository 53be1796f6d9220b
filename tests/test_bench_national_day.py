"""The national day's deliveries (``bench/national_day.py``, run by ``make bench``) are webhooks the
app accepts: signed as Twilio signs them, well formed, each call's in Twilio's order of causes, and
a retry identical to its first. No server and no database: the bench itself is never run here."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from twilio.request_validator import RequestValidator

from app.core.settings import development_settings
from bench.national_day import Day, describe_job_lateness, endpoint_of
from bench.webhooks import ACCOUNT_SID, TOKEN
from telephony.intake import parse_call_webhook, parse_conference_event
from telephony.simulator import LINE_NUMBER, Sent, Simulator
from telephony.twiml import greet_and_hold, hold_music

BASE = "http://127.0.0.1:8765"


def bench_args(**overrides: object) -> argparse.Namespace:
    values = dict(calls=3, in_flight=3, duplicates=0.5, abandon=1.0, jitter=0.0, retry_window=0.0, seed=7, storm=False)
    return argparse.Namespace(**(values | overrides))


def answer(item, settings) -> str:
    """What the app answers each request a caller waits on."""
    if endpoint_of(item.url) == "incoming":
        return greet_and_hold(settings, item.params["CallSid"])
    return hold_music(settings, position=1, announce=True, overdue=False)


@pytest.mark.parametrize("storm", [False, True], ids=["story", "storm"])
async def test_three_calls_make_signed_valid_deliveries_in_causal_order(storm: bool) -> None:
    settings = development_settings(public_url=BASE, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=TOKEN)
    sim = Simulator(account_sid=ACCOUNT_SID, auth_token=TOKEN, public_url=BASE, owned_numbers={LINE_NUMBER})
    day = Day(sim, BASE, bench_args(storm=storm))
    validator = RequestValidator(TOKEN)
    for index in range(3):
        day.ring(index)
    seen: dict[str, list[str]] = {sid: [] for sid in day.callers}
    copies: Counter = Counter()
    for _ in range(200):
        taken = day._take()
        if not isinstance(taken, tuple):
            break
        item, _copy = taken
        copies[item.token] += 1
        assert urlsplit(item.url).netloc == "127.0.0.1:8765"
        assert validator.validate(item.url, item.params, sim.sign(item.url, item.params))
        endpoint = endpoint_of(item.url)
        if endpoint == "conference":
            delivery = parse_conference_event(item.params)
            sid = delivery.form["FriendlyName"].removeprefix("call-")
        else:
            waiting = endpoint == "wait"  # as the router parses each
            delivery = parse_call_webhook(
                item.params, endpoint, status_required=not waiting, event="wait" if waiting else None
            )
            sid = delivery.call_sid
        seen[sid].append(f"{endpoint}:{delivery.event}")
        if item.follow and copies[item.token] == 1:  # the first to arrive is answered (a storm may send the copy first)
            caller = day.callers[sid]
            day._follow(caller, item, Sent(item.url, item.params, 200, answer(item, settings)))
    await sim.close()

    # Every caller abandoned after the hold music: rang, waited in their conference, hung up.
    assert all(c.abandoned and c.call.ended for c in day.callers.values())
    for events in seen.values():
        assert events[0] == "incoming:ringing"  # nothing overtakes the call it is about
        assert sorted(set(events)) == sorted(
            {
                "incoming:ringing",
                "status:completed",  # a call to the line is reported only when it ends
                "conference:participant-join",
                "conference:participant-leave",
                "conference:conference-end",
                "wait:wait",
            }
        )
    # Some deliveries are sent twice, never more, each copy with the first one's token.
    assert set(copies.values()) == {1, 2} and day.twice


def test_the_day_reports_how_late_each_kind_of_job_ran() -> None:
    at = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    jobs = [
        ("telephony.conference_gap", "done", at, at + timedelta(seconds=1)),
        ("telephony.conference_gap", "done", at, at + timedelta(seconds=40)),
        ("telephony.conference_gap", "done", at, at + timedelta(seconds=2)),
        # Due before the last job ran, still waiting: counted against the loop.
        ("telephony.conference_gap", "pending", at + timedelta(seconds=10), None),
        # Not due yet when the day ended: nothing to say.
        ("telephony.overflow", "pending", at + timedelta(minutes=10), None),
        ("shiftlead.wait_alert", "pending", at + timedelta(seconds=30), None),
        ("session.due", "cancelled", at, None),
    ]
    assert describe_job_lateness(jobs) == [
        "jobs against their time:",
        "  shiftlead.wait_alert: none ran; 1 due by the last one run and not run",
        "  telephony.conference_gap: 3 ran, late by p50 2.0 s, max 40.0 s; 1 due by the last one run and not run",
    ]
    assert describe_job_lateness([]) == []
