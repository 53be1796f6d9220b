"""The polling contract beside the webhooks: a partner's system asks which of its tickets changed
since a moment (or since a cursor it kept), in (updated_at, id) order, so ties on the same instant
are never skipped or repeated between pages."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from app.core.errors import Unprocessable
from app.core.responses import DB_INT_MAX
from transfers.directory.models import Service
from transfers.tickets.models import TransferTicket
from transfers.tickets.service import describe_ticket_status

MAX_PAGE = 200
DEFAULT_PAGE = 100
# A change is listed only once it is this old. updated_at is taken when a transaction starts its
# write, not when it commits: without the wait, a change committing a moment after a later one
# could fall behind a cursor already handed out and never be seen. No transaction here is held
# anywhere near this long (nothing waits on Twilio or a partner inside one).
SETTLE = timedelta(seconds=30)
# In a query string an unescaped "+" arrives as a space: "...T21:00:00 00:00" meant "+00:00".
_SPACED_OFFSET = re.compile(r" (\d{2}:?\d{2})$")


def parse_moment(text: str) -> datetime:
    """Pure. An ISO 8601 moment with its UTC offset (``Z`` or ``+01:00``); anything else is 422."""
    cleaned = _SPACED_OFFSET.sub(r"+\1", text.strip())
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise Unprocessable(
            "updated_since", "not an ISO 8601 time: send e.g. 2026-11-24T21:00:00Z", error="bad_timestamp"
        ) from None
    if moment.tzinfo is None:
        raise Unprocessable(
            "updated_since", "say which time zone: end the time with Z (UTC) or an offset", error="bad_timestamp"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +05:00: before any time a ticket can have
        raise Unprocessable("updated_since", "not a time this API can compare", error="bad_timestamp") from None


# Tickets in the order they last changed, ties by id: a page ends at a (moment, id) and the next
# starts just after it, so a ticket changed mid-paging moves to the end and none is skipped.
BY_CHANGE = (TransferTicket.updated_at, TransferTicket.id)


def changed_after(moment: datetime, ticket_id: int) -> sa.ColumnElement[bool]:
    return sa.or_(
        TransferTicket.updated_at > moment,
        sa.and_(TransferTicket.updated_at == moment, TransferTicket.id > ticket_id),
    )


def encode_cursor(updated_at: datetime, ticket_id: int) -> str:
    """Pure. Opaque to partners: where the last page ended."""
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{ticket_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Pure. 422 for anything that is not a cursor this API gave out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, ticket_id = raw.rsplit("|", 1)
        parsed = datetime.fromisoformat(moment).astimezone(UTC)
        number = int(ticket_id)
        if datetime.fromisoformat(moment).tzinfo is None or not 0 <= number <= DB_INT_MAX:
            raise ValueError
        return parsed, number
    except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error):
        raise Unprocessable("cursor", "not a cursor from this API: start again from updated_since") from None


async def list_changed_tickets(
    session: AsyncSession,
    *,
    organisation_id: int,
    updated_since: datetime | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """The organisation's tickets changed at or after ``updated_since`` and after ``cursor`` (and
    at least ``SETTLE`` ago), oldest change first, ``limit`` at most (1..200). No personal data:
    fetch a ticket to read that (and that read is audited)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Unprocessable("limit", f"between 1 and {MAX_PAGE}")
    stmt = (
        sa.select(TransferTicket, Service)
        .join(Service, Service.id == TransferTicket.service_id)
        .where(
            Service.organisation_id == organisation_id,
            TransferTicket.updated_at <= runtime_of(session).clock.now() - SETTLE,
        )
    )
    if updated_since is not None:
        stmt = stmt.where(TransferTicket.updated_at >= updated_since)
    after = decode_cursor(cursor) if cursor else None
    if after is not None:
        stmt = stmt.where(changed_after(*after))
    stmt = stmt.order_by(*BY_CHANGE).limit(limit + 1)
    rows = (await session.execute(stmt)).all()
    page = rows[:limit]
    if page:
        last = page[-1][0]
        next_cursor: str | None = encode_cursor(last.updated_at, last.id)
    else:
        next_cursor = cursor
    return {
        "tickets": [describe_ticket_status(ticket, service) for ticket, service in page],
        "next_cursor": next_cursor,
        "more": len(rows) > limit,
    }
