"""Task completions per second through the engine against bare SpiffWorkflow doing the same
objective-setting rounds (`sightline bench`)."""

from __future__ import annotations

import time
from typing import Any

from engine.operations.bench.common import STANDARD, bench_database, migrated, org_csv

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


RETURNED = {"decision": "return", "manager_comments": "Sharpen the second one"}


ROUND: list[tuple[str, dict[str, Any]]] = [
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", RETURNED),
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", {"decision": "approve", "manager_comments": ""}),
    ("acknowledge_objectives", {"acknowledgement": {
        "acknowledged": True, "name": "Bench Person", "signer_id": None,
        "signed_at": "2026-11-21T10:00:00+00:00", "comment": ""}}),
]


class _BareSpiff:
    """The same process run by bare SpiffWorkflow in memory, JSON round-tripped every task."""

    def __init__(self, instances: int) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow

        from engine.base.serialization import full_serializer
        from engine.packs import specs
        from engine.packs.definitions import pack_sources
        from engine.packs.loading import load_pack
        from engine.scripts import sandbox

        standard = STANDARD
        pack = load_pack(standard, {"standard": standard})
        built = specs.build_spec(pack_sources(pack, "objective_setting"), "objective_setting")
        self.serializer = full_serializer
        self.script_engine = sandbox.make_script_engine()
        with sandbox.script_context(catalogs=pack.catalogs()):
            self.states = []
            for _ in range(instances):
                wf = BpmnWorkflow(
                    built.spec, built.subprocess_specs, script_engine=self.script_engine
                )
                wf.do_engine_steps()
                self.states.append(self.serializer.serialize_json(wf))

    def complete_one(self, i: int, bpmn_id: str, data: dict[str, Any]) -> float:
        """Complete `bpmn_id` in instance `i`: deserialise, run, serialise; seconds taken."""
        from SpiffWorkflow.util.task import TaskState

        from engine.scripts import sandbox

        started = time.perf_counter()
        with sandbox.script_context():
            wf = self.serializer.deserialize_json(self.states[i])
            wf.script_engine = self.script_engine
            task = next(
                t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                if t.task_spec.bpmn_id == bpmn_id
            )
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
            self.states[i] = self.serializer.serialize_json(wf)
        return time.perf_counter() - started


async def engine_bench(instances: int, database_url: str | None = None) -> dict[str, Any]:
    """Engine task completions vs bare SpiffWorkflow round-tripping its own JSON.

    Measured: objective-setting rounds (draft, review returned, draft, review approved,
    acknowledgement) completed through `runtime.complete_task` — each one action, one
    transaction on the bench's database — against the same rounds in bare SpiffWorkflow held in
    memory, deserialising and serialising its own JSON around every task.

    Fair because both run the same parsed spec with the same script engine and data, task by
    task, alternating, so whatever else the machine does weighs on both sides of the ratio alike;
    the engine side carries everything the bare side lacks (the database, task rows, audit).
    """
    from engine.base import db
    from engine.base.models import HumanTask, ProcessInstance
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    bare = _BareSpiff(instances)
    async with bench_database(database_url, "engine") as (db_url, label):
        await migrated(db_url)
        try:
            await import_org(org_csv(instances))
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
                # One engine completion, then the same task in bare SpiffWorkflow, and so on:
                # a burst of load from elsewhere lands on both sides alike.
                for i, row in enumerate(rows):
                    is_review = bpmn_id == "review_objectives"
                    actor = manager if is_review else employees[row.instance_id]
                    started = time.perf_counter()
                    await runtime.complete_task(row.id, actor, data)
                    engine_s += time.perf_counter() - started
                    bare_s += bare.complete_one(i, bpmn_id, data)
                engine_n += len(rows)
                bare_n += len(rows)
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
        "database": label,
    }
