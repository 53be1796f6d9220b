"""The public webhook URLs Twilio calls. Always built from ``OPENLINE_PUBLIC_URL``: Twilio signs the
URL it called, so the URLs we hand it and the URL we check signatures against must agree."""

from __future__ import annotations

from urllib.parse import urlencode

from app.core.settings import Settings

PREFIX = "/telephony"
PATHS = {
    "incoming": "/voice/incoming",
    "status": "/voice/status",
    "wait": "/voice/wait",
    "conference": "/conference/events",
    "fallback": "/voice/fallback",
    "voicemail": "/voice/voicemail",
    "ringback": "/voice/ringback",
    "survey": "/voice/survey",
    "messaging": "/messaging/incoming",
}


def webhook_url(settings: Settings, name: str, **query: str | int) -> str:
    url = settings.public_base + PREFIX + PATHS[name]
    return f"{url}?{urlencode(query)}" if query else url
