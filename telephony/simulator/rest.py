"""The REST API the app calls, answered like Twilio's: the paths of Twilio's published definition,
Basic auth, every request checked against the definition (``spec.validate``) before it acts, JSON
shapes and Twilio's error format. What each operation does is in ``operations``."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from telephony.simulator.headsets import register_headset_routes
from telephony.simulator.operations import HANDLERS, answer_ringing
from telephony.simulator.recordings import add_recording_routes
from telephony.simulator.spec import Fields, Operation, TwilioError, not_found, operations, validate
from telephony.simulator.twilio_world import SimulatedTwilio

__all__ = ["TwilioError", "answer_ringing", "build_rest_app", "describe_world"]


def _authorised(sim: SimulatedTwilio, request: Request, account_sid: str) -> None:
    header = request.headers.get("authorization", "")
    expected = base64.b64encode(f"{sim.account_sid}:{sim.auth_token}".encode()).decode()
    if header != f"Basic {expected}" or account_sid != sim.account_sid:
        raise TwilioError(401, 20003, "Authenticate")


def _for_log(fields: Fields) -> dict[str, Any]:
    return {key: values if len(values) > 1 else values[0] for key, values in fields.values.items()}


def describe_world(sim: SimulatedTwilio) -> dict[str, Any]:
    return {
        "calls": {
            sid: {"status": c.status, "direction": c.direction, "label": c.label, "conference": c.conference}
            for sid, c in sim.calls.items()
        },
        "conferences": {
            name: {
                "sid": c.sid,
                "status": c.status,
                "started": c.started,
                "ended": c.ended,
                "participants": list(c.participants),
                "hearing": sim.hearing(c),
            }
            for name, c in sim.conferences.items()
        },
        "rest_requests": sim.rest_requests,
        "messages": sim.messages,
        "errors": sim.errors,
        "outbox": len(sim.outbox),
    }


def _endpoint(sim: SimulatedTwilio, operation: Operation) -> Any:
    handler, status = HANDLERS[operation.operation_id]

    async def handle(request: Request) -> Response:
        path = dict(request.path_params)
        _authorised(sim, request, path.get("AccountSid", ""))
        body = await request.body()
        form = Fields((await request.form()).multi_items()) if body else Fields(())
        query = Fields(request.query_params.multi_items())
        sim.rest_requests.append(
            {"method": request.method, "path": request.url.path, "form": _for_log(form), "query": _for_log(query)}
        )
        validate(operation, request.url.path, path, query, form)
        path.pop("AccountSid")
        result = handler(sim, form, query, **path)
        return Response(status_code=204) if result is None else JSONResponse(result, status_code=status)

    return handle


def build_rest_app(sim: SimulatedTwilio) -> FastAPI:
    api = FastAPI(title="Openline Twilio simulator", docs_url=None, redoc_url=None, openapi_url=None)

    @api.exception_handler(TwilioError)
    async def _twilio_error(_request: Request, exc: TwilioError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @api.exception_handler(HTTPException)
    async def _no_such_route(request: Request, exc: HTTPException) -> JSONResponse:
        # No operation of the definition has this path (or this method on it).
        error = (
            not_found(request.url.path)
            if exc.status_code == 404
            else TwilioError(exc.status_code, exc.status_code, str(exc.detail))
        )
        return JSONResponse(error.body(), status_code=error.status)

    add_recording_routes(api, sim)
    register_headset_routes(api, sim)
    # Operations sharing a path are one route per method; a specific path before a general one.
    for operation in sorted(operations().values(), key=lambda op: -op.path.count("/")):
        api.add_api_route(
            operation.path, _endpoint(sim, operation), methods=[operation.method], name=operation.operation_id
        )

    @api.get("/_sim/state")
    async def show_state() -> dict[str, Any]:
        return describe_world(sim)

    @api.get("/healthz")
    async def check_health() -> dict[str, str]:
        return {"status": "ok"}

    return api
