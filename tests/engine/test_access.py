"""Who may see whose processes: self, managers up the line, HR partners, HR administrators."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.base.models import ProcessInstance
from engine.people.directory import DirectorySnapshot, PersonInfo, UnitInfo
from engine.workflow.access import (
    can_view_instance,
    can_view_subject,
    describe_hr_scope,
    hr_units,
    outside_hr_scope,
    partnered_units,
    visible_subject_ids,
)

CEO, ENG_MANAGER, DEV, SALES_MANAGER, REP, PARTNER, HR_ADMIN, PEER_DEV, OUTSIDER = range(1, 10)
ENG, PLATFORM, SALES = 1, 2, 3


@dataclass(frozen=True)
class Someone:
    person_id: int
    groups: frozenset[str] = frozenset()


def person(pid: int, key: str, unit: int | None, manager: int | None, *groups: str) -> PersonInfo:
    return PersonInfo(id=pid, key=key, name=key, org_unit_id=unit, manager_id=manager,
                      groups=frozenset(groups))


@pytest.fixture
def directory() -> DirectorySnapshot:
    """Engineering (with a platform sub-unit, partnered by H1) and Sales (no partner)."""
    people = [
        person(CEO, "CEO", None, None),
        person(ENG_MANAGER, "ENGM", ENG, CEO),
        person(DEV, "DEV", PLATFORM, ENG_MANAGER),
        person(SALES_MANAGER, "SALESM", SALES, CEO),
        person(REP, "REP", SALES, SALES_MANAGER),
        person(PARTNER, "H1", None, CEO, "hr"),
        person(HR_ADMIN, "H2", None, CEO, "hr"),
        person(PEER_DEV, "DEV2", PLATFORM, ENG_MANAGER),
        # Named as a unit's partner, but not in HR: that gives no access.
        person(OUTSIDER, "X1", SALES, SALES_MANAGER),
    ]
    units = [
        UnitInfo(id=ENG, code="ENG", name="Engineering", attributes={"hr_partner": "H1"}),
        UnitInfo(id=PLATFORM, code="PLAT", name="Platform", parent_id=ENG),
        UnitInfo(id=SALES, code="SALES", name="Sales", attributes={"hr_partner": "person:X1"}),
    ]
    return DirectorySnapshot(
        version=1, people={p.id: p for p in people}, units={u.id: u for u in units}
    )


def sees(directory: DirectorySnapshot, viewer: int, subject: int) -> bool:
    return can_view_subject(viewer, directory.people[viewer].groups, subject, directory)


def test_an_employee_sees_their_own_processes_but_not_a_peers(directory):
    assert sees(directory, DEV, DEV)
    assert not sees(directory, DEV, PEER_DEV)
    assert not sees(directory, DEV, ENG_MANAGER)


def test_a_manager_sees_direct_and_indirect_reports_but_not_a_peer_managers_team(directory):
    assert sees(directory, ENG_MANAGER, DEV)
    assert sees(directory, CEO, DEV)
    assert sees(directory, CEO, REP)
    assert not sees(directory, ENG_MANAGER, REP)
    assert not sees(directory, ENG_MANAGER, SALES_MANAGER)
    assert not sees(directory, SALES_MANAGER, DEV)


def test_an_hr_partner_sees_their_units_and_sub_units_only(directory):
    assert partnered_units(PARTNER, directory) == [ENG]
    assert sees(directory, PARTNER, ENG_MANAGER)
    assert sees(directory, PARTNER, DEV)  # in the platform sub-unit
    assert not sees(directory, PARTNER, REP)
    assert not sees(directory, PARTNER, HR_ADMIN)


def test_an_hr_member_who_partners_no_unit_administers_everyone(directory):
    for subject in (CEO, DEV, REP, PARTNER):
        assert sees(directory, HR_ADMIN, subject)
    assert visible_subject_ids(Someone(HR_ADMIN, frozenset({"hr"})), directory) is None


def test_being_named_partner_without_being_in_hr_gives_nothing(directory):
    assert not sees(directory, OUTSIDER, REP)
    assert visible_subject_ids(Someone(OUTSIDER), directory) == {OUTSIDER}


def test_visible_subject_ids_lists_exactly_whom_each_role_sees(directory):
    assert visible_subject_ids(Someone(DEV), directory) == {DEV}
    assert visible_subject_ids(Someone(ENG_MANAGER), directory) == {ENG_MANAGER, DEV, PEER_DEV}
    assert visible_subject_ids(Someone(CEO), directory) == set(directory.people)
    partner = Someone(PARTNER, frozenset({"hr"}))
    assert visible_subject_ids(partner, directory) == {PARTNER, ENG_MANAGER, DEV, PEER_DEV}


def test_an_hr_partner_acts_as_hr_only_for_the_people_of_their_units(directory):
    partner = Someone(PARTNER, frozenset({"hr"}))
    assert hr_units(PARTNER, directory) == {ENG, PLATFORM}
    assert describe_hr_scope(PARTNER, directory) == "Engineering (ENG)"
    everyone = [directory.people[pid] for pid in (REP, DEV, CEO, ENG_MANAGER)]
    assert [p.key for p in outside_hr_scope(partner, everyone, directory)] == ["REP", "CEO"]


def test_an_hr_admin_and_people_outside_hr_are_not_held_to_a_partners_units(directory):
    everyone = list(directory.people.values())
    assert hr_units(HR_ADMIN, directory) is None
    assert outside_hr_scope(Someone(HR_ADMIN, frozenset({"hr"})), everyone, directory) == []
    # Named partner of Sales but not in HR: HR's scope is not theirs to have.
    assert outside_hr_scope(Someone(OUTSIDER), everyone, directory) == []


def test_a_process_without_subject_is_seen_by_its_starter_and_hr_admins_only(db, directory):
    instance = ProcessInstance(id=1, subject_id=None, starter_id=REP, process_id="x")
    groups = {pid: p.groups for pid, p in directory.people.items()}
    assert can_view_instance(REP, groups[REP], instance, directory)
    assert can_view_instance(HR_ADMIN, groups[HR_ADMIN], instance, directory)
    assert not can_view_instance(PARTNER, groups[PARTNER], instance, directory)
    assert not can_view_instance(CEO, groups[CEO], instance, directory)


async def test_whoever_holds_a_task_of_an_instance_sees_it(db) -> None:
    from pathlib import Path

    from engine.base.errors import NotFound
    from engine.base.models import HumanTask
    from engine.packs.definitions import deploy_pack
    from engine.people.directory import current_directory
    from engine.people.org_import import import_org
    from engine.workflow import runtime
    from engine.workflow.access import visible_instance

    await import_org(
        "employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
        "parent_org_unit_code,manager_id,groups\n"
        "M1,Morgan Manager,m@example.com,Lead,people_manager,ORG,Org,,,\n"
        "E1,Eve Employee,e@example.com,Engineer,engineering,ORG,Org,,M1,\n"
        "E2,Eli Peer,p@example.com,Engineer,engineering,ORG,Org,,M1,\n"
        "E3,Ezra Other,o@example.com,Engineer,engineering,ORG,Org,,M1,\n"
    )
    standard = Path(__file__).resolve().parents[2] / "processes" / "standard"
    await deploy_pack(standard, "test", search=[standard.parent])
    # This instance's reviews go to a peer instead of the manager.
    inst = await runtime.start_process(
        "objective_setting", subject="E1", actor=await runtime.actor_for("M1"),
        data={"lane_owners": {"Manager": ["E2"]}},
    )
    draft = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
    await runtime.complete_task(
        draft.id, await runtime.actor_for("E1"),
        {"objectives": [{"kra": "K", "title": "T", "target": 1, "weight": 100}], "comments": ""},
    )
    directory = await current_directory()
    peer, other = directory.person("E2"), directory.person("E3")
    assert (await visible_instance(inst.id, peer.id, peer.groups, directory)).id == inst.id
    with pytest.raises(NotFound):
        await visible_instance(inst.id, other.id, other.groups, directory)
