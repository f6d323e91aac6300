"""The Goals page's numbers summed in the database (objective_index.rollup, goal_tree,
unit_people) against the same numbers worked out in Python from the records themselves, the
way the page computed them before: on an organisation of several levels, with people without
actuals or without objectives, leavers, a person outside any unit, retired goals, ties in the
rounding, an in-year update, another cycle — for an HR administrator, an HR partner, managers
and an employee, who each see part of it. Any optimisation that changes a number fails here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.base import clock
from engine.base.models import Cycle, Record
from engine.people.directory import DirectorySnapshot, current_directory
from engine.people.org_import import import_org
from engine.performance import objective_index, progress
from engine.performance.goals import (
    CONTRIBUTORS_SHOWN,
    Goal,
    GoalNode,
    GoalTree,
    UnitNode,
    create_goal,
    current_objectives,
    goal_tree,
    linked_goal_id,
    list_goals,
    mean_progress,
    person_node,
    retire_goal,
    unit_people,
    weighted_progress,
)
from engine.workflow.access import visible_subject_ids
from tests.engine.test_dashboards import Someone

# Company → Technology (→ Engineering → Platform, Web; Data) and Operations (→ Sales,
# Support, partnered by Hana); Fay belongs to no unit; Lou has left with objectives, Lex has
# left without.
ORG = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups,unit_head,unit.hr_partner,active
CEO,Cleo Chief,,Chief executive,people_manager,ROOT,Company,,,,yes,,
HA,Hugo Admin,,HR admin,individual_contributor,ROOT,Company,,CEO,hr,,,
HP,Hana Partner,,HR partner,individual_contributor,ROOT,Company,,CEO,hr,,,
TD,Theo Tech,,CTO,people_manager,TECH,Technology,ROOT,CEO,,yes,,
EM,Emil Engman,,Engineering manager,people_manager,ENG,Engineering,TECH,TD,,yes,,
PL,Pia Platform,,Platform lead,people_manager,PLAT,Platform,ENG,EM,,yes,,
P1,Paul Plat,,Engineer,engineering,PLAT,Platform,ENG,PL,,,,
P2,peter Plat,,Engineer,engineering,PLAT,Platform,ENG,PL,,,,
P3,Penny Plat,,Engineer,engineering,PLAT,Platform,ENG,PL,,,,
P4,Pablo Plat,,Engineer,engineering,PLAT,Platform,ENG,PL,,,,
LOU,Lou Leaver,,Engineer,engineering,PLAT,Platform,ENG,PL,,,,no
WL,Wanda Web,,Web lead,people_manager,WEB,Web,ENG,EM,,yes,,
W1,Walt Web,,Engineer,engineering,WEB,Web,ENG,WL,,,,
W2,Wes Web,,Engineer,engineering,WEB,Web,ENG,WL,,,,
LEX,Lex Leaver,,Engineer,engineering,WEB,Web,ENG,WL,,,,no
DA,Dana Data,,Data lead,people_manager,DATA,Data,TECH,TD,,yes,,
D1,Dina Data,,Analyst,engineering,DATA,Data,TECH,DA,,,,
OD,Olga Ops,,COO,people_manager,OPS,Operations,ROOT,CEO,,yes,HP,
SM,Sam Sales,,Sales manager,people_manager,SALES,Sales,OPS,OD,,yes,,
S1,Sue Sales,,Account executive,sales,SALES,Sales,OPS,SM,,,,
S2,Sid Sales,,Account executive,sales,SALES,Sales,OPS,SM,,,,
S3,Stan Sales,,Account executive,sales,SALES,Sales,OPS,SM,,,,
SU,Suki Support,,Support lead,people_manager,SUP,Support,OPS,OD,,yes,,
U1,Uma Support,,Agent,sales,SUP,Support,OPS,SU,,,,
FAY,Fay Freelance,,Contractor,individual_contributor,,,,CEO,,,,
"""
JAN = datetime(2026, 1, 15, 9, tzinfo=UTC)


@dataclass
class Org:
    ids: dict[str, int]
    units: dict[str, int]

    def viewer(self, key: str) -> Someone:
        return Someone(self.ids[key], frozenset({"hr"}) if key in ("HA", "HP") else frozenset())


def objective(key: str, weight: float | None, actual: float | None, goal: str = "",
              target: float = 100, measure: str = "higher_is_better") -> dict[str, Any]:
    return {"key": key, "title": f"Objective {key}", "weight": weight, "actual": actual,
            "target": target, "measure_type": measure, "aligned_goal": goal}


async def write(org: Org, cycle: int, key: str, kind: str, objectives: Any, **extra: Any) -> None:
    await Record.create(kind=kind, person_id=org.ids[key], cycle_id=cycle,
                        data={"objectives": objectives, **extra}, created_at=clock.now())


@pytest.fixture
async def org(db: str) -> Org:
    report = await import_org(ORG)
    assert not report.errors, report.errors
    directory = await current_directory()
    return Org({p.key: p.id for p in directory.people.values()},
               {u.code: u.id for u in directory.units.values()})


@pytest.fixture
async def cycle(org: Org) -> int:
    """Goals over four levels — one retired, with an open sub-goal — and a year of objectives."""
    cycle = (await Cycle.create(name="2026")).id
    other = (await Cycle.create(name="2025")).id
    admin = org.viewer("HA")
    revenue = await create_goal(cycle, "Grow revenue", admin, weight=2)
    tech = await create_goal(cycle, "Modern platform", admin, org_unit_id=org.units["TECH"],
                             parent_id=revenue.id)
    eng = await create_goal(cycle, "Ship faster", admin, org_unit_id=org.units["ENG"],
                            parent_id=tech.id, weight=3)
    plat = await create_goal(cycle, "Platform 2.0", admin, org_unit_id=org.units["PLAT"],
                             parent_id=eng.id)
    ops = await create_goal(cycle, "Lean operations", admin, org_unit_id=org.units["OPS"],
                            parent_id=revenue.id)
    sales = await create_goal(cycle, "Close more deals", admin, org_unit_id=org.units["SALES"],
                              parent_id=ops.id)
    await create_goal(cycle, "Happy customers", admin, weight=0.5)
    await retire_goal(ops.id, admin)
    g = {name: f"goal:{goal.id}" for name, goal in (
        ("revenue", revenue), ("tech", tech), ("eng", eng), ("plat", plat), ("ops", ops),
        ("sales", sales))}
    with clock.frozen_at(JAN - timedelta(days=30)):
        # Two achievements whose mean is a tie (75.125 → 75.12, half to even), equal weights.
        await write(org, cycle, "P1", "objectives", [
            objective("a", None, 50.25, g["plat"]), objective("b", None, 100, "ship FASTER ")])
        # 60 % without an actual: judged on the 40 % that has one; and a tie (87.625 → 87.62).
        await write(org, cycle, "P2", "objectives", [
            objective("a", 60, None, g["plat"]), objective("b", 40, 80, g["eng"])])
        await write(org, cycle, "P3", "objectives", [
            objective("a", 1, 50.5, g["plat"]), objective("b", 3, 100, g["plat"])])
        # Nothing measured yet.
        await write(org, cycle, "P4", "objectives", [objective("a", 50, None, g["tech"])])
        # A leaver whose objectives still count; 0.57 and 0 → 0.285, just below a tie.
        await write(org, cycle, "LOU", "objectives", [
            objective("a", None, 0.57, g["plat"]), objective("b", None, 0, "")])
        # Weights of 0 only: no progress; a negative weight counts as 0.
        await write(org, cycle, "W1", "objectives", [
            objective("a", 0, 90, g["eng"]), objective("b", 0, 70, "Grow revenue")])
        await write(org, cycle, "W2", "objectives", [
            objective("a", -5, 40, g["eng"]), objective("b", 20, 110, "nothing of ours"),
            objective("c", 30, 10, "", measure="lower_is_better", target=5)])
        # A record holding no objectives: counted, with none.
        await write(org, cycle, "D1", "objectives", [])
        await write(org, cycle, "DA", "objectives", [objective("a", 100, 123.456, g["tech"])])
        await write(org, cycle, "S1", "objectives", [
            objective("a", 70, 95, g["sales"]), objective("b", 30, 200, g["ops"])])
        await write(org, cycle, "S2", "objectives", [
            objective("a", 50, 60, g["sales"]), objective("b", 50, 61, "grow revenue")])
        await write(org, cycle, "SM", "objectives", [objective("a", 100, 80.12, g["ops"])])
        await write(org, cycle, "U1", "objectives", [objective("a", 100, 80.13, "Happy customers")])
        await write(org, cycle, "FAY", "objectives", [objective("a", 100, 99, g["revenue"])])
        # Another cycle's objectives count nowhere here.
        await write(org, other, "S3", "objectives", [objective("a", 100, 10, g["revenue"])])
    with clock.frozen_at(JAN - timedelta(days=10)):
        # A check-in replaces Sid's objectives; Sue's actual moves by an in-year update.
        await write(org, cycle, "S2", "midyear_checkin", [
            objective("a", 50, 65, g["sales"]), objective("b", 50, 70, "grow revenue")])
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("SM"), org.ids["S1"], cycle, "a", actual=99)
    return cycle


# --- the reference: the same figures in Python, from the records --------------------------------


async def reference(
    cycle: int, viewer: Someone, shown: int = CONTRIBUTORS_SHOWN
) -> tuple[UnitNode, list[GoalNode], GoalTree]:
    """Organisation → unit → person and the goal nodes as the page worked them out before it
    summed in the database: every person's objectives read and rolled up in Python."""
    directory = await current_directory()
    visible = visible_subject_ids(viewer, directory)
    people = None if visible is None else set(visible)
    goals = await list_goals(cycle, viewer)
    objectives = await current_objectives(cycle, people)
    counted = set(objectives) | {
        p.id for p in directory.people.values() if p.active and (people is None or p.id in people)
    }
    by_unit: dict[int | None, list[Any]] = {}
    for pid in counted:
        info = directory.people[pid]
        node = person_node(pid, info.name, objectives.get(pid, []), goals)
        unit = info.org_unit_id if info.org_unit_id in directory.units else None
        by_unit.setdefault(unit, []).append(node)
    for nodes in by_unit.values():
        nodes.sort(key=lambda n: (n.name, n.person_id))
    organisation = _reference_unit(None, "Organisation", directory, by_unit)
    assert organisation is not None
    items = [(pid, o) for pid, found in objectives.items() for o in found]
    roots = _reference_goals(goals, items, directory, shown)
    tree = GoalTree(cycle, organisation, roots, weighted_progress(
        (r.progress, r.goal.weight) for r in roots if not r.goal.retired),
        sum(1 for _, o in items if linked_goal_id(o.get("aligned_goal"), goals) is None))
    return organisation, roots, tree


def _reference_unit(unit_id: int | None, name: str, directory: DirectorySnapshot,
                    by_unit: dict[int | None, list[Any]]) -> UnitNode | None:
    node = UnitNode(id=unit_id, name=name, people=by_unit.get(unit_id, []))
    children = (sorted((u for u in directory.units.values() if u.parent_id not in directory.units),
                       key=lambda u: u.name) if unit_id is None else
                sorted((directory.units[c] for c in directory.unit_children.get(unit_id, [])),
                       key=lambda u: u.name))
    for unit in children:
        child = _reference_unit(unit.id, unit.name, directory, by_unit)
        if child is not None:
            node.children.append(child)
    everyone = list(_everyone(node))
    node.people_here = len(node.people)
    node.people_count = len(everyone)
    node.objectives = sum(p.objectives for p in everyone)
    node.with_actuals = sum(p.with_actuals for p in everyone)
    node.people_with_progress = sum(1 for p in everyone if p.progress is not None)
    node.progress = mean_progress(p.progress for p in everyone)
    return node if node.people_count or unit_id is None else None


def _everyone(node: UnitNode) -> Any:
    yield from node.people
    for child in node.children:
        yield from _everyone(child)


def _reference_goals(goals: list[Goal], items: list[tuple[int, dict[str, Any]]],
                     directory: DirectorySnapshot, shown: int) -> list[GoalNode]:
    nodes = {g.id: GoalNode(goal=g) for g in goals}
    roots: list[GoalNode] = []
    for g in goals:
        parent = nodes.get(g.parent_id) if g.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[g.id])
    linked = [(pid, o, linked_goal_id(o.get("aligned_goal"), goals)) for pid, o in items]

    def counted_goals(node: GoalNode) -> set[int]:
        found = {node.goal.id}
        for child in node.children:
            if not child.goal.retired:
                found |= counted_goals(child)
        return found

    for node in nodes.values():
        mine = counted_goals(node)
        covered = [(pid, o) for pid, o, goal in linked if goal in mine]
        scored = [(person_node(pid, "", [o], goals).items[0], o) for pid, o in covered]
        node.progress = weighted_progress((i.achievement, i.weight) for i, _ in scored)
        node.objectives_linked = len(covered)
        node.with_actuals = sum(1 for i, _ in scored if i.achievement is not None)
        node.people = len({pid for pid, _ in covered})
        direct = sorted(((directory.people[pid].name, pid, str(o.get("title") or ""), o)
                         for pid, o, goal in linked if goal == node.goal.id),
                        key=lambda c: (c[0].lower(), c[1], c[2]))
        node.contributors_count = len(direct)
        node.contributors = [
            (name, pid, title, person_node(pid, "", [o], goals).items[0].achievement)
            for name, pid, title, o in direct[:shown]]
    return roots


# --- comparing ---------------------------------------------------------------------------------


def units_of(node: UnitNode, people: bool = True) -> list[tuple[Any, ...]]:
    """Every unit, depth first in page order, with its figures (and its people's)."""
    rows = [(node.id, node.name, node.progress, node.people_count, node.people_with_progress,
             node.objectives, node.with_actuals, node.people_here,
             [(p.person_id, p.name, p.progress, p.objectives, p.with_actuals)
              for p in node.people] if people else None)]
    for child in node.children:
        rows += units_of(child, people)
    return rows


def goals_of(nodes: list[GoalNode]) -> list[tuple[Any, ...]]:
    rows = []
    for node in nodes:
        contributors = sorted(
            (c if isinstance(c, tuple) else (c.name, c.person_id, c.objective, c.achievement))
            for c in node.contributors)
        rows.append((node.goal.id, node.progress, node.objectives_linked, node.with_actuals,
                     node.people, node.contributors_count, contributors))
        rows += goals_of(node.children)
    return rows


VIEWERS = ["HA", "HP", "CEO", "TD", "EM", "PL", "OD", "S1", "FAY"]


@pytest.mark.parametrize("who", VIEWERS)
async def test_the_sums_in_the_database_are_the_reference_figures(org, cycle, who):
    viewer = org.viewer(who)
    organisation, roots, expected = await reference(cycle, viewer)

    listed = await goal_tree(cycle, viewer, people_listed=None)
    assert units_of(listed.organisation) == units_of(organisation)
    assert goals_of(listed.goals) == goals_of(roots)
    assert (listed.goals_progress, listed.objectives_unlinked) == (
        expected.goals_progress, expected.objectives_unlinked)

    # A large scope: the same figures, no one listed; each unit's people when it is opened.
    summed = await goal_tree(cycle, viewer, people_listed=0)
    assert not summed.people_listed
    assert units_of(summed.organisation, people=False) == units_of(organisation, people=False)
    assert all(not row[-1] for row in units_of(summed.organisation))
    assert goals_of(summed.goals) == goals_of(roots)
    for row in units_of(organisation):
        opened = await unit_people(cycle, viewer, row[0])
        assert opened is not None
        assert units_of(opened)[0] == row


@pytest.mark.parametrize("who", ["HA", "TD", "OD"])
async def test_the_first_contributors_found_among_the_first_people_are_the_first(
    org, cycle, who, monkeypatch
):
    """A goal with many contributors looks for its first ones among the first people by name
    before reading all its objectives: the same people either way."""
    monkeypatch.setattr(objective_index, "MANY_CONTRIBUTORS", 0)
    _, roots, _ = await reference(cycle, org.viewer(who), shown=2)
    for first_people in (1, 3, 6, 100):
        monkeypatch.setattr(objective_index, "FIRST_PEOPLE", first_people)
        tree = await goal_tree(cycle, org.viewer(who), contributors=2)
        assert goals_of(tree.goals) == goals_of(roots)


async def test_the_figures_are_not_trivial(org, cycle):
    """The fixture reaches what the comparison is for: ties, people without progress or
    objectives, leavers, retired goals, visibility."""
    _, roots, tree = await reference(cycle, org.viewer("HA"))
    people = {p.name: p for p in _everyone(tree.organisation)}
    assert people["Paul Plat"].progress == 75.12  # 75.125, half to even
    assert people["peter Plat"].progress == 80.0 and people["Penny Plat"].progress == 87.62
    assert people["Lou Leaver"].progress == 0.28  # 0.285 is 0.28499… in binary
    assert people["Pablo Plat"].progress is None and people["Walt Web"].progress is None
    assert people["Dina Data"].objectives == 0 and "Lex Leaver" not in people
    assert "Fay Freelance" in {p.name for p in tree.organisation.people}
    revenue = next(r for r in roots if r.goal.title == "Grow revenue")
    ops = next(c for c in revenue.children if c.goal.retired)
    assert ops.people == 3 and revenue.people > 0
    partner = await goal_tree(cycle, org.viewer("HP"))
    assert 0 < partner.organisation.people_count < tree.organisation.people_count
    assert len({u.name for u in partner.organisation.children}) == 1  # Operations only


def test_a_units_mean_is_exact_and_rounds_half_to_even():
    # 80.12 and 80.13 average to 80.125 exactly: half to even, whatever the order of the sum.
    assert mean_progress([80.12, 80.13]) == mean_progress([80.13, 80.12]) == 80.12
    assert mean_progress([0.01, 0.02]) == 0.02
    # Away from a tie it is the plain mean, as before.
    values = [75.12, 80.0, 87.62, 0.28, 123.46, 33.33]
    assert mean_progress(values) == round(sum(values) / len(values), 2)
    assert mean_progress([None, None]) is None
