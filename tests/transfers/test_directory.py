import pytest
import sqlalchemy as sa

from app.core.db import session_scope
from tests.conftest import DEMO_DIRECTORY
from transfers.directory.importer import DirectoryFileError, import_directory, parse_directory
from transfers.directory.models import NeedCategory, Organisation, Service

SMALL = """\
need_categories:
  - {slug: money, label: Money}
  - {slug: housing, label: Housing}
localities:
  - {slug: mendip, name: Mendip}
organisations:
  - slug: ca
    name: Citizens Advice
    services:
      - slug: ca-money
        name: Money advice
        needs: [money]
        min_age: 18
        hours: [{days: weekdays, opens: "09:00", closes: "17:00"}]
      - slug: mendip-team
        name: Mendip team
        locality_team_for: mendip
        areas: [mendip]
        hours: [{days: daily, opens: "00:00", closes: "24:00"}]
"""


async def _counts(runtime):
    async with session_scope(runtime) as session:
        return tuple(
            [
                await session.scalar(sa.select(sa.func.count()).select_from(m))
                for m in (NeedCategory, Organisation, Service)
            ]
        )


async def test_demo_directory_imports_and_reimport_changes_nothing(harness):
    directory = parse_directory(DEMO_DIRECTORY.read_text())
    async with session_scope(harness.runtime) as session:
        first = await import_directory(session, directory)
    assert first.created["organisations"] >= 12 and first.created["services"] >= 16
    before = await _counts(harness.runtime)
    async with session_scope(harness.runtime) as session:
        again = await import_directory(session, directory)
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0 and not again.retired_services
    assert await _counts(harness.runtime) == before
    async with session_scope(harness.runtime) as session:
        hubs = (
            await session.scalars(sa.select(Service.locality_team_for).where(Service.locality_team_for.is_not(None)))
        ).all()
    assert sorted(hubs) == ["mendip", "sedgemoor", "somerset-west-taunton", "south-somerset"]


async def test_reimport_updates_and_retires_what_left_the_file(harness):
    async with session_scope(harness.runtime) as session:
        await import_directory(session, parse_directory(SMALL))
    changed = SMALL.replace("name: Money advice", "name: Money and debt advice").replace(
        "      - slug: ca-money\n", "      - slug: ca-debt\n"
    )
    async with session_scope(harness.runtime) as session:
        summary = await import_directory(session, parse_directory(changed))
    assert summary.created["services"] == 1 and summary.retired_services == ["ca-money"]
    async with session_scope(harness.runtime) as session:
        old = await session.scalar(sa.select(Service).where(Service.slug == "ca-money"))
    assert old.status == "inactive"


@pytest.mark.parametrize(
    "mutation,line,message",
    [
        (("min_age: 18", "min_age: 18\n        max_age: 12"), 10, "upside down"),
        (("needs: [money]", "needs: [moneyy]"), 12, "unknown need 'moneyy'"),
        (("areas: [mendip]", "areas: [taunton]"), 18, "unknown locality 'taunton'"),
        (('opens: "09:00"', 'opens: "25:00"'), 14, "bad time"),
    ],
)
async def test_bad_file_reports_lines_and_writes_nothing(harness, mutation, line, message):
    bad = SMALL.replace(*mutation)
    with pytest.raises(DirectoryFileError) as err:
        parse_directory(bad)
    assert any(p.startswith(f"line {line}:") and message in p for p in err.value.problems), err.value.problems
    assert await _counts(harness.runtime) == (0, 0, 0)


def test_not_yaml_is_reported_with_its_line():
    with pytest.raises(DirectoryFileError, match=r"line 2: not valid YAML"):
        parse_directory("need_categories: []\n  - : [\n")


def test_duplicate_service_slugs_are_refused():
    doubled = SMALL.replace("slug: mendip-team", "slug: ca-money")
    with pytest.raises(DirectoryFileError, match="appears twice"):
        parse_directory(doubled)


async def test_admin_crud_and_bad_input(harness):
    async with session_scope(harness.runtime) as session:
        await import_directory(session, parse_directory(SMALL))
    await harness.add_user("admin", "admin")
    client = await harness.signed_in("admin")
    org = (await client.post("/api/directory/organisations", json={"slug": "sweda", "name": "SWEDA"})).json()
    spec = {
        "organisation_id": org["id"],
        "slug": "sweda-support",
        "name": "Eating disorder support",
        "needs": ["money"],
        "min_age": 11,
        "hours": [{"days": "tue,thu", "opens": "09:00", "closes": "20:00"}],
        "targets": {"accept_hours": 16, "contact_hours": 40, "urgent_accept_hours": 4, "urgent_contact_hours": 16},
    }
    created = await client.post("/api/directory/services", json=spec)
    assert created.status_code == 201 and created.json()["organisation"] == "SWEDA"
    service_id = created.json()["id"]
    assert (await client.patch(f"/api/directory/services/{service_id}", json={"capacity": 30})).json()["capacity"] == 30

    upside_down = await client.patch(f"/api/directory/services/{service_id}", json={"max_age": 5})
    assert upside_down.status_code == 422 and "upside down" in upside_down.text
    missing_org = await client.post("/api/directory/services", json=spec | {"slug": "x", "organisation_id": 999})
    assert missing_org.status_code == 422 and missing_org.json()["detail"][0]["field"] == "organisation_id"
    unknown_need = await client.post("/api/directory/services", json=spec | {"slug": "y", "needs": ["magic"]})
    assert unknown_need.status_code == 422 and unknown_need.json()["detail"][0]["field"] == "needs"
    duplicate = await client.post("/api/directory/services", json=spec)
    assert duplicate.status_code == 409
    garbage = await client.post(
        "/api/directory/services", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 422
    retired = await client.delete(f"/api/directory/services/{service_id}")
    assert retired.json()["status"] == "defunct"
    assert (await client.get(f"/api/directory/services/{service_id}")).json()["capacity"] == 30


async def test_an_organisation_s_website_and_contact_are_checked_alike_in_the_file_and_the_admin_api(harness):
    bad_file = SMALL.replace("    name: Citizens Advice\n", "    name: Citizens Advice\n    website: citizensadvice\n")
    with pytest.raises(DirectoryFileError) as err:
        parse_directory(bad_file)
    assert any("web address starting https://" in p for p in err.value.problems), err.value.problems
    async with session_scope(harness.runtime) as session:
        await import_directory(session, parse_directory(SMALL))
    await harness.add_user("admin", "admin")
    client = await harness.signed_in("admin")
    [org] = (await client.get("/api/directory/organisations")).json()
    refused = await client.patch(
        f"/api/directory/organisations/{org['id']}", json={"website": "citizensadvice", "email": "not an address"}
    )
    assert refused.status_code == 422
    assert {item["field"] for item in refused.json()["detail"]} == {"website", "email"}
    assert (await client.get("/api/directory/organisations")).json()[0]["website"] is None
    changed = await client.patch(
        f"/api/directory/organisations/{org['id']}",
        json={"name": "Citizens Advice Mendip", "website": "https://ca.example.org", "email": "team@ca.example.org"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() | {"id": 0} == {
        "id": 0,
        "slug": "ca",
        "name": "Citizens Advice Mendip",
        "description": "",
        "website": "https://ca.example.org",
        "email": "team@ca.example.org",
        "charity_number": None,
        "webhook_url": None,
    }


async def test_a_service_s_targets_and_locality_team_change_with_the_import_s_checks(harness):
    async with session_scope(harness.runtime) as session:
        await import_directory(session, parse_directory(SMALL))
    await harness.add_user("admin", "admin")
    client = await harness.signed_in("admin")
    money = [s for s in (await client.get("/api/directory/services")).json() if s["slug"] == "ca-money"][0]
    path = f"/api/directory/services/{money['id']}"
    zero = await client.patch(path, json={"targets": {"urgent_accept_hours": 0}})
    assert zero.status_code == 422 and zero.json()["detail"][0]["field"] == "targets.urgent_accept_hours"
    nowhere = await client.patch(path, json={"locality_team_for": "atlantis"})
    assert nowhere.status_code == 422 and nowhere.json()["detail"][0]["field"] == "locality_team_for"
    targets = {"accept_hours": 12, "contact_hours": 48, "urgent_accept_hours": 1, "urgent_contact_hours": 8}
    changed = await client.patch(path, json={"targets": targets, "locality_team_for": "mendip"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["targets"] == targets and changed.json()["locality_team_for"] == "mendip"
