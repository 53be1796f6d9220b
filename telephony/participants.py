"""The people on a caller's line, and acting on them through Twilio.

Twilio's Participant update and delete take only the conference SID (``CF…``), never the
FriendlyName we name conferences by (only create accepts that). The SID comes on every
conference callback; before the first one has arrived it is looked up by name through the
Conferences list, and kept.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import session_scope
from app.core.runtime import Runtime
from telephony.models import Call, CallParticipant
from telephony.provider import ProviderRejected, find_conference_sid, remove_participant, update_participant
from telephony.urls import webhook_url

log = logging.getLogger("openline.telephony")


async def someone_with_caller(session: AsyncSession, call_id: int, *, besides: tuple[str, ...] = ()) -> bool:
    """Is anyone (listener, partner), other than the roles in ``besides``, still in the caller's conference?"""
    return bool(
        await session.scalar(
            sa.select(sa.func.count()).where(
                CallParticipant.call_id == call_id,
                CallParticipant.role.not_in(("caller", *besides)),
                CallParticipant.joined_at.is_not(None),
                CallParticipant.left_at.is_(None),
            )
        )
    )


async def conference_sid_of(runtime: Runtime, call: Call) -> str:
    """The caller's conference SID: from the callbacks, or looked up by name (and kept)."""
    if call.conference_sid:
        return call.conference_sid
    if not call.conference_name:
        raise ProviderRejected("the call has no conference", status=404, code=20404)
    sid = await find_conference_sid(runtime, call.conference_name)
    if sid is None:
        raise ProviderRejected("the caller's conference is not live", status=404, code=20404)
    async with session_scope(runtime) as session:
        await session.execute(
            sa.update(Call)
            .where(Call.id == call.id, Call.conference_sid.is_(None))
            .values(conference_sid=sid)
            .execution_options(synchronize_session=False)
        )
    call.conference_sid = sid
    return sid


async def hold_in_conference(runtime: Runtime, call: Call, participant: str, *, hold: bool) -> None:
    """Hold (the participant hears the line's hold music, and nobody hears them) or unhold."""
    changes: dict[str, Any] = {"hold": hold}
    if hold:
        changes.update(hold_url=webhook_url(runtime.settings, "wait"), hold_method="POST")
    await update_participant(runtime, await conference_sid_of(runtime, call), participant, **changes)


async def remove_from_conference(runtime: Runtime, call: Call, participant: str) -> None:
    await remove_participant(runtime, await conference_sid_of(runtime, call), participant)
