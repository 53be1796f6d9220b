"""Warm-transfer tickets: made once from what the listener logged, moved only through the state
table, every move audited in its own transaction. Service functions never commit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.crypto import Crypto
from app.core.db import insert_ignore, runtime_of
from app.core.errors import NotFound, Unprocessable
from app.core.events import emit, publish_live
from app.core.jobs import cancel_job, schedule_job
from telephony.models import Call
from transfers.directory.models import Service
from transfers.directory.service import availability_of, service_unavailable
from transfers.hours import add_open_hours, is_open, parse_schedule
from transfers.routing import CallerCircumstances, ServiceOption, Suggestion, rank_services
from transfers.tickets.follow_ups import take_back_ticket
from transfers.tickets.models import TicketEvent, TransferTicket
from transfers.tickets.states import (
    ACTIVE_STATES,
    OPEN_STATES,
    OUTCOME_CODES,
    REASON_REQUIRED,
    TicketAction,
    TicketStateError,
    VersionChanged,
    next_state,
)
from transfers.tickets.words import outcome_words, what_next

ACCEPT_BREACH, CONTACT_BREACH = "ticket.accept_breach", "ticket.contact_breach"
TEXT_CALLER = "ticket.text_caller"
TAKE_BACK_JOB = "ticket.take_back"
# After the accept-by passes, supervisors are told and may re-route; if nobody has accepted or
# re-routed it this long after, the helpline takes the caller back by itself.
TAKE_BACK_GRACE = timedelta(hours=1)
# Ticket changes a partner's own system hears of through its webhook (the rest it polls).
WEBHOOK_EVENTS = frozenset({"ticket.created", "ticket.rerouted", "ticket.cancelled", "ticket.amended"})
# A rejecting partner can hand the choice back to the helpline instead of the next suggestion.
REROUTE_NEXT, REROUTE_HELPLINE = "next", "helpline"


@dataclass(frozen=True)
class TransferRequest:
    """Everything a ticket carries, gathered by the helpline from the call log (record once)."""

    service_id: int
    created_by: int
    call_id: int | None
    idempotency_key: str | None
    urgent: bool
    needs: list[str]
    risk_level: str
    age: int | None
    locality: str | None
    caller_name: str | None
    contact_number_encrypted: str | None
    contact_method: str
    preferred_times: str | None
    shared_summary: str | None
    consent_covers: str
    consent_recorded_at: datetime
    consent_recorded_by: int
    sms_consent: bool
    mode: str = "queue"
    rerouted_from_id: int | None = None
    share_journey: bool = False


# Finding tickets and services


async def find_ticket(
    session: AsyncSession, ticket_id: int, *, organisation_id: int | None = None, lock: bool = False
) -> TransferTicket:
    """The ticket; for a partner only one of its own services' (anything else is "no such ticket")."""
    stmt = sa.select(TransferTicket).where(TransferTicket.id == ticket_id)
    if organisation_id is not None:
        stmt = stmt.join(Service, Service.id == TransferTicket.service_id).where(
            Service.organisation_id == organisation_id
        )
    if lock:
        stmt = stmt.with_for_update()
    ticket = await session.scalar(stmt.execution_options(populate_existing=True))
    if ticket is None:
        raise NotFound("no such ticket", error="no_ticket")
    return ticket


async def _service(session: AsyncSession, service_id: int) -> Service:
    service = await session.scalar(
        sa.select(Service).options(selectinload(Service.organisation)).where(Service.id == service_id)
    )
    if service is None:
        raise Unprocessable("service_id", "no such service in the directory")
    return service


async def list_queue(session: AsyncSession, *, service_id: int) -> list[TransferTicket]:
    """A service's queue: tickets still active, urgent first, then newest."""
    stmt = (
        sa.select(TransferTicket)
        .where(TransferTicket.service_id == service_id, TransferTicket.status.in_([str(s) for s in ACTIVE_STATES]))
        .order_by(TransferTicket.urgent.desc(), TransferTicket.created_at.desc(), TransferTicket.id.desc())
    )
    return list((await session.scalars(stmt)).all())


async def list_call_tickets(session: AsyncSession, *, call_id: int) -> list[TransferTicket]:
    return list(
        (
            await session.scalars(
                sa.select(TransferTicket).where(TransferTicket.call_id == call_id).order_by(TransferTicket.id)
            )
        ).all()
    )


# Routing against the live directory


async def _waiting_by_service(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        sa.select(TransferTicket.service_id, sa.func.count())
        .where(TransferTicket.status.in_([str(s) for s in OPEN_STATES]))
        .group_by(TransferTicket.service_id)
    )
    return dict(rows.all())


def service_option(service: Service, waiting: int) -> ServiceOption:
    return ServiceOption(
        id=service.id,
        name=service.name,
        organisation=service.organisation.name,
        status=service.status,
        needs_met=frozenset(service.needs),
        min_age=service.min_age,
        max_age=service.max_age,
        areas=frozenset(service.areas),
        schedule=parse_schedule(service.schedule),
        timezone=service.timezone,
        capacity=service.capacity,
        waiting=waiting,
        live_phone=service.live_phone,
        locality_team_for=service.locality_team_for,
        availability=availability_of(service),
    )


async def suggest_services(
    session: AsyncSession, *, caller: CallerCircumstances, exclude: frozenset[int] = frozenset()
) -> list[Suggestion]:
    """The directory ranked for this caller now, with reasons; never empty while a locality team exists."""
    services = (await session.scalars(sa.select(Service).options(selectinload(Service.organisation)))).all()
    waiting = await _waiting_by_service(session)
    options = [service_option(s, waiting.get(s.id, 0)) for s in services if s.id not in exclude]
    try:
        return rank_services(caller, options, runtime_of(session).clock.now())
    except ValueError:
        return []


# Creating


def _targets(service: Service, start: datetime, urgent: bool) -> tuple[datetime, datetime]:
    """Accept-by and contact-by, counting only the service's opening hours."""
    slots = parse_schedule(service.schedule)
    accept = service.urgent_accept_target_hours if urgent else service.accept_target_hours
    contact = service.urgent_contact_target_hours if urgent else service.contact_target_hours
    return (
        add_open_hours(slots, service.timezone, start, accept),
        add_open_hours(slots, service.timezone, start, contact),
    )


async def create_ticket(session: AsyncSession, *, request: TransferRequest, actor: str) -> tuple[TransferTicket, bool]:
    """Make the ticket, its targets, its breach jobs, its audit trail and the partner's
    notification, all in this transaction. Returns (ticket, created); the same Idempotency-Key
    from the same listener returns the ticket already made."""
    runtime = runtime_of(session)
    if request.idempotency_key:
        existing = await _by_idempotency_key(session, request)
        if existing is not None:
            check_replay(runtime.crypto, existing, request)
            return existing, False
    service = await _service(session, request.service_id)
    if service.status != "active":
        raise Unprocessable("service_id", f"{service.name} is {service.status}: choose another service")
    now = runtime.clock.now()
    if reason := service_unavailable(service, now):
        raise Unprocessable("service_id", f"{service.name} is {reason}: choose another service")
    accept_by, contact_by = _targets(service, now, request.urgent)
    values = dict(
        journey_id=await _journey_for(session, request),
        share_journey=request.share_journey,
        service_id=service.id,
        call_id=request.call_id,
        created_by=request.created_by,
        idempotency_key=request.idempotency_key,
        rerouted_from_id=request.rerouted_from_id,
        status="requested",
        mode=request.mode,
        live_state="ringing" if request.mode == "live" else None,
        urgent=request.urgent,
        needs=request.needs,
        risk_level=request.risk_level,
        age=request.age,
        locality=request.locality,
        caller_name_encrypted=runtime.crypto.encrypt(request.caller_name),
        contact_number_encrypted=request.contact_number_encrypted,
        contact_method=request.contact_method,
        preferred_times=request.preferred_times,
        shared_summary_encrypted=runtime.crypto.encrypt(request.shared_summary),
        consent_covers=request.consent_covers,
        consent_recorded_at=request.consent_recorded_at,
        consent_recorded_by=request.consent_recorded_by,
        sms_consent=request.sms_consent,
        accept_by=accept_by,
        contact_by=contact_by,
        contact_attempts=0,
        created_at=now,
        updated_at=now,
    )
    if request.idempotency_key:
        # Two clicks racing: the unique key lets exactly one insert through.
        if not await insert_ignore(session, TransferTicket, values, ["created_by", "idempotency_key"]):
            existing = await _by_idempotency_key(session, request)
            assert existing is not None
            check_replay(runtime.crypto, existing, request)
            return existing, False
        ticket = await _by_idempotency_key(session, request)
        assert ticket is not None
    else:
        ticket = TransferTicket(**values)
        session.add(ticket)
        await session.flush()
    # Each warm transfer takes one of the spaces the partner said it has (never below none).
    await session.execute(
        sa.update(Service)
        .where(Service.id == service.id, Service.spaces > 0)
        .values(spaces=Service.spaces - 1)
        .execution_options(synchronize_session="fetch")
    )
    await _record_event(
        session,
        ticket,
        actor=actor,
        action="create",
        from_status=None,
        reason=f"re-routed from ticket {request.rerouted_from_id}" if request.rerouted_from_id else None,
    )
    await schedule_job(
        session,
        kind=ACCEPT_BREACH,
        key=f"ticket-accept-breach:{ticket.id}",
        run_at=accept_by,
        payload={"ticket_id": ticket.id},
    )
    await schedule_job(
        session,
        kind=TAKE_BACK_JOB,
        key=f"ticket-take-back:{ticket.id}",
        run_at=accept_by + TAKE_BACK_GRACE,
        payload={"ticket_id": ticket.id},
    )
    await schedule_job(
        session,
        kind=CONTACT_BREACH,
        key=f"ticket-contact-breach:{ticket.id}",
        run_at=contact_by,
        payload={"ticket_id": ticket.id},
    )
    await announce(session, ticket, service, "ticket.rerouted" if request.rerouted_from_id else "ticket.created")
    return ticket, True


async def _journey_for(session: AsyncSession, request: TransferRequest) -> str:
    """One journey per caller: a re-route or another warm transfer for the same call stays on it;
    a new call from the same caller joins their latest journey only when both warm transfers carry
    the caller's consent to share it (matched through the keyed hash, never the number)."""
    if request.rerouted_from_id is not None:
        previous = await session.get(TransferTicket, request.rerouted_from_id)
        if previous is not None:
            return previous.journey_id
    if request.call_id is not None:
        same_call = await session.scalar(
            sa.select(TransferTicket.journey_id)
            .where(TransferTicket.call_id == request.call_id)
            .order_by(TransferTicket.id)
            .limit(1)
        )
        if same_call:
            return same_call
        call = await session.get(Call, request.call_id)
        if request.share_journey and call is not None and call.from_hash:
            same_caller = await session.scalar(
                sa.select(TransferTicket.journey_id)
                .join(Call, Call.id == TransferTicket.call_id)
                .where(Call.from_hash == call.from_hash, TransferTicket.share_journey.is_(True))
                .order_by(TransferTicket.id.desc())
                .limit(1)
            )
            if same_caller:
                return same_caller
    return str(uuid.uuid4())


def check_replay(crypto: Crypto, ticket: TransferTicket, request: TransferRequest) -> None:
    """An Idempotency-Key replays only the request it was first sent with. Answering a different
    request with the first ticket would tell the listener a warm transfer was made that never was."""
    sent = (
        request.service_id,
        request.call_id,
        request.mode,
        request.urgent,
        request.contact_method,
        request.age,
        request.locality,
        request.preferred_times,
        request.caller_name,
        crypto.decrypt(request.contact_number_encrypted),
        request.shared_summary is not None,
        request.share_journey,
    )
    made = (
        ticket.service_id,
        ticket.call_id,
        ticket.mode,
        ticket.urgent,
        ticket.contact_method,
        ticket.age,
        ticket.locality,
        ticket.preferred_times,
        crypto.decrypt(ticket.caller_name_encrypted),
        crypto.decrypt(ticket.contact_number_encrypted),
        ticket.shared_summary_encrypted is not None,
        ticket.share_journey,
    )
    if sent != made:
        raise Unprocessable(
            "idempotency-key",
            "this key was already used for a different warm transfer; send a new key for a new request",
            error="idempotency_key_reused",
        )


async def _by_idempotency_key(session: AsyncSession, request: TransferRequest) -> TransferTicket | None:
    return await session.scalar(
        sa.select(TransferTicket)
        .where(
            TransferTicket.created_by == request.created_by, TransferTicket.idempotency_key == request.idempotency_key
        )
        .execution_options(populate_existing=True)
    )


# Moving through the state table


@dataclass(frozen=True)
class ActionInput:
    action: TicketAction
    actor: str
    reason: str | None = None
    outcome: str | None = None
    outcome_code: str | None = None
    reroute: str = REROUTE_NEXT
    # The actor's own words for the actions it may take, for a 409 (see ``next_state``).
    names: Mapping[TicketAction, str] | None = None
    # The version the actor read (a FHIR If-Match): the move is refused (412) if it changed since.
    expected_version: int | None = None


def _check_input(change: ActionInput) -> None:
    if change.action in REASON_REQUIRED and not (change.reason or "").strip():
        raise Unprocessable("reason", f"a reason is needed to {change.action.value.replace('_', ' ')}")
    if change.action is TicketAction.complete and not (change.outcome or "").strip():
        raise Unprocessable("outcome", "say how the support ended")
    codes = OUTCOME_CODES.get(change.action)
    if codes is None and change.outcome_code is not None:
        raise Unprocessable("outcome_code", f"no outcome code is recorded to {change.action.value.replace('_', ' ')}")
    if codes is not None and change.outcome_code not in codes:
        raise Unprocessable("outcome_code", f"choose one of: {', '.join(codes)}")


async def apply_action(session: AsyncSession, *, ticket: TransferTicket, change: ActionInput) -> TransferTicket:
    """One transition, won by exactly one of any number of concurrent attempts: the UPDATE only
    matches while the ticket is still in the state this transition was checked against."""
    _check_input(change)
    before = ticket.status
    after = next_state(before, change.action, names=change.names)
    now = runtime_of(session).clock.now()
    values: dict[str, Any] = {"status": str(after), "updated_at": now, "version": TransferTicket.version + 1}
    if change.outcome_code is not None:
        values["outcome_code"] = change.outcome_code
    match change.action:
        case TicketAction.accept:
            values["accepted_at"] = now
        case TicketAction.attempt_failed:
            values["contact_attempts"] = TransferTicket.contact_attempts + 1
        case TicketAction.confirm_contact:
            values |= {"handover_at": now, "handover_by": change.actor}
        case TicketAction.complete:
            values |= {"completed_at": now, "outcome": change.outcome}
        case _:
            values["status_reason"] = change.reason
    unchanged = [TransferTicket.status == before]
    if change.expected_version is not None:
        unchanged.append(TransferTicket.version == change.expected_version)
    moved = await session.execute(
        sa.update(TransferTicket)
        .where(TransferTicket.id == ticket.id, *unchanged)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    ticket = await find_ticket(session, ticket.id)
    if not moved.rowcount and change.expected_version not in (None, ticket.version):
        raise VersionChanged(ticket.version, change.expected_version)
    if not moved.rowcount:
        raise TicketStateError(f"the ticket is now {ticket.status}: someone else acted first", state=ticket.status)
    await _record_event(
        session,
        ticket,
        actor=change.actor,
        action=change.action.value,
        from_status=before,
        reason=change.reason or change.outcome,
        outcome_code=change.outcome_code,
    )
    await _after_move(session, ticket, change)
    return ticket


async def _after_move(session: AsyncSession, ticket: TransferTicket, change: ActionInput) -> None:
    """What each move sets going: timers stop, a declined caller is re-routed, nobody is dropped."""
    service = await _service(session, ticket.service_id)
    if ticket.status != "requested":
        await cancel_job(session, f"ticket-accept-breach:{ticket.id}")
        await cancel_job(session, f"ticket-take-back:{ticket.id}")
    if ticket.status not in ("accepted", "on-hold"):
        await cancel_job(session, f"ticket-contact-breach:{ticket.id}")
    if change.action is TicketAction.accept and ticket.sms_consent:
        await schedule_job(
            session,
            kind=TEXT_CALLER,
            key=f"ticket-text:{ticket.id}",
            run_at=runtime_of(session).clock.now(),
            payload={"ticket_id": ticket.id},
        )
    if change.action is TicketAction.reject:
        await _reroute(session, ticket, change)
    elif change.action is TicketAction.give_up:
        await take_back_ticket(
            session, ticket=ticket, reason=f"{service.name} could not reach the caller: {change.reason}"
        )
    await announce(
        session, ticket, service, "ticket.cancelled" if change.action is TicketAction.cancel else "ticket.changed"
    )


async def _reroute(session: AsyncSession, ticket: TransferTicket, change: ActionInput) -> TransferTicket | None:
    """A declined caller goes to the next suggestion (a new ticket linked to this one), or to the
    helpline team's follow-up queue when the partner asks the helpline to choose or nothing is left."""
    if change.reroute != REROUTE_HELPLINE:
        suggestions = await _next_services(session, ticket)
        if suggestions:
            request = _copy_request(ticket, service_id=suggestions[0].service_id, crypto=runtime_of(session).crypto)
            rerouted, _ = await create_ticket(session, request=request, actor="openline:re-route")
            return rerouted
    await take_back_ticket(
        session, ticket=ticket, reason=f"Declined: {change.reason}. Choose another service with the caller."
    )
    return None


async def reroute_ticket(
    session: AsyncSession, *, ticket: TransferTicket, actor: str, reason: str, service_id: int | None = None
) -> TransferTicket:
    """A ticket nobody has accepted (its accept-by passed, say) is withdrawn from that partner and
    the caller handed to another service: the chosen one, or the next suggestion not yet tried."""
    if ticket.status != "requested":
        raise TicketStateError(
            f"only a ticket waiting to be accepted can be re-routed; this one is {ticket.status}", state=ticket.status
        )
    if service_id is None:
        suggestions = await _next_services(session, ticket)
        if not suggestions:
            raise Unprocessable("service_id", "every suitable service has been tried: choose one")
        service_id = suggestions[0].service_id
    request = _copy_request(ticket, service_id=service_id, crypto=runtime_of(session).crypto)
    await apply_action(
        session, ticket=ticket, change=ActionInput(TicketAction.cancel, actor, reason=f"re-routed: {reason}")
    )
    rerouted, _ = await create_ticket(session, request=request, actor=actor)
    return rerouted


async def _next_services(session: AsyncSession, ticket: TransferTicket) -> list[Suggestion]:
    """Where this caller could go next: the suggestions for the same circumstances, leaving out
    every service already tried for them and any its partner says cannot take them now."""
    caller = CallerCircumstances(
        needs=frozenset(ticket.needs), age=ticket.age, locality=ticket.locality, urgent=ticket.urgent
    )
    tried = frozenset(await _services_tried(session, ticket))
    return [s for s in await suggest_services(session, caller=caller, exclude=tried) if s.available]


async def _services_tried(session: AsyncSession, ticket: TransferTicket) -> set[int]:
    """Services this caller has already been handed to: the re-route chain, and every other
    warm transfer made for the same call (one that has just helped them is not "next")."""
    tried, current = {ticket.service_id}, ticket
    while current.rerouted_from_id is not None:
        previous = await session.get(TransferTicket, current.rerouted_from_id)
        if previous is None:
            break
        tried.add(previous.service_id)
        current = previous
    if ticket.call_id is not None:
        tried |= set(
            (
                await session.scalars(
                    sa.select(TransferTicket.service_id).where(TransferTicket.call_id == ticket.call_id)
                )
            ).all()
        )
    return tried


def _copy_request(ticket: TransferTicket, *, service_id: int, crypto: Any) -> TransferRequest:
    """The same caller, consent and record for the next service: nobody re-assesses."""
    return TransferRequest(
        service_id=service_id,
        created_by=ticket.created_by,
        call_id=ticket.call_id,
        idempotency_key=None,
        urgent=ticket.urgent,
        needs=list(ticket.needs),
        risk_level=ticket.risk_level,
        age=ticket.age,
        locality=ticket.locality,
        caller_name=crypto.decrypt(ticket.caller_name_encrypted),
        contact_number_encrypted=ticket.contact_number_encrypted,
        contact_method=ticket.contact_method,
        preferred_times=ticket.preferred_times,
        shared_summary=crypto.decrypt(ticket.shared_summary_encrypted),
        consent_covers=ticket.consent_covers,
        consent_recorded_at=ticket.consent_recorded_at,
        consent_recorded_by=ticket.consent_recorded_by,
        sms_consent=ticket.sms_consent,
        rerouted_from_id=ticket.id,
        share_journey=ticket.share_journey,
    )


async def _record_event(
    session: AsyncSession,
    ticket: TransferTicket,
    *,
    actor: str,
    action: str,
    from_status: str | None,
    reason: str | None,
    outcome_code: str | None = None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=runtime_of(session).clock.now(),
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=ticket.status,
            reason=reason,
            outcome_code=outcome_code,
        )
    )
    await session.flush()


async def announce(
    session: AsyncSession,
    ticket: TransferTicket,
    service: Service,
    event: str,
    *,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Tell the listener who made it, the partner's dashboards (no personal data on the wire:
    they fetch the ticket, and that read is audited), and, for new, re-routed, cancelled and
    amended tickets, the partner's own system through the outbox."""
    summary = describe_ticket_status(ticket, service) | dict(extra or {})
    await publish_live(session, f"user:{ticket.created_by}", "ticket.changed", summary)
    await publish_live(session, f"org:{service.organisation_id}", event, summary)
    if event in WEBHOOK_EVENTS:
        from transfers.notifications import queue_partner_notification

        await queue_partner_notification(
            session, ticket=ticket, organisation_id=service.organisation_id, event=event, body=summary
        )
    emit(session, event, ticket_id=ticket.id, status=ticket.status)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def describe_ticket_status(ticket: TransferTicket, service: Service) -> dict[str, Any]:
    """A ticket without personal data: what a live event or a notification may carry."""
    return {
        "ticket_id": ticket.id,
        "service_id": service.id,
        "service": service.name,
        "status": ticket.status,
        "urgent": ticket.urgent,
        "mode": ticket.mode,
        "live_state": ticket.live_state,
        "needs": list(ticket.needs),
        "risk_level": ticket.risk_level,
        "accept_by": _iso(ticket.accept_by),
        "contact_by": _iso(ticket.contact_by),
        "accepted_at": _iso(ticket.accepted_at),
        "handover_at": _iso(ticket.handover_at),
        "handover_confirmed": ticket.handover_at is not None,
        "completed_at": _iso(ticket.completed_at),
        "rerouted_from_id": ticket.rerouted_from_id,
        "status_reason": ticket.status_reason,
        "outcome_code": ticket.outcome_code,
        "outcome_words": outcome_words(ticket.outcome_code),
        "amendment_version": ticket.amendment_version,
        "taken_back": ticket.taken_back_at is not None,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
    }


async def rerouted_to(session: AsyncSession, ticket: TransferTicket) -> TransferTicket | None:
    """The warm transfer this one was re-routed to, if it was."""
    return await session.scalar(sa.select(TransferTicket).where(TransferTicket.rerouted_from_id == ticket.id))


async def describe_what_next(session: AsyncSession, ticket: TransferTicket) -> str | None:
    """``words.what_next`` for this ticket, with the name of the service the caller went on to."""
    onward = await rerouted_to(session, ticket)
    onward_service = await session.get(Service, onward.service_id) if onward is not None else None
    return what_next(
        ticket.status, reason=ticket.status_reason, rerouted_to=onward_service.name if onward_service else None
    )


def open_now(service: Service, now: datetime) -> bool:
    return is_open(parse_schedule(service.schedule), service.timezone, now)
