import json
import logging

from app.core.observability import JsonFormatter, request_id_var


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_readyz_fails_when_the_database_is_behind(harness, client):
    async with harness.runtime.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"] == "not_ready" and "old" in response.json()["detail"]
    finally:
        async with harness.runtime.engine.begin() as conn:
            from app.ops import migration_head

            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": migration_head()})


async def test_metrics_count_requests_by_route(client):
    await client.get("/healthz")
    await client.get("/api/directory/services/12345")
    body = (await client.get("/metrics")).text
    assert 'openline_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert 'route="/api/directory/services/{service_id}",status="401"' in body
    assert "openline_http_request_seconds_bucket" in body


async def test_every_error_has_the_one_format(client):
    not_found = await client.get("/no/such/page")
    assert not_found.status_code == 404 and set(not_found.json()) == {"error", "detail"}
    wrong_method = await client.put("/healthz")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    unauthorised = await client.get("/api/me")
    assert unauthorised.status_code == 401 and unauthorised.json()["error"] == "not_signed_in"


async def test_request_id_is_returned_and_echoed(client):
    response = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_oversized_body_is_refused(client):
    response = await client.post(
        "/login", content=b"x" * (1024 * 1024), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"


def test_logs_are_json_with_the_request_id():
    token = request_id_var.set("rid-1")
    try:
        record = logging.LogRecord("openline", logging.INFO, __file__, 1, "hello", None, None)
        record.route = "/x"
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hello" and line["request_id"] == "rid-1" and line["route"] == "/x"


async def test_openapi_documents_the_api(client):
    spec = (await client.get("/openapi.json")).json()
    assert "/api/directory/services" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
