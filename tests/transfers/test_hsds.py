"""The directory as Open Referral HSDS 3 JSON: exported, re-imported into an empty database and
exported again gives the same document; a file with unknown references or a bad schedule is
refused, naming them, with nothing written."""

from __future__ import annotations

import copy
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app import cli
from app.core.db import session_scope
from tests.conftest import DEMO_DIRECTORY, _empty_tables, load_demo_directory
from transfers.directory.hsds import REQUIRED, check_structure, hsds_to_directory
from transfers.directory.importer import DirectoryFileError, import_directory
from transfers.directory.models import Locality, NeedCategory, Organisation, Service


async def _export(harness, username: str = "jo") -> dict:
    await harness.add_user(username, "supervisor")
    client = await harness.signed_in(username)
    response = await client.get("/api/directory/hsds")
    assert response.status_code == 200, response.text
    return response.json()


async def _counts(harness) -> tuple[int, ...]:
    async with session_scope(harness.runtime) as session:
        return tuple(
            [
                await session.scalar(sa.select(sa.func.count()).select_from(m))
                for m in (NeedCategory, Locality, Organisation, Service)
            ]
        )


async def _directory(harness) -> list[dict]:
    """What the admin page shows of each service, without the database's own ids."""
    client = await harness.signed_in("jo")
    services = (await client.get("/api/directory/services")).json()
    return [{k: v for k, v in s.items() if k not in ("id", "organisation_id")} for s in services]


async def test_the_demo_directory_round_trips_through_hsds_into_an_empty_database(harness, db_url):
    await load_demo_directory(harness)
    first = await _export(harness)
    shown = await _directory(harness)
    assert check_structure(first) == []
    ca_money = next(s for s in first["services"] if s["x-openline"]["slug"] == "ca-money")
    assert ca_money["status"] == "active" and ca_money["schedules"][0]["freq"] == "WEEKLY"
    assert {"byday", "opens_at", "closes_at"} <= set(ca_money["schedules"][0])
    assert ca_money["attributes"][0]["taxonomy_term_id"] in {t["id"] for t in first["taxonomy_terms"]}
    assert ca_money["organization_id"] in {o["id"] for o in first["organizations"]}
    assert any(p["type"] == "voice" for s in first["services"] for p in s["phones"])
    assert "targets" in ca_money["x-openline"]

    await _empty_tables(db_url)
    assert await _counts(harness) == (0, 0, 0, 0)
    async with session_scope(harness.runtime) as session:
        await import_directory(session, hsds_to_directory(json.loads(json.dumps(first))))
    second = await _export(harness)
    assert second == first
    # The same directory, not only the same document: hours, targets, live lines, ages, areas.
    assert await _directory(harness) == shown
    assert len(second["services"]) == len(first["services"]) > 10


def _refused(document: dict) -> list[str]:
    with pytest.raises(DirectoryFileError) as refused:
        hsds_to_directory(document)
    return refused.value.problems


async def test_unknown_references_and_bad_schedules_are_refused_with_nothing_written(harness):
    await load_demo_directory(harness)
    good = await _export(harness)
    before = await _counts(harness)

    orphan = copy.deepcopy(good)
    orphan["services"][0]["organization_id"] = "00000000-0000-4000-8000-000000000000"
    orphan["services"][1]["service_areas"] = [{"id": "x", "name": "Atlantis", "uri": "urn:openline:locality:atlantis"}]
    problems = _refused(orphan)
    assert any("unknown organization '00000000-0000-4000-8000-000000000000'" in p for p in problems)
    assert any("unknown service area 'Atlantis'" in p for p in problems)

    bad_hours = copy.deepcopy(good)
    bad_hours["services"][0]["schedules"] = [{"id": "s", "byday": "MO,XX", "opens_at": "09:00", "closes_at": "17:00"}]
    bad_hours["services"][1]["schedules"] = [{"id": "t", "byday": "MO", "opens_at": "17:00", "closes_at": "09:00"}]
    problems = _refused(bad_hours)
    assert any("byday 'MO,XX'" in p for p in problems)
    assert any("opening hours run backwards" in p for p in problems)

    # The same checks as the YAML import: an age range upside down.
    upside_down = copy.deepcopy(good)
    upside_down["services"][0] |= {"minimum_age": 60, "maximum_age": 18}
    assert any("age range is upside down" in p for p in _refused(upside_down))

    missing = copy.deepcopy(good)
    del missing["organizations"][0]["name"]
    assert _refused(missing) == ["organizations[0]: organization needs name (a string)"]
    assert _refused([]) == ["the file is not a JSON object with organizations and services"]
    assert await _counts(harness) == before


def test_the_structural_check_knows_hsds_required_fields():
    assert REQUIRED["service"] == ("id", "name", "status")
    assert check_structure({"services": [{"id": "a", "name": "A", "status": "open"}]}) == [
        "services[0]: status 'open' is not one of active, inactive, defunct, temporarily closed"
    ]


@pytest.mark.parametrize("role,allowed", [("admin", True), ("supervisor", True), ("listener", False)])
async def test_the_hsds_export_is_for_admins_and_supervisors(harness, role, allowed):
    await harness.add_user("someone", role)
    client = await harness.signed_in("someone")
    assert (await client.get("/api/directory/hsds")).status_code == (200 if allowed else 403)


async def test_partners_cannot_read_the_hsds_export(harness):
    organisations = await load_demo_directory(harness)
    await harness.add_user("ca-worker", "partner", organisation_id=organisations["citizens-advice"])
    client = await harness.signed_in("ca-worker")
    assert (await client.get("/api/directory/hsds")).status_code == 403
    assert (await harness.client().get("/api/directory/hsds")).status_code == 401


def test_the_cli_exports_and_imports_hsds_all_or_nothing(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path / 'openline.db'}"
    for name in ("OPENLINE_ENVIRONMENT", "OPENLINE_SECRET_KEY", "OPENLINE_DATA_KEY", "OPENLINE_TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENLINE_DATABASE_URL", url)
    monkeypatch.setattr(cli, "DEMO_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(cli.cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli.cli, ["directory", "import", str(DEMO_DIRECTORY)]).exit_code == 0
    exported = tmp_path / "directory.json"
    result = runner.invoke(cli.cli, ["directory", "export-hsds", str(exported)])
    assert result.exit_code == 0, result.output
    document = json.loads(exported.read_text())

    again = runner.invoke(cli.cli, ["directory", "import-hsds", str(exported)])
    assert again.exit_code == 0, again.output
    assert again.output.count("0 new, 0 changed") == 4 and "inactive" not in again.output, again.output

    document["services"][0]["organization_id"] = "nobody"
    document["services"][0]["name"] = "Renamed, but never written"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    refused = runner.invoke(cli.cli, ["directory", "import-hsds", str(broken)])
    assert refused.exit_code == 1 and "unknown organization 'nobody'" in refused.output
    assert "nothing imported" in refused.output
    (tmp_path / "not.json").write_text("{organizations: [")
    not_json = runner.invoke(cli.cli, ["directory", "import-hsds", str(tmp_path / "not.json")])
    assert not_json.exit_code == 1 and "not valid JSON" in not_json.output
    unchanged = tmp_path / "unchanged.json"
    assert runner.invoke(cli.cli, ["directory", "export-hsds", str(unchanged)]).exit_code == 0
    assert "Renamed" not in unchanged.read_text()


async def test_a_councils_file_without_our_extension_loads_with_slugs_from_its_names(harness):
    council = {
        "service_areas": [{"id": "a1", "name": "Mendip"}],
        "taxonomy_terms": [{"id": "t1", "name": "Housing", "description": "Somewhere to live"}],
        "organizations": [{"id": "o1", "name": "Mendip Housing Trust", "description": ""}],
        "services": [
            {
                "id": "s1",
                "organization_id": "o1",
                "name": "Housing Advice Line",
                "status": "active",
                "attributes": [{"id": "x1", "taxonomy_term_id": "t1"}],
                "service_areas": [{"id": "sa1", "name": "Mendip"}],
                "schedules": [{"id": "h1", "byday": "MO,TU,WE,TH,FR", "opens_at": "09:00:00", "closes_at": "17:00:00"}],
            }
        ],
    }
    async with session_scope(harness.runtime) as session:
        await import_directory(session, hsds_to_directory(council))
    exported = await _export(harness)
    (service,) = exported["services"]
    assert service["x-openline"]["slug"] == "housing-advice-line"
    assert service["service_areas"][0]["uri"] == "urn:openline:locality:mendip"
    assert service["schedules"][0] | {"id": None} == {
        "id": None,
        "service_id": service["id"],
        "freq": "WEEKLY",
        "wkst": "MO",
        "byday": "MO,TU,WE,TH,FR",
        "opens_at": "09:00",
        "closes_at": "17:00",
    }
    assert [t["code"] for t in exported["taxonomy_terms"]] == ["housing"]


async def test_live_capacity_travels_as_service_capacity_and_the_band_under_our_extension(harness, db_url):
    organisations = await load_demo_directory(harness)
    await harness.add_user("ca-worker", "partner", organisation_id=organisations["citizens-advice"])
    worker = await harness.signed_in("ca-worker")
    async with session_scope(harness.runtime) as session:
        ca = await session.scalar(sa.select(Service.id).where(Service.slug == "ca-money"))
    figures = {"spaces": 3, "maximum": 12, "waiting_list": "1-4-weeks"}
    assert (await worker.patch(f"/api/partner/v1/services/{ca}", json=figures)).status_code == 200
    given_at = harness.clock.now()
    harness.clock.advance(hours=5)
    first = await _export(harness)
    assert check_structure(first) == []
    ca_money = next(s for s in first["services"] if s["x-openline"]["slug"] == "ca-money")
    (capacity,) = ca_money["capacities"]
    assert capacity["available"] == 3 and capacity["maximum"] == 12
    assert capacity["updated"] == given_at.isoformat() and {"id", "name"} <= set(capacity["unit"])
    assert ca_money["x-openline"]["waiting_list"] == "1-4-weeks"
    # A maximum with no figure for places now cannot be a service_capacity (available is required).
    befriending = next(s for s in first["services"] if s["x-openline"]["slug"] == "ageuk-befriending")
    assert befriending["capacities"] == [] and befriending["x-openline"]["capacity_maximum"] == 60

    shown = await _directory(harness)
    await _empty_tables(db_url)
    async with session_scope(harness.runtime) as session:
        await import_directory(session, hsds_to_directory(json.loads(json.dumps(first))))
    assert await _export(harness) == first
    # The figures keep the time they were given, not the time of the import: stale stays stale.
    (before,) = [s for s in shown if s["slug"] == "ca-money"]
    (after,) = [s for s in await _directory(harness) if s["slug"] == "ca-money"]
    assert before.pop("capacity_updated_by") == "user:ca-worker"
    assert after.pop("capacity_updated_by") == "directory import"
    assert after == before and after["capacity_updated_at"] == given_at.isoformat()


def test_a_service_capacity_without_its_required_fields_is_refused():
    service = {"id": "s", "name": "S", "status": "active", "organization_id": "o"}
    bad = {"services": [service | {"capacities": [{"id": "c", "maximum": 5}]}]}
    assert check_structure(bad) == [
        "services[0].capacities[0]: service_capacity needs updated (a string)",
        "services[0].capacities[0]: service_capacity needs available (a number)",
        "services[0].capacities[0]: service_capacity needs unit (a unit object)",
    ]
    unit = {"id": "c", "available": 2, "updated": "2026-11-23T10:00:00+00:00", "unit": {"id": "u"}}
    assert check_structure({"services": [service | {"capacities": [unit]}]}) == [
        "services[0].capacities[0].unit[0]: unit needs name (a string)"
    ]
