"""A big human-task table for `sightline bench --web`: instances and task rows written in bulk,
straight into their tables, so the inbox can be measured over 100,000 rows without running
100,000 steps first.

The rows look like a year of objective setting: last year's instances completed, this year's
running with one open step each (with the employee or their manager), a few tasks queued for a
group or offered to several candidates, and completed steps until the table is full.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from engine.base import clock
from engine.base.models import Cycle, HumanTask, ProcessDefinition, ProcessInstance
from engine.people.directory import current_directory

PROCESS = "objective_setting"
# Completed steps of an objective setting, repeated to give every instance its history.
HISTORY = [
    ("draft_objectives", "Draft objectives", "Employee", "objectives"),
    ("review_objectives", "Review objectives", "Manager", "review-objectives"),
    ("acknowledge_objectives", "Acknowledge objectives", "Employee", "acknowledge-objectives"),
]


async def fill_task_table(
    rows: int, group: str, *, group_tasks: int = 15, multi_candidate_tasks: int = 5,
    seed: int = 20260,
) -> dict[str, int]:
    """Two objective-setting instances per employee (people whose key starts with "E") and
    `rows` human-task rows among them, `group_tasks` of them open to `group`; returns the
    counts the bench reports (task_rows, open_task_rows, instances).

    Needs the organisation imported and objective_setting deployed.
    """
    rng = random.Random(seed)
    directory = await current_directory()
    definition = await ProcessDefinition.get(process_id=PROCESS)
    last_year = await Cycle.create(name="2025 objectives")
    this_year = await Cycle.create(name="2026 objectives")
    employees = [p for p in directory.people.values() if p.key.startswith("E")]
    now = clock.now()

    instances = []
    for employee in employees:
        for cycle, status in ((last_year, "completed"), (this_year, "running")):
            instances.append(ProcessInstance(
                definition_id=definition.id, process_id=PROCESS,
                subject_id=employee.id, cycle_id=cycle.id, title="Objective setting",
                status=status, state=b"", started_by="person:C0",
            ))
    await ProcessInstance.bulk_create(instances, batch_size=2000)
    saved = await ProcessInstance.all().order_by("id").values_list(
        "id", "subject_id", "status"
    )

    tasks: list[HumanTask] = []
    open_rows = 0

    def add(**fields: Any) -> None:
        tasks.append(HumanTask(spiff_task_id=str(uuid.uuid4()), process_id=PROCESS, **fields))

    running = [(i, s) for i, s, status in saved if status == "running"]
    # One open step per running instance: the review with the manager, or the draft.
    for instance_id, subject_id in running:
        person = directory.person(subject_id)
        assert person is not None and person.manager_id is not None
        with_manager = rng.random() < 0.6
        bpmn_id, name, lane, form = HISTORY[1] if with_manager else HISTORY[0]
        holder = person.manager_id if with_manager else subject_id
        add(instance_id=instance_id, bpmn_id=bpmn_id, name=name, lane=lane,
            form=f"{form}-schema.json", assignee_id=holder, candidates=[str(holder)],
            subject_id_cache=subject_id, status="ready",
            due_at=now + timedelta(days=rng.randint(-10, 20)))
        open_rows += 1
    # Claimable work: a group queue, and a few multi-candidate tasks.
    for n in range(group_tasks + multi_candidate_tasks):
        instance_id, subject_id = running[n]
        queue = group if n < group_tasks else None
        candidates = [f"group:{group}"] if queue else ["group:hr", str(subject_id)]
        add(instance_id=instance_id, bpmn_id="calibrate", name="Calibrate rating", lane="HR",
            form=None, assignee_id=None, candidate_group=queue, candidates=candidates,
            subject_id_cache=subject_id, status="ready",
            due_at=now + timedelta(days=rng.randint(-3, 10)))
        open_rows += 1
    # History until the table holds `rows`: completed steps spread over every instance.
    step = 0
    while len(tasks) < rows:
        instance_id, subject_id, _ = saved[step % len(saved)]
        bpmn_id, name, lane, form = HISTORY[(step // len(saved)) % len(HISTORY)]
        subject = directory.person(subject_id)
        holder = subject.manager_id if lane == "Manager" and subject else subject_id
        done_at = now - timedelta(days=rng.randint(1, 400))
        add(instance_id=instance_id, bpmn_id=bpmn_id, name=name, lane=lane,
            form=f"{form}-schema.json", assignee_id=holder, candidates=[str(holder)],
            subject_id_cache=subject_id, status="completed", due_at=done_at,
            completed_by_id=holder, completed_at=done_at,
            submitted={"decision": "approve", "comments": "Looks good."})
        step += 1
    await HumanTask.bulk_create(tasks, batch_size=5000)
    return {"task_rows": len(tasks), "open_task_rows": open_rows, "instances": len(saved)}


def progress_year(
    people: list[tuple[int, int]], cycle_id: int, keys: tuple[str, ...], *, weeks: int = 52,
    seed: int = 2027,
) -> Any:
    """A Batch with a year of weekly progress for each (person id, manager id): one KpiUpdate
    per objective and week, and each objective's latest state (ObjectiveStatus) — written in
    bulk, as `sightline bench --dashboards` needs it, not through engine.performance.progress.
    About one objective in six ends the year at risk, one in twenty off track."""
    from engine.base.models import KpiUpdate, ObjectiveStatus
    from engine.workflow.store import Batch

    rng = random.Random(seed)
    start = clock.now() - timedelta(weeks=weeks)
    batch = Batch()
    for pid, _manager in people:
        for key in keys:
            actual, status = 0.0, "on_track"
            for week in range(weeks):
                actual = round(actual + rng.uniform(-0.02, 0.06), 3)
                roll = rng.random()
                status = "off_track" if roll < 0.05 else "at_risk" if roll < 0.17 else "on_track"
                batch.insert(KpiUpdate, {
                    "person_id": pid, "cycle_id": cycle_id, "objective_key": key,
                    "actual": actual, "status": status, "comment": f"Week {week + 1}",
                    "source": "import", "created_at": start + timedelta(weeks=week),
                    "created_by": f"P{pid}",
                })
            batch.insert(ObjectiveStatus, {
                "person_id": pid, "cycle_id": cycle_id, "objective_key": key, "title": key,
                "actual": actual, "status": status, "comment": f"Week {weeks}",
                "updates": weeks, "updated_at": start + timedelta(weeks=weeks - 1),
                "updated_by": f"P{pid}",
            })
    return batch
