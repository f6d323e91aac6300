"""The HR dashboard over a generated cycle of thousands of people (`sightline bench
--dashboards`)."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from engine.operations.bench.common import STANDARD, bench_database, migrated
from engine.operations.bench.engine_bench import OBJECTIVES
from engine.performance.objectives import objective_key

# Where the year-end appraisals of the dashboards bench stand, by employee number modulo 20:
# (step id, step name, who holds it, status of the instance).
_YEAR_END_STEPS = (
    [("self_appraisal", "Self-appraisal", "employee", "running")] * 4
    + [("manager_appraisal", "Manager appraisal", "manager", "running")] * 3
    + [("hr_mediation", "Mediate the appraisal", "group", "running")]
    + [(None, "", "", "waiting")] * 2
    + [("appraisal_discussion", "Hold the appraisal discussion", "manager", "running")] * 2
    + [("employee_signoff", "Sign off the appraisal", "employee", "running")] * 2
    + [("hr_final_approval", "Approve the final rating", "group", "running")]
    + [(None, "", "", "error")]
    + [(None, "", "", "completed")] * 4
)


# The competencies every generated person is rated on (the standard pack's core ones).
COMPETENCIES = ("communication", "collaboration", "customer_focus", "delivering_results",
                "problem_solving", "technical_mastery")


# The cycle's goals: the organisation's, one per department below it, one per team of the
# first TEAM_GOALS teams below their department's, and a retired one still named by objectives.
TEAM_GOALS = 30
ORG_GOAL = "Grow revenue"


def _goal_ids(departments: int) -> tuple[int, int, int]:
    """Ids of the organisation's goal, of the first department's goal, of the retired goal;
    the first team's goal follows it."""
    return 1, 2, 2 + departments


def _goals(batch: Any, departments: int, teams: int, now: Any) -> None:
    from engine.base.models import OrgGoal

    org, first_department, retired = _goal_ids(departments)
    batch.insert(OrgGoal, {"id": org, "cycle_id": 1, "title": ORG_GOAL, "weight": 2.0})
    for d in range(departments):
        batch.insert(OrgGoal, {"id": first_department + d, "cycle_id": 1, "org_unit_id": 2 + d,
                               "title": f"Department {d} delivers", "parent_id": org})
    batch.insert(OrgGoal, {"id": retired, "cycle_id": 1, "title": "Legacy programme",
                           "parent_id": org, "retired_at": now, "retired_by": "P1"})
    for t in range(min(teams, TEAM_GOALS)):
        batch.insert(OrgGoal, {"id": retired + 1 + t, "cycle_id": 1,
                               "org_unit_id": 2 + departments + t, "title": f"Team {t} ships",
                               "parent_id": first_department + t % departments})


def _objectives(n: int, departments: int, teams: int) -> dict[str, Any]:
    """Employee n's objectives (the engine bench's two), each aligned to a goal of the cycle:
    the first to their team's goal (else their department's), the second in turns to the
    organisation's by title, to the retired goal, to none, or to their department's."""
    _, first_department, retired = _goal_ids(departments)
    team = n % teams
    department_goal = f"goal:{first_department + team % departments}"
    first = f"goal:{retired + 1 + team}" if team < TEAM_GOALS else department_goal
    second = (ORG_GOAL, f"goal:{retired}", "", department_goal)[n % 4]
    ship, cut = cast(list[dict[str, Any]], OBJECTIVES["objectives"])
    return {**OBJECTIVES, "objectives": [{**ship, "aligned_goal": first},
                                         {**cut, "aligned_goal": second}]}


def _dashboards_cycle(employees: int, departments: int, teams: int) -> Any:
    """A Batch writing one cycle: the org chart, its goals, two processes per employee at
    various steps, their task rows, objectives (written before the year's progress, so its
    actuals count) and final ratings (explicit ids, so rows can point at each other)."""
    from datetime import timedelta

    from engine.base import clock
    from engine.base.models import (
        Cycle,
        GroupMembership,
        HumanTask,
        OrgUnit,
        Person,
        ProcessDefinition,
        ProcessInstance,
        Record,
    )
    from engine.workflow.store import Batch

    rng = random.Random(2026)
    now = clock.now()
    batch = Batch()
    standard = STANDARD
    # The standard pack's diagrams, forms and catalogs, as a deployed version holds them.
    files = [*standard.glob("*.bpmn"), *standard.glob("*.dmn"),
             *(standard / "forms").glob("*.json"), *(standard / "catalogs").glob("*.toml")]
    sources = {p.relative_to(standard).as_posix(): p.read_text() for p in files}
    for def_id, process in ((1, "objective_setting"), (2, "year_end_appraisal")):
        batch.insert(ProcessDefinition, {
            "id": def_id, "pack": "standard", "process_id": process, "version": 1,
            "content_hash": process, "title": process.replace("_", " ").capitalize(),
            "sources": sources,
        })
    batch.insert(Cycle, {"id": 1, "name": "bench"})
    batch.insert(OrgUnit, {"id": 1, "code": "ROOT", "name": "Company", "head_id": 1})
    batch.insert(Person, {"id": 1, "key": "P1", "name": "Chief", "org_unit_id": 1})
    batch.insert(GroupMembership, {"group": "hr", "person_id": 1})
    next_person = 2
    team_heads = []
    for d in range(departments):
        unit_id, head = 2 + d, next_person
        batch.insert(OrgUnit, {"id": unit_id, "code": f"D{d}", "name": f"Department {d}",
                               "parent_id": 1, "head_id": head})
        batch.insert(Person, {"id": head, "key": f"P{head}", "name": f"Director {d}",
                              "org_unit_id": unit_id, "manager_id": 1})
        next_person += 1
    for t in range(teams):
        unit_id, head = 2 + departments + t, next_person
        batch.insert(OrgUnit, {"id": unit_id, "code": f"T{t}", "name": f"Team {t}",
                               "parent_id": 2 + t % departments, "head_id": head})
        batch.insert(Person, {"id": head, "key": f"P{head}", "name": f"Lead {t}",
                              "job_family": "people_manager", "org_unit_id": unit_id,
                              "manager_id": 2 + t % departments})
        team_heads.append((unit_id, head))
        next_person += 1
    _goals(batch, departments, teams, now)
    objectives_written = now - timedelta(weeks=53)  # before the year of progress updates
    ratings = [5] * 10 + [4] * 20 + [3] * 40 + [2] * 20 + [1] * 10
    instance_id = task_id = 0
    for n in range(employees - next_person + 1):
        pid = next_person + n
        unit_id, manager = team_heads[n % teams]
        batch.insert(Person, {"id": pid, "key": f"P{pid}", "name": f"Employee {pid}",
                              "job_family": "engineering" if n % 3 else "sales",
                              "org_unit_id": unit_id, "manager_id": manager})
        instance_id += 1
        batch.insert(ProcessInstance, {
            "id": instance_id, "definition_id": 1, "process_id": "objective_setting",
            "subject_id": pid, "cycle_id": 1, "status": "completed", "state": b"",
            "completed_at": now})
        for bpmn_id, holder in (("draft_objectives", pid), ("review_objectives", manager),
                                ("acknowledge_objectives", pid)):
            task_id += 1
            batch.insert(HumanTask, {
                "id": task_id, "instance_id": instance_id, "spiff_task_id": str(task_id),
                "bpmn_id": bpmn_id, "process_id": "objective_setting", "name": bpmn_id,
                "assignee_id": holder, "subject_id_cache": pid, "status": "completed",
                "completed_by_id": holder, "completed_at": now})
        step, name, holder_kind, status = _YEAR_END_STEPS[n % len(_YEAR_END_STEPS)]
        instance_id += 1
        batch.insert(ProcessInstance, {
            "id": instance_id, "definition_id": 2, "process_id": "year_end_appraisal",
            "subject_id": pid, "cycle_id": 1, "status": status, "state": b"",
            "error": {"task": "score_kpis", "task_name": "Score the KPIs",
                      "message": "unknown measure_type"} if status == "error" else None})
        if step is not None:
            task_id += 1
            batch.insert(HumanTask, {
                "id": task_id, "instance_id": instance_id, "spiff_task_id": str(task_id),
                "bpmn_id": step, "process_id": "year_end_appraisal", "name": name,
                "assignee_id": {"employee": pid, "manager": manager}.get(holder_kind),
                "candidate_group": "hr" if holder_kind == "group" else None,
                "subject_id_cache": pid, "status": "ready",
                "due_at": now + timedelta(days=rng.randint(-10, 14))})
        batch.insert(Record, {"kind": "objectives", "person_id": pid, "cycle_id": 1,
                              "instance_id": instance_id - 1, "created_at": objectives_written,
                              "data": _objectives(n, departments, teams)})
        if status == "completed":
            batch.insert(Record, {"kind": "final_rating", "person_id": pid, "cycle_id": 1,
                                  "instance_id": instance_id,
                                  "data": {"rating": rng.choice(ratings), "kpi_score": 3.1}})
        # What the gap heat maps read: everyone's competency ratings from their appraisal, and
        # for one person in three a colleague's ratings in feedback two months ago.
        batch.insert(Record, {"kind": "competency_ratings", "person_id": pid, "cycle_id": 1,
                              "instance_id": instance_id, "data": {
                                  "ratings": {k: rng.randint(1, 5) for k in COMPETENCIES},
                                  "self_ratings": {k: rng.randint(2, 5) for k in COMPETENCIES},
                              }})
        if n % 3 == 0:
            batch.insert(Record, {"kind": "feedback", "person_id": pid, "cycle_id": 1,
                                  "created_at": now - timedelta(days=60), "data": {
                                      "visibility": "shared", "feedback_text": "Thanks.",
                                      "competency_ratings": {
                                          k: rng.randint(1, 5) for k in COMPETENCIES[:3]},
                                  }})
    return batch


async def dashboards_bench(
    employees: int = 10_000, departments: int = 10, teams: int = 300, runs: int = 50,
    database_url: str | None = None,
) -> dict[str, Any]:
    """The HR dashboard over a generated cycle of N employees: p50/p95 of its wall time and of
    the CPU time it costs this process (the part a busy machine does not inflate)."""
    from tortoise import connections

    from engine.base import db
    from engine.base.db import is_postgres
    from engine.base.models import HumanTask, ProcessInstance
    from engine.people.directory import bump_directory_version, current_directory
    from engine.performance.hr_dashboard import hr_dashboard
    from engine.workflow.store import apply

    class _Admin:
        person_id = 1
        groups = frozenset({"hr"})

    async with bench_database(database_url, "dashboards") as (db_url, label):
        await migrated(db_url)
        try:
            started = time.perf_counter()
            await apply(_dashboards_cycle(employees, departments, teams))
            await bump_directory_version()
            generate_s = time.perf_counter() - started
            if is_postgres():
                # A server's tables have statistics long before anyone reads them; without,
                # the planner guesses over the rows just written.
                await connections.get("default").execute_script("ANALYZE")
            await current_directory()  # a running server has the snapshot loaded
            board = await hr_dashboard(1, _Admin())
            times, cpu = [], []
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                await hr_dashboard(1, _Admin())
                times.append((time.perf_counter() - started) * 1000)
                # CPU time of every thread (SQLite runs on aiosqlite's): the cost without the
                # waiting a busy machine adds to the wall clock.
                cpu.append((time.process_time() - started_cpu) * 1000)
            progress = await _progress_pages(employees, teams, runs)
            instances = await ProcessInstance.all().count()
            tasks = await HumanTask.all().count()
        finally:
            await db.disconnect()
    times.sort()
    cpu.sort()
    return {
        "hr_dashboard_p50_ms": round(times[len(times) // 2], 1),
        "hr_dashboard_p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
        "hr_dashboard_cpu_p50_ms": round(cpu[len(cpu) // 2], 1),
        "hr_dashboard_cpu_p95_ms": round(cpu[min(len(cpu) - 1, int(len(cpu) * 0.95))], 1),
        "runs": runs,
        "employees": employees,
        "units": 1 + departments + teams,
        "instances": instances,
        "human_tasks": tasks,
        "units_on_dashboard": len(board.units),
        "rated": board.calibration[0].rated,
        "generate_seconds": round(generate_s, 1),
        **progress,
        "database": label,
    }


def _percentiles(name: str, times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        f"{name}_p50_ms": round(times[len(times) // 2], 1),
        f"{name}_p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
    }


async def _progress_pages(employees: int, teams: int, runs: int) -> dict[str, Any]:
    """A year of weekly progress updates for everyone (bulk-written), then the pages that read
    progress: an employee's score card with its history, a team lead's at-risk list, the goal
    tree as a team lead and as HR see it (GET /goals: every unit, every goal, everyone) and a
    team's people as HR opens them on that page; each also as a ratio against a reference read
    in the same run (the cycle's latest actuals, nothing computed)."""
    from tortoise import connections

    from engine.base.db import is_postgres
    from engine.base.models import KpiUpdate, ObjectiveStatus, Person
    from engine.operations.bench_fill import progress_year
    from engine.people.directory import current_directory
    from engine.performance.goals import goal_tree, unit_people
    from engine.performance.objective_index import rebuild_cycle
    from engine.performance.progress import progress_card, team_at_risk
    from engine.performance.scorecard import scorecard
    from engine.talent.gaps import team_heat_map, unit_heat_map
    from engine.workflow.store import apply

    class _Viewer:
        def __init__(self, person_id: int, groups: frozenset[str] = frozenset()) -> None:
            self.person_id, self.groups = person_id, groups

    keys = tuple(objective_key(o) for o in OBJECTIVES["objectives"])  # type: ignore[arg-type]
    people = await Person.filter(key__startswith="P", manager_id__not_isnull=True).values_list(
        "id", "manager_id")
    employees_only = [(pid, m) for pid, m in people if pid > 1 + teams + 10]
    started = time.perf_counter()
    for first in range(0, len(employees_only), 500):
        await apply(progress_year(employees_only[first:first + 500], 1, keys))
    fill_s = time.perf_counter() - started
    # The Goals page's read model, built in bulk once, as the first read of the cycle would.
    started = time.perf_counter()
    await rebuild_cycle(1)
    index_s = time.perf_counter() - started
    if is_postgres():
        # The statistics autovacuum keeps would otherwise come in the middle of the timings
        # (a million rows were just written): plans change while they are measured.
        await connections.get("default").execute_script("ANALYZE")
    employee, lead = employees_only[len(employees_only) // 2]
    team = [p for p, m in employees_only if m == lead]

    async def card() -> None:
        await scorecard(employee, 1, _Viewer(employee))
        await progress_card(employee, 1, _Viewer(employee))

    async def at_risk() -> None:
        await team_at_risk(_Viewer(lead), 1, team)

    async def goals_lead() -> None:
        await goal_tree(1, _Viewer(lead))

    async def goals_hr() -> None:
        await goal_tree(1, _Viewer(1, frozenset({"hr"})))

    team_unit = (await Person.get(id=lead)).org_unit_id

    async def goals_hr_unit() -> None:
        # A team opened on HR's Goals page (GET /goals/units/{id}): its people and figures.
        await unit_people(1, _Viewer(1, frozenset({"hr"})), team_unit)

    async def reference() -> None:
        # The floor of any org-wide roll-up: the cycle's latest actuals read, nothing computed.
        await ObjectiveStatus.filter(cycle_id=1).values_list("person_id", "objective_key",
                                                            "actual")

    async def adoption() -> None:
        # The roll-out's adoption figures per unit for HR (engine.talent.adoption).
        from engine.talent.adoption import adoption_dashboard

        await adoption_dashboard(1, _Viewer(1, frozenset({"hr"})))

    directory = await current_directory()

    async def gaps_org() -> None:
        # HR's competency heat map of the whole organisation (GET /gaps, what HR sees first):
        # everyone's required against assessed proficiency, summed per unit.
        await unit_heat_map(1, _Viewer(1, frozenset({"hr"})), directory)

    async def gaps_team() -> None:
        # A team lead's heat map of their direct reports.
        await team_heat_map(lead, _Viewer(lead), directory)

    pages: dict[str, Callable[[], Awaitable[None]]] = {
        "progress_reference": reference,
        "adoption_dashboard": adoption,
        "gaps_org_hr": gaps_org, "gaps_team_lead": gaps_team,
        "progress_scorecard": card, "team_at_risk": at_risk,
        "goals_team_lead": goals_lead, "goals_hr": goals_hr, "goals_hr_unit": goals_hr_unit,
    }
    found: dict[str, Any] = {
        "progress_updates": await KpiUpdate.all().count(),
        "progress_fill_seconds": round(fill_s, 1),
        "objective_index_seconds": round(index_s, 1),
    }
    for name, page in pages.items():
        await page()  # warm
        times, cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            await page()
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        found.update(_percentiles(name, times))
        found.update(_percentiles(f"{name}_cpu", cpu))
    # Each page against the reference measured in the same run: what a busy machine does to
    # both cancels out of the ratio.
    floor = max(found["progress_reference_p50_ms"], 0.1)
    for name in pages:
        if name != "progress_reference":
            found[f"{name}_ratio"] = round(found[f"{name}_p50_ms"] / floor, 1)
    # The adoption dashboard, HR's Goals page and HR's gap heat map are read at their p95
    # against the reference's p95 too (docs/dashboards.md, docs/talent.md).
    for name in ("adoption_dashboard", "goals_hr", "gaps_org_hr"):
        found[f"{name}_p95_ratio"] = round(
            found[f"{name}_p95_ms"] / max(found["progress_reference_p95_ms"], 0.1), 1)
    return found
