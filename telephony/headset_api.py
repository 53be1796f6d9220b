"""The listener's headset over HTTP: which kind, the practice headset's buttons, holding the
caller, and Twilio's Voice SDK served from this server (never a CDN)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel

from app.core.deps import CurrentListener, RuntimeDep, SessionDep
from app.core.errors import NotFound
from app.core.responses import SIGNED_IN, error_responses
from telephony.headset import (
    SDK_URL,
    HeadsetKind,
    describe_headset,
    hold_current_caller,
    press_practice_headset,
    voice_sdk_file,
)

# 503: the practice line or Twilio could not be reached (holding the caller, the practice buttons).
router = APIRouter(prefix="/api/listener", tags=["listener"], responses=error_responses(*SIGNED_IN, 409, 503))
vendor_router = APIRouter(include_in_schema=False)


class HeadsetOut(BaseModel):
    kind: HeadsetKind
    identity: str
    reason: str | None
    sdk_url: str | None
    dial_address: str | None
    state: Literal["idle", "dialling", "ringing", "connected"]
    call_id: int | None


class PracticeActionOut(BaseModel):
    action: str
    muted: bool


class HoldIn(BaseModel):
    hold: bool


class HoldOut(BaseModel):
    call_id: int
    hold: bool


@router.get("/headset", response_model=HeadsetOut)
async def show_headset(session: SessionDep, runtime: RuntimeDep, user: CurrentListener):
    return await describe_headset(session, settings=runtime.settings, user=user)


@router.post("/headset/{action}", response_model=PracticeActionOut)
async def press_headset(
    action: Literal["answer", "decline", "hangup", "mute", "unmute"], runtime: RuntimeDep, user: CurrentListener
):
    return await press_practice_headset(runtime, user=user, action=action)


@router.post("/calls/current/hold", response_model=HoldOut)
async def hold_caller(body: HoldIn, runtime: RuntimeDep, user: CurrentListener):
    return await hold_current_caller(runtime, user_id=user.id, hold=body.hold)


@vendor_router.get(SDK_URL)
async def serve_voice_sdk(runtime: RuntimeDep):
    path = voice_sdk_file(runtime.settings)
    if path is None:
        raise NotFound("the browser headset (Twilio's Voice SDK) is not installed on this server", error="sdk_missing")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})
