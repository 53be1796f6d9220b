"""Recording media, as Twilio serves it: ``GET /2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.mp3``
with the account's Basic credentials. Twilio's published definition has no operation for the
media (only the recording's JSON), so this route is the simulator's own; every recording the
simulated callers left plays the same short MP3."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

if TYPE_CHECKING:
    from telephony.simulator.twilio_world import SimulatedTwilio

RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
# One silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz): a header a player recognises.
MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(413)


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "status": status, "more_info": f"https://www.twilio.com/docs/errors/{code}"},
        status_code=status,
    )


def add_recording_routes(api: FastAPI, sim: "SimulatedTwilio") -> None:
    @api.get("/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}.mp3")
    async def fetch_recording_media(account_sid: str, recording_sid: str, request: Request) -> Response:
        expected = base64.b64encode(f"{sim.account_sid}:{sim.auth_token}".encode()).decode()
        if request.headers.get("authorization", "") != f"Basic {expected}" or account_sid != sim.account_sid:
            return _error(401, 20003, "Authenticate")
        sim.rest_requests.append({"method": "GET", "path": request.url.path, "form": {}})
        if not RECORDING_SID.match(recording_sid) or recording_sid not in sim.recordings:
            return _error(404, 20404, f"The requested resource /Recordings/{recording_sid}.mp3 was not found")
        return Response(MP3_FRAME * 4, media_type="audio/mpeg")
