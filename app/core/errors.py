"""One error type for the whole service, rendered as ``{"error": ..., "detail": ...}``."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A domain error that becomes an HTTP response with the project's error format.

    ``error`` is a short stable code a client can branch on; ``detail`` is for people
    (a sentence, or a structured object such as the list of invalid fields).
    """

    status_code: int = 400
    error: str = "bad_request"

    def __init__(self, detail: Any = None, *, error: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail if isinstance(detail, str) else (error or self.error))
        self.detail = detail if detail is not None else self.error.replace("_", " ")
        if error is not None:
            self.error = error
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail}


class BadRequest(AppError):
    status_code = 400
    error = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    error = "not_signed_in"


class Forbidden(AppError):
    status_code = 403
    error = "forbidden"


class NotFound(AppError):
    status_code = 404
    error = "not_found"


class Conflict(AppError):
    status_code = 409
    error = "conflict"


class PreconditionFailed(AppError):
    """412: the request was conditional (If-Match) and the thing has changed since it was read."""

    status_code = 412
    error = "precondition_failed"


class PayloadTooLarge(AppError):
    status_code = 413
    error = "payload_too_large"


class Unprocessable(AppError):
    """422 naming the offending field(s): ``detail`` is a list of ``{"field", "message"}``."""

    status_code = 422
    error = "invalid"

    def __init__(
        self,
        field: str | None = None,
        message: str = "",
        *,
        fields: list[dict[str, str]] | None = None,
        error: str | None = None,
    ):
        items = fields if fields is not None else [{"field": field or "", "message": message}]
        super().__init__(items, error=error)


class TooManyRequests(AppError):
    status_code = 429
    error = "too_many_requests"


class ServiceUnavailable(AppError):
    status_code = 503
    error = "unavailable"
