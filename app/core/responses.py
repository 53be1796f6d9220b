"""The project's error bodies and shared field types as OpenAPI sees them, so a partner's
generated client knows every answer an endpoint can give (``app.errors_http`` renders them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

# The widest value an INTEGER column holds on both databases (PostgreSQL's is 32-bit; SQLite's
# 64): every id and count is one, and anything past it is a 422 naming the field, never a 500.
DB_INT_MAX = 2**31 - 1
DbId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
PathId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]

# Services hand out ``isoformat()`` strings; keeping that spelling (``+00:00``) on the wire means
# typing a response changes nothing a browser already reads.
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ErrorOut(BaseModel):
    error: str = Field(description="A short stable code to branch on, e.g. not_found, forbidden")
    detail: str = Field(description="For people: what went wrong and what to do")


class ConflictOut(ErrorOut):
    state: str | None = Field(None, description="invalid_transition only: the ticket's current state")
    allowed: list[str] | None = Field(None, description="invalid_transition only: the actions you may take now")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, or the header's name")
    message: str


class InvalidOut(BaseModel):
    error: str = Field(description="invalid, or a more specific code such as idempotency_key_reused")
    detail: list[FieldError]


_ANSWERS: dict[int, tuple[type[BaseModel], str]] = {
    401: (ErrorOut, "Not signed in, or the API key is wrong, revoked or expired"),
    403: (ErrorOut, "Signed in with the wrong role, or a state-changing request without its CSRF token"),
    404: (ErrorOut, "No such object, or it belongs to another person or organisation"),
    409: (ConflictOut, "The object's state does not allow this now"),
    413: (ErrorOut, "The request body is too large"),
    422: (InvalidOut, "A field (path, query, header or body) is invalid; each is named"),
    429: (ErrorOut, "Too many attempts; see Retry-After"),
    503: (ErrorOut, "Twilio (or the practice line) could not be reached or is not set up; try again"),
}


def error_responses(*codes: int, said: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """A router's shared ``responses=``: the project's error body for each status it can answer
    (``said`` words a status's meaning for that router)."""
    said = said or {}
    return {code: {"model": _ANSWERS[code][0], "description": said.get(code, _ANSWERS[code][1])} for code in codes}


# What every signed-in JSON router can answer; routers add 409 where state matters.
SIGNED_IN = (401, 403, 404, 413, 422)
