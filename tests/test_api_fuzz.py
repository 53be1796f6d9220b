"""Schemathesis over the whole OpenAPI document, through the ASGI app (no network), as each role
and with a partner's API key: no input gives a 5xx, and no answer breaks its own schema (body,
status code and content type all as documented).

Bounded so it stays part of ``make test``: a few examples per operation and role.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.core.db import session_scope
from app.core.security import create_api_key
from app.main import create_app
from tests.conftest import load_demo_directory
from tests.conftest import test_settings as settings_for
from tests.scenarios import logged_session, service_id, transfer

EXAMPLES_PER_OPERATION = 3
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
# /api/live is a server-sent-events stream that never ends (tests/app/test_live.py covers it);
# Twilio's webhooks need a valid X-Twilio-Signature over each form, which generated data never
# has (tests/telephony/test_signature.py and test_webhooks.py cover them).
EXCLUDED = r"^/api/live$|^/telephony/"
ROLES = ["listener", "supervisor", "admin", "partner", "api-key"]
# A line set up for the browser headset, as in production (without it the token is a documented 503).
HEADSET_SET_UP = dict(
    twilio_api_key_sid="SK" + "1" * 32,
    twilio_api_key_secret="test-api-key-secret-0123456789abcdef",
    twilio_twiml_app_sid="AP" + "1" * 32,
)


async def _credentials(harness) -> dict[str, dict[str, str]]:
    """Request headers for each role, over a directory with a session, its log and a warm transfer."""
    organisations = await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    await transfer(listener, session_id, await service_id(harness, "ca-money"))
    clients = {"listener": listener}
    for role in ("supervisor", "admin"):
        await harness.add_user(role, role)
        clients[role] = await harness.signed_in(role)
    await harness.add_user("ca-worker", "partner", organisation_id=organisations["citizens-advice"])
    clients["partner"] = await harness.signed_in("ca-worker")
    headers = {
        role: {
            "Cookie": f"openline_session={client.cookies['openline_session']}",
            "X-CSRF-Token": client.headers["X-CSRF-Token"],
        }
        for role, client in clients.items()
    }
    async with session_scope(harness.runtime) as session:
        issued = await create_api_key(session, organisation_id=organisations["citizens-advice"], name="case system")
    headers["api-key"] = {"Authorization": f"Bearer {issued.plaintext}"}
    return headers


REQUEST_TIMEOUT_SECONDS = 60


def _fuzz(operation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        # What is checked is the answer, not its speed (benchmarks measure that): on a loaded
        # 2-core CI machine one request once took past schemathesis's 10 s default.
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT_SECONDS)

    run()


@pytest.mark.parametrize("role", ROLES)
async def test_no_input_gives_a_5xx_or_an_answer_off_its_schema(harness, db_url, role):
    headers = (await _credentials(harness))[role]
    # A second app on the same database, served from schemathesis's own event loop thread.
    app = create_app(settings_for(db_url, **HEADSET_SET_UP), clock=harness.clock)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=EXCLUDED)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 50
        for operation in operations:
            _fuzz(operation, headers)
    finally:
        asgi.shutdown_lifespans()
