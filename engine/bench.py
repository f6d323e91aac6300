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

        standard = Path(settings.ROOT) / "processes" / "standard"
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
            standard = Path(settings.ROOT) / "processes" / "standard"
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
