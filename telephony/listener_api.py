"""The listener's API: presence, the queue, taking the next caller, callbacks, the headset token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from app.core.deps import CurrentListener, RuntimeDep, SessionDep
from app.core.responses import SIGNED_IN, PathId, error_responses
from telephony.callbacks import (
    claim_callback_request,
    complete_callback_request,
    list_callback_requests,
    open_voicemail,
)
from telephony.presence import change_presence, show_presence
from telephony.queue import describe_queue, take_next_caller
from telephony.reconcile import end_own_call
from telephony.ringback import ring_back_caller
from telephony.schemas import CallbackOut, CallEndedOut, CallerOut, PresenceIn, PresenceOut, QueueOut, VoiceTokenOut
from telephony.tokens import issue_voice_token

# 409: a caller already taken, a callback claimed by someone else, a number withheld.
# 503: Twilio did not answer (ending a call, fetching a voicemail) or the headset is not set up.
router = APIRouter(prefix="/api/listener", tags=["listener"], responses=error_responses(*SIGNED_IN, 409, 503))


@router.get("/presence", response_model=PresenceOut)
async def show_own_presence(session: SessionDep, user: CurrentListener):
    return await show_presence(session, user_id=user.id)


@router.put("/presence", response_model=PresenceOut)
async def change_own_presence(body: PresenceIn, session: SessionDep, user: CurrentListener):
    return await change_presence(session, user_id=user.id, status=body.status, by_listener=True)


@router.get("/queue", response_model=QueueOut)
async def show_queue(session: SessionDep, user: CurrentListener):
    return await describe_queue(session)


@router.post("/calls/next", response_model=CallerOut)
async def take_next_call(session: SessionDep, user: CurrentListener):
    return await take_next_caller(session, listener=user)


@router.post("/calls/current/end", response_model=CallEndedOut)
async def end_current_call(runtime: RuntimeDep, user: CurrentListener):
    return await end_own_call(runtime, listener_id=user.id)


@router.get("/callbacks", response_model=list[CallbackOut])
async def show_callbacks(session: SessionDep, user: CurrentListener):
    return await list_callback_requests(session, user_id=user.id)


@router.post("/callbacks/{callback_id}/claim", response_model=CallbackOut)
async def claim_callback(callback_id: PathId, session: SessionDep, user: CurrentListener):
    return await claim_callback_request(session, callback_id=callback_id, user_id=user.id)


@router.post("/callbacks/{callback_id}/complete", response_model=CallbackOut)
async def complete_callback(callback_id: PathId, session: SessionDep, user: CurrentListener):
    return await complete_callback_request(session, callback_id=callback_id, user_id=user.id)


@router.post("/callbacks/{callback_id}/ring", response_model=CallbackOut, status_code=202)
async def ring_caller_back(callback_id: PathId, session: SessionDep, user: CurrentListener):
    """Ring the caller back from the line's number; once they answer, your headset rings and the
    call runs as any call through the line. 409 ``already_on_call`` or ``number_withheld``."""
    return await ring_back_caller(session, callback_id=callback_id, user=user)


@router.get(
    "/callbacks/{callback_id}/recording",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/mpeg": {}}, "description": "The voicemail (MP3)"}},
)
async def play_voicemail(callback_id: PathId, session: SessionDep, user: CurrentListener):
    """The caller's voicemail, for the listener who claimed it or a supervisor; every play is audited."""
    upstream = await open_voicemail(session, callback_id=callback_id, user=user)
    return StreamingResponse(
        upstream.aiter_bytes(),
        media_type="audio/mpeg",
        background=BackgroundTask(upstream.aclose),
        headers={"Cache-Control": "no-store"},
    )


@router.get("/voice-token", response_model=VoiceTokenOut)
async def issue_headset_token(runtime: RuntimeDep, user: CurrentListener):
    return issue_voice_token(runtime.settings, user)
