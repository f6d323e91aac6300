"""Lane resolution and who may act on a task."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.people.assignment import (
    Assignment,
    Resolver,
    ResolverError,
    may_act,
    parse_resolver,
    resolve_lane,
)
from engine.people.directory import DirectorySnapshot, PersonInfo, UnitInfo, load_directory
from engine.people.org_import import import_org

LANES = {
    "Employee": "subject",
    "Manager": "subject.manager",
    "Skip-level manager": "subject.manager.manager",
    "HR partner": "subject.org_unit.hr_partner",
    "Unit head": "subject.org_unit.head",
    "Head's manager": "subject.org_unit.head.manager",
    "Initiator": "starter",
    "Initiator's manager": "starter.manager",
    "HR": "group:hr",
    "Designers": "group:designer",
    "Payroll": "group:payroll",
    "CEO": "person:E1",
    "CEO by id": "person:1",
    "Broken": "subject.boss",
}


@pytest.fixture
def directory() -> DirectorySnapshot:
    """ACME: Grace runs it, Alan heads Engineering, Margaret has left."""
    people = [
        PersonInfo(1, "E1", "Grace Hopper", org_unit_id=1),
        PersonInfo(2, "E2", "Ada Lovelace", org_unit_id=2, manager_id=3),
        PersonInfo(
            3, "E3", "Alan Turing", org_unit_id=2, manager_id=1, groups=frozenset({"designer"})
        ),
        PersonInfo(4, "E4", "Katherine Johnson", org_unit_id=2, manager_id=6),
        PersonInfo(5, "E5", "Frances Allen", org_unit_id=1, manager_id=1, groups=frozenset({"hr"})),
        PersonInfo(
            6,
            "E6",
            "Margaret Hamilton",
            org_unit_id=2,
            manager_id=3,
            active=False,
            groups=frozenset({"payroll"}),
        ),
        PersonInfo(7, "E7", "Barbara Liskov", manager_id=1),
        PersonInfo(8, "E8", "Radia Perlman", org_unit_id=3, manager_id=1),
        PersonInfo(9, "E9", "Edsger Dijkstra", org_unit_id=4, manager_id=1),
    ]
    units = [
        UnitInfo(1, "ACME", "ACME Corp", head_id=1, attributes={"hr_partner": "group:hr"}),
        UnitInfo(2, "ENG", "Engineering", parent_id=1, head_id=3, attributes={"hr_partner": "E5"}),
        UnitInfo(3, "LAB", "Research Lab", parent_id=1, attributes={"hr_partner": "E99"}),
        UnitInfo(4, "OPS", "Operations", parent_id=1, attributes={"hr_partner": "group:payroll"}),
    ]
    return DirectorySnapshot(
        version=1, people={p.id: p for p in people}, units={u.id: u for u in units}
    )


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("subject", Resolver("subject")),
        ("starter", Resolver("starter")),
        ("group:hr", Resolver("group", value="hr")),
        ("person:E1", Resolver("person", value="E1")),
        ("person:42", Resolver("person", value="42")),
        ("subject.manager", Resolver("subject", ("manager",))),
        ("subject.manager.manager", Resolver("subject", ("manager", "manager"))),
        ("starter.manager", Resolver("starter", ("manager",))),
        ("subject.org_unit.hr_partner", Resolver("subject", ("org_unit.hr_partner",))),
        ("subject.org_unit.head", Resolver("subject", ("org_unit.head",))),
        ("subject.manager.org_unit.head", Resolver("subject", ("manager", "org_unit.head"))),
        (" subject.manager ", Resolver("subject", ("manager",))),
    ],
)
def test_parse_resolver_accepts_every_form(text: str, parsed: Resolver) -> None:
    assert parse_resolver(text) == parsed
    assert str(parse_resolver(text)) == text.strip()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("manager", "is not one of"),
        ("", "is not one of"),
        ("Subject", "is not one of"),
        ("subject.boss", "unknown step 'boss'"),
        ("subject..manager", "unknown step ''"),
        ("subject.org_unit", "org_unit must be followed by .<attribute>"),
        ("subject.org_unit.9lives", "org_unit must be followed by .<attribute>"),
        ("group:", "nothing (or an odd character) after the colon"),
        ("person:a b", "nothing (or an odd character) after the colon"),
    ],
)
def test_parse_resolver_rejects_anything_else_clearly(text: str, complaint: str) -> None:
    with pytest.raises(ResolverError) as caught:
        parse_resolver(text)
    assert complaint in str(caught.value)
    assert repr(text.strip()) in str(caught.value)


@pytest.mark.parametrize(
    ("lane", "subject", "starter", "expected"),
    [
        ("Employee", 2, None, Assignment(2, None, [2])),
        ("Manager", 2, None, Assignment(3, None, [3])),
        ("Skip-level manager", 2, None, Assignment(1, None, [1])),
        ("HR partner", 2, None, Assignment(5, None, [5])),
        ("HR partner", 5, None, Assignment(None, "hr", ["group:hr"])),
        ("Unit head", 2, None, Assignment(3, None, [3])),
        ("Head's manager", 2, None, Assignment(1, None, [1])),
        ("Initiator", 2, 7, Assignment(7, None, [7])),
        ("Initiator's manager", 2, 7, Assignment(1, None, [1])),
        ("HR", 2, None, Assignment(None, "hr", ["group:hr"])),
        ("Designers", 2, None, Assignment(None, "designer", ["group:designer"])),
        ("CEO", None, None, Assignment(1, None, [1])),
        ("CEO by id", None, None, Assignment(1, None, [1])),
    ],
)
def test_each_resolver_form_names_the_right_person_or_group(
    directory: DirectorySnapshot, lane: str, subject: int, starter: int | None, expected: Assignment
) -> None:
    assert resolve_lane(lane, LANES, directory, subject, starter, None) == expected


@pytest.mark.parametrize(
    ("lane", "subject", "reason"),
    [
        (
            "Manager",
            1,
            "Lane 'Manager' (subject.manager) resolved to nobody: Grace Hopper has no manager",
        ),
        (
            "Manager",
            4,
            "Lane 'Manager' (subject.manager) resolved to nobody: "
            "Margaret Hamilton, manager of Katherine Johnson, is inactive",
        ),
        ("Skip-level manager", 1, "Grace Hopper has no manager"),
        (
            "Employee",
            6,
            "Lane 'Employee' (subject) resolved to nobody: Margaret Hamilton is inactive",
        ),
        ("Employee", 404, "the subject (person #404) is not in the directory"),
        ("Employee", None, "the process has no subject"),
        (
            "Initiator",
            2,
            "Lane 'Initiator' (starter) resolved to nobody: the process has no starter",
        ),
        ("HR partner", 7, "Barbara Liskov has no org unit"),
        ("HR partner", 8, "the hr_partner of unit Research Lab ('E99') is not in the directory"),
        ("HR partner", 9, "group 'payroll' has no active members"),
        ("Unit head", 8, "unit Research Lab (LAB) has no head"),
        (
            "Payroll",
            2,
            "Lane 'Payroll' (group:payroll) resolved to nobody: "
            "group 'payroll' has no active members",
        ),
        (
            "Marketing",
            2,
            "Lane 'Marketing' resolved to nobody: it is not mapped in the pack's [lanes]",
        ),
        (
            "Broken",
            2,
            "Lane 'Broken' resolved to nobody: resolver 'subject.boss': unknown step 'boss'",
        ),
    ],
)
def test_lane_that_resolves_to_nobody_goes_to_hr_with_the_reason(
    directory: DirectorySnapshot, lane: str, subject: int | None, reason: str
) -> None:
    lanes = {**LANES, "Unit head": "subject.org_unit.head"}
    assignment = resolve_lane(lane, lanes, directory, subject, None, None)

    assert (assignment.assignee_id, assignment.candidate_group) == (None, "hr")
    assert assignment.candidates == ["group:hr"]
    assert reason in assignment.note


def test_unit_attribute_that_is_a_group_cannot_be_walked_further(
    directory: DirectorySnapshot,
) -> None:
    lanes = {"X": "subject.org_unit.hr_partner.manager"}
    assignment = resolve_lane("X", lanes, directory, 1, None, None)

    assert assignment.candidate_group == "hr"
    assert "is a group (group:hr), so the path cannot go on" in assignment.note


def test_unmapped_lane_uses_the_default_resolver_when_the_pack_has_one(
    directory: DirectorySnapshot,
) -> None:
    assignment = resolve_lane("Anything", {}, directory, 2, 3, None, default_resolver="starter")

    assert assignment == Assignment(3, None, [3])


def test_lane_owners_override_the_pack_for_that_lane_only(directory: DirectorySnapshot) -> None:
    owners = {"Manager": ["E7"]}

    assert resolve_lane("Manager", LANES, directory, 2, None, owners) == Assignment(7, None, [7])
    assert resolve_lane("Employee", LANES, directory, 2, None, owners) == Assignment(2, None, [2])


@pytest.mark.parametrize(
    ("owners", "expected"),
    [
        (["group:designer"], Assignment(None, "designer", ["group:designer"])),
        ([5], Assignment(5, None, [5])),
        (["5"], Assignment(5, None, [5])),
        (["person:E5"], Assignment(5, None, [5])),
        ("E5", Assignment(5, None, [5])),
        (["E5", "E7"], Assignment(None, None, [5, 7])),
        (["E5", "group:designer", "E5"], Assignment(None, None, [5, "group:designer"])),
    ],
)
def test_lane_owners_name_one_person_a_group_or_several_candidates(
    directory: DirectorySnapshot, owners: object, expected: Assignment
) -> None:
    assert resolve_lane("Manager", LANES, directory, 2, None, {"Manager": owners}) == expected


def test_lane_owners_drop_unknown_and_inactive_entries_and_say_so(
    directory: DirectorySnapshot,
) -> None:
    assignment = resolve_lane("Manager", LANES, directory, 2, None, {"Manager": ["E6", "E7"]})

    assert assignment.assignee_id == 7
    assert assignment.note == "Lane 'Manager' (lane_owners): ignored Margaret Hamilton is inactive"

    nobody = resolve_lane("Manager", LANES, directory, 2, None, {"Manager": ["E6", "NOPE"]})
    assert nobody.candidate_group == "hr"
    assert nobody.note == (
        "Nobody could take the “Manager” step: Margaret Hamilton has left (inactive in the "
        "directory); person 'NOPE' is not in the directory. It came to HR instead: update the "
        "directory, or do this step yourself. "
        "Details: Lane 'Manager' (lane_owners) resolved to nobody: Margaret Hamilton is inactive; "
        "person 'NOPE' is not in the directory"
    )
    empty = resolve_lane("Manager", LANES, directory, 2, None, {"Manager": []})
    assert empty.note is not None
    assert empty.note.endswith(
        "Details: Lane 'Manager' (lane_owners) resolved to nobody: the list is empty")


def test_task_without_a_lane_goes_to_the_starter_else_the_subject(
    directory: DirectorySnapshot,
) -> None:
    assert resolve_lane(None, LANES, directory, 2, 7, None) == Assignment(7, None, [7])
    assert resolve_lane(None, LANES, directory, 2, None, None) == Assignment(2, None, [2])
    # An inactive starter does not strand the task: the subject gets it.
    assert resolve_lane(None, LANES, directory, 2, 6, None) == Assignment(2, None, [2])
    orphan = resolve_lane(None, LANES, directory, None, None, None)
    assert orphan.candidate_group == "hr"
    assert orphan.note == (
        "Nobody could take this step (it has no lane): the process has no starter; the process "
        "has no subject. It came to HR instead: do this step yourself. "
        "Details: Task with no lane resolved to nobody: the process has no starter; "
        "the process has no subject"
    )


@pytest.mark.parametrize(
    ("lane", "subject", "plain"),
    [
        ("Manager", 1, "Nobody could take the “Manager” step: Grace Hopper has no manager in the "
         "directory. It came to HR instead: record Grace Hopper's manager in the directory, or "
         "do this step yourself."),
        ("Manager", 4, "Nobody could take the “Manager” step: Margaret Hamilton, the manager of "
         "Katherine Johnson, has left (inactive in the directory). It came to HR instead: give "
         "Katherine Johnson a new manager in the directory, or do this step yourself."),
        ("Payroll", 2, "Nobody could take the “Payroll” step: the group “payroll” has nobody in "
         "it who is still active. It came to HR instead: add someone to the group “payroll”, "
         "or do this step yourself."),
        ("Marketing", 2, "Nobody could take the “Marketing” step: the pack does not say who "
         "works in this lane. It came to HR instead: ask the process designer to map the lane "
         "in the pack, and do this step yourself."),
    ],
)
def test_a_routing_note_leads_with_a_plain_sentence_for_hr_then_the_detail(
    directory: DirectorySnapshot, lane: str, subject: int, plain: str
) -> None:
    note = resolve_lane(lane, LANES, directory, subject, None, None).note

    assert note is not None
    assert note.startswith(plain + " Details: Lane ")
    assert "resolved to nobody" in note.removeprefix(plain)


def test_may_act_assignee_only_once_assigned(directory: DirectorySnapshot) -> None:
    assert may_act(3, 3, None, [3], directory)
    assert not may_act(2, 3, None, [3], directory)
    # Being in the group does not let HR take a task that is already someone's.
    assert not may_act(5, 3, "hr", ["group:hr"], directory)


def test_may_act_group_members_and_candidates_on_unassigned_tasks(
    directory: DirectorySnapshot,
) -> None:
    assert may_act(5, None, "hr", ["group:hr"], directory)
    assert not may_act(2, None, "hr", ["group:hr"], directory)
    # Candidates as the runtime stores them (strings) and as resolve_lane returns them.
    assert may_act(7, None, None, ["5", "7"], directory)
    assert may_act(7, None, None, [5, 7], directory)
    assert may_act(7, None, None, ["E7"], directory)
    assert may_act(3, None, None, ["5", "group:designer"], directory)
    assert not may_act(2, None, None, ["5", "group:designer"], directory)


def test_may_act_refuses_inactive_and_unknown_people(directory: DirectorySnapshot) -> None:
    assert not may_act(6, 6, None, [6], directory)
    assert not may_act(404, None, None, [404], directory)


async def test_lanes_resolve_against_an_imported_org_chart(db: str) -> None:
    csv = (Path(__file__).parent / "fixtures" / "org_small.csv").read_text()
    assert (await import_org(csv)).ok
    directory = await load_directory()
    ada, frances = directory.person("E2"), directory.person("E5")

    partner = resolve_lane("HR partner", LANES, directory, ada.id, None, None)
    assert partner == Assignment(frances.id, None, [frances.id])
    assert (
        resolve_lane("HR partner", LANES, directory, frances.id, None, None).candidate_group == "hr"
    )
    skip = resolve_lane("Skip-level manager", LANES, directory, ada.id, None, None)
    assert directory.people[skip.assignee_id].name == "Grace Hopper"
