"""The directory as Open Referral HSDS 3 JSON, and back (pure: no database, no clock).

One document holds the need categories (``taxonomy_terms`` of our ``openline-needs`` taxonomy), the
localities (``service_areas``), the ``organizations`` and the ``services`` with their nested parts:
``service_areas``, weekly ``schedules`` (byday, opens_at, closes_at), the live line as a voice
``phones`` row, the capacity as ``capacities`` (a ``service_capacity`` in places for warm
transfers: available now, maximum, updated) and the needs met as ``attributes`` naming a taxonomy
term. What HSDS has no place for (our slugs, the time zone's name, the warm-transfer targets,
which locality a team is the fallback for, the waiting-list band, and a maximum without a figure
for places now, since ``service_capacity`` requires ``available``) is under ``x-openline`` on the
object. HSDS 3's only word on waiting is the deprecated free-text ``service.wait_time``, so the
band is not written there.

Ids are UUIDs derived from our slugs, so exporting the same directory twice, from any database,
gives the same document, and a file exported here and re-imported names the same rows.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from transfers.directory.importer import DirectoryFile, DirectoryFileError, check_directory
from transfers.hours import DAY_NAMES, OpeningSlot, format_schedule, parse_schedule

HSDS_VERSION = "3.0"
EXTENSION = "x-openline"
NEEDS_TAXONOMY = "openline-needs"
LOCALITY_URI = "urn:openline:locality:"
_NAMESPACE = uuid.UUID("5d0f8a4e-6c1b-4f7e-9a57-0a1e5c0b7e15")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
LIVE_LINE = "Live line for warm transfers"
CHARITY_SCHEME = "GB-CHC"

# Required fields of each HSDS 3.0 object (schema/*.json of openreferral/specification).
REQUIRED = {
    "taxonomy": ("id", "name", "description"),
    "taxonomy_term": ("id", "name", "description"),
    "organization": ("id", "name", "description"),
    "organization_identifier": ("id", "identifier_type", "identifier"),
    "service": ("id", "name", "status"),
    "service_area": ("id",),
    "schedule": ("id",),
    "phone": ("id", "number"),
    "attribute": ("id",),
    "service_capacity": ("id", "updated"),
    "unit": ("id", "name"),
}
SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")


def hsds_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


# What a service_capacity counts (HSDS 3 requires a unit): one caller's warm transfer.
PLACE_UNIT = {"id": hsds_id("unit", "warm-transfer-place"), "name": "Place for a warm transfer"}


def slug_of(name: str) -> str:
    """A slug for a file from elsewhere that has no ``x-openline`` slug (a council's directory)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "unnamed"


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# Export ----------------------------------------------------------------------------------------


def schedule_rows(service_id: str, service_slug: str, slots: tuple[OpeningSlot, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": hsds_id("schedule", service_slug, str(i)),
            "service_id": service_id,
            "freq": "WEEKLY",
            "wkst": "MO",
            "byday": ",".join(RRULE_DAYS[d] for d in sorted(slot.days)),
            "opens_at": slot.opens.strftime("%H:%M"),
            # Midnight at the end of the day: RFC 5545 and HSDS times stop at 23:59:59.
            "closes_at": slot.closes.strftime("%H:%M"),
        }
        for i, slot in enumerate(slots)
    ]


def organization_to_hsds(org: Any) -> dict[str, Any]:
    org_id = hsds_id("organization", org.slug)
    identifiers = []
    if org.charity_number:
        identifiers.append(
            {
                "id": hsds_id("identifier", org.slug, CHARITY_SCHEME),
                "organization_id": org_id,
                "identifier_scheme": CHARITY_SCHEME,
                "identifier_type": "Registered charity number",
                "identifier": org.charity_number,
            }
        )
    return _without_none(
        {
            "id": org_id,
            "name": org.name,
            "description": org.description or "",
            "email": org.email,
            "website": org.website,
            "organization_identifiers": identifiers,
            EXTENSION: {"slug": org.slug},
        }
    )


def service_to_hsds(service: Any, org: Any, locality_names: dict[str, str]) -> dict[str, Any]:
    sid = hsds_id("service", service.slug)
    phones = []
    if service.live_phone:
        phones.append(
            {
                "id": hsds_id("phone", service.slug, "live"),
                "service_id": sid,
                "number": service.live_phone,
                "type": "voice",
                "description": LIVE_LINE,
            }
        )
    capacities = []
    if service.spaces is not None:
        updated = service.capacity_updated_at or service.updated_at
        capacities.append(
            _without_none(
                {
                    "id": hsds_id("capacity", service.slug),
                    "service_id": sid,
                    "unit": PLACE_UNIT,
                    "available": service.spaces,
                    "maximum": service.capacity,
                    "description": "Places for new warm transfers now; the maximum held at once",
                    "updated": updated.isoformat(),
                }
            )
        )
    return _without_none(
        {
            "id": sid,
            "organization_id": hsds_id("organization", org.slug),
            "name": service.name,
            "description": service.description or "",
            "status": service.status,
            "eligibility_description": service.eligibility_description or "",
            "minimum_age": service.min_age,
            "maximum_age": service.max_age,
            "attributes": [
                {
                    "id": hsds_id("attribute", service.slug, need),
                    "link_id": sid,
                    "link_type": "need",
                    "link_entity": "service",
                    "taxonomy_term_id": hsds_id("need", need),
                    "value": need,
                }
                for need in service.needs
            ],
            "service_areas": [
                {
                    "id": hsds_id("service_area", service.slug, area),
                    "service_id": sid,
                    "name": locality_names.get(area, area),
                    "uri": LOCALITY_URI + area,
                }
                for area in service.areas
            ],
            "schedules": schedule_rows(sid, service.slug, parse_schedule(service.schedule)),
            "phones": phones,
            "capacities": capacities,
            EXTENSION: _without_none(
                {
                    "slug": service.slug,
                    "timezone": service.timezone,
                    "targets": {
                        "accept_hours": service.accept_target_hours,
                        "contact_hours": service.contact_target_hours,
                        "urgent_accept_hours": service.urgent_accept_target_hours,
                        "urgent_contact_hours": service.urgent_contact_target_hours,
                    },
                    "locality_team_for": service.locality_team_for,
                    "waiting_list": service.waiting_list,
                    "capacity_maximum": service.capacity if service.spaces is None else None,
                }
            ),
        }
    )


def directory_to_hsds(needs: list[Any], localities: list[Any], organisations: list[Any]) -> dict[str, Any]:
    """Our directory (rows, organisations with their services) as one HSDS document."""
    taxonomy_id = hsds_id("taxonomy", NEEDS_TAXONOMY)
    names = {loc.slug: loc.name for loc in localities}
    return {
        "hsds_version": HSDS_VERSION,
        "taxonomies": [
            {
                "id": taxonomy_id,
                "name": NEEDS_TAXONOMY,
                "description": "The needs a call log records and a service meets",
            }
        ],
        "taxonomy_terms": [
            {
                "id": hsds_id("need", need.slug),
                "code": need.slug,
                "name": need.label,
                "description": need.label,
                "taxonomy": NEEDS_TAXONOMY,
                "taxonomy_id": taxonomy_id,
            }
            for need in needs
        ],
        "service_areas": [
            {"id": hsds_id("area", loc.slug), "name": loc.name, "uri": LOCALITY_URI + loc.slug} for loc in localities
        ],
        "organizations": [organization_to_hsds(org) for org in organisations],
        "services": [service_to_hsds(svc, org, names) for org in organisations for svc in org.services],
    }


# Structure -------------------------------------------------------------------------------------


def check_structure(document: Any) -> list[str]:
    """HSDS's required fields and types on every object (the schema is not published in a Python
    package, so this is a structural check of what the schema requires, not the schema itself)."""
    if not isinstance(document, dict):
        return ["the file is not a JSON object with organizations and services"]
    problems: list[str] = []

    def objects(where: str, items: Any, kind: str) -> list[dict[str, Any]]:
        if items is None:
            return []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            problems.append(f"{where}: expected a list of {kind} objects")
            return []
        for i, item in enumerate(items):
            for name in REQUIRED[kind]:
                if not isinstance(item.get(name), str):
                    problems.append(f"{where}[{i}]: {kind} needs {name} (a string)")
            if kind == "service_capacity":
                if not isinstance(item.get("available"), int | float) or isinstance(item.get("available"), bool):
                    problems.append(f"{where}[{i}]: service_capacity needs available (a number)")
                if not isinstance(item.get("unit"), dict):
                    problems.append(f"{where}[{i}]: service_capacity needs unit (a unit object)")
                else:
                    objects(f"{where}[{i}].unit", [item["unit"]], "unit")
        return items

    objects("taxonomies", document.get("taxonomies"), "taxonomy")
    objects("taxonomy_terms", document.get("taxonomy_terms"), "taxonomy_term")
    objects("service_areas", document.get("service_areas"), "service_area")
    for o, org in enumerate(objects("organizations", document.get("organizations"), "organization")):
        objects(
            f"organizations[{o}].organization_identifiers",
            org.get("organization_identifiers"),
            "organization_identifier",
        )
    for s, svc in enumerate(objects("services", document.get("services"), "service")):
        where = f"services[{s}]"
        if isinstance(svc.get("status"), str) and svc["status"] not in SERVICE_STATUSES:
            problems.append(f"{where}: status {svc['status']!r} is not one of {', '.join(SERVICE_STATUSES)}")
        for key, kind in (
            ("attributes", "attribute"),
            ("service_areas", "service_area"),
            ("schedules", "schedule"),
            ("phones", "phone"),
            ("capacities", "service_capacity"),
        ):
            objects(f"{where}.{key}", svc.get(key), kind)
        for age in ("minimum_age", "maximum_age"):
            if svc.get(age) is not None and not isinstance(svc[age], int | float):
                problems.append(f"{where}: {age} must be a number")
    return problems


# Import ----------------------------------------------------------------------------------------


def _hours_of(schedules: list[dict[str, Any]], where: str, problems: list[str]) -> list[dict[str, str]]:
    hours = []
    for i, row in enumerate(schedules):
        at = f"{where}: schedule {i + 1}"
        if row.get("freq", "WEEKLY") != "WEEKLY":
            problems.append(f"{at}: only weekly opening hours are understood (freq {row.get('freq')!r})")
            continue
        days = [d.strip().upper() for d in str(row.get("byday") or "").split(",") if d.strip()]
        unknown = [d for d in days if d not in RRULE_DAYS]
        if not days or unknown:
            problems.append(f"{at}: byday {row.get('byday')!r} must list days as MO,TU,WE,TH,FR,SA,SU")
            continue
        item = {
            "days": ",".join(DAY_NAMES[RRULE_DAYS.index(d)] for d in days),
            "opens": str(row.get("opens_at") or ""),
            "closes": str(row.get("closes_at") or ""),
        }
        try:
            # Written as the YAML would say it ("weekdays", "24:00"), so re-importing our own
            # export changes nothing.
            hours.extend(format_schedule(parse_schedule([item])))
        except ValueError as exc:
            problems.append(f"{at}: {exc}")
    return hours


def hsds_to_directory(document: Any) -> DirectoryFile:
    """An HSDS document as our directory, through the same checks as the YAML import; raises
    DirectoryFileError listing every problem (unknown references named) and builds nothing."""
    problems = check_structure(document)
    if problems:
        raise DirectoryFileError(problems)
    terms: dict[str, dict[str, str]] = {}
    for term in document.get("taxonomy_terms") or []:
        terms[term["id"]] = {"slug": term.get("code") or slug_of(term["name"]), "label": term["name"]}
    areas: dict[str, dict[str, str]] = {}
    for area in document.get("service_areas") or []:
        uri = area.get("uri") or ""
        slug = uri.removeprefix(LOCALITY_URI) if uri.startswith(LOCALITY_URI) else slug_of(area.get("name") or "")
        areas[area["id"]] = {"slug": slug, "name": area.get("name") or slug}
    area_slugs = {a["slug"] for a in areas.values()}
    organisations: dict[str, dict[str, Any]] = {}
    for org in document.get("organizations") or []:
        charity = next(
            (
                i["identifier"]
                for i in org.get("organization_identifiers") or []
                if i.get("identifier_scheme") == CHARITY_SCHEME
            ),
            None,
        )
        organisations[org["id"]] = {
            "slug": (org.get(EXTENSION) or {}).get("slug") or slug_of(org["name"]),
            "name": org["name"],
            "description": org["description"],
            "website": org.get("website"),
            "email": org.get("email"),
            "charity_number": charity,
            "services": [],
        }
    for svc in document.get("services") or []:
        extra = svc.get(EXTENSION) or {}
        slug = extra.get("slug") or slug_of(svc["name"])
        where = f"service {slug!r}"
        owner = organisations.get(svc.get("organization_id") or "")
        if owner is None:
            problems.append(f"{where}: unknown organization {svc.get('organization_id')!r} (not in the file)")
        needs = []
        for attribute in svc.get("attributes") or []:
            term_id = attribute.get("taxonomy_term_id")
            if term_id is None:
                continue
            if term_id not in terms:
                problems.append(f"{where}: unknown taxonomy term {term_id!r} (not in the file)")
            else:
                needs.append(terms[term_id]["slug"])
        served = []
        for area in svc.get("service_areas") or []:
            uri = area.get("uri") or ""
            slug_in_uri = uri.removeprefix(LOCALITY_URI) if uri.startswith(LOCALITY_URI) else None
            by_name = [a["slug"] for a in areas.values() if a["name"] == area.get("name")]
            found = slug_in_uri if slug_in_uri in area_slugs else (by_name[0] if by_name else None)
            if found is None:
                problems.append(f"{where}: unknown service area {area.get('name') or uri!r} (not in the file)")
            else:
                served.append(found)
        team_for = extra.get("locality_team_for")
        if team_for is not None and team_for not in area_slugs:
            problems.append(f"{where}: unknown service area {team_for!r} (not in the file)")
        live = next((p["number"] for p in svc.get("phones") or [] if p.get("description") == LIVE_LINE), None)
        places = next(iter(svc.get("capacities") or []), {})
        capacity = places.get("maximum", extra.get("capacity_maximum"))
        spec = _without_none(
            {
                "slug": slug,
                "name": svc["name"],
                "description": svc.get("description") or "",
                "eligibility_description": svc.get("eligibility_description") or "",
                "status": svc["status"],
                "needs": needs,
                "min_age": svc.get("minimum_age"),
                "max_age": svc.get("maximum_age"),
                "areas": served,
                "hours": _hours_of(svc.get("schedules") or [], where, problems),
                "timezone": extra.get("timezone"),
                "capacity": capacity,
                "spaces": places.get("available"),
                "capacity_updated_at": places.get("updated"),
                "waiting_list": extra.get("waiting_list"),
                "live_phone": live,
                "targets": extra.get("targets"),
                "locality_team_for": team_for,
            }
        )
        if owner is not None:
            owner["services"].append(spec)
    if problems:
        raise DirectoryFileError(problems)
    return check_directory(
        {
            "need_categories": list(terms.values()),
            "localities": list(areas.values()),
            "organisations": list(organisations.values()),
        }
    )
