"""The partner API (``/api/partner/v1``): a partner's own services and their queues.

A partner sees only its own organisation's services; anything else is a 404, so ids of other
organisations' services and tickets are never confirmed to exist.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.core.deps import CurrentPartner, SessionDep
from app.core.errors import NotFound
from transfers.directory import service as directory
from transfers.directory.schemas import ServiceOut
from transfers.tickets.service import list_queue

router = APIRouter(prefix="/api/partner/v1", tags=["partner"])


async def own_service(session, partner, service_id: int):
    service = await session.get(directory.Service, service_id)
    if service is None or service.organisation_id != partner.organisation_id:
        raise NotFound("no such service")
    return await directory.find_service(session, service_id)


@router.get("/services", response_model=list[ServiceOut])
async def show_own_services(session: SessionDep, partner: CurrentPartner):
    return [directory.service_out(s) for s in await directory.list_services(session, organisation_id=partner.organisation_id)]


class QueuedTicket(BaseModel):
    id: int
    status: str
    urgent: bool
    needs: list[str]
    accept_by: datetime
    contact_by: datetime
    created_at: datetime


class ServiceQueue(BaseModel):
    service: ServiceOut
    tickets: list[QueuedTicket]


@router.get("/services/{service_id}/queue", response_model=ServiceQueue)
async def show_service_queue(service_id: int, session: SessionDep, partner: CurrentPartner):
    """The service's enhanced-support queue: open tickets, urgent first, then newest."""
    service = await own_service(session, partner, service_id)
    tickets = await list_queue(session, service_id=service.id)
    return ServiceQueue(service=directory.service_out(service),
                        tickets=[QueuedTicket.model_validate(t, from_attributes=True) for t in tickets])
