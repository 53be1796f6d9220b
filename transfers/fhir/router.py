"""``/fhir/R4``: a partner's warm-transfer tickets as FHIR Tasks (read and search) and the
server's CapabilityStatement.

Kept out of the OpenAPI document (``include_in_schema=False``): its answers are FHIR resources
in ``application/fhir+json`` and its errors OperationOutcomes, not the project's error body the
schema fuzz test holds every /api route to; tests/transfers/test_fhir.py drives them directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from app.core.db import runtime_of
from app.core.deps import CurrentPartner, SessionDep
from app.core.errors import AppError
from app.core.responses import DB_INT_MAX
from transfers.fhir import resources as fhir
from transfers.fhir.service import change_task, read_task, search_tasks

# The FHIR issue type a partner's system branches on, for each status we answer.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    422: "required",
}
# The ticket service names its inputs; a FHIR client knows them by the Task's paths.
FIELDS = {
    "reason": "/statusReason/text",
    "outcome": "/output/0/valueString",
    # On complete the code is in /output/0/type/coding; on a decline or give-up, /statusReason/coding.
    "outcome_code": "/statusReason/coding or /output/0/type/coding",
}


class FhirResponse(Response):
    media_type = fhir.FHIR_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def outcome_response(status: int, diagnostics: str, headers: dict[str, str] | None = None) -> FhirResponse:
    return FhirResponse(
        fhir.operation_outcome(ISSUE_CODES.get(status, "processing"), diagnostics), status_code=status, headers=headers
    )


class FhirRoute(APIRoute):
    """Every failure on these routes, sign-in and bad parameters included, as an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except AppError as exc:
                detail = exc.detail
                if isinstance(detail, list):  # Unprocessable's named fields
                    detail = "; ".join(f"{FIELDS.get(d['field'], d['field'])}: {d['message']}" for d in detail)
                return outcome_response(exc.status_code, detail, exc.headers)
            except RequestValidationError as exc:
                fields = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in exc.errors()
                )
                return outcome_response(400, fields or "invalid request")

        return handle


router = APIRouter(prefix="/fhir/R4", tags=["fhir"], route_class=FhirRoute, include_in_schema=False)


def _ticket_id(task_id: str) -> int | None:
    """A Task id is a ticket id; anything else names no Task (404, as FHIR reads do)."""
    return int(task_id) if task_id.isdigit() and len(task_id) <= 10 and 1 <= int(task_id) <= DB_INT_MAX else None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


@router.get("/metadata", response_class=FhirResponse)
async def show_capabilities(request: Request, session: SessionDep):
    """Open to anyone, as FHIR clients expect: it says what the server does and holds no data."""
    return FhirResponse(fhir.capability_statement(now=runtime_of(session).clock.now(), base=_base(request)))


@router.get("/Task", response_class=FhirResponse)
async def search_own_tasks(
    request: Request,
    session: SessionDep,
    partner: CurrentPartner,
    last_updated: str | None = Query(None, alias="_lastUpdated", max_length=40),
    status: str | None = Query(None, max_length=200),
    owner: str | None = Query(None, max_length=40),
    count: int = Query(50, alias="_count", ge=1, le=100),
    page_token: str | None = Query(None, alias=fhir.PAGE_TOKEN, max_length=100),
):
    """Your organisation's Tasks, oldest change first, ``_count`` a page with a ``next`` link to
    the rest. Every one read is audited as the partner API's ticket reads are (it carries what the
    caller agreed to share)."""
    tasks, total, following = await search_tasks(
        session,
        organisation_id=partner.organisation_id,
        actor=partner.actor,
        changed=fhir.parse_last_updated(last_updated) if last_updated else None,
        statuses=fhir.parse_statuses(status) if status is not None else None,
        owner=fhir.parse_owner(owner) if owner is not None else None,
        count=count,
        after=fhir.parse_page_token(page_token) if page_token is not None else None,
    )
    next_url = None
    if following is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in (fhir.PAGE_TOKEN, "_count")]
        query += [("_count", str(count)), (fhir.PAGE_TOKEN, fhir.page_token(*following))]
        next_url = f"{_base(request)}/Task?{urlencode(query)}"
    self_url = f"{_base(request)}/Task" + (f"?{request.url.query}" if request.url.query else "")
    return FhirResponse(fhir.searchset(tasks, total=total, base=_base(request), self_url=self_url, next_url=next_url))


def _versioned(task: dict[str, Any]) -> FhirResponse:
    """A Task with its version as the ETag, as FHIR servers answer a read or an update."""
    return FhirResponse(task, headers={"ETag": fhir.etag(int(task["meta"]["versionId"]))})


@router.get("/Task/{task_id}", response_class=FhirResponse)
async def show_own_task(task_id: str, session: SessionDep, partner: CurrentPartner):
    """One Task of your organisation's, its ``ETag`` its version; any other id (another
    organisation's, or none) is 404."""
    ticket_id = _ticket_id(task_id)
    if ticket_id is None:
        return outcome_response(404, "no such ticket")
    return _versioned(
        await read_task(session, ticket_id=ticket_id, organisation_id=partner.organisation_id, actor=partner.actor)
    )


class PatchOperation(BaseModel):
    op: str = Field(max_length=10)
    path: str = Field(max_length=40)
    value: str | dict[str, Any] | list[dict[str, Any]] | None = None


@router.patch("/Task/{task_id}", response_class=FhirResponse)
async def change_own_task(
    task_id: str,
    session: SessionDep,
    partner: CurrentPartner,
    operations: Annotated[list[PatchOperation], Body()],
    if_match: Annotated[str | None, Header(max_length=40)] = None,
):
    """A JSON Patch of /status, as the ticket state table allows: accepted, rejected (with
    /statusReason), on-hold (a failed contact attempt), in-progress (handover confirmed),
    completed (with /output), failed (with /statusReason). Any other move is a 409 naming the
    Task's current status. With ``If-Match`` (the ETag read), a Task changed since is a 412."""
    ticket_id = _ticket_id(task_id)
    if ticket_id is None:
        return outcome_response(404, "no such ticket")
    expected = fhir.parse_if_match(if_match) if if_match is not None else None
    change = fhir.read_patch([o.model_dump() for o in operations])
    return _versioned(
        await change_task(
            session,
            ticket_id=ticket_id,
            organisation_id=partner.organisation_id,
            actor=partner.actor,
            change=change,
            expected_version=expected,
        )
    )
