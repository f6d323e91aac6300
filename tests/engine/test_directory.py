"""The directory snapshot: loading, caching by version, and the questions the app asks of it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine.base.models import Person
from engine.people.directory import (
    DirectorySnapshot,
    bump_directory_version,
    current_directory,
    load_directory,
    person_by_key,
)
from engine.people.org_import import import_org

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
async def acme(db: str) -> DirectorySnapshot:
    """The small ACME org chart, imported; returns a fresh snapshot of it."""
    report = await import_org((FIXTURES / "org_small.csv").read_text())
    assert report.ok, str(report)
    return await load_directory()


def keys(people: list) -> list[str]:
    return [p.key for p in people]


async def test_load_directory_reads_people_units_and_groups(acme: DirectorySnapshot) -> None:
    assert len(acme.people) == 7 and len(acme.units) == 4
    assert acme.person("E3").groups == {"designer"}
    assert acme.members("hr") == {acme.person("E5").id}
    assert acme.version >= 1


async def test_load_directory_does_not_query_per_person(
    acme: DirectorySnapshot, caplog: pytest.LogCaptureFixture
) -> None:
    await import_org(
        "employee_id,name,manager_id,groups\n"
        + "\n".join(f"N{n},Newcomer {n},E3,designer" for n in range(200))
    )
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        snapshot = await load_directory()

    assert len(snapshot.people) == 207
    queries = [r for r in caplog.records if r.name == "tortoise.db_client"]
    # units, people, groups, logins' languages, the version: a fixed count, whatever the size.
    assert 0 < len(queries) <= 5


async def test_current_directory_is_cached_until_the_version_moves(
    acme: DirectorySnapshot,
) -> None:
    first = await current_directory()
    assert await current_directory() is first

    # A change written without a bump is not seen: the snapshot is only reloaded on a bump.
    await Person.filter(key="E2").update(title="Principal Engineer")
    assert await current_directory() is first
    assert (await current_directory()).person("E2").title == "Engineer"

    await bump_directory_version()
    reloaded = await current_directory()
    assert reloaded is not first
    assert reloaded.version == first.version + 1
    assert reloaded.person("E2").title == "Principal Engineer"


async def test_current_directory_follows_an_import(acme: DirectorySnapshot) -> None:
    before = await current_directory()
    await import_org("employee_id,name,manager_id\nE9,Hedy Lamarr,E3\n")

    after = await current_directory()
    assert after is not before
    assert after.person("E9").name == "Hedy Lamarr"
    assert (await person_by_key("E9")).manager_id == after.person("E3").id


async def test_cached_snapshot_is_not_reused_for_another_database(
    acme: DirectorySnapshot, tmp_path: Path
) -> None:
    from engine.base import db as engine_db

    assert (await current_directory()).person("E1") is not None
    await engine_db.disconnect()
    await engine_db.create_schema(f"sqlite://{tmp_path / 'other.db'}")
    for _ in range(acme.version):
        await bump_directory_version()

    # Same version number, different database: the cache must not answer.
    fresh = await current_directory()
    assert fresh.version == acme.version
    assert fresh.person("E1") is None


async def test_person_by_key(acme: DirectorySnapshot) -> None:
    assert (await person_by_key("E2")).name == "Ada Lovelace"
    assert await person_by_key("nobody") is None


async def test_skip_level_and_is_manager_of(acme: DirectorySnapshot) -> None:
    ada, alan, grace = acme.person("E2"), acme.person("E3"), acme.person("E1")

    assert acme.skip_level_of("E2") == grace
    assert acme.skip_level_of("E3") is None
    assert acme.is_manager_of(alan.id, ada.id)
    assert acme.is_manager_of(grace.id, ada.id)
    assert not acme.is_manager_of(grace.id, ada.id, indirect=False)
    assert not acme.is_manager_of(ada.id, alan.id)
    assert not acme.is_manager_of(ada.id, ada.id)


async def test_people_in_unit_with_and_without_subunits(acme: DirectorySnapshot) -> None:
    eng = acme.unit_by_code("ENG")
    acme_corp = acme.unit_by_code("ACME")

    assert keys(acme.people_in_unit(eng.id)) == ["E2", "E3", "E4"]  # E6 is inactive
    assert keys(acme.people_in_unit(eng.id, include_inactive=True)) == ["E2", "E3", "E4", "E6"]
    assert keys(acme.people_in_unit(eng.id, include_subunits=True)) == ["E2", "E3", "E7", "E4"]
    assert len(acme.people_in_unit(acme_corp.id, include_subunits=True)) == 6
    assert keys(acme.people_in_unit(acme_corp.id)) == ["E1"]


async def test_people_with_job_family(acme: DirectorySnapshot) -> None:
    assert keys(acme.people_with_job_family("engineering")) == ["E2", "E3", "E7", "E4"]
    assert keys(acme.people_with_job_family("hr")) == ["E5"]
    assert acme.people_with_job_family("sales") == []
