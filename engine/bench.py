"""`sightline bench`: the engine's throughput against bare SpiffWorkflow, measured in one run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from config import settings

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
ROUND = [
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", {"decision": "return", "manager_comments": "Sharpen the second one"}),
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", {"decision": "approve", "manager_comments": ""}),
    ("acknowledge_objectives", {"acknowledged": True, "comment": ""}),
]


def _org_csv(employees: int) -> str:
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups"]
    lines.append("M1,Morgan Lead,morgan@example.com,Manager,people_manager,U1,Unit,,,hr")
    for i in range(employees):
        lines.append(f"B{i},Bench Person {i},b{i}@example.com,Engineer,engineering,U1,Unit,,M1,")
    return "\n".join(lines) + "\n"


async def _engine_rate(db_url: str, instances: int) -> tuple[float, int, int]:
    """Completions per second through engine.runtime on a file-backed database."""
    from engine import db, runtime
    from engine.definitions import deploy_pack
    from engine.models import HumanTask, ProcessInstance
    from engine.org_import import import_org

    await db.upgrade(db_url)
    await db.disconnect()
    await db.connect(db_url)
    try:
        await import_org(_org_csv(instances))
        standard = Path(settings.ROOT) / "processes" / "standard"
        await deploy_pack(standard, "bench", search=[standard.parent])
        employee_actor = {}
        manager = await runtime.actor_for("M1")
        ids = []
        for i in range(instances):
            inst = await runtime.start_process(
                "objective_setting", subject=f"B{i}", actor=manager
            )
            ids.append(inst.id)
            employee_actor[inst.id] = await runtime.actor_for(f"B{i}")
        completions = 0
        elapsed = 0.0
        for bpmn_id, data in ROUND:
            rows = await HumanTask.filter(bpmn_id=bpmn_id, status="ready").order_by("id")
            for row in rows:
                is_review = bpmn_id == "review_objectives"
                actor = manager if is_review else employee_actor[row.instance_id]  # type: ignore[attr-defined]
                started = time.perf_counter()
                await runtime.complete_task(row.id, actor, data)
                elapsed += time.perf_counter() - started
                completions += 1
        sizes = [
            len(s) for s in await ProcessInstance.filter(id__in=ids).values_list("state", flat=True)
        ]
        return completions / elapsed, completions, int(sum(sizes) / len(sizes))
    finally:
        await db.disconnect()


def _bare_rate(instances: int) -> tuple[float, int, int]:
    """The same rounds in memory with SpiffWorkflow's own serialize_json/deserialize_json."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    from engine import scripting, specs
    from engine.definitions import pack_sources
    from engine.packs import load_pack
    from engine.serialization import full_serializer

    standard = Path(settings.ROOT) / "processes" / "standard"
    pack = load_pack(standard, {"standard": standard})
    built = specs.build_spec(pack_sources(pack, "objective_setting"), "objective_setting")
    engine = scripting.make_script_engine()
    with scripting.script_context(catalogs=pack.catalogs()):
        states = []
        for _ in range(instances):
            wf = BpmnWorkflow(built.spec, built.subprocess_specs, script_engine=engine)
            wf.do_engine_steps()
            states.append(full_serializer.serialize_json(wf))
        completions = 0
        started = time.perf_counter()
        for bpmn_id, data in ROUND:
            for i, state in enumerate(states):
                wf = full_serializer.deserialize_json(state)
                wf.script_engine = engine
                task = next(
                    t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                    if t.task_spec.bpmn_id == bpmn_id
                )
                task.data.update(data)
                task.run()
                wf.do_engine_steps()
                states[i] = full_serializer.serialize_json(wf)
                completions += 1
        elapsed = time.perf_counter() - started
    return completions / elapsed, completions, int(sum(len(s) for s in states) / len(states))


async def engine_bench(instances: int) -> dict[str, Any]:
    """Engine task completions vs bare SpiffWorkflow round-tripping its own JSON."""
    with tempfile.TemporaryDirectory(prefix="sightline-bench-") as tmp:
        db_url = f"sqlite://{Path(tmp) / 'bench.db'}"
        engine_rate, engine_n, state_bytes = await _engine_rate(db_url, instances)
    bare_rate, bare_n, bare_bytes = _bare_rate(instances)
    return {
        "engine_task_completions_per_s": round(engine_rate, 1),
        "bare_spiff_task_completions_per_s": round(bare_rate, 1),
        "ratio": round(engine_rate / bare_rate, 3),
        "serialized_bytes_per_instance": state_bytes,
        "bare_spiff_serialized_bytes_per_instance": bare_bytes,
        "task_completions": engine_n,
        "database": "sqlite (file)",
    }


async def run(args: Any) -> dict[str, Any]:
    """Run the benchmarks the arguments ask for; returns one JSON-able dict."""
    result: dict[str, Any] = {}
    instances = max(1, args.tasks // len(ROUND))
    result.update(await engine_bench(instances))
    return result
