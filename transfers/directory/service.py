"""Directory service functions: they validate references, change rows, and never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.audit import record_audit
from app.core.db import runtime_of
from app.core.errors import Conflict, NotFound, Unprocessable
from transfers.availability import Availability, is_stale, parse_closures, unavailable_reason
from transfers.directory.models import Locality, NeedCategory, Organisation, Service
from transfers.directory.schemas import (
    AvailabilityOut,
    AvailabilityUpdate,
    OrganisationFields,
    OrganisationUpdate,
    PartnerServiceOut,
    ServiceCreate,
    ServiceFields,
    ServiceOut,
    ServiceUpdate,
    TargetsSpec,
    check_places_within_maximum,
)


async def list_need_categories(session: AsyncSession, *, include_retired: bool = False) -> list[NeedCategory]:
    stmt = sa.select(NeedCategory).order_by(NeedCategory.sort_order, NeedCategory.slug)
    if not include_retired:
        stmt = stmt.where(NeedCategory.retired_at.is_(None))
    return list((await session.scalars(stmt)).all())


async def known_need_slugs(session: AsyncSession) -> set[str]:
    return set((await session.scalars(sa.select(NeedCategory.slug))).all())


async def list_localities(session: AsyncSession) -> list[Locality]:
    return list((await session.scalars(sa.select(Locality).order_by(Locality.name))).all())


async def list_organisations(session: AsyncSession) -> list[Organisation]:
    return list((await session.scalars(sa.select(Organisation).order_by(Organisation.name))).all())


async def export_directory_hsds(session: AsyncSession) -> dict[str, Any]:
    """The whole directory as one Open Referral HSDS document (transfers/directory/hsds.py)."""
    from transfers.directory.hsds import directory_to_hsds

    organisations = await session.scalars(
        sa.select(Organisation).options(selectinload(Organisation.services)).order_by(Organisation.slug)
    )
    localities = await session.scalars(sa.select(Locality).order_by(Locality.slug))
    return directory_to_hsds(await list_need_categories(session), list(localities), list(organisations))


async def find_organisation(session: AsyncSession, organisation_id: int) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("no such organisation")
    return organisation


async def list_services(session: AsyncSession, *, organisation_id: int | None = None) -> list[Service]:
    stmt = sa.select(Service).options(selectinload(Service.organisation)).order_by(Service.name, Service.id)
    if organisation_id is not None:
        stmt = stmt.where(Service.organisation_id == organisation_id)
    return list((await session.scalars(stmt)).all())


async def find_service(session: AsyncSession, service_id: int) -> Service:
    service = await session.scalar(
        sa.select(Service).options(selectinload(Service.organisation)).where(Service.id == service_id)
    )
    if service is None:
        raise NotFound("no such service")
    return service


def service_out(service: Service) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        slug=service.slug,
        organisation_id=service.organisation_id,
        organisation=service.organisation.name,
        name=service.name,
        description=service.description,
        eligibility_description=service.eligibility_description,
        status=service.status,
        needs=service.needs,
        min_age=service.min_age,
        max_age=service.max_age,
        areas=service.areas,
        hours=service.schedule,
        timezone=service.timezone,
        capacity=service.capacity,
        spaces=service.spaces,
        waiting_list=service.waiting_list,
        capacity_updated_at=service.capacity_updated_at,
        capacity_updated_by=service.capacity_updated_by,
        live_phone=service.live_phone,
        targets=TargetsSpec(
            accept_hours=service.accept_target_hours,
            contact_hours=service.contact_target_hours,
            urgent_accept_hours=service.urgent_accept_target_hours,
            urgent_contact_hours=service.urgent_contact_target_hours,
        ),
        locality_team_for=service.locality_team_for,
    )


async def check_service_references(
    session: AsyncSession, spec: ServiceFields, *, prefix: str = ""
) -> list[dict[str, str]]:
    """Needs and areas must come from the configured lists: a typo would hide a service from routing."""
    problems = []
    needs = await known_need_slugs(session)
    areas = {loc.slug for loc in await list_localities(session)}
    for need in spec.needs:
        if need not in needs:
            problems.append({"field": f"{prefix}needs", "message": f"unknown need {need!r}"})
    for area in spec.areas:
        if area not in areas:
            problems.append({"field": f"{prefix}areas", "message": f"unknown locality {area!r}"})
    if spec.locality_team_for is not None and spec.locality_team_for not in areas:
        problems.append(
            {"field": f"{prefix}locality_team_for", "message": f"unknown locality {spec.locality_team_for!r}"}
        )
    return problems


def service_columns(spec: ServiceFields) -> dict[str, Any]:
    return dict(
        slug=spec.slug,
        name=spec.name,
        description=spec.description,
        eligibility_description=spec.eligibility_description,
        status=spec.status,
        needs=list(spec.needs),
        min_age=spec.min_age,
        max_age=spec.max_age,
        areas=list(spec.areas),
        schedule=[h.model_dump() for h in spec.hours],
        timezone=spec.timezone,
        capacity=spec.capacity,
        spaces=spec.spaces,
        waiting_list=spec.waiting_list,
        live_phone=spec.live_phone,
        accept_target_hours=spec.targets.accept_hours,
        contact_target_hours=spec.targets.contact_hours,
        urgent_accept_target_hours=spec.targets.urgent_accept_hours,
        urgent_contact_target_hours=spec.targets.urgent_contact_hours,
        locality_team_for=spec.locality_team_for,
    )


# The figures whose giving (or confirming) says how fresh a service's capacity is.
CAPACITY_FIELDS = frozenset({"capacity", "spaces", "waiting_list"})


def stamp_capacity(service: Service, *, actor: str, at: datetime) -> None:
    service.capacity_updated_at = at
    service.capacity_updated_by = actor


async def _audit(
    session: AsyncSession, actor: str, action: str, subject: Organisation | Service, **detail: Any
) -> None:
    """Every change to the directory says who made it (the audit the admin page searches)."""
    kind = "organisation" if isinstance(subject, Organisation) else "service"
    await record_audit(session, actor=actor, action=action, subject_type=kind, subject_id=subject.id, **detail)


async def create_organisation(session: AsyncSession, spec: OrganisationFields, *, actor: str) -> Organisation:
    if await session.scalar(sa.select(Organisation.id).where(Organisation.slug == spec.slug)):
        raise Conflict(f"an organisation with slug {spec.slug!r} exists", error="duplicate_slug")
    now = runtime_of(session).clock.now()
    organisation = Organisation(**spec.model_dump(), created_at=now, updated_at=now)
    session.add(organisation)
    await session.flush()
    await _audit(session, actor, "add_organisation", organisation, slug=organisation.slug)
    return organisation


async def update_organisation(
    session: AsyncSession, organisation_id: int, change: OrganisationUpdate, *, actor: str
) -> Organisation:
    organisation = await find_organisation(session, organisation_id)
    given = change.model_dump(exclude_unset=True)
    await _audit(session, actor, "change_organisation", organisation, fields=sorted(given))
    for field, value in given.items():
        setattr(organisation, field, value)
    organisation.updated_at = runtime_of(session).clock.now()
    return organisation


async def delete_organisation(session: AsyncSession, organisation_id: int, *, actor: str) -> None:
    organisation = await find_organisation(session, organisation_id)
    if await session.scalar(sa.select(Service.id).where(Service.organisation_id == organisation_id).limit(1)):
        raise Conflict("this organisation still has services; mark them defunct instead", error="has_services")
    await _audit(session, actor, "remove_organisation", organisation, slug=organisation.slug)
    await session.delete(organisation)


async def create_service(session: AsyncSession, spec: ServiceCreate, *, actor: str) -> Service:
    if await session.get(Organisation, spec.organisation_id) is None:
        raise Unprocessable("organisation_id", f"no organisation with id {spec.organisation_id}")
    if problems := await check_service_references(session, spec):
        raise Unprocessable(fields=problems)
    if await session.scalar(sa.select(Service.id).where(Service.slug == spec.slug)):
        raise Conflict(f"a service with slug {spec.slug!r} exists", error="duplicate_slug")
    now = runtime_of(session).clock.now()
    service = Service(organisation_id=spec.organisation_id, **service_columns(spec), created_at=now, updated_at=now)
    if spec.spaces is not None or spec.waiting_list is not None or spec.capacity is not None:
        stamp_capacity(service, actor=actor, at=now)
    session.add(service)
    await session.flush()
    await _audit(session, actor, "add_service", service, slug=service.slug)
    return await find_service(session, service.id)


async def update_service(session: AsyncSession, service_id: int, change: ServiceUpdate, *, actor: str) -> Service:
    service = await find_service(session, service_id)
    current = service_out(service).model_dump(
        exclude={"id", "organisation", "organisation_id", "capacity_updated_at", "capacity_updated_by"}
    )
    given = change.model_dump(exclude_unset=True)
    merged = ServiceFields.model_validate(current | given)
    if problems := await check_service_references(session, merged):
        raise Unprocessable(fields=problems)
    await _audit(session, actor, "change_service", service, fields=sorted(given))
    columns = service_columns(merged)
    # The admin's form sends every field: only a changed figure is a new word on capacity (the
    # partner, who knows, confirms a figure by giving it again).
    capacity_changed = any(getattr(service, name) != columns[name] for name in CAPACITY_FIELDS)
    for column, value in columns.items():
        setattr(service, column, value)
    service.updated_at = runtime_of(session).clock.now()
    if capacity_changed:
        stamp_capacity(service, actor=actor, at=service.updated_at)
    return service


async def retire_service(session: AsyncSession, service_id: int, *, actor: str) -> Service:
    """Services are never deleted: warm transfers point at them. A retired service is defunct."""
    service = await find_service(session, service_id)
    await _audit(session, actor, "retire_service", service, status={"from": service.status, "to": "defunct"})
    service.status = "defunct"
    service.updated_at = runtime_of(session).clock.now()
    return service


# What the partner keeps up to date itself


def availability_of(service: Service) -> Availability:
    return Availability(
        state=service.availability,
        reopens_on=service.reopens_on,
        note=service.availability_note,
        spaces=service.spaces,
        closures=parse_closures(service.closures or []),
        waiting_list=service.waiting_list,
        capacity_updated_at=service.capacity_updated_at,
    )


def service_unavailable(service: Service, now: datetime) -> str | None:
    """Why the partner says this service cannot take a warm transfer now, or None."""
    return unavailable_reason(availability_of(service), service.timezone, now)


def partner_service_out(service: Service, now: datetime) -> PartnerServiceOut:
    reason = service_unavailable(service, now)
    return PartnerServiceOut(
        **service_out(service).model_dump(),
        availability=AvailabilityOut(
            state=service.availability,
            reopens_on=service.reopens_on,
            note=service.availability_note,
            spaces=service.spaces,
            closures=service.closures or [],
            available_now=reason is None,
            unavailable_reason=reason,
            updated_at=service.availability_updated_at,
            updated_by=service.availability_updated_by,
            maximum=service.capacity,
            waiting_list=service.waiting_list,
            capacity_updated_at=service.capacity_updated_at,
            capacity_updated_by=service.capacity_updated_by,
            capacity_stale=(service.spaces is not None or service.waiting_list is not None)
            and is_stale(service.capacity_updated_at, now),
        ),
    )


def _availability_columns(change: AvailabilityUpdate) -> dict[str, Any]:
    given = change.model_dump(exclude_unset=True, mode="json")
    columns: dict[str, Any] = {}
    if "availability" in given:
        columns["availability"] = change.availability
        if change.availability == "open":
            columns |= {"reopens_on": None, "availability_note": None}
    if "reopens_on" in given:
        columns["reopens_on"] = change.reopens_on
    if "note" in given:
        columns["availability_note"] = (change.note or "").strip() or None
    if "spaces" in given:
        columns["spaces"] = change.spaces
    if "maximum" in given:
        columns["capacity"] = change.maximum
    if "waiting_list" in given:
        columns["waiting_list"] = change.waiting_list
    if "hours" in given:
        columns["schedule"] = given["hours"]
    if "closures" in given:
        columns["closures"] = sorted(given["closures"], key=lambda c: c["starts"])
    if "live_phone" in given:
        columns["live_phone"] = change.live_phone
    return columns


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def update_availability(
    session: AsyncSession, *, service: Service, change: AvailabilityUpdate, actor: str
) -> Service:
    """The partner's own word on its service, in force for routing at once; audited with who and
    what changed (no personal data: these are the service's own details)."""
    now = runtime_of(session).clock.now()
    today = now.astimezone(ZoneInfo(service.timezone)).date()
    if change.reopens_on is not None and change.reopens_on != service.reopens_on and change.reopens_on <= today:
        raise Unprocessable("reopens_on", "the day the service reopens must be after today")
    columns = _availability_columns(change)
    try:
        check_places_within_maximum(columns.get("spaces", service.spaces), columns.get("capacity", service.capacity))
    except PydanticCustomError as exc:
        raise Unprocessable("spaces" if "spaces" in columns else "maximum", exc.message()) from None
    changed = {
        name: {"from": _plain(getattr(service, name)), "to": _plain(value)}
        for name, value in columns.items()
        if getattr(service, name) != value
    }
    # Giving the same places or waiting list again confirms them: they are fresh, not stale.
    if CAPACITY_FIELDS & columns.keys():
        stamp_capacity(service, actor=actor, at=now)
    if not changed:
        return service
    for name, value in columns.items():
        setattr(service, name, value)
    service.availability_updated_at = service.updated_at = now
    service.availability_updated_by = actor
    await record_audit(
        session, actor=actor, action="update_service", subject_type="service", subject_id=service.id, changes=changed
    )
    return service
