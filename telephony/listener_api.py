"""The listener's API: presence, the queue, taking the next caller, callbacks, the headset token."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.deps import CurrentListener, RuntimeDep, SessionDep
from telephony.callbacks import claim_callback_request, complete_callback_request, list_callback_requests
from telephony.presence import change_presence, show_presence
from telephony.queue import describe_queue, take_next_caller
from telephony.reconcile import end_own_call
from telephony.schemas import CallbackOut, CallEndedOut, CallerOut, PresenceIn, PresenceOut, QueueOut, VoiceTokenOut
from telephony.tokens import issue_voice_token

router = APIRouter(prefix="/api/listener", tags=["listener"])


@router.get("/presence", response_model=PresenceOut)
async def show_own_presence(session: SessionDep, user: CurrentListener):
    return await show_presence(session, user_id=user.id)


@router.put("/presence", response_model=PresenceOut)
async def change_own_presence(body: PresenceIn, session: SessionDep, user: CurrentListener):
    return await change_presence(session, user_id=user.id, status=body.status)


@router.get("/queue", response_model=QueueOut)
async def show_queue(session: SessionDep, user: CurrentListener):
    return await describe_queue(session)


@router.post("/calls/next", response_model=CallerOut)
async def take_next_call(session: SessionDep, user: CurrentListener):
    return await take_next_caller(session, listener_id=user.id)


@router.post("/calls/current/end", response_model=CallEndedOut)
async def end_current_call(runtime: RuntimeDep, user: CurrentListener):
    return await end_own_call(runtime, listener_id=user.id)


@router.get("/callbacks", response_model=list[CallbackOut])
async def show_callbacks(session: SessionDep, user: CurrentListener):
    return await list_callback_requests(session, user_id=user.id)


@router.post("/callbacks/{callback_id}/claim", response_model=CallbackOut)
async def claim_callback(callback_id: int, session: SessionDep, user: CurrentListener):
    return await claim_callback_request(session, callback_id=callback_id, user_id=user.id)


@router.post("/callbacks/{callback_id}/complete", response_model=CallbackOut)
async def complete_callback(callback_id: int, session: SessionDep, user: CurrentListener):
    return await complete_callback_request(session, callback_id=callback_id, user_id=user.id)


@router.get("/voice-token", response_model=VoiceTokenOut)
async def issue_headset_token(runtime: RuntimeDep, user: CurrentListener):
    return issue_voice_token(runtime.settings, user)
