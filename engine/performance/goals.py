"""Organisational goals per cycle, and progress rolled up from KPI actuals by weight.

HR administrators set goals for the organisation and any unit, HR partners for their units,
managers for the units they head (and the units below). Individual objectives point at a goal
through their `aligned_goal` field: "goal:<id>", or the goal's title as a fallback.

Progress is a percentage of target met (engine.scripts.scoring.kpi_achievement, capped at 150):
a person's is the weight-averaged achievement of their objectives that have an actual; a goal's
is the weight-averaged achievement of every objective linked to it or to its sub-goals; a
unit's is the mean of its people's. Every number covers only the people the viewer may see.
docs/dashboards.md has the maths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.base.errors import EngineError, NotAllowed, NotFound
from engine.base.models import Cycle, OrgGoal, OrgUnit, Person, Record
from engine.packs.loading import RecordsFeature
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.scripts.context import ScriptError
from engine.scripts.scoring import kpi_achievement
from engine.workflow.access import HR_GROUP, SeesSubjects, partnered_units, visible_subject_ids

GOAL_REF = "goal:"
# Record kinds that carry a person's objectives; the newest of them in the cycle is current
# (a mid-year check-in adds actuals, the year-end KPI results — the pack's
# [features.records] kpi_results — have the final ones).
OBJECTIVE_KINDS = ("objectives", "midyear_checkin")


def objective_kinds(records: RecordsFeature) -> tuple[str, ...]:
    """The record kinds that carry objectives in a pack with these record kinds."""
    return (*OBJECTIVE_KINDS, records.kpi_results)

EDITABLE = ("title", "description", "org_unit_id", "owner_id", "parent_id", "weight")


class GoalError(EngineError):
    """A goal that cannot be stored as asked (blank title, parent in another cycle …)."""


@dataclass(frozen=True)
class Goal:
    """One organisational goal."""

    id: int
    cycle_id: int
    org_unit_id: int | None
    owner_id: int | None
    title: str
    description: str
    parent_id: int | None
    weight: float
    created_by: str
    created_at: datetime | None


def _goal(row: OrgGoal) -> Goal:
    return Goal(
        id=row.id,
        cycle_id=row.cycle_id,
        org_unit_id=row.org_unit_id,
        owner_id=row.owner_id,
        title=row.title,
        description=row.description,
        parent_id=row.parent_id,
        weight=row.weight,
        created_by=row.created_by,
        created_at=row.created_at,
    )


# --- who may do what -------------------------------------------------------------------------


def _is_hr_admin(viewer: SeesSubjects, directory: DirectorySnapshot) -> bool:
    return HR_GROUP in viewer.groups and not partnered_units(viewer.person_id, directory)


def _units_below(unit_ids: Iterable[int], directory: DirectorySnapshot) -> set[int]:
    return {uid for root in unit_ids for uid in directory.unit_and_descendants(root)}


def managed_units(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """Units whose goals the viewer may set (None: every unit and the organisation)."""
    if _is_hr_admin(viewer, directory):
        return None
    roots = [u.id for u in directory.units.values() if u.head_id == viewer.person_id]
    if HR_GROUP in viewer.groups:
        roots += partnered_units(viewer.person_id, directory)
    return _units_below(roots, directory)


def may_manage_goals(
    viewer: SeesSubjects, org_unit_id: int | None, directory: DirectorySnapshot
) -> bool:
    """Whether the viewer may create or edit goals of the unit (None: the organisation)."""
    units = managed_units(viewer, directory)
    if units is None:
        return True
    return org_unit_id is not None and org_unit_id in units


def _ancestors(unit_id: int | None, directory: DirectorySnapshot) -> set[int]:
    found: set[int] = set()
    while unit_id is not None and unit_id not in found:
        found.add(unit_id)
        unit = directory.unit(unit_id)
        unit_id = unit.parent_id if unit else None
    return found


def goal_units_visible(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """Units whose goals the viewer sees besides the organisation's (None: all of them).

    Everyone sees the goals above them (their unit and its parents), which they align to;
    managers and HR also see the goals of the units they look after and of their reports.
    """
    managed = managed_units(viewer, directory)
    if managed is None:
        return None
    me = directory.people.get(viewer.person_id)
    units = set(managed) | _ancestors(me.org_unit_id if me else None, directory)
    for pid in directory.reports_of(viewer.person_id, indirect=True):
        report = directory.people.get(pid)
        if report is not None:
            units |= _ancestors(report.org_unit_id, directory)
    return units


def _may_see(goal: Goal, visible_units: set[int] | None) -> bool:
    return goal.org_unit_id is None or visible_units is None or goal.org_unit_id in visible_units


# --- create, edit, list ----------------------------------------------------------------------


async def _check_fields(
    cycle_id: int, values: Mapping[str, Any], directory: DirectorySnapshot, goal_id: int | None
) -> None:
    if "title" in values and not str(values["title"] or "").strip():
        raise GoalError("a goal needs a title")
    weight = values.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
        raise GoalError(f"a goal's weight must be a number of 0 or more, not {weight!r}")
    unit_id = values.get("org_unit_id")
    if unit_id is not None and not await OrgUnit.exists(id=unit_id):
        raise NotFound(f"no org unit {unit_id}")
    owner_id = values.get("owner_id")
    if owner_id is not None and owner_id not in directory.people:
        if not await Person.exists(id=owner_id):
            raise NotFound(f"no person {owner_id}")
    parent_id = values.get("parent_id")
    seen = {goal_id} if goal_id is not None else set()
    while parent_id is not None:
        if parent_id in seen:
            raise GoalError("a goal cannot sit below itself")
        seen.add(parent_id)
        parent = await OrgGoal.get_or_none(id=parent_id)
        if parent is None:
            raise NotFound(f"no goal {parent_id}")
        if parent.cycle_id != cycle_id:
            raise GoalError("a goal's parent must belong to the same cycle")
        parent_id = parent.parent_id


async def create_goal(
    cycle_id: int,
    title: str,
    viewer: SeesSubjects,
    *,
    org_unit_id: int | None = None,
    owner_id: int | None = None,
    description: str = "",
    parent_id: int | None = None,
    weight: float = 1.0,
) -> Goal:
    """Store a goal of the organisation (org_unit_id None) or of a unit for the cycle."""
    directory = await current_directory()
    if not await Cycle.exists(id=cycle_id):
        raise NotFound(f"no cycle {cycle_id}")
    if not may_manage_goals(viewer, org_unit_id, directory):
        raise NotAllowed("you may not set goals for this unit")
    values = {
        "title": title,
        "description": description or "",
        "org_unit_id": org_unit_id,
        "owner_id": owner_id,
        "parent_id": parent_id,
        "weight": weight,
    }
    await _check_fields(cycle_id, values, directory, None)
    me = directory.people.get(viewer.person_id)
    row = await OrgGoal.create(
        cycle_id=cycle_id,
        title=title.strip(),
        description=description or "",
        org_unit_id=org_unit_id,
        owner_id=owner_id,
        parent_id=parent_id,
        weight=float(weight),
        created_by=me.key if me else str(viewer.person_id),
    )
    return _goal(row)


async def update_goal(goal_id: int, viewer: SeesSubjects, **changes: Any) -> Goal:
    """Change a goal's title, description, unit, owner, parent or weight."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise GoalError(f"cannot change {', '.join(sorted(unknown))} of a goal")
    directory = await current_directory()
    row = await OrgGoal.get_or_none(id=goal_id)
    if row is None or not _may_see(_goal(row), goal_units_visible(viewer, directory)):
        raise NotFound(f"no goal {goal_id}")
    current_unit = row.org_unit_id
    new_unit = changes.get("org_unit_id", current_unit)
    if not (
        may_manage_goals(viewer, current_unit, directory)
        and may_manage_goals(viewer, new_unit, directory)
    ):
        raise NotAllowed("you may not change the goals of this unit")
    await _check_fields(row.cycle_id, changes, directory, row.id)
    for name, value in changes.items():
        if name == "title":
            value = str(value).strip()
        elif name == "weight":
            value = float(value)
        setattr(row, name, value)
    await row.save()
    return _goal(row)


async def delete_goal(goal_id: int, viewer: SeesSubjects) -> None:
    """Remove a goal; its sub-goals become top-level goals."""
    directory = await current_directory()
    row = await OrgGoal.get_or_none(id=goal_id)
    if row is None or not _may_see(_goal(row), goal_units_visible(viewer, directory)):
        raise NotFound(f"no goal {goal_id}")
    if not may_manage_goals(viewer, row.org_unit_id, directory):
        raise NotAllowed("you may not change the goals of this unit")
    await row.delete()


async def list_goals(cycle_id: int, viewer: SeesSubjects) -> list[Goal]:
    """The cycle's goals the viewer may see, organisation goals first, then by unit and title."""
    directory = await current_directory()
    visible = goal_units_visible(viewer, directory)
    goals = [_goal(row) for row in await OrgGoal.filter(cycle_id=cycle_id).order_by("id")]
    found = [g for g in goals if _may_see(g, visible)]
    return sorted(found, key=lambda g: (g.org_unit_id is not None, g.org_unit_id or 0, g.title))


# --- roll-up maths ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def objective_achievement(objective: Mapping[str, Any]) -> float | None:
    """An objective's achievement in percent (capped), None without an actual or target."""
    try:
        value = kpi_achievement(objective)
    except ScriptError:
        value = None  # an unknown measure type scores nothing rather than failing a page
    if value is None and _number(objective.get("actual")) is not None:
        value = _number(objective.get("achievement"))
    return value


def weighted_progress(items: Iterable[tuple[float | None, float | None]]) -> float | None:
    """Weight-averaged achievement of (achievement, weight) pairs: pairs without achievement
    are left out and the weights re-normalised; equal weights when none is given; None when
    nothing is left (the same rule as engine.scripts.scoring.weighted_score)."""
    scored = [(a, w) for a, w in items if a is not None]
    if not scored:
        return None
    if all(w is None for _, w in scored):
        scored = [(a, 1.0) for a, _ in scored]
    total = sum(max(w or 0.0, 0.0) for _, w in scored)
    if total == 0:
        return None
    return round(sum(a * max(w or 0.0, 0.0) for a, w in scored) / total, 2)


def mean_progress(values: Iterable[float | None]) -> float | None:
    """The plain mean of the progress values that exist (each person counts once)."""
    found = [v for v in values if v is not None]
    return round(sum(found) / len(found), 2) if found else None


def linked_goal_id(aligned: Any, goals: Iterable[Goal]) -> int | None:
    """The goal an objective's `aligned_goal` names: "goal:<id>", else a title (any case)."""
    goals = list(goals)
    if isinstance(aligned, int) and not isinstance(aligned, bool):
        return aligned if any(g.id == aligned for g in goals) else None
    if not isinstance(aligned, str) or not aligned.strip():
        return None
    text = aligned.strip()
    if text.lower().startswith(GOAL_REF):
        ref = text[len(GOAL_REF):].strip()
        if ref.isdigit():
            return int(ref) if any(g.id == int(ref) for g in goals) else None
        text = ref
    wanted = text.casefold()
    return next((g.id for g in goals if g.title.strip().casefold() == wanted), None)


# --- the tree --------------------------------------------------------------------------------


@dataclass
class ObjectiveProgress:
    """One objective as the roll-up sees it."""

    person_id: int
    title: str
    weight: float | None
    achievement: float | None
    goal_id: int | None


@dataclass
class PersonNode:
    """A person's progress over their objectives of the cycle."""

    person_id: int
    name: str
    progress: float | None
    objectives: int
    with_actuals: int
    items: list[ObjectiveProgress] = field(default_factory=list)


@dataclass
class GoalNode:
    """A goal with the progress of the objectives linked to it and to its sub-goals."""

    goal: Goal
    progress: float | None = None
    objectives_linked: int = 0
    with_actuals: int = 0
    people: int = 0
    children: list[GoalNode] = field(default_factory=list)


@dataclass
class UnitNode:
    """The organisation (id None) or a unit: its people's mean progress, sub-units, goals."""

    id: int | None
    name: str
    progress: float | None = None
    people_count: int = 0
    people_with_progress: int = 0
    objectives: int = 0
    with_actuals: int = 0
    people: list[PersonNode] = field(default_factory=list)
    children: list[UnitNode] = field(default_factory=list)
    goals: list[GoalNode] = field(default_factory=list)


@dataclass
class GoalTree:
    """Organisation → unit → person, plus the goal hierarchy, for one cycle and one viewer."""

    cycle_id: int
    organisation: UnitNode
    goals: list[GoalNode]
    # Weight-averaged (by goal weight) progress of the top-level goals that have progress.
    goals_progress: float | None
    objectives_unlinked: int


async def current_objectives(
    cycle_id: int, person_ids: Iterable[int] | None
) -> dict[int, list[dict[str, Any]]]:
    """Per person, the objectives of their newest objectives-bearing record in the cycle."""
    kinds = objective_kinds((await cycle_pack(cycle_id)).features.records)
    query = Record.filter(cycle_id=cycle_id, kind__in=kinds)
    if person_ids is not None:
        query = query.filter(person_id__in=list(person_ids))
    found: dict[int, list[dict[str, Any]]] = {}
    for person_id, data in await query.order_by("id").values_list("person_id", "data"):
        objectives = data.get("objectives") if isinstance(data, dict) else None
        if isinstance(objectives, list):
            found[person_id] = [o for o in objectives if isinstance(o, dict)]
    return found


def person_node(
    person_id: int, name: str, objectives: list[dict[str, Any]], goals: list[Goal]
) -> PersonNode:
    """A person's progress from their objectives (and which goal each objective serves)."""
    items = [
        ObjectiveProgress(
            person_id=person_id,
            title=str(o.get("title") or ""),
            weight=_number(o.get("weight")),
            achievement=objective_achievement(o),
            goal_id=linked_goal_id(o.get("aligned_goal"), goals),
        )
        for o in objectives
    ]
    return PersonNode(
        person_id=person_id,
        name=name,
        progress=weighted_progress((i.achievement, i.weight) for i in items),
        objectives=len(items),
        with_actuals=sum(1 for i in items if i.achievement is not None),
        items=items,
    )


def _unit_node(
    unit_id: int, directory: DirectorySnapshot, people_by_unit: dict[int | None, list[PersonNode]]
) -> UnitNode | None:
    unit = directory.units[unit_id]
    node = UnitNode(id=unit_id, name=unit.name, people=people_by_unit.get(unit_id, []))
    for child_id in sorted(
        directory.unit_children.get(unit_id, []), key=lambda u: directory.units[u].name
    ):
        child = _unit_node(child_id, directory, people_by_unit)
        if child is not None:
            node.children.append(child)
    _sum_up(node)
    return node if node.people_count else None


def _sum_up(node: UnitNode) -> None:
    everyone = list(node.people)
    stack = list(node.children)
    while stack:
        child = stack.pop()
        everyone.extend(child.people)
        stack.extend(child.children)
    node.people_count = len(everyone)
    node.people_with_progress = sum(1 for p in everyone if p.progress is not None)
    node.objectives = sum(p.objectives for p in everyone)
    node.with_actuals = sum(p.with_actuals for p in everyone)
    node.progress = mean_progress(p.progress for p in everyone)


def _goal_nodes(goals: list[Goal], items: list[ObjectiveProgress]) -> list[GoalNode]:
    nodes = {g.id: GoalNode(goal=g) for g in goals}
    roots: list[GoalNode] = []
    for g in goals:
        parent = nodes.get(g.parent_id) if g.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[g.id])
    by_goal: dict[int, list[ObjectiveProgress]] = {}
    for item in items:
        if item.goal_id in nodes:
            by_goal.setdefault(item.goal_id, []).append(item)

    def fill(node: GoalNode) -> list[ObjectiveProgress]:
        linked = list(by_goal.get(node.goal.id, []))
        for child in node.children:
            linked += fill(child)
        node.objectives_linked = len(linked)
        node.with_actuals = sum(1 for i in linked if i.achievement is not None)
        node.people = len({i.person_id for i in linked})
        node.progress = weighted_progress((i.achievement, i.weight) for i in linked)
        return linked

    for root in roots:
        fill(root)
    return roots


async def goal_tree(cycle_id: int, viewer: SeesSubjects) -> GoalTree:
    """Goals and organisation → unit → person progress for the cycle, as the viewer may see."""
    if not await Cycle.exists(id=cycle_id):
        raise NotFound(f"no cycle {cycle_id}")
    directory = await current_directory()
    visible = visible_subject_ids(viewer, directory)
    objectives = await current_objectives(cycle_id, visible)
    goals = await list_goals(cycle_id, viewer)
    people_ids = set(objectives) | {
        p.id for p in directory.people.values()
        if p.active and (visible is None or p.id in visible)
    }
    people_by_unit: dict[int | None, list[PersonNode]] = {}
    items: list[ObjectiveProgress] = []
    for pid in people_ids:
        info = directory.people.get(pid)
        node = person_node(pid, info.name if info else f"#{pid}", objectives.get(pid, []), goals)
        items.extend(node.items)
        unit_id = info.org_unit_id if info and info.org_unit_id in directory.units else None
        people_by_unit.setdefault(unit_id, []).append(node)
    for nodes in people_by_unit.values():
        nodes.sort(key=lambda n: (n.name, n.person_id))
    organisation = UnitNode(id=None, name="Organisation", people=people_by_unit.get(None, []))
    top_units = sorted(
        (u for u in directory.units.values() if u.parent_id not in directory.units),
        key=lambda u: u.name,
    )
    for unit in top_units:
        child = _unit_node(unit.id, directory, people_by_unit)
        if child is not None:
            organisation.children.append(child)
    _sum_up(organisation)
    roots = _goal_nodes(goals, items)
    _attach_goals(organisation, roots)
    return GoalTree(
        cycle_id=cycle_id,
        organisation=organisation,
        goals=roots,
        goals_progress=weighted_progress((r.progress, r.goal.weight) for r in roots),
        objectives_unlinked=sum(1 for i in items if i.goal_id is None),
    )


def _attach_goals(organisation: UnitNode, roots: list[GoalNode]) -> None:
    """Hang each goal node on the unit node it belongs to (the organisation's own at the top)."""
    units: dict[int | None, UnitNode] = {}
    stack = [organisation]
    while stack:
        node = stack.pop()
        units[node.id] = node
        stack.extend(node.children)
    queue = list(roots)
    while queue:
        goal = queue.pop(0)
        holder = units.get(goal.goal.org_unit_id)
        if holder is not None:
            holder.goals.append(goal)
        queue.extend(goal.children)
