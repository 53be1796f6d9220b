"""The helpline's ownership as dependencies, as ``PartnerTicket`` is on the partner side: a route
that takes ``OwnSession`` or ``OwnTicket`` cannot forget the check, and another listener's object
is a 404 in one place."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.core.deps import CurrentListener, SessionDep
from app.core.responses import DB_INT_MAX
from app.helpline.models import SupportSession
from app.helpline.sessions import own_session
from app.helpline.transfers import own_ticket
from transfers.tickets.models import TransferTicket

SessionId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="A support session's id")]
TicketId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="A warm-transfer ticket's id")]


async def find_own_session(session_id: SessionId, session: SessionDep, listener: CurrentListener) -> SupportSession:
    return await own_session(session, session_id, listener)


async def find_own_ticket(ticket_id: TicketId, session: SessionDep, listener: CurrentListener) -> TransferTicket:
    return await own_ticket(session, ticket_id, listener)


OwnSession = Annotated[SupportSession, Depends(find_own_session)]
OwnTicket = Annotated[TransferTicket, Depends(find_own_ticket)]
