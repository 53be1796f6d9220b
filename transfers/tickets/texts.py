"""The optional text to the caller once a partner accepts: who will contact them and by when.
Sent only when the caller agreed to texts; worded discreetly, since others may see the phone."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.outbox import CallOut, register_call_out
from app.core.runtime import Runtime
from telephony.provider import retry_when_unavailable, send_sms
from transfers.directory.models import Organisation, Service
from transfers.tickets.models import TransferTicket
from transfers.tickets.service import TEXT_CALLER

log = logging.getLogger("openline.transfers")


def compose_text(organisation: str, contact_by: datetime, timezone: str) -> str:
    """Pure: the message body, the time in the service's own zone."""
    local = contact_by.astimezone(ZoneInfo(timezone))
    when = local.strftime("%A %-d %B, %-I:%M%p").replace("AM", "am").replace("PM", "pm")
    return (
        f"Hello from Openline. As you agreed, {organisation} will contact you by {when}. "
        "If you need us before then, call us any time."
    )


async def _prepare_text(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Still wanted (consent, a ticket still open)? The number is decrypted here and kept in
    memory for the send only: it is never written to the stored job."""
    runtime = runtime_of(session)
    ticket = await session.get(TransferTicket, payload["ticket_id"])
    if ticket is None or not ticket.sms_consent or ticket.status not in ("accepted", "on-hold", "in-progress"):
        return None
    number = runtime.crypto.decrypt(ticket.contact_number_encrypted)
    if not number:
        return None
    service = await session.get(Service, ticket.service_id)
    organisation = await session.get(Organisation, service.organisation_id)
    return payload | {"to": number, "body": compose_text(organisation.name, ticket.contact_by, service.timezone)}


async def _send_text(runtime: Runtime, payload: dict[str, Any]) -> str:
    return await send_sms(runtime, to=payload["to"], body=payload["body"])


async def _not_texted(session: AsyncSession, payload: dict[str, Any], exc: Exception) -> None:
    # e.g. a landline: texting cannot work, and the partner will ring anyway.
    log.info("text to the caller refused", extra={"ticket_id": payload["ticket_id"], "error": type(exc).__name__})


def register(runtime: Runtime) -> None:
    # The ``ticket.text_caller`` job, scheduled when a partner accepts, is a call-out: decided in
    # the job's transaction, sent after it commits, with no transaction open.
    register_call_out(
        runtime,
        TEXT_CALLER,
        CallOut(
            prepare=_prepare_text,
            send=retry_when_unavailable(_send_text),
            refused=_not_texted,
            give_up_after=timedelta(hours=24),
        ),
    )
