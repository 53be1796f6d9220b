"""The benchmark's server: the real application, plus one bare endpoint to compare it with.

``/bench/bare`` is what any FastAPI app would do with a Twilio webhook and no work at all: parse
the form the usual way and answer constant TwiML. It lives here, not among the product's routes.
Run by ``bench/webhooks.py`` as ``uvicorn --factory bench.server:create_bench_app``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from app.core.observability import configure_logging
from app.core.settings import Settings
from app.main import create_app

CONSTANT_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thank you for calling.</Say>'
    "<Dial><Conference>bench</Conference></Dial></Response>"
)


def create_bench_app() -> FastAPI:
    settings = Settings()
    # As `openline serve` runs: JSON request logs at the configured level.
    configure_logging(settings.log_level)
    app = create_app(settings)

    @app.post("/bench/bare", include_in_schema=False)
    async def answer_bare(request: Request) -> Response:
        form = await request.form()
        if "CallSid" not in form:
            return Response(status_code=400)
        return Response(CONSTANT_TWIML, media_type="application/xml")

    return app
