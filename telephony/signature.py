"""Twilio webhook signatures (``X-Twilio-Signature``).

Twilio signs the URL it called plus the POST parameters. Behind a proxy or TLS terminator the app
sees ``http://internal-host/...``, so the URL is rebuilt from ``OPENLINE_PUBLIC_URL`` + the path +
the raw query string exactly as received (never re-encoded or re-sorted). ``RequestValidator``
accepts the URL with or without the default port, so ``https://host`` and ``https://host:443``
both verify.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator, compare

from app.core.deps import get_runtime
from app.core.errors import AppError, BadRequest, Forbidden
from app.core.runtime import Runtime
from app.core.settings import Settings

log = logging.getLogger("openline.telephony")

SIGNATURE_HEADER = "X-Twilio-Signature"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
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


def signature_matches(validator: RequestValidator, url: str, form: ImmutableMultiDict, signature: str) -> bool:
    """Whether Twilio signed this URL and form. The URL as configured first: ``validate`` always
    computes two signatures, the URL with its port and without, and one of those two is the URL
    as configured, so when it matches (nearly always) the second HMAC is work for nothing."""
    return compare(validator.compute_signature(url, form), signature) or validator.validate(url, form, signature)


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


@dataclass(frozen=True, eq=False)
class SignedWebhook:
    """A webhook whose signature is checked: its form, Twilio's idempotency token for this
    delivery (the same on each retry of it), and the runtime to store it with."""

    form: dict[str, str]
    token: str | None
    runtime: Runtime


async def read_signed_webhook(request: Request) -> SignedWebhook:
    """The webhook's form and token, once its signature is checked; 403 (and nothing stored)
    otherwise. One dependency reading the request itself: as a tree of four (the form, the token
    as a ``Header`` parameter, the runtime, the writer) FastAPI spent about a tenth of a ms more
    on every webhook resolving it."""
    runtime = await get_runtime(request)
    form = await parse_form(request)
    if runtime.settings.signature_checks:
        signature = request.headers.get(SIGNATURE_HEADER)
        # The validator reads repeated keys through ``getlist``, as Twilio signs them.
        if not signature or not signature_matches(
            validator_for(runtime), public_url_of(runtime.settings, request), form, signature
        ):
            log.warning("twilio signature refused", extra={"path": request.url.path, "signed": bool(signature)})
            raise Forbidden("the X-Twilio-Signature does not match this request", error="forbidden_signature")
    token = request.headers.get(IDEMPOTENCY_HEADER)
    return SignedWebhook(
        form={key: value for key, value in form.items() if isinstance(value, str)},
        token=(token.strip()[:120] or None) if token else None,
        runtime=runtime,
    )


TwilioWebhook = Annotated[SignedWebhook, Depends(read_signed_webhook)]
# What the webhooks read from the request's headers themselves, for the OpenAPI description.
TWILIO_HEADERS = {
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Twilio's signature of the URL and the form (403 if it does not match)",
        },
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "the same on every retry of one delivery (its stored reply answers them)",
        },
    ]
}
