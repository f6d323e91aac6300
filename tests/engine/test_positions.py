"""Position profiles: seeded from the pack's catalog, edited by HR, and a person's position
from the org import."""

from __future__ import annotations

import pytest

from engine.base.models import Person, Position
from engine.people.directory import current_directory, forget_directory
from engine.people.org_import import import_org
from engine.talent import positions
from engine.talent.positions import PositionInvalid, ProfileInput
from tests.support.org import ORG_DANA, ORG_ELI, ORG_EVE, ORG_HANA, ORG_MORGAN, org_csv


async def test_deploying_the_standard_pack_seeds_its_positions_and_family_profiles(
    standard: None,
) -> None:
    found = {p.code: p for p in await positions.list_positions()}

    engineer = found["senior_software_engineer"]
    assert engineer.title == "Senior software engineer"
    assert engineer.requirements["technical_mastery"] == 4
    assert engineer.is_key and engineer.origin == "pack:standard"
    assert "System design and architecture trade-offs" in engineer.knowledge
    # A generic profile per job family, for people without a position.
    assert found["family:engineering"].generic
    assert sum(p.is_key for p in found.values()) == 3
    assert len([p for p in found.values() if not p.generic]) == 8


async def test_a_profile_hr_edited_is_never_overwritten_by_the_pack(standard: None) -> None:
    await positions.list_positions()
    edited = ProfileInput.of(await positions.get_position("software_engineer"))
    edited.requirements["communication"] = "4"
    await positions.update_position("software_engineer", edited, "person:H1")
    # A later seed (a redeploy) updates the pack's own rows, not HR's.
    await Position.filter(code="finance_analyst").update(title="Old title")

    report = await positions.seed_deployed()

    assert "software_engineer" in report.kept
    assert "finance_analyst" in report.updated
    mine = await positions.get_position("software_engineer")
    assert mine is not None and mine.requirements["communication"] == 4
    assert mine.origin == "app" and mine.updated_by == "person:H1"
    finance = await positions.get_position("finance_analyst")
    assert finance is not None and finance.title == "Finance analyst"


async def test_bad_input_gets_an_error_per_field_and_nothing_is_stored(standard: None) -> None:
    typed = ProfileInput(code="data_scientist", title="  ",
                         requirements={"communication": "7", "astrology": "3",
                                       "problem_solving": "4"})

    with pytest.raises(PositionInvalid) as raised:
        await positions.create_position(typed, "person:H1")

    problems = {k: str(v) for k, v in raised.value.problems.items()}
    assert problems["title"] == "Give the position a title."
    assert problems["requirements.communication"] == (
        "Communication: choose a level from 1 to 5, not 7.")
    assert problems["requirements.astrology"] == "astrology is not a competency of the framework."
    assert await positions.get_position("data_scientist") is None


async def test_hr_creates_and_retires_a_position(standard: None) -> None:
    created = await positions.create_position(ProfileInput(
        code="data_scientist", title="Data scientist", job_family="engineering",
        requirements={"problem_solving": "4", "communication": "3"},
        knowledge="Statistics\n\nMachine learning\n", skills="Python"), "person:H1")

    assert created.requirements == {"problem_solving": 4, "communication": 3}
    assert created.knowledge == ("Statistics", "Machine learning")
    with pytest.raises(PositionInvalid) as again:
        await positions.create_position(ProfileInput(
            code="data_scientist", title="Twice", requirements={"coaching": "2"}), "person:H1")
    assert "exists already" in str(again.value.problems["code"])

    await positions.set_active("data_scientist", False, "person:H1")

    assert "data_scientist" not in {p.code for p in await positions.list_positions()}
    assert "data_scientist" in {p.code for p in await positions.list_positions(retired=True)}


async def test_the_org_import_sets_a_position_and_refuses_an_unknown_one(standard: None) -> None:
    await positions.list_positions()
    header = ("employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
              "parent_org_unit_code,manager_id,groups,position")

    bad = await import_org(org_csv(ORG_EVE + ",astronaut", ORG_ELI + ",software_engineer",
                                   header=header))

    assert bad.errors == ["line 2: position 'astronaut' is not a position (HR keeps them at "
                          "/positions)"]
    assert (await Person.get(key="E2")).position == ""

    good = await import_org(org_csv(ORG_EVE + ",senior_software_engineer",
                                    ORG_ELI + ",software_engineer", header=header))

    assert good.ok, good.errors
    forget_directory()
    directory = await current_directory()
    assert directory.person("E1").position == "senior_software_engineer"  # type: ignore[union-attr]
    # A file without the column leaves positions alone.
    assert (await import_org(org_csv(ORG_DANA, ORG_MORGAN, ORG_EVE, ORG_HANA))).ok
    assert (await Person.get(key="E1")).position == "senior_software_engineer"


async def test_someone_without_a_position_is_measured_against_their_family(
    standard: None,
) -> None:
    found = positions.by_code(await positions.list_positions(retired=True))
    directory = await current_directory()
    eve, hana = directory.person("E1"), directory.person("H1")
    assert eve is not None and hana is not None

    assert positions.profile_for(eve, found, "individual_contributor").code == (  # type: ignore[union-attr]
        "family:engineering")
    # A family without a generic profile: the framework's default family's.
    other = positions.profile_for(
        type(hana)(id=99, key="Z", name="Z", job_family="finance"), found,
        "individual_contributor")
    assert other is not None and other.code == "family:individual_contributor"
