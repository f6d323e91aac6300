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
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from engine.base import clock
from engine.base.errors import EngineError, NotAllowed, NotFound
from engine.base.models import Cycle, OrgGoal, OrgUnit, Person
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance import objective_index
from engine.performance.latest_progress import with_latest_progress
from engine.performance.objective_index import GOAL_REF as GOAL_REF
from engine.performance.objective_index import OBJECTIVE_KINDS as OBJECTIVE_KINDS
from engine.performance.objective_index import Sums, UnitFigures
from engine.performance.objective_index import number as _number
from engine.performance.objective_index import objective_achievement as objective_achievement
from engine.performance.objective_index import objective_kinds as objective_kinds
from engine.workflow.access import HR_GROUP, SeesSubjects, partnered_units, visible_subject_ids

# "Who contributes" names this many people per goal, then says how many more there are.
CONTRIBUTORS_SHOWN = 8
# A tree over at most this many people lists each unit's people; a larger one gives the units'
# figures only, and a unit's people are read when it is opened (unit_people).
PEOPLE_LISTED = 200

EDITABLE = (
    "title", "description", "org_unit_id", "owner_id", "parent_id", "weight",
    "measure", "unit", "target", "period_start", "period_end",
)
MEASURE_MAX = 255  # OrgGoal.measure's column
UNIT_MAX = 32  # OrgGoal.unit's column


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
    measure: str = ""
    unit: str = ""
    target: float | None = None
    period_start: date | None = None
    period_end: date | None = None
    retired_at: datetime | None = None
    retired_by: str = ""

    @property
    def retired(self) -> bool:
        """Whether the goal is retired: kept for history, closed to new objectives."""
        return self.retired_at is not None

    @property
    def ref(self) -> str:
        """How an objective's `aligned_goal` names this goal ("goal:<id>")."""
        return f"{GOAL_REF}{self.id}"


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
        measure=row.measure,
        unit=row.unit,
        target=row.target,
        period_start=row.period_start,
        period_end=row.period_end,
        retired_at=row.retired_at,
        retired_by=row.retired_by,
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


# --- create, edit, retire, list ----------------------------------------------------------------


def _target(value: Any) -> float | None:
    """A goal's target: a finite number, or None for a goal without one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = None if isinstance(value, bool) else _number(value)
    if number is None:
        raise GoalError(f"a goal's target must be a number, not {value!r}")
    return number


def _day(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise GoalError(f"a goal's {name} must be a date (YYYY-MM-DD), not {value!r}") from None


def _cleaned(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values as stored: trimmed texts, a float weight and target, dates."""
    out = dict(values)
    for name in ("title", "measure", "unit"):
        if name in out:
            out[name] = " ".join(str(out[name] or "").split())
    if "description" in out:
        out["description"] = str(out["description"] or "").strip()
    if "target" in out:
        out["target"] = _target(out["target"])
    for name, label in (("period_start", "period start"), ("period_end", "period end")):
        if name in out:
            out[name] = _day(out[name], label)
    if "weight" in out:
        weight = out["weight"]
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not weight >= 0:
            raise GoalError(f"a goal's weight must be a number of 0 or more, not {weight!r}")
        out["weight"] = float(weight)
    return out


async def _check_fields(
    cycle_id: int, values: Mapping[str, Any], directory: DirectorySnapshot,
    current: OrgGoal | None,
) -> None:
    """Refuse values no goal may have; `values` are cleaned, `current` is the goal changed."""
    if "title" in values and not values["title"]:
        raise GoalError("a goal needs a title")
    if len(values.get("measure") or "") > MEASURE_MAX:
        raise GoalError(f"keep a goal's measure under {MEASURE_MAX} characters")
    if len(values.get("unit") or "") > UNIT_MAX:
        raise GoalError(f"keep a goal's unit of measure under {UNIT_MAX} characters")
    start = values.get("period_start", current.period_start if current else None)
    end = values.get("period_end", current.period_end if current else None)
    if start is not None and end is not None and end < start:
        raise GoalError(f"a goal's period cannot end ({end}) before it starts ({start})")
    unit_id = values.get("org_unit_id")
    if unit_id is not None and not await OrgUnit.exists(id=unit_id):
        raise NotFound(f"no org unit {unit_id}")
    owner_id = values.get("owner_id")
    if owner_id is not None and owner_id not in directory.people:
        if not await Person.exists(id=owner_id):
            raise NotFound(f"no person {owner_id}")
    parent_id = values.get("parent_id")
    if parent_id is None:
        return
    first = await OrgGoal.get_or_none(id=parent_id)
    if first is None:
        raise NotFound(f"no goal {parent_id}")
    if first.retired_at is not None and (current is None or current.parent_id != parent_id):
        raise GoalError(f"“{first.title}” is retired: choose an open goal to support")
    seen = {current.id} if current is not None else set()
    while parent_id is not None:
        if parent_id in seen:
            raise GoalError("a goal cannot support itself or a goal below it")
        seen.add(parent_id)
        parent = first if parent_id == first.id else await OrgGoal.get_or_none(id=parent_id)
        if parent is None:
            break
        if parent.cycle_id != cycle_id:
            raise GoalError("a goal can only support a goal of the same cycle")
        parent_id = parent.parent_id


def _signature(viewer: SeesSubjects, directory: DirectorySnapshot) -> str:
    me = directory.people.get(viewer.person_id)
    return me.key if me else str(viewer.person_id)


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
    measure: str = "",
    unit: str = "",
    target: float | str | None = None,
    period_start: date | str | None = None,
    period_end: date | str | None = None,
) -> Goal:
    """Store a goal of the organisation (org_unit_id None) or of a unit for the cycle."""
    directory = await current_directory()
    if not await Cycle.exists(id=cycle_id):
        raise NotFound(f"no cycle {cycle_id}")
    if not may_manage_goals(viewer, org_unit_id, directory):
        raise NotAllowed("you may not set goals for this unit")
    values = _cleaned({
        "title": title, "description": description, "org_unit_id": org_unit_id,
        "owner_id": owner_id, "parent_id": parent_id, "weight": weight, "measure": measure,
        "unit": unit, "target": target, "period_start": period_start, "period_end": period_end,
    })
    await _check_fields(cycle_id, values, directory, None)
    now = clock.now()
    row = await OrgGoal.create(
        cycle_id=cycle_id, created_by=_signature(viewer, directory), created_at=now,
        updated_at=now, **values,
    )
    return _goal(row)


async def _managed_row(goal_id: int, viewer: SeesSubjects) -> tuple[OrgGoal, DirectorySnapshot]:
    """The goal, if the viewer may change it: NotFound when they cannot see it, NotAllowed
    when they see it but it is not theirs to change."""
    directory = await current_directory()
    row = await OrgGoal.get_or_none(id=goal_id)
    if row is None or not _may_see(_goal(row), goal_units_visible(viewer, directory)):
        raise NotFound(f"no goal {goal_id}")
    if not may_manage_goals(viewer, row.org_unit_id, directory):
        raise NotAllowed("you may not change the goals of this unit")
    return row, directory


async def update_goal(goal_id: int, viewer: SeesSubjects, **changes: Any) -> Goal:
    """Change a goal's title, description, unit, owner, parent, weight, measure, target or
    period (re-weighting is a change of weight)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise GoalError(f"cannot change {', '.join(sorted(unknown))} of a goal")
    row, directory = await _managed_row(goal_id, viewer)
    new_unit = changes.get("org_unit_id", row.org_unit_id)
    if not may_manage_goals(viewer, new_unit, directory):
        raise NotAllowed("you may not move a goal to a unit you do not manage")
    values = _cleaned(changes)
    await _check_fields(row.cycle_id, values, directory, row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = clock.now()
    await row.save()
    return _goal(row)


async def retire_goal(goal_id: int, viewer: SeesSubjects) -> Goal:
    """Retire a goal: it stays listed (as retired) for history, takes no new objectives and no
    longer counts in its parent's progress. Retiring twice changes nothing."""
    row, directory = await _managed_row(goal_id, viewer)
    if row.retired_at is None:
        row.retired_at = clock.now()
        row.retired_by = _signature(viewer, directory)
        row.updated_at = row.retired_at
        await row.save()
    return _goal(row)


async def restore_goal(goal_id: int, viewer: SeesSubjects) -> Goal:
    """Bring a retired goal back: open to objectives and counted in its parent again."""
    row, _ = await _managed_row(goal_id, viewer)
    if row.retired_at is not None:
        row.retired_at = None
        row.retired_by = ""
        row.updated_at = clock.now()
        await row.save()
    return _goal(row)


async def delete_goal(goal_id: int, viewer: SeesSubjects) -> None:
    """Remove a goal; its sub-goals become top-level goals. (Pages retire goals instead, so
    the objectives that named one keep naming it.)"""
    row, _ = await _managed_row(goal_id, viewer)
    await row.delete()


async def cycles_with_goals() -> set[int]:
    """The cycles that have goals (the Goals page opens on the newest of them)."""
    rows = await OrgGoal.all().distinct().values("cycle_id")
    return {int(row["cycle_id"]) for row in rows}


async def get_goal(goal_id: int, viewer: SeesSubjects) -> Goal:
    """One goal the viewer may see; NotFound otherwise."""
    row = await OrgGoal.get_or_none(id=goal_id)
    directory = await current_directory()
    if row is None or not _may_see(_goal(row), goal_units_visible(viewer, directory)):
        raise NotFound(f"no goal {goal_id}")
    return _goal(row)


async def list_goals(cycle_id: int, viewer: SeesSubjects) -> list[Goal]:
    """The cycle's goals the viewer may see, organisation goals first, then by unit and title."""
    directory = await current_directory()
    visible = goal_units_visible(viewer, directory)
    goals = [_goal(row) for row in await OrgGoal.filter(cycle_id=cycle_id).order_by("id")]
    found = [g for g in goals if _may_see(g, visible)]
    return sorted(found, key=lambda g: (g.org_unit_id is not None, g.org_unit_id or 0, g.title))


# --- roll-up maths ---------------------------------------------------------------------------


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


def progress_of(sums: Sums) -> float | None:
    """`weighted_progress` of objectives summed in the database (objective_index): the same
    rule — unscored left out, equal weights when none of the scored has one, None when
    nothing is left or the weights add up to 0."""
    return objective_index.weighted_rule(
        sums.scored, sums.weighted, sums.total_weight, sums.weighted_sum, sums.plain_sum
    )


def mean_progress(values: Iterable[float | None]) -> float | None:
    """The plain mean of the progress values that exist (each person counts once), worked
    out exactly on the values as written (hundredths, as progress is rounded) and rounded to
    hundredths half to even — so summing in any order, or in the database, gives the same."""
    found = [v for v in values if v is not None]
    if not found:
        return None
    try:
        exact = sum((Fraction(repr(v)) for v in found), Fraction(0))
    except ValueError:  # a value that is no number (nan, inf): the plain float mean
        return round(sum(found) / len(found), 2)
    return float(round(exact / len(found), 2))


def mean_of_hundredths(total: int, count: int) -> float | None:
    """`mean_progress` of `count` values (each with at most two decimals) that add up to
    `total` hundredths."""
    return round(Fraction(total, count)) / 100 if count else None


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
class Contributor:
    """Someone whose objective supports a goal directly: who, which objective, how far."""

    person_id: int
    name: str
    objective: str
    achievement: float | None


@dataclass
class GoalNode:
    """A goal with the progress of the objectives linked to it and to its open sub-goals (a
    retired sub-goal keeps its own figures but no longer counts here)."""

    goal: Goal
    progress: float | None = None
    objectives_linked: int = 0
    with_actuals: int = 0
    people: int = 0
    children: list[GoalNode] = field(default_factory=list)
    # The first objectives linked to this goal itself (CONTRIBUTORS_SHOWN), by person name,
    # of `contributors_count` in all.
    contributors: list[Contributor] = field(default_factory=list)
    contributors_count: int = 0

    @property
    def contributors_more(self) -> int:
        """How many contributors "Who contributes" does not name."""
        return self.contributors_count - len(self.contributors)


@dataclass
class UnitNode:
    """The organisation (id None) or a unit: its people's mean progress, sub-units, goals.
    Its figures cover the unit and its sub-units; `people` lists the people directly in it
    when the tree lists people (a small scope, or the unit opened by unit_people)."""

    id: int | None
    name: str
    progress: float | None = None
    people_count: int = 0
    people_with_progress: int = 0
    objectives: int = 0
    with_actuals: int = 0
    # How many people are directly in the unit (not in its sub-units), listed or not.
    people_here: int = 0
    people: list[PersonNode] = field(default_factory=list)
    children: list[UnitNode] = field(default_factory=list)
    goals: list[GoalNode] = field(default_factory=list)
    # The progress of everyone in the unit and below, summed in hundredths (for the units
    # above to sum up, exactly).
    progress_hundredths: int = field(default=0, repr=False)


@dataclass
class GoalTree:
    """Organisation → unit → person, plus the goal hierarchy, for one cycle and one viewer."""

    cycle_id: int
    organisation: UnitNode
    goals: list[GoalNode]
    # Weight-averaged (by goal weight) progress of the top-level goals that have progress.
    goals_progress: float | None
    objectives_unlinked: int
    # Whether every unit lists its people (see PEOPLE_LISTED); else unit_people reads them.
    people_listed: bool = True
    # Every goal the viewer sees (list_goals): the tree's roots and all below them.
    goal_list: list[Goal] = field(default_factory=list)


async def current_objectives(
    cycle_id: int, person_ids: Iterable[int] | None, *, actuals_only: bool = False
) -> dict[int, list[dict[str, Any]]]:
    """Per person, the objectives of their newest objectives-bearing record in the cycle
    (`actuals_only`: with the latest actuals laid over but not the status and comment)."""
    records = await objective_index.current_records(cycle_id, person_ids)
    # In-year updates newer than the record move the roll-ups at once (ObjectiveStatus rows).
    return await with_latest_progress(
        cycle_id, records.objectives, records.written, actuals_only=actuals_only
    )


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


def _visible_people(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """The people whose numbers the viewer sees (None: everyone, an HR administrator — known
    without walking the 10,000 people below the top of the organisation)."""
    if _is_hr_admin(viewer, directory):
        return None
    visible = visible_subject_ids(viewer, directory)
    return None if visible is None else set(visible)


def _home(person_id: int, directory: DirectorySnapshot) -> int | None:
    """The unit a person is listed under (None: the organisation's own people)."""
    info = directory.people.get(person_id)
    return info.org_unit_id if info and info.org_unit_id in directory.units else None


def _unit_node(
    unit_id: int, directory: DirectorySnapshot, own: Mapping[int | None, UnitFigures]
) -> UnitNode | None:
    unit = directory.units[unit_id]
    node = UnitNode(id=unit_id, name=unit.name)
    for child_id in sorted(
        directory.unit_children.get(unit_id, []), key=lambda u: directory.units[u].name
    ):
        child = _unit_node(child_id, directory, own)
        if child is not None:
            node.children.append(child)
    _sum_up(node, own.get(unit_id))
    return node if node.people_count else None


def _sum_up(node: UnitNode, own: UnitFigures | None) -> None:
    """The unit's figures from its own people's and its sub-units' figures (already summed:
    bottom-up, so each unit's figures are added once)."""
    here = own or UnitFigures(node.id)
    node.people_here = node.people_count = here.people
    node.objectives = here.objectives
    node.with_actuals = here.with_actuals
    node.people_with_progress = here.with_progress
    node.progress_hundredths = here.hundredths
    for child in node.children:
        node.people_count += child.people_count
        node.objectives += child.objectives
        node.with_actuals += child.with_actuals
        node.people_with_progress += child.people_with_progress
        node.progress_hundredths += child.progress_hundredths
    node.progress = mean_of_hundredths(node.progress_hundredths, node.people_with_progress)


def _unit_tree(
    figures: Mapping[int | None, UnitFigures], directory: DirectorySnapshot
) -> UnitNode:
    """Organisation → units from the per-unit figures (objective_index.unit_figures): units
    in name order, those nobody of the scope is in left out; people of a unit the directory
    does not know count as the organisation's own."""
    own: dict[int | None, UnitFigures] = {}
    for unit_id, found in figures.items():
        home = unit_id if unit_id in directory.units else None
        own.setdefault(home, UnitFigures(home)).add(found)
    organisation = UnitNode(id=None, name="Organisation")
    top_units = sorted(
        (u for u in directory.units.values() if u.parent_id not in directory.units),
        key=lambda u: u.name,
    )
    for unit in top_units:
        child = _unit_node(unit.id, directory, own)
        if child is not None:
            organisation.children.append(child)
    _sum_up(organisation, own.get(None))
    return organisation


def _units_by_id(organisation: UnitNode) -> dict[int | None, UnitNode]:
    units: dict[int | None, UnitNode] = {}
    stack = [organisation]
    while stack:
        node = stack.pop()
        units[node.id] = node
        stack.extend(node.children)
    return units


async def _people_by_unit(
    cycle_id: int, scope: set[int] | None, directory: DirectorySnapshot
) -> dict[int | None, list[PersonNode]]:
    """A PersonNode for each person of the scope (None: everyone) the tree counts — those with
    objectives in the cycle (or a record holding none) and every active person — by the unit
    they are listed under, in name order. For a small scope or one unit's people only."""
    per_person = await objective_index.person_figures(cycle_id, scope)
    people_ids = set(per_person) | await objective_index.without_objectives(cycle_id, scope)
    if scope is None:
        people_ids.update(p.id for p in directory.people.values() if p.active)
    else:
        people_ids.update(pid for pid in scope
                          if (info := directory.people.get(pid)) is not None and info.active)
    by_unit: dict[int | None, list[PersonNode]] = {}
    for pid in people_ids:
        info = directory.people.get(pid)
        objectives, with_actuals, progress = per_person.get(pid) or (0, 0, None)
        by_unit.setdefault(_home(pid, directory), []).append(PersonNode(
            pid, info.name if info else f"#{pid}", progress, objectives, with_actuals))
    for nodes in by_unit.values():
        nodes.sort(key=lambda n: (n.name, n.person_id))
    return by_unit


async def goal_tree(
    cycle_id: int, viewer: SeesSubjects, *, contributors: int = CONTRIBUTORS_SHOWN,
    people_listed: int | None = PEOPLE_LISTED,
) -> GoalTree:
    """Goals and organisation → unit → person progress for the cycle, as the viewer may see.

    Read from the objective index (engine.performance.objective_index) with grouped queries:
    the units' figures summed in the database (each person's progress rounded there, then
    summed per unit), per `aligned` value the sums the goals need, the people per set of goals
    named, and the first contributors per goal — a few aggregates, not a row or an object per
    person. Units list their people only when the scope has at most `people_listed` people
    (None: always); unit_people reads one unit's when it is opened."""
    if not await Cycle.exists(id=cycle_id):
        raise NotFound(f"no cycle {cycle_id}")
    directory = await current_directory()
    people = _visible_people(viewer, directory)
    await objective_index.refresh(cycle_id)
    goals = await list_goals(cycle_id, viewer)
    by_value = await objective_index.aligned_sums(cycle_id, people)
    # Each distinct `aligned` value is matched to a goal once, not once per objective.
    links = {value: linked_goal_id(value, goals) for value in by_value}
    summed = await objective_index.rollup(
        cycle_id, people, {value: goal for value, goal in links.items() if goal is not None}
    )
    organisation = _unit_tree(summed.units, directory)
    listed = people_listed is None or organisation.people_count <= people_listed
    if listed:
        by_unit = await _people_by_unit(cycle_id, people, directory)
        for unit_id, node in _units_by_id(organisation).items():
            node.people = by_unit.get(unit_id, [])
    roots = await _indexed_goal_nodes(
        cycle_id, goals, by_value, links, summed.goal_sets, people, directory, contributors
    )
    _attach_goals(organisation, roots)
    return GoalTree(
        cycle_id=cycle_id,
        organisation=organisation,
        goals=roots,
        goals_progress=weighted_progress(
            (r.progress, r.goal.weight) for r in roots if not r.goal.retired
        ),
        objectives_unlinked=sum(s.objectives for v, s in by_value.items() if links[v] is None),
        people_listed=listed,
        goal_list=goals,
    )


async def unit_people(
    cycle_id: int, viewer: SeesSubjects, unit_id: int | None
) -> UnitNode | None:
    """One unit (None: the organisation, whose own people are those in no unit) as the Goals
    page shows it when it is opened: its figures, its sub-units and the people directly in it
    with their progress — reading the people of that unit and below only. None when the
    viewer sees no one there."""
    if not await Cycle.exists(id=cycle_id):
        raise NotFound(f"no cycle {cycle_id}")
    directory = await current_directory()
    people = _visible_people(viewer, directory)
    if unit_id is not None:
        if unit_id not in directory.units:
            return None
        below = _units_below([unit_id], directory)
        inside = {p.id for p in directory.people.values() if p.org_unit_id in below}
        people = inside if people is None else inside & people
    await objective_index.refresh(cycle_id)
    organisation = _unit_tree((await objective_index.rollup(cycle_id, people)).units, directory)
    node = _units_by_id(organisation).get(unit_id)
    if node is None:
        return None
    here = {pid for pid in (directory.people if people is None else people)
            if _home(pid, directory) == unit_id}
    node.people = (await _people_by_unit(cycle_id, here, directory)).get(unit_id, [])
    return node


async def _indexed_goal_nodes(
    cycle_id: int, goals: list[Goal], by_value: Mapping[str, Sums],
    links: Mapping[str, int | None], goal_sets: Mapping[frozenset[int], int],
    people: set[int] | None, directory: DirectorySnapshot, shown: int,
) -> list[GoalNode]:
    """The goal hierarchy with each goal's figures: its own objectives' sums plus those of its
    open sub-goals (a retired sub-goal keeps its own figures but no longer counts above)."""
    nodes = {g.id: GoalNode(goal=g) for g in goals}
    roots: list[GoalNode] = []
    for g in goals:
        parent = nodes.get(g.parent_id) if g.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[g.id])
    own: dict[int, list[str]] = {}
    for value, goal_id in links.items():
        if goal_id is not None:
            own.setdefault(goal_id, []).append(value)
    # The goal whose people a goal's people also are: its parent, while the goal is open.
    counts_in: dict[int, int] = {}
    filled: set[int] = set()

    def fill(node: GoalNode) -> Sums:
        filled.add(node.goal.id)
        values = own.get(node.goal.id, [])
        sums = Sums()
        for value in values:
            sums.add(by_value[value])
        node.contributors_count = sums.objectives
        for child in node.children:
            child_sums = fill(child)
            if not child.goal.retired:
                sums.add(child_sums)
                counts_in[child.goal.id] = node.goal.id
        node.objectives_linked = sums.objectives
        node.with_actuals = sums.scored
        node.progress = progress_of(sums)
        return sums

    for root in roots:
        fill(root)
    # A goal's people: those with an objective naming it or one of its open sub-goals (and
    # theirs …), each once — counted from how many people name each set of goals.
    for goal_set, count in goal_sets.items():
        reached: set[int] = set()
        for goal_id in goal_set:
            step: int | None = goal_id
            while step is not None and step not in reached:
                reached.add(step)
                step = counts_in.get(step)
        for goal_id in reached & filled:
            nodes[goal_id].people += count
    sizes = {goal_id: node.contributors_count for goal_id, node in nodes.items()}
    first = (await objective_index.first_contributors(cycle_id, own, people, shown, sizes)
             if shown else [])
    for row in first:
        info = directory.people.get(row.person_id)
        nodes[row.group].contributors.append(Contributor(
            row.person_id, info.name if info else f"#{row.person_id}", row.title,
            row.achievement,
        ))
    for node in nodes.values():
        node.contributors.sort(key=lambda c: (c.name.casefold(), c.person_id, c.objective))
    return roots


def _attach_goals(organisation: UnitNode, roots: list[GoalNode]) -> None:
    """Hang each goal node on the unit node it belongs to (the organisation's own at the top)."""
    units = _units_by_id(organisation)
    queue = list(roots)
    while queue:
        goal = queue.pop(0)
        holder = units.get(goal.goal.org_unit_id)
        if holder is not None:
            holder.goals.append(goal)
        queue.extend(goal.children)


# --- line of sight ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainLink:
    """One goal on an objective's way up: the goal and whose it is."""

    goal: Goal
    level: str  # "Organisation" or the unit's name


def goal_chain(
    goal_id: int | None, goals: Iterable[Goal], directory: DirectorySnapshot
) -> list[ChainLink]:
    """The goal and the goals it supports, up to the top (the organisation's, usually)."""
    by_id = {g.id: g for g in goals}
    chain: list[ChainLink] = []
    while goal_id is not None and goal_id in by_id and all(c.goal.id != goal_id for c in chain):
        goal = by_id[goal_id]
        unit = directory.unit(goal.org_unit_id)
        chain.append(ChainLink(goal, unit.name if unit else "Organisation"))
        goal_id = goal.parent_id
    return chain


async def objective_chains(cycle_id: int | None, aligned: Iterable[Any]) -> list[list[ChainLink]]:
    """For each objective's `aligned_goal`, its line of sight: the goal it supports, then that
    goal's parent and so on up ([] for an objective linked to no goal of the cycle). Shown on
    the score card of someone the viewer may already see, so every goal of the cycle counts."""
    values = list(aligned)
    if cycle_id is None:
        return [[] for _ in values]
    directory = await current_directory()
    goals = [_goal(row) for row in await OrgGoal.filter(cycle_id=cycle_id).order_by("id")]
    return [goal_chain(linked_goal_id(v, goals), goals, directory) for v in values]
