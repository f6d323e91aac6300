"""Dashboards' data: a manager's team status and HR's cycle dashboard.

The HR dashboard aggregates in SQL: instances grouped by (org unit, process, status), open
tasks by (org unit, process, step), final ratings and the proposed ratings of the appraisals
waiting for the release by (org unit, job family, rating), each a GROUP BY over indexed
columns returning a few hundred rows however large the cycle; unit roll-ups and guideline
maths then run in Python on those counts. docs/dashboards.md has the definitions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.base import clock
from engine.base.db import Params, is_postgres
from engine.base.errors import NotAllowed, NotFound
from engine.base.models import Cycle, HumanTask, ProcessInstance, Record
from engine.packs.loading import RecordsFeature
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.scripts.scoring import rating_level
from engine.workflow import runtime
from engine.workflow.access import HR_GROUP, SeesSubjects, can_view_subject, partnered_units
from engine.workflow.inbox import process_titles

OPEN_STATUSES = ("running", "waiting")
BANDS = ("low", "medium", "high")
# How many instances in error the dashboard lists (the count covers all of them).
ERRORS_LISTED = 50


# --- rating distribution against the guideline -----------------------------------------------


@dataclass
class LevelCount:
    """One rating level: how many people have it, and how many the guideline expects."""

    value: int
    label: str
    short: str
    count: int
    share: float  # percent of the rated people
    guideline_share: float
    guideline_count: float
    gap: float  # count - guideline_count: positive means more than the guideline expects
    within_tolerance: bool


@dataclass
class GroupCount:
    """A group of levels (Top 4–5, Core 3, Below 1–2) against its guideline share."""

    label: str
    levels: list[int]
    count: int
    share: float
    guideline_share: float
    guideline_count: float
    gap: float


@dataclass
class Distribution:
    """Ratings of one population against the rating scale's guideline distribution."""

    population: str
    rated: int
    levels: list[LevelCount]
    groups: list[GroupCount]
    tolerance: float
    # Ratings beyond the guideline's expectation, summed over the levels that have too many /
    # too few (each the sum of that side's gaps, rounded).
    above_guideline: int
    below_guideline: int
    # How pages name the population: "all", "unit:<id>" or "family:<job family>".
    key: str = ""


def rating_distribution(
    counts: Mapping[int, int], scale: Mapping[str, Any], population: str = "", key: str = ""
) -> Distribution:
    """Counts per rating level set against the catalog's [distribution] guideline."""
    guide = scale.get("distribution") or {}
    shares = {int(k): float(v) for k, v in (guide.get("shares") or {}).items()}
    tolerance = float(guide.get("tolerance") or 0)
    rated = sum(counts.get(int(level["value"]), 0) for level in scale.get("levels", []))

    def share(n: float) -> float:
        return round(n * 100 / rated, 1) if rated else 0.0

    levels = []
    for level in sorted(scale.get("levels", []), key=lambda lv: -int(lv["value"])):
        value = int(level["value"])
        count = counts.get(value, 0)
        expected = shares.get(value, 0.0) * rated / 100
        levels.append(LevelCount(
            value=value,
            label=str(level.get("label", value)),
            short=str(level.get("short", value)),
            count=count,
            share=share(count),
            guideline_share=shares.get(value, 0.0),
            guideline_count=round(expected, 1),
            gap=round(count - expected, 1),
            within_tolerance=abs(share(count) - shares.get(value, 0.0)) <= tolerance,
        ))
    groups = []
    for group in guide.get("groups") or []:
        members = [int(v) for v in group.get("levels", [])]
        count = sum(counts.get(v, 0) for v in members)
        guideline = float(group.get("share", sum(shares.get(v, 0.0) for v in members)))
        expected = guideline * rated / 100
        groups.append(GroupCount(
            label=str(group.get("label", "")),
            levels=members,
            count=count,
            share=share(count),
            guideline_share=guideline,
            guideline_count=round(expected, 1),
            gap=round(count - expected, 1),
        ))
    above = sum(lv.count - lv.guideline_share * rated / 100 for lv in levels
                if lv.count > lv.guideline_share * rated / 100)
    below = sum(lv.guideline_share * rated / 100 - lv.count for lv in levels
                if lv.count < lv.guideline_share * rated / 100)
    return Distribution(
        population=population,
        rated=rated,
        levels=levels,
        groups=groups,
        tolerance=tolerance,
        above_guideline=round(above),
        below_guideline=round(below),
        key=key,
    )


def _rating_of(data: Any) -> int | None:
    if not isinstance(data, Mapping):
        return None
    value = data.get("rating")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value)


# --- SQL -------------------------------------------------------------------------------------


def _rating_sql() -> str:
    # Only numeric ratings count; a malformed one must not break the whole dashboard.
    if is_postgres():
        return ("CASE WHEN jsonb_typeof(r.data->'rating') = 'number' "
                "THEN CAST(ROUND(CAST(r.data->>'rating' AS NUMERIC)) AS INTEGER) END")
    return ("CASE WHEN json_type(r.data, '$.rating') IN ('integer', 'real') "
            "THEN CAST(ROUND(json_extract(r.data, '$.rating')) AS INTEGER) END")


def _in(column: str, values: Collection[int] | None, p: Params) -> str:
    """` AND column IN (…)` for a scope (None: everyone, no condition)."""
    if values is None:
        return ""
    return f" AND {column} IN ({p.many(sorted(values))})"


# --- shared helpers --------------------------------------------------------------------------


async def _cycle(cycle_id: int) -> Cycle:
    cycle = await Cycle.get_or_none(id=cycle_id)
    if cycle is None:
        raise NotFound(f"no cycle {cycle_id}")
    return cycle


def performance_band(rating: float | None, weighted_score: float | None) -> str | None:
    """low (1–2) / medium (3) / high (4–5) from the final rating, else the weighted KPI score."""
    level = rating_level(rating) if rating is not None else rating_level(weighted_score)
    if level is None:
        return None
    return "low" if level <= 2 else "medium" if level == 3 else "high"


def potential_band(value: Any) -> str | None:
    """low / medium / high from a "potential" answer (words, or 1..3); None when unknown."""
    if isinstance(value, str):
        word = value.strip().casefold()
        word = {"moderate": "medium", "med": "medium", "mid": "medium"}.get(word, word)
        if word in BANDS:
            return word
        value = int(word) if word.isdigit() else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (1, 2, 3):
        return BANDS[int(value) - 1]
    return None


# --- manager: team status --------------------------------------------------------------------


@dataclass
class StepStatus:
    """An open task: where a process stands and who it waits on."""

    task_id: int
    instance_id: int
    subject_id: int | None
    subject_name: str
    name: str
    bpmn_id: str
    waiting_on: str  # a person's name, or the group ("hr")
    # employee (the subject), manager (the subject's manager), group, or other
    waiting_on_role: str
    due_at: datetime | None
    overdue: bool


@dataclass
class ProcessStatus:
    """One instance of a report's process in the cycle."""

    instance_id: int
    process_id: str
    title: str
    status: str
    steps: list[StepStatus] = field(default_factory=list)
    error: str | None = None


@dataclass
class ReportStatus:
    """One report: their processes, result and 9-box position."""

    person_id: int
    name: str
    title: str
    processes: list[ProcessStatus]
    final_rating: int | None
    rating_label: str
    weighted_score: float | None
    performance: str | None
    potential: str | None


@dataclass
class NineBoxCell:
    """One cell of the 9-box (performance × potential) and who sits in it."""

    performance: str
    potential: str
    people: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class TeamStatus:
    """A manager's view of their team in one cycle."""

    manager_id: int
    cycle_id: int
    cycle_name: str
    reports: list[ReportStatus]
    overdue: list[StepStatus]
    distribution: Distribution
    nine_box: list[NineBoxCell]  # 9 cells, high performance / high potential first
    # Reports with a performance band but no potential on record (outside the 9-box).
    potential_unknown: list[tuple[int, str]]
    # Reports with no rating or KPI score yet.
    not_assessed: list[tuple[int, str]]


def _waiting_on(
    assignee_id: int | None, group: str | None, subject_id: int | None,
    directory: DirectorySnapshot,
) -> tuple[str, str]:
    if assignee_id is not None:
        person = directory.people.get(assignee_id)
        name = person.name if person else f"#{assignee_id}"
        subject = directory.people.get(subject_id) if subject_id is not None else None
        if assignee_id == subject_id:
            return name, "employee"
        if subject is not None and subject.manager_id == assignee_id:
            return name, "manager"
        return name, "other"
    if group:
        return group, "group"
    return "several candidates", "group"


def _latest_by_person(rows: Iterable[tuple[int, Any]]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for person_id, data in rows:
        found[person_id] = data  # rows come ordered by id: the newest wins
    return found


async def _newest_cycle_of(people: Collection[int]) -> int | None:
    row = (
        await ProcessInstance.filter(subject_id__in=list(people), cycle_id__not_isnull=True)
        .order_by("-cycle_id")
        .only("cycle_id")
        .first()
    )
    return row.cycle_id if row else None


async def team_status(
    manager_id: int, cycle_id: int | None, viewer: SeesSubjects, *, indirect: bool = False
) -> TeamStatus:
    """Where each of the manager's reports stands in the cycle (None: their newest cycle)."""
    directory = await current_directory()
    # HR may look at any manager's team, but sees only the reports in its population.
    if manager_id not in directory.people or not (
        HR_GROUP in viewer.groups
        or can_view_subject(viewer.person_id, viewer.groups, manager_id, directory)
    ):
        raise NotFound(f"no person {manager_id}")
    team = [
        pid for pid in directory.reports_of(manager_id, indirect=indirect)
        if can_view_subject(viewer.person_id, viewer.groups, pid, directory)
    ]
    if cycle_id is None:
        cycle_id = await _newest_cycle_of(team)
        if cycle_id is None:
            raise NotFound("the team has no process in any cycle yet")
    cycle = await _cycle(cycle_id)
    now = clock.now()
    titles = await process_titles()
    instances = await ProcessInstance.filter(cycle_id=cycle_id, subject_id__in=team).order_by(
        "id"
    ).values("id", "subject_id", "process_id", "status", "error")
    by_instance = {
        row["id"]: ProcessStatus(
            instance_id=row["id"],
            process_id=row["process_id"],
            title=titles.get(row["process_id"], row["process_id"]),
            status=row["status"],
            error=(row["error"] or {}).get("message") if row["status"] == "error" else None,
        )
        for row in instances
    }
    subject_of = {row["id"]: row["subject_id"] for row in instances}
    overdue: list[StepStatus] = []
    tasks = await HumanTask.filter(instance_id__in=list(by_instance), status="ready").order_by(
        "id"
    ).values("id", "instance_id", "name", "bpmn_id", "assignee_id", "candidate_group", "due_at")
    for task in tasks:
        subject_id = subject_of[task["instance_id"]]
        holder, role = _waiting_on(
            task["assignee_id"], task["candidate_group"], subject_id, directory
        )
        subject = directory.people.get(subject_id) if subject_id is not None else None
        step = StepStatus(
            task_id=task["id"],
            instance_id=task["instance_id"],
            subject_id=subject_id,
            subject_name=subject.name if subject else "",
            name=task["name"],
            bpmn_id=task["bpmn_id"],
            waiting_on=holder,
            waiting_on_role=role,
            due_at=task["due_at"],
            overdue=task["due_at"] is not None and task["due_at"] < now,
        )
        by_instance[task["instance_id"]].steps.append(step)
        if step.overdue:
            overdue.append(step)
    pack = await cycle_pack(cycle_id)
    kinds = pack.features.records
    records = Record.filter(cycle_id=cycle_id, person_id__in=team).order_by("id")
    ratings = _latest_by_person(
        await records.filter(kind=kinds.final_rating).values_list("person_id", "data")
    )
    kpis = _latest_by_person(
        await records.filter(kind=kinds.kpi_results).values_list("person_id", "data")
    )
    potentials = await _potentials(list(by_instance), subject_of, ratings, kinds)
    scale = pack.catalogs.get("rating_scale", {})
    labels = {int(lv["value"]): str(lv.get("label", "")) for lv in scale.get("levels", [])}
    reports = []
    for pid in sorted(team, key=lambda p: (directory.people[p].name, p)):
        person = directory.people[pid]
        rating = _rating_of(ratings.get(pid))
        score = _score_of(kpis.get(pid), ratings.get(pid))
        reports.append(ReportStatus(
            person_id=pid,
            name=person.name,
            title=person.title,
            processes=[p for i, p in by_instance.items() if subject_of[i] == pid],
            final_rating=rating,
            rating_label=labels.get(rating, "") if rating is not None else "",
            weighted_score=score,
            performance=performance_band(rating, score),
            potential=potentials.get(pid),
        ))
    counts: dict[int, int] = {}
    for report in reports:
        if report.final_rating is not None:
            counts[report.final_rating] = counts.get(report.final_rating, 0) + 1
    cells = {
        (perf, pot): NineBoxCell(perf, pot)
        for perf in reversed(BANDS) for pot in reversed(BANDS)
    }
    unknown, not_assessed = [], []
    for report in reports:
        if report.performance is None:
            not_assessed.append((report.person_id, report.name))
        elif report.potential is None:
            unknown.append((report.person_id, report.name))
        else:
            cells[(report.performance, report.potential)].people.append(
                (report.person_id, report.name)
            )
    return TeamStatus(
        manager_id=manager_id,
        cycle_id=cycle_id,
        cycle_name=cycle.name,
        reports=reports,
        overdue=sorted(overdue, key=lambda s: (s.due_at or now, s.task_id)),
        distribution=rating_distribution(counts, scale, "team"),
        nine_box=list(cells.values()),
        potential_unknown=unknown,
        not_assessed=not_assessed,
    )


def _score_of(kpi: Any, rating: Any) -> float | None:
    for data, key in ((kpi, "weighted_score"), (rating, "kpi_score")):
        value = _number(data.get(key)) if isinstance(data, Mapping) else None
        if value is not None:
            return value
    return None


async def _potentials(
    instance_ids: list[int], subject_of: Mapping[int, int | None], ratings: Mapping[int, Any],
    kinds: RecordsFeature,
) -> dict[int, str]:
    """Potential per person: the final rating record's potential field ("potential" unless
    the pack's [features.records] says otherwise), else the newest one a completed task of
    the cycle submitted (the manager appraisal, if the pack's form asks for it)."""
    answer = kinds.potential_field
    found: dict[int, str] = {}
    tasks = await HumanTask.filter(instance_id__in=instance_ids, status="completed").order_by(
        "id"
    ).values("instance_id", "submitted")
    for task in tasks:
        submitted = task["submitted"]
        if isinstance(submitted, Mapping) and answer in submitted:
            band = potential_band(submitted[answer])
            subject = subject_of.get(task["instance_id"])
            if band is not None and subject is not None:
                found[subject] = band
    for pid, data in ratings.items():
        band = potential_band(data.get(answer)) if isinstance(data, Mapping) else None
        if band is not None:
            found[pid] = band
    return found


# --- HR: the cycle dashboard -----------------------------------------------------------------


@dataclass
class StepCount:
    """One step of a process: instances waiting there, tasks overdue there."""

    bpmn_id: str
    name: str
    at_step: int
    overdue: int
    order: int = 0  # smallest task id seen: the order in which steps are first reached


@dataclass
class ProcessFunnel:
    """One process of the cycle: started, where the open ones are, finished."""

    process_id: str
    title: str
    started: int = 0
    open: int = 0
    completed: int = 0
    error: int = 0
    cancelled: int = 0
    steps: list[StepCount] = field(default_factory=list)

    @property
    def percent_completed(self) -> int:
        """Completed share of the started instances, rounded down."""
        return self.completed * 100 // self.started if self.started else 0


@dataclass
class UnitFunnel:
    """An org unit with its sub-units: every process's funnel."""

    unit_id: int | None  # None: people without an org unit
    code: str
    name: str
    depth: int
    processes: list[ProcessFunnel]


@dataclass
class OverdueStep:
    """Overdue tasks of one process step across the population."""

    process_id: str
    process_title: str
    bpmn_id: str
    name: str
    open: int
    overdue: int


@dataclass
class InstanceError:
    """An instance stopped on an error: which task, what message."""

    instance_id: int
    process_id: str
    subject_id: int | None
    subject_name: str
    task: str
    message: str


@dataclass
class HrDashboard:
    """HR's view of one cycle for their population."""

    cycle_id: int
    cycle_name: str
    scope: str  # "organisation", or the partnered units' names
    totals: list[ProcessFunnel]
    units: list[UnitFunnel]
    overdue: list[OverdueStep]
    calibration: list[Distribution]  # the whole scope first, then units, then job families
    errors: list[InstanceError]
    errors_total: int
    # Per population key: the proposed ratings of the appraisals waiting for the release …
    proposed: dict[str, Distribution] = field(default_factory=dict)
    # … and how many appraisals wait (with or without a proposal on record).
    awaiting_release: dict[str, int] = field(default_factory=dict)


def hr_scope(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """Org units whose people the HR viewer covers (None: everyone); NotAllowed for others."""
    if HR_GROUP not in viewer.groups:
        raise NotAllowed("the HR dashboard is for HR")
    units = partnered_units(viewer.person_id, directory)
    if not units:
        return None
    return {uid for root in units for uid in directory.unit_and_descendants(root)}


def _unit_order(
    directory: DirectorySnapshot, scope: set[int] | None
) -> list[tuple[int, int]]:
    """(unit id, depth) in tree order, for the units in scope (their tops at depth 0)."""
    tops = sorted(
        (u for u in directory.units.values()
         if (scope is None or u.id in scope)
         and (u.parent_id is None or u.parent_id not in directory.units
              or (scope is not None and u.parent_id not in scope))),
        key=lambda u: u.name, reverse=True,
    )
    out: list[tuple[int, int]] = []
    stack = [(u.id, 0) for u in tops]
    while stack:
        uid, depth = stack.pop()
        out.append((uid, depth))
        children = sorted(directory.unit_children.get(uid, []),
                          key=lambda c: directory.units[c].name, reverse=True)
        stack.extend((c, depth + 1) for c in children)
    return out


def _funnel(
    process_id: str, titles: Mapping[str, str], into: dict[str, ProcessFunnel]
) -> ProcessFunnel:
    found = into.get(process_id)
    if found is None:
        found = into[process_id] = ProcessFunnel(process_id, titles.get(process_id, process_id))
    return found


def _add_status(funnel: ProcessFunnel, status: str, n: int) -> None:
    funnel.started += n
    if status in ("completed", "error", "cancelled"):
        setattr(funnel, status, getattr(funnel, status) + n)
    else:
        funnel.open += n


def _add_step(funnel: ProcessFunnel, row: Mapping[str, Any]) -> None:
    step = next((s for s in funnel.steps if s.bpmn_id == row["bpmn_id"]), None)
    if step is None:
        step = StepCount(row["bpmn_id"], row["name"], 0, 0, row["first_id"])
        funnel.steps.append(step)
    step.at_step += row["at_step"]
    step.overdue += row["overdue"] or 0
    step.order = min(step.order, row["first_id"])


def _sorted_funnels(funnels: dict[str, ProcessFunnel]) -> list[ProcessFunnel]:
    for funnel in funnels.values():
        funnel.steps.sort(key=lambda s: s.order)
    return sorted(funnels.values(), key=lambda f: f.title.casefold())


async def hr_dashboard(cycle_id: int, viewer: SeesSubjects) -> HrDashboard:
    """Completion funnel by unit, overdue steps, calibration and errors of the cycle."""
    directory = await current_directory()
    scope = hr_scope(viewer, directory)
    cycle = await _cycle(cycle_id)
    titles = await process_titles()
    pack = await cycle_pack(cycle_id)
    kinds = pack.features.records
    p = Params()
    status_rows = await p.rows(
        "SELECT p.org_unit_id AS unit, i.process_id AS process, i.status AS status, "
        "COUNT(*) AS n FROM process_instance i LEFT JOIN person p ON p.id = i.subject_id "
        f"WHERE i.cycle_id = {p(cycle_id)}{_in('p.org_unit_id', scope, p)} "
        "GROUP BY p.org_unit_id, i.process_id, i.status"
    )
    p = Params()
    step_rows = await p.rows(
        "SELECT p.org_unit_id AS unit, i.process_id AS process, t.bpmn_id AS bpmn_id, "
        "MIN(t.name) AS name, COUNT(DISTINCT t.instance_id) AS at_step, "
        f"SUM(CASE WHEN t.due_at < {p(clock.now())} THEN 1 ELSE 0 END) AS overdue, "
        "MIN(t.id) AS first_id "
        "FROM process_instance i JOIN human_task t ON t.instance_id = i.id "
        "LEFT JOIN person p ON p.id = i.subject_id "
        f"WHERE i.cycle_id = {p(cycle_id)} AND t.status = 'ready'"
        f"{_in('p.org_unit_id', scope, p)} "
        "GROUP BY p.org_unit_id, i.process_id, t.bpmn_id"
    )
    p = Params()
    rating_rows = await p.rows(
        f"SELECT p.org_unit_id AS unit, p.job_family AS family, {_rating_sql()} AS rating, "
        "COUNT(*) AS n FROM record r JOIN person p ON p.id = r.person_id "
        f"WHERE r.id IN (SELECT MAX(id) FROM record WHERE cycle_id = {p(cycle_id)} "
        f"AND kind = {p(kinds.final_rating)} GROUP BY person_id)"
        f"{_in('p.org_unit_id', scope, p)} GROUP BY p.org_unit_id, p.job_family, rating"
    )
    # Appraisals waiting for the release, each with its newest proposal (rating NULL: none).
    p = Params()
    signal = pack.features.calibration.release_signal
    proposed_rows = await p.rows(
        f"SELECT p.org_unit_id AS unit, p.job_family AS family, {_rating_sql()} AS rating, "
        "COUNT(DISTINCT i.subject_id) AS n FROM process_instance i "
        "JOIN person p ON p.id = i.subject_id "
        f"LEFT JOIN (SELECT person_id, MAX(id) AS id FROM record WHERE cycle_id = {p(cycle_id)} "
        f"AND kind = {p(kinds.proposed_rating)} GROUP BY person_id) latest "
        "ON latest.person_id = i.subject_id LEFT JOIN record r ON r.id = latest.id "
        f"WHERE i.cycle_id = {p(cycle_id)} AND i.status = 'running' "
        f"AND i.waiting_for LIKE {p(f'%|{signal}|%')}{_in('p.org_unit_id', scope, p)} "
        "GROUP BY p.org_unit_id, p.job_family, rating"
    )

    order = _unit_order(directory, scope)
    in_scope = {uid for uid, _ in order}

    chains: dict[int | None, list[int | None]] = {}

    def owners(unit_id: int | None) -> list[int | None]:
        """The unit and every ancestor in scope: a row counts for each of them."""
        found = chains.get(unit_id)
        if found is not None:
            return found
        if unit_id is None or unit_id not in directory.units:
            chains[unit_id] = [None]
            return chains[unit_id]
        chain: list[int | None] = []
        current: int | None = unit_id
        while current is not None and current in in_scope and current not in chain:
            chain.append(current)
            current = directory.units[current].parent_id
        chains[unit_id] = chain
        return chain

    totals: dict[str, ProcessFunnel] = {}
    per_unit: dict[int | None, dict[str, ProcessFunnel]] = {}
    for row in status_rows:
        _add_status(_funnel(row["process"], titles, totals), row["status"], row["n"])
        for owner in owners(row["unit"]):
            funnels = per_unit.setdefault(owner, {})
            _add_status(_funnel(row["process"], titles, funnels), row["status"], row["n"])
    for row in step_rows:
        _add_step(_funnel(row["process"], titles, totals), row)
        for owner in owners(row["unit"]):
            _add_step(_funnel(row["process"], titles, per_unit.setdefault(owner, {})), row)

    units = []
    for uid, depth in order:
        if uid in per_unit:
            unit = directory.units[uid]
            units.append(UnitFunnel(uid, unit.code, unit.name, depth, _sorted_funnels(
                per_unit[uid]
            )))
    if None in per_unit:
        units.append(UnitFunnel(None, "", "No org unit", 0, _sorted_funnels(per_unit[None])))
    total_funnels = _sorted_funnels(totals)
    overdue = [
        OverdueStep(f.process_id, f.title, s.bpmn_id, s.name, s.at_step, s.overdue)
        for f in total_funnels for s in f.steps if s.overdue
    ]
    overdue.sort(key=lambda o: -o.overdue)

    scale = pack.catalogs.get("rating_scale", {})
    final = _population_counts(rating_rows, owners)
    proposed = _population_counts(proposed_rows, owners)
    # Waiting appraisals per population, whether or not a proposal is on record.
    waiting = _population_counts(
        [{**row, "rating": 0} for row in proposed_rows], owners
    )
    scope_name = "organisation" if scope is None else ", ".join(
        directory.units[u].name for u, depth in order if depth == 0
    )
    populations = [("all", scope_name)]
    populations += [
        (f"unit:{uid}", directory.units[uid].name) for uid, depth in order
        if depth <= 1 and (f"unit:{uid}" in final or f"unit:{uid}" in waiting)
    ]
    populations += sorted(
        (key, f"job family {key.removeprefix('family:') or '—'}")
        for key in {*final, *waiting} if key.startswith("family:")
    )
    calibration = [
        rating_distribution(final.get(key, {}), scale, name, key) for key, name in populations
    ]
    proposed_by_key = {
        key: rating_distribution(proposed.get(key, {}), scale, name, key)
        for key, name in populations
    }
    awaiting = {key: sum(waiting.get(key, {}).values()) for key, _ in populations}

    errors, errors_total = await _errors(cycle_id, scope, directory)
    return HrDashboard(
        cycle_id=cycle_id,
        cycle_name=cycle.name,
        scope=scope_name,
        totals=total_funnels,
        units=units,
        overdue=overdue,
        calibration=calibration,
        errors=errors,
        errors_total=errors_total,
        proposed=proposed_by_key,
        awaiting_release=awaiting,
    )


def _population_counts(
    rows: Iterable[Mapping[str, Any]], owners: Any
) -> dict[str, dict[int, int]]:
    """Counts per rating for each population key a (unit, family, rating, n) row falls in:
    "all", its unit and every unit above it in scope, its job family."""
    found: dict[str, dict[int, int]] = {}
    for row in rows:
        rating = row["rating"]
        if rating is None:
            continue
        keys = ["all", f"family:{row['family'] or ''}"]
        keys += [f"unit:{owner}" for owner in owners(row["unit"]) if owner is not None]
        for key in keys:
            counts = found.setdefault(key, {})
            counts[rating] = counts.get(rating, 0) + row["n"]
    return found


async def _errors(
    cycle_id: int, scope: set[int] | None, directory: DirectorySnapshot
) -> tuple[list[InstanceError], int]:
    query = ProcessInstance.filter(cycle_id=cycle_id, status="error")
    if scope is not None:
        query = query.filter(subject__org_unit_id__in=sorted(scope))
    total = await query.count()
    rows = await query.order_by("id").limit(ERRORS_LISTED).values(
        "id", "process_id", "subject_id", "error"
    )
    listed = []
    for row in rows:
        error = row["error"] or {}
        subject = directory.people.get(row["subject_id"]) if row["subject_id"] else None
        listed.append(InstanceError(
            instance_id=row["id"],
            process_id=row["process_id"],
            subject_id=row["subject_id"],
            subject_name=subject.name if subject else "",
            task=str(error.get("task_name") or error.get("task") or ""),
            message=str(error.get("message") or ""),
        ))
    return listed, total


# --- HR: calibrating one population ----------------------------------------------------------


@dataclass
class AwaitingRelease:
    """An appraisal waiting for the release, with what its manager proposes."""

    instance_id: int
    person_id: int
    person_key: str
    name: str
    unit: str
    manager: str
    kpi_score: float | None
    self_average: float | None
    proposed_rating: int | None  # None: no proposal on record (the manager's rating stands)


@dataclass
class PopulationCalibration:
    """One population's appraisals waiting for the release, and their proposed ratings
    against the guideline."""

    cycle_id: int
    cycle_name: str
    key: str
    population: str
    people: list[AwaitingRelease]
    proposed: Distribution
    levels: list[tuple[int, str]]  # the cycle's rating scale, best first: (value, label)


def population_people(
    key: str, scope: set[int] | None, directory: DirectorySnapshot
) -> tuple[str, set[int]]:
    """The name and person ids of a population key (all, unit:<id>, family:<name>) within an
    HR scope; NotFound for an unknown key or a unit outside the scope."""
    kind, _, value = key.partition(":")
    if key == "all":
        name = "organisation" if scope is None else ", ".join(
            directory.units[u].name for u, depth in _unit_order(directory, scope) if depth == 0
        )
        people = set(directory.people)
    elif kind == "family":
        name = f"job family {value or '—'}"
        people = {p.id for p in directory.people.values() if p.job_family == value}
    elif kind == "unit" and value.isdigit() and int(value) in directory.units and (
        scope is None or int(value) in scope
    ):
        name = directory.units[int(value)].name
        people = {
            p.id for p in directory.people_in_unit(
                int(value), include_subunits=True, include_inactive=True
            )
        }
    else:
        raise NotFound(f"no population {key!r}")
    if scope is not None:
        people = {pid for pid in people if directory.people[pid].org_unit_id in scope}
    return name, people


async def population_calibration(
    cycle_id: int, key: str, viewer: SeesSubjects
) -> PopulationCalibration:
    """The people of one population whose appraisals wait for the release, by unit and name,
    with the manager's proposal (HR only; an HR partner within their units)."""
    directory = await current_directory()
    scope = hr_scope(viewer, directory)
    cycle = await _cycle(cycle_id)
    name, members = population_people(key, scope, directory)
    pack = await cycle_pack(cycle_id)
    signal = pack.features.calibration.release_signal
    waiting = {
        subject_id: instance_id
        for instance_id, subject_id in await ProcessInstance.filter(
            cycle_id=cycle_id, status="running", waiting_for__contains=f"|{signal}|"
        ).order_by("id").values_list("id", "subject_id")
        if subject_id in members
    }
    proposals = _latest_by_person(
        await Record.filter(
            cycle_id=cycle_id, kind=pack.features.records.proposed_rating,
            person_id__in=list(waiting),
        ).order_by("id").values_list("person_id", "data")
    )
    people = []
    for pid, instance_id in waiting.items():
        person = directory.people[pid]
        proposal = proposals.get(pid) or {}
        unit = directory.units.get(person.org_unit_id) if person.org_unit_id else None
        manager = directory.people.get(person.manager_id) if person.manager_id else None
        people.append(AwaitingRelease(
            instance_id=instance_id,
            person_id=pid,
            person_key=person.key,
            name=person.name,
            unit=unit.name if unit else "",
            manager=str(proposal.get("manager_name") or (manager.name if manager else "")),
            kpi_score=_number(proposal.get("kpi_score")),
            self_average=_number(proposal.get("self_competency_avg")),
            proposed_rating=_rating_of(proposal),
        ))
    people.sort(key=lambda a: (a.unit.casefold(), a.name.casefold(), a.person_id))
    scale = pack.catalogs.get("rating_scale", {})
    counts: dict[int, int] = {}
    for entry in people:
        if entry.proposed_rating is not None:
            counts[entry.proposed_rating] = counts.get(entry.proposed_rating, 0) + 1
    return PopulationCalibration(
        cycle_id=cycle_id,
        cycle_name=cycle.name,
        key=key,
        population=name,
        people=people,
        proposed=rating_distribution(counts, scale, name, key),
        levels=[
            (int(lv["value"]), str(lv.get("label", lv["value"])))
            for lv in sorted(scale.get("levels", []), key=lambda lv: -int(lv["value"]))
        ],
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


async def send_release(
    cycle_id: int,
    instance_ids: list[int],
    actor: Any,
    payload: Any = None,
    *,
    audit: Any = None,
) -> list[int]:
    """Send the cycle's release signal ([features.calibration] of its pack) to the given
    appraisals; returns the instances that caught it (runtime.send_signal)."""
    if not instance_ids:
        return []
    signal = (await cycle_pack(cycle_id)).features.calibration.release_signal
    return await runtime.send_signal(signal, instance_ids, actor, payload, audit=audit)
