from datetime import timedelta

from app.board.service import summarise_calls
from app.core.db import session_scope
from telephony.models import Call


def _call(harness, sid, *, waited, answered=True, abandoned=False, still_waiting=False):
    now = harness.clock.now()
    start = now - timedelta(minutes=30)
    return Call(
        call_sid=sid,
        direction="inbound",
        status="completed",
        created_at=start,
        updated_at=now,
        waiting_since=start,
        queue_state="waiting" if still_waiting else "ended",
        answered_at=start + timedelta(seconds=waited) if answered else None,
        ended_at=None if still_waiting else now,
        wait_seconds=None if still_waiting else waited,
        abandoned=abandoned,
    )


def test_figures_count_abandoned_calls_against_the_service_level():
    class C:  # a plain stand-in with the attributes the pure summary reads
        def __init__(self, answered, wait, abandoned=False):
            self.answered_at, self.wait_seconds, self.abandoned = (1 if answered else None), wait, abandoned

    figures = summarise_calls([C(True, 20), C(True, 90), C(False, 40, abandoned=True), C(True, 10)])
    assert (figures.offered, figures.answered, figures.abandoned) == (4, 3, 1)
    assert figures.answered_within_target == 2 and figures.service_level == 0.5
    assert figures.average_speed_of_answer_seconds == 40.0 and figures.longest_wait_seconds == 90


async def test_supervisor_sees_the_line_and_tonights_figures(harness):
    async with session_scope(harness.runtime) as session:
        session.add_all(
            [
                _call(harness, "CA1", waited=15),
                _call(harness, "CA2", waited=75),
                _call(harness, "CA3", waited=50, answered=False, abandoned=True),
                _call(harness, "CA4", waited=0, answered=False, still_waiting=True),
            ]
        )
    await harness.add_user("jo", "supervisor")
    await harness.add_user("sam", "listener")
    board = (await (await harness.signed_in("jo")).get("/api/supervisor/board")).json()
    assert board["line"]["waiting"] == 1
    assert board["tonight"]["offered"] == 4 and board["tonight"]["answered"] == 2 and board["tonight"]["abandoned"] == 1
    assert board["tonight"]["service_level"] == 0.25
    listener = await harness.signed_in("sam")
    assert (await listener.get("/api/supervisor/board")).status_code == 403
    assert (await listener.get("/board")).status_code == 403
