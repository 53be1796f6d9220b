"""The API's contract: typed answers and the project's error body in the OpenAPI document, every
/api route behind a role or an API key, another person's or organisation's object a 404, and
inputs that used to be a 500 answered with a 422 naming the field."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import RouteContext

from app.core.db import session_scope
from app.core.deps import get_current_partner, get_current_user
from tests.conftest import load_demo_directory
from tests.conftest import test_settings as settings_for
from tests.scenarios import api_routes, fhir_routes, logged_session, partner, service_id, transfer
from transfers.tickets.models import TransferTicket

# /api routes anyone may call without signing in. Keep this short: each one is a door left open.
PUBLIC_API: frozenset[tuple[str, str]] = frozenset()
# The one /fhir route open to all: a FHIR client reads what the server can do before signing in.
PUBLIC_FHIR = frozenset({("GET", "/fhir/R4/metadata")})
TOO_BIG = 2**64  # past 64 bits: a 500 on SQLite before; anything past 2**31 - 1 was one on PostgreSQL


def _calls(dependant) -> set:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def unguarded_api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every /api route that needs neither a signed-in person nor an API key."""
    guards = {get_current_user, get_current_partner}
    return [
        (method, route.path)
        for route in api_routes(app)
        for method in sorted(route.methods)
        if not guards & _calls(route.dependant) and (method, route.path) not in PUBLIC_API
    ]


def test_every_api_route_needs_a_role_or_an_api_key(tmp_path):
    from app.main import create_app

    app = create_app(settings_for(f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert len(api_routes(app)) > 50
    assert unguarded_api_routes(app) == []

    @app.get("/api/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    assert unguarded_api_routes(app) == [("GET", "/api/forgotten")]


async def test_the_openapi_document_shows_typed_answers_and_the_projects_error_body(client):
    doc = (await client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["InvalidOut"]["properties"]) == {"error", "detail"}
    assert schemas["FieldError"]["required"] == ["field", "message"]
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            answers = operation["responses"]
            assert "401" in answers, where
            if operation.get("parameters") or operation.get("requestBody"):
                invalid = answers["422"]["content"]["application/json"]["schema"]
                assert invalid == {"$ref": "#/components/schemas/InvalidOut"}, where
            assert answers["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
            for status, answer in answers.items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema is not None:
                    # A typed model, a list of one, or one or null: never a bare object a generated
                    # client cannot read.
                    typed = [schema, schema.get("items", {}), *schema.get("anyOf", [])]
                    assert any("$ref" in s for s in typed), (where, status, schema)
                    assert all("$ref" in s or s == {"type": "null"} for s in schema.get("anyOf", [])), where


async def test_integers_past_64_bits_are_422_naming_the_field(harness):
    organisations = await load_demo_directory(harness)
    await harness.add_user("admin", "admin")
    admin = await harness.signed_in("admin")
    session_id, listener = await logged_session(harness)
    worker = await partner(harness, organisations)
    cases = [
        (admin.get(f"/api/directory/services/{TOO_BIG}"), "service_id"),
        (admin.get(f"/api/directory/services/{2**40}"), "service_id"),
        (admin.get("/api/directory/services", params={"organisation_id": TOO_BIG}), "organisation_id"),
        (admin.patch(f"/api/directory/organisations/{TOO_BIG}", json={"name": "x"}), "organisation_id"),
        (
            admin.post("/api/directory/services", json={"slug": "s", "name": "S", "organisation_id": TOO_BIG}),
            "organisation_id",
        ),
        (
            admin.post(
                "/api/admin/users",
                json={"username": "u", "password": "p" * 12, "role": "partner", "organisation_id": TOO_BIG},
            ),
            "organisation_id",
        ),
        (transfer(listener, session_id, TOO_BIG), "service_id"),
        (listener.get(f"/api/listener/sessions/{TOO_BIG}/log"), "session_id"),
        (listener.post(f"/api/listener/callbacks/{TOO_BIG}/claim"), "callback_id"),
        (worker.get(f"/api/partner/v1/tickets/{TOO_BIG}"), "ticket_id"),
    ]
    for request, field in cases:
        response = await request
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"] == "invalid" and field in [f["field"] for f in response.json()["detail"]]


async def test_an_empty_idempotency_key_is_422_and_blocks_nothing(harness):
    await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca = await service_id(harness, "ca-money")
    path = f"/api/listener/sessions/{session_id}/transfers"
    body = {"service_id": ca, "contact_number": "+447700900123"}
    for _ in range(2):
        refused = await listener.post(path, json=body, headers={"Idempotency-Key": ""})
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "idempotency-key"
    assert (await listener.post(path, json=body, headers={"Idempotency-Key": "k1"})).status_code == 201


async def test_an_idempotency_key_replays_only_its_own_request(harness):
    await load_demo_directory(harness)
    session_id, listener = await logged_session(harness)
    ca, mind = await service_id(harness, "ca-money"), await service_id(harness, "second-step-housing")
    path = f"/api/listener/sessions/{session_id}/transfers"
    body = {"service_id": ca, "contact_number": "+447700900123", "caller_name": "Jamie"}
    key = {"Idempotency-Key": "double-click-1"}
    first = await listener.post(path, json=body, headers=key)
    again = await listener.post(path, json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200) and again.json() == first.json()
    for change in ({"service_id": mind}, {"caller_name": "Sam"}, {"contact_number": "+447700900999"}):
        reused = await listener.post(path, json=body | change, headers=key)
        assert reused.status_code == 422, (change, reused.text)
        assert reused.json()["error"] == "idempotency_key_reused"
        assert reused.json()["detail"][0]["field"] == "idempotency-key"
    async with session_scope(harness.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(TransferTicket)) == 1


async def test_null_in_a_patch_is_422_naming_the_field(harness):
    organisations = await load_demo_directory(harness)
    await harness.add_user("admin", "admin")
    admin = await harness.signed_in("admin")
    org = organisations["citizens-advice"]
    ca = await service_id(harness, "ca-money")
    for path, field in [
        (f"/api/directory/organisations/{org}", "name"),
        (f"/api/directory/organisations/{org}", "description"),
        (f"/api/directory/services/{ca}", "name"),
        (f"/api/directory/services/{ca}", "needs"),
        (f"/api/directory/services/{ca}", "targets"),
    ]:
        refused = await admin.patch(path, json={field: None})
        assert refused.status_code == 422, (path, field, refused.text)
        assert [f["field"] for f in refused.json()["detail"]] == [field]
    # Fields that may be empty still take null.
    cleared = await admin.patch(f"/api/directory/organisations/{org}", json={"website": None})
    assert cleared.status_code == 200 and cleared.json()["website"] is None
    assert (await admin.patch(f"/api/directory/services/{ca}", json={"capacity": None})).status_code == 200


def _owned_routes(app: FastAPI, param: str, prefix: str) -> list[RouteContext]:
    return [r for r in api_routes(app) if r.path.startswith(prefix) and f"{{{param}}}" in r.path]


def _fill(path: str, **ids: object) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


async def test_another_persons_or_organisations_id_is_404_on_every_route(harness):
    """Every route taking a session, warm-transfer or partner-service id, tried by the wrong
    person: a listener with another listener's, a partner with another organisation's."""
    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    _, alex = await logged_session(harness, "alex")
    ca = await service_id(harness, "ca-money")
    ticket_id = (await transfer(sam, session_id, ca)).json()["ticket_id"]
    mind = await partner(harness, organisations, "mind-in-somerset", "mind-worker")
    app = harness.app
    tried = []
    for prefix, param, caller in [
        ("/api/listener/", "session_id", alex),
        ("/api/helpline/", "ticket_id", alex),
        ("/api/partner/", "ticket_id", mind),
        ("/api/partner/", "service_id", mind),
    ]:
        routes = _owned_routes(app, param, prefix)
        assert routes, (prefix, param)
        for route in routes:
            for method in route.methods:
                ids = dict(session_id=session_id, ticket_id=ticket_id, service_id=ca, action="accept")
                response = await caller.request(method, _fill(route.path, **ids), json={})
                assert response.status_code == 404, (method, route.path, response.text)
                # Word for word what an id that was never used gets: nothing tells the two apart.
                unused = await caller.request(method, _fill(route.path, **ids | {param: 2**31 - 1}), json={})
                assert response.json() == unused.json() and set(response.json()) == {"error", "detail"}
                tried.append((method, route.path))
    assert len(tried) >= 14
    # The owner and a supervisor still reach them.
    assert (await sam.get(f"/api/listener/sessions/{session_id}/transfers")).status_code == 200
    await harness.add_user("jo", "supervisor")
    assert (await (await harness.signed_in("jo")).get(f"/api/helpline/tickets/{ticket_id}")).status_code == 200


async def test_every_fhir_route_keeps_the_401_403_404_contract_in_operation_outcomes(harness):
    """/fhir answers FHIR's error body, not /api's, so it has its own row of the matrix: signed out
    401, a signed-in person who is not a partner 403, another organisation's Task 404 word for word
    as one never made; each an OperationOutcome with the issue code a FHIR client branches on."""
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    organisations = await load_demo_directory(harness)
    session_id, sam = await logged_session(harness)
    ticket_id = (await transfer(sam, session_id, await service_id(harness, "ca-money"))).json()["ticket_id"]
    mind = await partner(harness, organisations, "mind-in-somerset", "mind-worker")
    patch = [{"op": "replace", "path": "/status", "value": "accepted"}]

    def issue(response) -> str:
        assert response.headers["content-type"].startswith("application/fhir+json"), response.text
        return OperationOutcome.model_validate(response.json()).issue[0].code

    tried = []
    async with harness.client() as stranger:
        for route in fhir_routes(harness.app):
            for method in route.methods:
                if (method, route.path) in PUBLIC_FHIR:
                    continue
                body = patch if method == "PATCH" else None
                url = _fill(route.path, task_id=ticket_id)
                signed_out = await stranger.request(method, url, json=body)
                assert (signed_out.status_code, issue(signed_out)) == (401, "login"), (method, route.path)
                listener = await sam.request(method, url, json=body)
                assert (listener.status_code, issue(listener)) == (403, "forbidden"), (method, route.path)
                if "{task_id}" in route.path:
                    other = await mind.request(method, url, json=body)
                    unused = await mind.request(method, _fill(route.path, task_id=2**31 - 1), json=body)
                    assert (other.status_code, issue(other)) == (404, "not-found"), (method, route.path)
                    assert other.json() == unused.json()
                tried.append((method, route.path))
    assert sorted(tried) == [
        ("GET", "/fhir/R4/Task"),
        ("GET", "/fhir/R4/Task/{task_id}"),
        ("PATCH", "/fhir/R4/Task/{task_id}"),
    ]
