"""`sightline bench`: the engine's throughput against bare SpiffWorkflow, measured in one run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

STANDARD = Path(__file__).resolve().parent.parent / "processes" / "standard"

# One objective-setting round with a rework loop: the data each user task receives, in order.
OBJECTIVES = {
    "objectives": [
        {"kra": "Delivery", "title": "Ship the billing service", "kpi": "Release date",
         "measure_type": "higher_is_better", "baseline": 0, "target": 1, "weight": 60},
        {"kra": "Quality", "title": "Cut escaped defects", "kpi": "Defects per release",
         "measure_type": "lower_is_better", "baseline": 12, "target": 4, "weight": 40},
    ],
    "comments": "First draft",
}
ROUND: list[tuple[str, dict[str, Any]]] = [
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", {"decision": "return", "manager_comments": "Sharpen the second one"}),
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", {"decision": "approve", "manager_comments": ""}),
    ("acknowledge_objectives", {"acknowledgement": {
        "acknowledged": True, "name": "Bench Person", "signer_id": None,
        "signed_at": "2026-11-21T10:00:00+00:00", "comment": ""}}),
]


def _org_csv(employees: int) -> str:
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups"]
    lines.append("M1,Morgan Lead,morgan@example.com,Manager,people_manager,U1,Unit,,,hr")
    for i in range(employees):
        lines.append(f"B{i},Bench Person {i},b{i}@example.com,Engineer,engineering,U1,Unit,,M1,")
    return "\n".join(lines) + "\n"


class _BareSpiff:
    """The same process run by bare SpiffWorkflow in memory, JSON round-tripped every task."""

    def __init__(self, instances: int) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow

        from engine import scripting, specs
        from engine.definitions import pack_sources
        from engine.packs import load_pack
        from engine.serialization import full_serializer

        standard = STANDARD
        pack = load_pack(standard, {"standard": standard})
        built = specs.build_spec(pack_sources(pack, "objective_setting"), "objective_setting")
        self.serializer = full_serializer
        self.script_engine = scripting.make_script_engine()
        with scripting.script_context(catalogs=pack.catalogs()):
            self.states = []
            for _ in range(instances):
                wf = BpmnWorkflow(
                    built.spec, built.subprocess_specs, script_engine=self.script_engine
                )
                wf.do_engine_steps()
                self.states.append(self.serializer.serialize_json(wf))

    def complete_all(self, bpmn_id: str, data: dict[str, Any]) -> tuple[int, float]:
        """Complete `bpmn_id` in every instance; (completions, seconds)."""
        from SpiffWorkflow.util.task import TaskState

        from engine import scripting

        started = time.perf_counter()
        with scripting.script_context():
            for i, state in enumerate(self.states):
                wf = self.serializer.deserialize_json(state)
                wf.script_engine = self.script_engine
                task = next(
                    t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                    if t.task_spec.bpmn_id == bpmn_id
                )
                task.data.update(data)
                task.run()
                wf.do_engine_steps()
                self.states[i] = self.serializer.serialize_json(wf)
        return len(self.states), time.perf_counter() - started


async def engine_bench(instances: int) -> dict[str, Any]:
    """Engine task completions vs bare SpiffWorkflow round-tripping its own JSON.

    Both run the same rounds step by step, alternating, so that whatever else the machine is
    doing weighs on both sides of the ratio alike.
    """
    from engine import db, runtime
    from engine.definitions import deploy_pack
    from engine.models import HumanTask, ProcessInstance
    from engine.org_import import import_org

    bare = _BareSpiff(instances)
    with tempfile.TemporaryDirectory(prefix="sightline-bench-") as tmp:
        db_url = f"sqlite://{Path(tmp) / 'bench.db'}"
        await db.upgrade(db_url)
        await db.disconnect()
        await db.connect(db_url)
        try:
            await import_org(_org_csv(instances))
            standard = STANDARD
            await deploy_pack(standard, "bench", search=[standard.parent])
            manager = await runtime.actor_for("M1")
            employees = {}
            ids = []
            for i in range(instances):
                inst = await runtime.start_process(
                    "objective_setting", subject=f"B{i}", actor=manager
                )
                ids.append(inst.id)
                employees[inst.id] = await runtime.actor_for(f"B{i}")
            engine_n = bare_n = 0
            engine_s = bare_s = 0.0
            for bpmn_id, data in ROUND:
                rows = await HumanTask.filter(bpmn_id=bpmn_id, status="ready").order_by("id")
                started = time.perf_counter()
                for row in rows:
                    is_review = bpmn_id == "review_objectives"
                    actor = manager if is_review else employees[row.instance_id]  # type: ignore[attr-defined]
                    await runtime.complete_task(row.id, actor, data)
                engine_s += time.perf_counter() - started
                engine_n += len(rows)
                n, seconds = bare.complete_all(bpmn_id, data)
                bare_n += n
                bare_s += seconds
            states = await ProcessInstance.filter(id__in=ids).values_list("state", flat=True)
            state_bytes = int(sum(len(s) for s in states) / len(states))
        finally:
            await db.disconnect()
    engine_rate, bare_rate = engine_n / engine_s, bare_n / bare_s
    return {
        "engine_task_completions_per_s": round(engine_rate, 1),
        "bare_spiff_task_completions_per_s": round(bare_rate, 1),
        "ratio": round(engine_rate / bare_rate, 3),
        "serialized_bytes_per_instance": state_bytes,
        "bare_spiff_serialized_bytes_per_instance": int(
            sum(len(s) for s in bare.states) / len(bare.states)
        ),
        "task_completions": engine_n,
        "database": "sqlite (file)",
    }


async def run(args: Any) -> dict[str, Any]:
    """Run the benchmarks the arguments ask for; returns one JSON-able dict."""
    from engine.runtime import recent_workflows

    result: dict[str, Any] = {}
    if getattr(args, "launch", 0):
        return await launch_bench(args.launch)
    if getattr(args, "dashboards", False):
        return await dashboards_bench()
    instances = max(1, args.tasks // len(ROUND))
    result.update(await engine_bench(instances))
    # The same again with every action loading its workflow from the database.
    size, recent_workflows.size = recent_workflows.size, 0
    try:
        cold = await engine_bench(instances)
    finally:
        recent_workflows.size = size
    result["engine_task_completions_per_s_without_workflow_cache"] = cold[
        "engine_task_completions_per_s"
    ]
    result["ratio_without_workflow_cache"] = cold["ratio"]
    return result


def _launch_org_csv(employees: int) -> str:
    """N employees in ten teams under two departments, each team with its own manager."""
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups,unit_head"]
    lines.append(
        "L0,Lee Chief,lee@example.com,Chief Executive,people_manager,ROOT,Company,,,hr,yes"
    )
    for d in range(2):
        lines.append(f"L{d + 1},Dept Head {d},dh{d}@example.com,Director,people_manager,"
                     f"D{d},Department {d},ROOT,L0,,yes")
    teams = 10
    for t in range(teams):
        dept = t % 2
        lines.append(f"T{t},Team Lead {t},tl{t}@example.com,Team lead,people_manager,"
                     f"T{t},Team {t},D{dept},L{dept + 1},,yes")
    for i in range(max(0, employees - teams - 3)):
        t = i % teams
        lines.append(f"P{i},Person {i},p{i}@example.com,Engineer,engineering,"
                     f"T{t},Team {t},D{t % 2},T{t},,")
    return "\n".join(lines) + "\n"


async def launch_bench(n: int) -> dict[str, Any]:
    """Launch one cycle for N employees on a file-backed SQLite database; instances per second."""
    from engine import cycles, db, runtime
    from engine.definitions import deploy_pack
    from engine.errors import NotFound
    from engine.models import ProcessInstance
    from engine.org_import import import_org

    with tempfile.TemporaryDirectory(prefix="sightline-launch-") as tmp:
        db_url = f"sqlite://{Path(tmp) / 'launch.db'}"
        await db.upgrade(db_url)
        await db.disconnect()
        await db.connect(db_url)
        try:
            report = await import_org(_launch_org_csv(n))
            if report.errors:
                raise RuntimeError("; ".join(report.errors))
            standard = STANDARD
            await deploy_pack(standard, "bench", search=[standard.parent])
            process = "year_end_appraisal"
            try:
                await runtime.latest(process)
            except NotFound:
                process = "objective_setting"
            # Parse the spec before the clock starts: a server has it cached already.
            await runtime.latest(process)
            hr = await runtime.actor_for("L0")
            started = time.perf_counter()
            launched = await cycles.launch_cycle(
                process, cycles.Population.of_unit("ROOT"), cycle_name="bench",
                due_on=None, actor=hr,
            )
            seconds = time.perf_counter() - started
            stored = await ProcessInstance.filter(cycle_id=launched.cycle_id).count()
        finally:
            await db.disconnect()
    return {
        "process": process,
        "instances": stored,
        "seconds": round(seconds, 2),
        "launch_instances_per_s": round(stored / seconds, 1),
        "instances_in_error": len(launched.errors),
        "database": "sqlite (file)",
    }


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


def _dashboards_cycle(employees: int, departments: int, teams: int) -> Any:
    """A Batch writing one cycle: the org chart, two processes per employee at various steps,
    their task rows and final ratings (explicit ids, so rows can point at each other)."""
    import random
    from datetime import timedelta

    from engine import clock
    from engine.models import (
        Cycle,
        GroupMembership,
        HumanTask,
        OrgUnit,
        Person,
        ProcessDefinition,
        ProcessInstance,
        Record,
    )
    from engine.store import Batch

    rng = random.Random(2026)
    now = clock.now()
    batch = Batch()
    standard = STANDARD
    sources = {f"catalogs/{p.name}": p.read_text() for p in (standard / "catalogs").glob("*.toml")}
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
                              "instance_id": instance_id - 1, "data": OBJECTIVES})
        if status == "completed":
            batch.insert(Record, {"kind": "final_rating", "person_id": pid, "cycle_id": 1,
                                  "instance_id": instance_id,
                                  "data": {"rating": rng.choice(ratings), "kpi_score": 3.1}})
    return batch


async def dashboards_bench(
    employees: int = 10_000, departments: int = 10, teams: int = 300, runs: int = 50
) -> dict[str, Any]:
    """The HR dashboard over a generated cycle of N employees on file-backed SQLite: p50/p95."""
    from engine import db
    from engine.dashboards import hr_dashboard
    from engine.directory import bump_directory_version, current_directory
    from engine.models import HumanTask, ProcessInstance
    from engine.store import apply

    class _Admin:
        person_id = 1
        groups = frozenset({"hr"})

    with tempfile.TemporaryDirectory(prefix="sightline-dashboards-") as tmp:
        await db.create_schema(f"sqlite://{Path(tmp) / 'dashboards.db'}")
        try:
            started = time.perf_counter()
            await apply(_dashboards_cycle(employees, departments, teams))
            await bump_directory_version()
            generate_s = time.perf_counter() - started
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
        "database": "sqlite (file)",
    }
