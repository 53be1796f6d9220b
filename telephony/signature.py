"""Twilio webhook signatures (``X-Twilio-Signature``).

Twilio signs the URL it called plus the POST parameters. Behind a proxy or TLS terminator the app
sees ``http://internal-host/...``, so the URL is rebuilt from ``OPENLINE_PUBLIC_URL`` + the path +
the raw query string exactly as received (never re-encoded or re-sorted). ``RequestValidator``
accepts the URL with or without the default port, so ``https://host`` and ``https://host:443``
both verify.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Header, Request
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from app.core.deps import RuntimeDep
from app.core.errors import AppError, BadRequest, Forbidden
from app.core.runtime import Runtime
from app.core.settings import Settings

log = logging.getLogger("openline.telephony")

SIGNATURE_HEADER = "X-Twilio-Signature"
# Voice webhooks carry a few dozen fields; anything far beyond that is not Twilio.
MAX_FIELDS = 200


class UnsupportedMediaType(AppError):
    status_code = 415
    error = "unsupported_media_type"


def public_url_of(settings: Settings, request: Request) -> str:
    """The URL Twilio called, as configured, whatever host and scheme the app sees."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return settings.public_base + request.url.path + (f"?{query}" if query else "")


def validator_for(runtime: Runtime) -> RequestValidator:
    validator = runtime.extras.get("twilio_validator")
    if validator is None:
        validator = RequestValidator(runtime.settings.twilio_auth_token.get_secret_value())
        runtime.extras["twilio_validator"] = validator
    return validator


async def parse_form(request: Request) -> ImmutableMultiDict:
    content_type = request.headers.get("content-type", "application/x-www-form-urlencoded").lower()
    if content_type.startswith("multipart/form-data"):
        return ImmutableMultiDict(await request.form())
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("Twilio webhooks are form-encoded (application/x-www-form-urlencoded)")
    # Parsed directly from the body: one pass, no temporary files, and the body is already
    # capped by the app's request-size limit.
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadRequest("too many form fields", error="bad_form") from None
    return ImmutableMultiDict(pairs)


async def read_twilio_form(request: Request, runtime: RuntimeDep) -> dict[str, str]:
    """The webhook's form, once its signature is checked; 403 (and nothing stored) otherwise."""
    form = await parse_form(request)
    if runtime.settings.signature_checks:
        signature = request.headers.get(SIGNATURE_HEADER)
        # The validator reads repeated keys through ``getlist``, as Twilio signs them.
        if not signature or not validator_for(runtime).validate(
            public_url_of(runtime.settings, request), form, signature
        ):
            log.warning("twilio signature refused", extra={"path": request.url.path, "signed": bool(signature)})
            raise Forbidden("the X-Twilio-Signature does not match this request", error="forbidden_signature")
    return {key: value for key, value in form.items() if isinstance(value, str)}


TwilioForm = Annotated[dict[str, str], Depends(read_twilio_form)]


async def read_idempotency_token(
    token: Annotated[str | None, Header(alias="I-Twilio-Idempotency-Token")] = None,
) -> str | None:
    return (token.strip()[:120] or None) if token else None


IdempotencyToken = Annotated[str | None, Depends(read_idempotency_token)]
