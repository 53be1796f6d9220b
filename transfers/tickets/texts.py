"""The optional text to the caller once a partner accepts: who will contact them and by when.
Sent only when the caller agreed to texts; worded discreetly, since others may see the phone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.jobs import Job, RetryLater
from app.core.runtime import Runtime
from telephony.provider import ProviderRejected, ProviderUnavailable, send_sms
from transfers.directory.models import Organisation, Service
from transfers.tickets.models import TransferTicket
from transfers.tickets.service import TEXT_CALLER


def compose_text(organisation: str, contact_by: datetime, timezone: str) -> str:
    """Pure: the message body, the time in the service's own zone."""
    local = contact_by.astimezone(ZoneInfo(timezone))
    when = local.strftime("%A %-d %B, %-I:%M%p").replace("AM", "am").replace("PM", "pm")
    return (f"Hello from Openline. As you agreed, {organisation} will contact you by {when}. "
            "If you need us before then, call us any time.")


async def text_caller(session: AsyncSession, job: Job) -> None:
    runtime = runtime_of(session)
    ticket = await session.get(TransferTicket, job.payload["ticket_id"])
    if ticket is None or not ticket.sms_consent or ticket.status not in ("accepted", "on-hold", "in-progress"):
        return
    number = runtime.crypto.decrypt(ticket.contact_number_encrypted)
    service = await session.get(Service, ticket.service_id)
    organisation = await session.get(Organisation, service.organisation_id)
    if not number:
        return
    try:
        await send_sms(runtime, to=number, body=compose_text(organisation.name, ticket.contact_by, service.timezone))
    except ProviderUnavailable as exc:
        raise RetryLater(str(exc)) from exc
    except ProviderRejected:
        return  # e.g. a landline: texting cannot work, and the partner will ring anyway


def register(runtime: Runtime) -> None:
    runtime.jobs.register(TEXT_CALLER, text_caller)
