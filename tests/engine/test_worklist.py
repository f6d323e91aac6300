"""What a person is told after submitting a task, and the open tasks assigned to someone."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.base.models import HumanTask
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime, worklist

LAB = Path(__file__).parent / "runtime_pack"
OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship billing", "kpi": "Release",
     "measure_type": "higher_is_better", "baseline": 0, "target": 1, "weight": 100},
]


async def test_after_a_draft_the_next_step_is_the_managers_review(standard: None) -> None:
    hr, eve = await runtime.actor_for("H1"), await runtime.actor_for("E1")
    started = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    draft = await HumanTask.get(instance_id=started.id, status="ready")

    instance = await runtime.complete_task(
        draft.id, eve, {"objectives": OBJECTIVES, "comments": ""}
    )
    after = await worklist.after_submission(instance)

    assert after.status == "running"
    assert [(s.name, s.holder) for s in after.next_steps] == [
        ("Review objectives", "Morgan Manager")
    ]
    assert after.waiting_for == []


async def test_with_no_open_task_it_says_what_the_process_waits_for(
    org: None, tmp_path: Path
) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(LAB, lab)
    await deploy_pack(lab, "test", search=[tmp_path])
    listener = await runtime.start_process(
        "listener", subject="E1", actor=await runtime.actor_for("H1")
    )

    after = await worklist.after_submission(listener)

    assert (after.status, after.next_steps) == ("running", [])
    assert after.waiting_for == ["Cycle closed"]


async def test_open_tasks_of_a_person_are_theirs_alone_oldest_first(standard: None) -> None:
    hr = await runtime.actor_for("H1")
    eve, morgan = await runtime.actor_for("E1"), await runtime.actor_for("M1")
    first = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    await runtime.start_process("objective_setting", subject="E2", actor=hr)  # Eli's draft
    second = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    drafts = [
        (await HumanTask.get(instance_id=i.id, status="ready")).id for i in (first, second)
    ]
    assert eve.person_id is not None and morgan.person_id is not None

    assert await worklist.open_task_ids_of(eve.person_id) == sorted(drafts)
    assert await worklist.open_task_ids_of(morgan.person_id) == []

    await runtime.complete_task(drafts[0], eve, {"objectives": OBJECTIVES, "comments": ""})

    assert await worklist.open_task_ids_of(eve.person_id) == [drafts[1]]
    [review] = await worklist.open_task_ids_of(morgan.person_id)
    assert (await HumanTask.get(id=review)).name == "Review objectives"
