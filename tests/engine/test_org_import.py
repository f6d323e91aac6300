"""Org-chart CSV import: creation, in-place re-import, all-or-nothing validation."""

from __future__ import annotations

from pathlib import Path

from engine.base.models import DirectoryVersion, GroupMembership, OrgUnit, Person
from engine.people.directory import load_directory
from engine.people.org_import import import_org

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


async def counts() -> tuple[int, int, int]:
    return (
        await Person.all().count(),
        await OrgUnit.all().count(),
        await GroupMembership.all().count(),
    )


async def test_import_creates_people_units_managers_and_groups(db: str) -> None:
    report = await import_org(fixture("org_small.csv"))

    assert report.ok, str(report)
    assert (report.created, report.updated, report.units_created) == (7, 0, 4)
    assert "7 created" in str(report)
    directory = await load_directory()
    ada = directory.person("E2")
    assert ada is not None and ada.email == "ada@acme.test" and ada.title == "Engineer"
    # E2's manager E3 is defined on a later line of the file.
    assert directory.manager_of("E2").key == "E3"
    assert directory.skip_level_of("E2").key == "E1"
    assert directory.person("E5").groups == {"hr", "designer"}
    assert directory.person("E6").active is False
    eng = directory.unit(ada.org_unit_id)
    assert (eng.code, eng.name) == ("ENG", "Engineering")
    assert directory.unit(eng.parent_id).code == "ACME"
    assert directory.people[eng.head_id].key == "E3"
    assert eng.attributes == {"hr_partner": "E5"}
    assert directory.unit_by_code("ACME").attributes == {"hr_partner": "group:hr"}
    assert directory.unit(directory.unit_by_code("ENG-PLAT").parent_id).code == "ENG"


async def test_reimport_updates_in_place_without_duplicates(db: str) -> None:
    await import_org(fixture("org_small.csv"))
    before = await load_directory()

    report = await import_org(fixture("org_reimport.csv"))

    assert report.ok, str(report)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert await Person.filter(key="E2").count() == 1
    assert await Person.all().count() == 8
    after = await load_directory()
    ada = after.person("E2")
    assert ada.title == "Staff Engineer"
    assert after.manager_of("E2").key == "E7"
    assert ada.groups == {"hr"}
    # Columns absent from the file keep their values; people absent from the file are untouched.
    assert ada.email == "ada@acme.test" and ada.job_family == "engineering"
    assert after.person("E5") == before.person("E5")
    assert after.person("E8").org_unit_id == after.unit_by_code("ENG-PLAT").id
    assert ada.id == before.person("E2").id


async def test_reimport_can_deactivate_and_move_groups(db: str) -> None:
    await import_org(fixture("org_small.csv"))
    report = await import_org("employee_id,name,groups,active\nE5,Frances Allen,designer,no\n")

    assert report.ok and report.updated == 1
    frances = (await load_directory()).person("E5")
    assert frances.groups == {"designer"} and frances.active is False


async def test_bad_rows_are_all_reported_and_nothing_is_written(db: str) -> None:
    await import_org(fixture("org_small.csv"))
    before = await counts()
    version = (await DirectoryVersion.get(id=1)).version

    report = await import_org(fixture("org_bad.csv"))

    assert not report.ok
    lines = {error.split(":")[0] for error in report.errors}
    assert lines == {f"line {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10)}
    text = str(report)
    assert text.startswith("Nothing imported")
    assert "line 3: missing employee_id" in text
    assert "line 4: missing name" in text
    assert "line 5: bad email 'not-an-address'" in text
    assert "line 6: duplicate employee_id 'X1' (first on line 2)" in text
    assert "line 7: manager_id 'NOBODY' is neither in the file nor in the directory" in text
    assert "line 8: parent unit 'NOWHERE' is neither in the file nor in the directory" in text
    assert "line 9: reporting cycle" in text and "line 10: reporting cycle" in text
    assert await counts() == before
    assert (await DirectoryVersion.get(id=1)).version == version


async def test_reporting_cycle_through_the_directory_is_refused(db: str) -> None:
    await import_org(fixture("org_small.csv"))

    # E1 is at the top; making E1 report to E2 (who reports to E3, who reports to E1) loops.
    report = await import_org("employee_id,name,manager_id\nE1,Grace Hopper,E2\n")

    assert report.errors == ["line 2: reporting cycle E1 → E2 → E3 → E1"]
    assert (await Person.get(key="E1")).manager_id is None


async def test_self_management_is_a_cycle(db: str) -> None:
    report = await import_org("employee_id,name,manager_id\nS1,Sam Self,S1\n")

    assert report.errors == ["line 2: reporting cycle: S1 cannot manage themselves"]
    assert await Person.all().count() == 0


async def test_unit_cycle_is_refused(db: str) -> None:
    report = await import_org(fixture("org_unit_cycle.csv"))

    assert len(report.errors) == 2
    assert all("unit cycle" in e for e in report.errors)
    assert {e.split(":")[0] for e in report.errors} == {"line 2", "line 3"}
    assert await OrgUnit.all().count() == 0


async def test_unknown_column_and_missing_name_column_are_reported(db: str) -> None:
    report = await import_org("employee_id,full_name\nE1,Grace\n")

    assert report.errors == [
        "line 1: unknown column 'full_name'",
        "line 1: missing column 'name'",
    ]


async def test_conflicting_unit_details_and_two_heads_are_reported(db: str) -> None:
    report = await import_org(
        "employee_id,name,org_unit_code,org_unit_name,unit_head\n"
        "A1,Ann,OPS,Operations,yes\n"
        "A2,Bob,OPS,Ops Team,yes\n"
    )

    assert report.errors == [
        "line 3: unit 'OPS' has name 'Ops Team' here but 'Operations' on line 2",
        "line 3: unit 'OPS' already has head 'A1' (line 2)",
    ]


async def test_import_bumps_the_directory_version(db: str) -> None:
    await import_org(fixture("org_small.csv"))
    first = (await DirectoryVersion.get(id=1)).version
    await import_org(fixture("org_reimport.csv"))

    assert (await DirectoryVersion.get(id=1)).version == first + 1
    assert (await load_directory()).version == first + 1


async def test_ten_thousand_people_import_in_bulk(db: str) -> None:
    lines = [
        "employee_id,name,email,org_unit_code,org_unit_name,parent_org_unit_code,manager_id,groups"
    ]
    lines.append("P0,Chief,p0@acme.test,U0,Unit 0,,,hr")
    for n in range(1, 10_000):
        unit = n // 100
        parent = f"U{unit // 10}" if unit else ""
        lines.append(
            f"P{n},Person {n},p{n}@acme.test,U{unit},Unit {unit},{parent},P{(n - 1) // 5},"
        )
    report = await import_org("\n".join(lines))

    assert report.ok, str(report)
    assert report.created == 10_000 and report.units_created == 100
    directory = await load_directory()
    assert len(directory.people) == 10_000
    assert directory.manager_of("P9999").key == f"P{9998 // 5}"
    assert directory.is_manager_of(directory.person("P0").id, directory.person("P9999").id)

    # A second pass renames one person and leaves the other 9,999 rows as they are.
    assert lines[5000].startswith("P4999,")
    lines[5000] = lines[5000].replace("Person 4999,", "Person 4999 (renamed),")
    again = await import_org("\n".join(lines))
    assert (again.created, again.updated, again.unchanged) == (0, 1, 9_999)
    assert (await Person.get(key="P4999")).name == "Person 4999 (renamed)"
