"""HR's dashboard of one cycle: completion funnels by org unit, overdue steps, the rating
distribution of each population against the guideline (final, and proposed while the
appraisals wait for the release), and instances stopped on an error.

It aggregates in SQL: instances grouped by (org unit, process, status), open tasks by
(org unit, process, step), final ratings and the proposed ratings of the appraisals waiting
for the release by (org unit, job family, rating), each a GROUP BY over indexed columns
returning a few hundred rows however large the cycle; unit roll-ups and guideline maths then
run in Python on those counts. docs/dashboards.md has the definitions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.base import clock
from engine.base.db import Params, is_postgres
from engine.base.i18n import said
from engine.people.directory import current_directory
from engine.performance.cycle_choice import find_cycle
from engine.performance.cycle_errors import InstanceError, cycle_errors
from engine.performance.deployed_pack import cycle_pack
from engine.performance.distribution import Distribution, rating_distribution
from engine.performance.populations import hr_scope, job_family_name, scope_name, unit_order
from engine.workflow.access import SeesSubjects
from engine.workflow.inbox import process_titles


def rating_sql() -> str:
    """The SQL of a record's numeric `rating` as an integer (aliased `r`), NULL otherwise: a
    malformed rating must not break a whole dashboard."""
    if is_postgres():
        return ("CASE WHEN jsonb_typeof(r.data->'rating') = 'number' "
                "THEN CAST(ROUND(CAST(r.data->>'rating' AS NUMERIC)) AS INTEGER) END")
    return ("CASE WHEN json_type(r.data, '$.rating') IN ('integer', 'real') "
            "THEN CAST(ROUND(json_extract(r.data, '$.rating')) AS INTEGER) END")


def sql_in(column: str, values: Collection[int] | None, p: Params) -> str:
    """` AND column IN (…)` for a scope (None: everyone, no condition)."""
    if values is None:
        return ""
    return f" AND {column} IN ({p.many(sorted(values))})"



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
    cycle = await find_cycle(cycle_id)
    titles = await process_titles()
    pack = await cycle_pack(cycle_id)
    kinds = pack.features.records
    p = Params()
    status_rows = await p.rows(
        "SELECT p.org_unit_id AS unit, i.process_id AS process, i.status AS status, "
        "COUNT(*) AS n FROM process_instance i LEFT JOIN person p ON p.id = i.subject_id "
        f"WHERE i.cycle_id = {p(cycle_id)}{sql_in('p.org_unit_id', scope, p)} "
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
        f"{sql_in('p.org_unit_id', scope, p)} "
        "GROUP BY p.org_unit_id, i.process_id, t.bpmn_id"
    )
    p = Params()
    rating_rows = await p.rows(
        f"SELECT p.org_unit_id AS unit, p.job_family AS family, {rating_sql()} AS rating, "
        "COUNT(*) AS n FROM record r JOIN person p ON p.id = r.person_id "
        f"WHERE r.id IN (SELECT MAX(id) FROM record WHERE cycle_id = {p(cycle_id)} "
        f"AND kind = {p(kinds.final_rating)} GROUP BY person_id)"
        f"{sql_in('p.org_unit_id', scope, p)} GROUP BY p.org_unit_id, p.job_family, rating"
    )
    # Appraisals waiting for the release, each with its newest proposal (rating NULL: none).
    p = Params()
    signal = pack.features.calibration.release_signal
    proposed_rows = await p.rows(
        f"SELECT p.org_unit_id AS unit, p.job_family AS family, {rating_sql()} AS rating, "
        "COUNT(DISTINCT i.subject_id) AS n FROM process_instance i "
        "JOIN person p ON p.id = i.subject_id "
        f"LEFT JOIN (SELECT person_id, MAX(id) AS id FROM record WHERE cycle_id = {p(cycle_id)} "
        f"AND kind = {p(kinds.proposed_rating)} GROUP BY person_id) latest "
        "ON latest.person_id = i.subject_id LEFT JOIN record r ON r.id = latest.id "
        f"WHERE i.cycle_id = {p(cycle_id)} AND i.status = 'running' "
        f"AND i.waiting_for LIKE {p(f'%|{signal}|%')}{sql_in('p.org_unit_id', scope, p)} "
        "GROUP BY p.org_unit_id, p.job_family, rating"
    )

    order = unit_order(directory, scope)
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
        units.append(UnitFunnel(None, "", said("No org unit"), 0,
                                _sorted_funnels(per_unit[None])))
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
    scope_named = scope_name(directory, scope)
    populations = [("all", scope_named)]
    populations += [
        (f"unit:{uid}", directory.units[uid].name) for uid, depth in order
        if depth <= 1 and (f"unit:{uid}" in final or f"unit:{uid}" in waiting)
    ]
    populations += sorted(
        (key, job_family_name(key.removeprefix("family:")))
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

    errors, errors_total = await cycle_errors(cycle_id, scope, directory)
    return HrDashboard(
        cycle_id=cycle_id,
        cycle_name=cycle.name,
        scope=scope_named,
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
