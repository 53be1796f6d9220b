"""``openline directory import FILE.yaml``: load or update a whole directory in one transaction.

The file is checked completely before anything is written; any problem is reported with the
line it is on, and nothing is written. Importing the same file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import runtime_of
from transfers.directory.models import Locality, NeedCategory, Organisation, Service
from transfers.directory.schemas import OrganisationFields, ServiceFields, Strict
from transfers.directory.service import CAPACITY_FIELDS, service_columns, stamp_capacity

IMPORT_ACTOR = "directory import"


class DirectoryFileError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Node(dict):
    """A mapping that remembers the line of each of its keys, for error messages."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    mapping = _Node(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class NeedSpec(Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    label: str


class LocalitySpec(Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    name: str


class ServiceEntry(ServiceFields):
    """A service in a directory file. ``spaces`` and ``waiting_list`` are the partner's live figures:
    a file that leaves them out leaves what the partner said alone. ``capacity_updated_at`` says
    when the file's figures were true (HSDS ``service_capacity.updated``); otherwise the import is."""

    capacity_updated_at: AwareDatetime | None = None


class OrganisationSpec(OrganisationFields):
    services: list[ServiceEntry] = Field(default_factory=list)


class DirectoryFile(Strict):
    need_categories: list[NeedSpec]
    localities: list[LocalitySpec]
    organisations: list[OrganisationSpec]


@dataclass
class ImportSummary:
    created: dict[str, int] = field(
        default_factory=lambda: {"needs": 0, "localities": 0, "organisations": 0, "services": 0}
    )
    updated: dict[str, int] = field(
        default_factory=lambda: {"needs": 0, "localities": 0, "organisations": 0, "services": 0}
    )
    retired_services: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{k}: {self.created[k]} new, {self.updated[k]} changed" for k in self.created]
        if self.retired_services:
            parts.append(f"marked inactive (not in the file): {', '.join(self.retired_services)}")
        return "; ".join(parts)


def _line_of(document: Any, loc: tuple[Any, ...]) -> int:
    node, line = document, getattr(document, "line", 1)
    for part in loc:
        if isinstance(node, _Node):
            line = node.key_lines.get(str(part), node.line)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def parse_directory(text: str) -> DirectoryFile:
    """Parse and check a directory file; raises DirectoryFileError listing every problem by line."""
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DirectoryFileError([f"line {mark.line + 1 if mark else '?'}: not valid YAML: {exc}"]) from None
    if not isinstance(document, dict):
        raise DirectoryFileError(["line 1: expected a mapping with need_categories, localities and organisations"])
    return check_directory(document)


def _at(document: Any, loc: tuple[Any, ...]) -> str:
    """Where a problem is: its line in a YAML file, else (a document built from HSDS) its path."""
    if isinstance(document, _Node):
        return f"line {_line_of(document, loc)}"
    return ".".join(map(str, loc))


def check_directory(document: dict[str, Any]) -> DirectoryFile:
    """The checks every directory import goes through, whatever the file's format."""
    try:
        directory = DirectoryFile.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = ".".join(map(str, err["loc"]))
            where = f"line {_line_of(document, err['loc'])}: {path}" if isinstance(document, _Node) else path
            problems.append(f"{where}: {err['msg']}")
        raise DirectoryFileError(problems) from None
    problems = _cross_check(directory, document)
    if problems:
        raise DirectoryFileError(problems)
    return directory


def _cross_check(directory: DirectoryFile, document: Any) -> list[str]:
    needs = {n.slug for n in directory.need_categories}
    areas = {loc.slug for loc in directory.localities}
    problems: list[str] = []
    seen_services: set[str] = set()
    seen_orgs: set[str] = set()
    for o, org in enumerate(directory.organisations):
        if org.slug in seen_orgs:
            problems.append(f"{_at(document, ('organisations', o, 'slug'))}: organisation {org.slug!r} appears twice")
        seen_orgs.add(org.slug)
        for s, svc in enumerate(org.services):
            where = ("organisations", o, "services", s)
            if svc.slug in seen_services:
                problems.append(f"{_at(document, (*where, 'slug'))}: service {svc.slug!r} appears twice")
            seen_services.add(svc.slug)
            for need in svc.needs:
                if need not in needs:
                    problems.append(f"{_at(document, (*where, 'needs'))}: unknown need {need!r}")
            for area in [*svc.areas, *([svc.locality_team_for] if svc.locality_team_for else [])]:
                if area not in areas:
                    problems.append(f"{_at(document, (*where, 'areas'))}: unknown locality {area!r}")
    return problems


async def import_directory(session: AsyncSession, directory: DirectoryFile) -> ImportSummary:
    """Upsert everything by slug. Services missing from the file are marked inactive, not deleted,
    because warm transfers already made to them must keep pointing somewhere."""
    summary = ImportSummary()
    now = runtime_of(session).clock.now()
    for order, spec in enumerate(directory.need_categories):
        await _upsert(session, NeedCategory, spec.slug, {"label": spec.label, "sort_order": order}, summary, "needs")
    for spec in directory.localities:
        await _upsert(session, Locality, spec.slug, {"name": spec.name}, summary, "localities")
    in_file: set[str] = set()
    for org_spec in directory.organisations:
        org = await _upsert(
            session,
            Organisation,
            org_spec.slug,
            org_spec.model_dump(exclude={"slug", "services"}),
            summary,
            "organisations",
            created_at=now,
            updated_at=now,
        )
        for svc_spec in org_spec.services:
            in_file.add(svc_spec.slug)
            values = service_columns(svc_spec) | {"organisation_id": org.id}
            values.pop("slug")
            for live in ("spaces", "waiting_list"):
                if live not in svc_spec.model_fields_set:
                    values.pop(live)
            before = await session.scalar(sa.select(Service).where(Service.slug == svc_spec.slug))
            figures = {k: getattr(before, k) for k in CAPACITY_FIELDS & values.keys()} if before else None
            service = await _upsert(
                session, Service, svc_spec.slug, values, summary, "services", created_at=now, updated_at=now
            )
            given = {k: v for k, v in values.items() if k in CAPACITY_FIELDS and v is not None}
            if given and figures != {k: values[k] for k in CAPACITY_FIELDS & values.keys()}:
                stamp_capacity(service, actor=IMPORT_ACTOR, at=svc_spec.capacity_updated_at or now)
    leftover = await session.scalars(sa.select(Service).where(Service.slug.not_in(in_file), Service.status == "active"))
    for service in leftover:
        service.status = "inactive"
        service.updated_at = now
        summary.retired_services.append(service.slug)
    await session.flush()
    return summary


async def _upsert(
    session: AsyncSession,
    model: type,
    slug: str,
    values: dict[str, Any],
    summary: ImportSummary,
    bucket: str,
    **on_create: Any,
) -> Any:
    row = await session.scalar(sa.select(model).where(model.slug == slug))
    if row is None:
        row = model(slug=slug, **values, **on_create)
        session.add(row)
        await session.flush()
        summary.created[bucket] += 1
        return row
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(row, key, value)
        if hasattr(row, "updated_at"):
            row.updated_at = on_create.get("updated_at", row.updated_at)
        summary.updated[bucket] += 1
    return row


class DirectoryImportResult(BaseModel):
    summary: str
