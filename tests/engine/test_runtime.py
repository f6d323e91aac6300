"""The engine end to end: deploy, start, complete, conflicts, timers, signals, errors, audit."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from engine.base import clock
from engine.base.errors import Conflict, NotAllowed
from engine.base.models import (
    AuditEvent,
    HumanTask,
    PendingMessage,
    ProcessDefinition,
    ProcessInstance,
    Record,
)
from engine.base.serialization import load_state
from engine.operations.worker import drain
from engine.packs.definitions import deploy_pack, deployed
from engine.workflow import runtime
from engine.workflow.audit import verify_chain
from engine.workflow.instance import recent_workflows

LAB = Path(__file__).parent / "runtime_pack"

OBJECTIVES = [
    {
        "kra": "Delivery",
        "title": "Ship billing",
        "kpi": "Release",
        "measure_type": "higher_is_better",
        "baseline": 0,
        "target": 1,
        "weight": 100,
    },
]


async def open_task(instance_id: int, bpmn_id: str) -> HumanTask:
    return await HumanTask.get(instance_id=instance_id, bpmn_id=bpmn_id, status="ready")


async def test_objective_setting_runs_with_a_rework_loop(standard: None) -> None:
    hr = await runtime.actor_for("H1")
    eve, morgan = await runtime.actor_for("E1"), await runtime.actor_for("M1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    assert inst.status == "running"

    draft = await open_task(inst.id, "draft_objectives")
    assert draft.assignee_id == eve.person_id
    assert draft.form == "objectives-schema.json"
    assert draft.lane == "Employee"
    assert draft.due_at is not None and draft.due_at > clock.now() + timedelta(days=13)

    await runtime.complete_task(draft.id, eve, {"objectives": OBJECTIVES, "comments": "v1"})
    review = await open_task(inst.id, "review_objectives")
    assert review.assignee_id == morgan.person_id
    await runtime.complete_task(
        review.id, morgan, {"decision": "return", "manager_comments": "Add a quality goal"}
    )

    # Returned: the employee gets a new draft task, with the previous data kept.
    redraft = await open_task(inst.id, "draft_objectives")
    assert redraft.id != draft.id and redraft.assignee_id == eve.person_id
    await runtime.complete_task(redraft.id, eve, {"objectives": OBJECTIVES, "comments": "v2"})
    review2 = await open_task(inst.id, "review_objectives")
    await runtime.complete_task(review2.id, morgan, {"decision": "approve", "manager_comments": ""})
    ack = await open_task(inst.id, "acknowledge_objectives")
    done = await runtime.complete_task(ack.id, eve, {"acknowledged": True, "comment": ""})

    assert done.status == "completed", done.error
    assert await HumanTask.filter(instance_id=inst.id, status="ready").count() == 0
    assert await HumanTask.filter(instance_id=inst.id, status="completed").count() == 5
    record = await Record.get(instance_id=inst.id, kind="objectives")
    assert record.person_id == eve.person_id
    assert record.data["objectives"] == OBJECTIVES
    actions = (
        await AuditEvent.filter(instance_id=inst.id).order_by("id").values_list("action", flat=True)
    )
    assert actions[0] == "instance_started" and actions[-1] == "instance_completed"
    assert actions.count("task_completed") == 5


async def test_the_wrong_person_may_not_complete_a_task(standard: None) -> None:
    inst = await runtime.start_process(
        "objective_setting", subject="E1", actor=await runtime.actor_for("H1")
    )
    draft = await open_task(inst.id, "draft_objectives")
    with pytest.raises(NotAllowed):
        await runtime.complete_task(draft.id, await runtime.actor_for("E2"), {"objectives": []})
    assert (await HumanTask.get(id=draft.id)).status == "ready"


async def test_two_people_completing_one_task_exactly_one_wins(standard: None) -> None:
    hr = await runtime.actor_for("H1")
    eve = await runtime.actor_for("E1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    draft = await open_task(inst.id, "draft_objectives")
    # Eve submits from two browser tabs at once.
    results = await asyncio.gather(
        runtime.complete_task(draft.id, eve, {"objectives": OBJECTIVES, "comments": "tab 1"}),
        runtime.complete_task(draft.id, eve, {"objectives": OBJECTIVES, "comments": "tab 2"}),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, ProcessInstance)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1 and len(losses) == 1
    assert isinstance(losses[0], Conflict)
    assert "already completed by Eve Employee" in str(losses[0])
    # Exactly one review task exists, and the stored data is the winner's.
    assert await HumanTask.filter(instance_id=inst.id, bpmn_id="review_objectives").count() == 1
    row = await ProcessInstance.get(id=inst.id)
    assert row.version == 2


async def test_review_escalates_to_the_skip_level_manager_when_overdue(standard: None) -> None:
    hr, eve = await runtime.actor_for("H1"), await runtime.actor_for("E1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    draft = await open_task(inst.id, "draft_objectives")
    await runtime.complete_task(draft.id, eve, {"objectives": OBJECTIVES, "comments": ""})
    review = await open_task(inst.id, "review_objectives")
    row = await ProcessInstance.get(id=inst.id)
    assert row.next_timer_at is not None

    # Four days later nothing is due yet; a reminder (not an escalation) comes at day five.
    with clock.frozen_at(clock.now() + timedelta(days=4)):
        assert await runtime.fire_due_timers() == 0
    with clock.frozen_at(clock.now() + timedelta(days=6)):
        assert await runtime.fire_due_timers() == 1
    assert (await HumanTask.get(id=review.id)).status == "ready"

    with clock.frozen_at(clock.now() + timedelta(days=11)):
        assert await runtime.fire_due_timers() == 1
    assert (await HumanTask.get(id=review.id)).status == "cancelled"
    escalated = await open_task(inst.id, "escalated_review")
    assert escalated.assignee_id == (await runtime.actor_for("D1")).person_id
    assert await AuditEvent.filter(instance_id=inst.id, action="timer_fired").count() == 2


def lab_copy(tmp_path: Path) -> Path:
    target = tmp_path / "packs" / "lab"
    shutil.copytree(LAB, target)
    return target


async def test_a_failing_script_stops_the_instance_and_a_redeployed_fix_retries_it(
    org: None, tmp_path: Path
) -> None:
    lab = lab_copy(tmp_path)
    await deploy_pack(lab, "test", search=[lab.parent])
    eve = await runtime.actor_for("E1")
    inst = await runtime.start_process("scored", subject="E1", actor=eve)
    enter = await open_task(inst.id, "enter_amount")

    after = await runtime.complete_task(enter.id, eve, {"amount": 21})
    assert after.status == "error"
    assert after.error["task"] == "compute"
    assert "divisor" in after.error["message"]
    assert after.error["data"]["amount"] == 21  # what the employee submitted is kept
    assert await HumanTask.filter(instance_id=inst.id, status="ready").count() == 0

    bpmn = lab / "scored.bpmn"
    bpmn.write_text(bpmn.read_text().replace("amount * 2 // divisor", "amount * 2"))
    report = await deploy_pack(lab, "test", search=[lab.parent])
    assert ("scored", 2) in report.deployed

    fixed = await runtime.retry_instance(inst.id, runtime.Actor.system("test"))
    assert fixed.status == "running" and fixed.error is None
    assert (await ProcessDefinition.get(id=fixed.definition_id)).version == 2
    confirm = await open_task(inst.id, "confirm")
    assert confirm.assignee_id == (await runtime.actor_for("M1")).person_id
    # The fixed script ran on the data the employee had submitted.
    dep = await deployed(fixed.definition_id)
    wf = load_state(fixed.state, dep.built.spec, dep.built.subprocess_specs, None)
    assert wf.get_task_from_id(UUID(confirm.spiff_task_id)).data["score"] == 42


async def test_a_lane_that_resolves_to_nobody_goes_to_hr_with_the_reason(
    org: None, tmp_path: Path
) -> None:
    lab = lab_copy(tmp_path)
    lab_bpmn = lab / "scored.bpmn"
    lab_bpmn.write_text(lab_bpmn.read_text().replace("amount * 2 // divisor", "amount * 2"))
    await deploy_pack(lab, "test", search=[lab.parent])
    eve = await runtime.actor_for("E1")
    inst = await runtime.start_process("scored", subject="E1", actor=eve)
    await runtime.complete_task((await open_task(inst.id, "enter_amount")).id, eve, {"amount": 1})
    orphan = await open_task(inst.id, "orphan")
    assert orphan.assignee_id is None
    assert orphan.candidate_group == "hr"
    assert "Nobody" in orphan.routing_note and "resolved to nobody" in orphan.routing_note


async def test_a_signal_thrown_by_one_instance_reaches_the_waiting_ones(
    org: None, tmp_path: Path
) -> None:
    lab = lab_copy(tmp_path)
    await deploy_pack(lab, "test", search=[lab.parent])
    hr = await runtime.actor_for("H1")
    waiting = [
        await runtime.start_process("listener", subject=key, actor=hr) for key in ("E1", "E2")
    ]
    for inst in waiting:
        assert await HumanTask.filter(instance_id=inst.id).count() == 0
    await runtime.start_process("announcer", subject="H1", actor=hr)
    # The signal is stored with the action that threw it; the worker delivers it.
    [thrown] = await PendingMessage.all()
    assert (thrown.name, thrown.status) == ("cycle_closed", "pending")
    for inst in waiting:
        assert await HumanTask.filter(instance_id=inst.id).count() == 0
    await drain()
    for inst in waiting:
        task = await open_task(inst.id, "read_results")
        assert task.assignee_id == (await ProcessInstance.get(id=inst.id)).subject_id
    thrown = await PendingMessage.get(id=thrown.id)
    assert (thrown.status, thrown.received) == ("delivered", 2)
    # Delivered once: another round hands it to nobody again.
    assert (await drain()).get("messages", 0) == 0
    assert await HumanTask.filter(instance_id__in=[w.id for w in waiting]).count() == 2


async def test_deploying_a_new_version_leaves_running_instances_alone(
    org: None, tmp_path: Path
) -> None:
    lab = lab_copy(tmp_path)
    first = await deploy_pack(lab, "test", search=[lab.parent])
    again = await deploy_pack(lab, "test", search=[lab.parent])
    assert again.deployed == [] and ("scored", 1) in again.unchanged
    eve = await runtime.actor_for("E1")
    old = await runtime.start_process("scored", subject="E1", actor=eve)

    bpmn = lab / "scored.bpmn"
    bpmn.write_text(
        bpmn.read_text()
        .replace("amount * 2 // divisor", "amount * 3")
        .replace('name="Enter amount"', 'name="Enter the amount"')
    )
    second = await deploy_pack(lab, "test", search=[lab.parent])
    assert ("scored", 1) in first.deployed and ("scored", 2) in second.deployed
    new = await runtime.start_process("scored", subject="E2", actor=eve)

    old_task = await open_task(old.id, "enter_amount")
    new_task = await open_task(new.id, "enter_amount")
    assert old_task.name == "Enter amount"
    assert new_task.name == "Enter the amount"
    finished_old = await runtime.complete_task(old_task.id, eve, {"amount": 5})
    assert finished_old.status == "error"  # still the old, buggy version 1


async def test_a_tampered_audit_row_is_detected(standard: None) -> None:
    hr, eve = await runtime.actor_for("H1"), await runtime.actor_for("E1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    await runtime.complete_task(
        (await open_task(inst.id, "draft_objectives")).id,
        eve,
        {"objectives": OBJECTIVES, "comments": ""},
    )
    report = await verify_chain()
    assert report.ok and report.checked >= 2

    completed = await AuditEvent.get(action="task_completed")
    completed.detail = {**completed.detail, "data": {"objectives": [], "comments": "forged"}}
    await completed.save()
    report = await verify_chain()
    assert not report.ok
    assert report.first_bad_id == completed.id
    assert "edited" in str(report)


async def test_a_deleted_audit_row_is_detected(standard: None) -> None:
    hr, eve = await runtime.actor_for("H1"), await runtime.actor_for("E1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    await runtime.complete_task(
        (await open_task(inst.id, "draft_objectives")).id, eve,
        {"objectives": OBJECTIVES, "comments": ""},
    )
    first, second = await AuditEvent.filter(instance_id=inst.id).order_by("seq").limit(2)
    await first.delete()
    report = await verify_chain()
    assert report.first_bad_id == second.id
    assert "event 1 of the chain is removed" in str(report)


async def test_a_remembered_workflow_is_used_only_at_the_version_it_was_saved(
    standard: None,
) -> None:
    hr = await runtime.actor_for("H1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    row = await ProcessInstance.get(id=inst.id)
    remembered = recent_workflows
    assert remembered.take(row) is not None  # kept by the start, at its version
    assert remembered.take(row) is None  # taken out while an action uses it

    remembered.keep(row, object())  # type: ignore[arg-type]
    row.version += 1  # another app process saved the instance meanwhile
    assert remembered.take(row) is None

    # Whatever is remembered, an action works on what the database holds.
    remembered.keep(row, object())  # type: ignore[arg-type]
    draft = await open_task(inst.id, "draft_objectives")
    await runtime.complete_task(
        draft.id, await runtime.actor_for("E1"), {"objectives": OBJECTIVES, "comments": ""}
    )
    assert (await open_task(inst.id, "review_objectives")).status == "ready"


async def test_a_signal_sent_to_chosen_instances_moves_only_those(
    org: None, tmp_path: Path
) -> None:
    lab = lab_copy(tmp_path)
    await deploy_pack(lab, "test", search=[lab.parent])
    hr = await runtime.actor_for("H1")
    first, second = [
        await runtime.start_process("listener", subject=key, actor=hr) for key in ("E1", "E2")
    ]
    received = await runtime.send_signal("cycle_closed", [first.id], hr)
    assert received == [first.id]
    assert (await open_task(first.id, "read_results")).status == "ready"
    assert await HumanTask.filter(instance_id=second.id).count() == 0


async def test_a_process_starts_with_what_earlier_records_hold(standard: None) -> None:
    hr, eve, morgan = [await runtime.actor_for(k) for k in ("H1", "E1", "M1")]
    first = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    await runtime.complete_task(
        (await open_task(first.id, "draft_objectives")).id, eve,
        {"objectives": OBJECTIVES, "comments": ""},
    )
    await runtime.complete_task(
        (await open_task(first.id, "review_objectives")).id, morgan,
        {"decision": "approve", "manager_comments": ""},
    )
    await runtime.complete_task(
        (await open_task(first.id, "acknowledge_objectives")).id, eve,
        {"acknowledgement": {"acknowledged": True, "name": "Eve Employee", "comment": ""}},
    )
    # pack.toml: year_end_appraisal.start_data.objectives = "record:objectives.objectives"
    appraisal = await runtime.start_process("year_end_appraisal", subject="E1", actor=hr)
    other = await runtime.start_process("year_end_appraisal", subject="E2", actor=hr)
    dep = await deployed(appraisal.definition_id)
    with_record = load_state(appraisal.state, dep.built.spec, dep.built.subprocess_specs, None)
    without = load_state(other.state, dep.built.spec, dep.built.subprocess_specs, None)
    assert with_record.task_tree.data["objectives"] == OBJECTIVES
    assert "objectives" not in without.task_tree.data


async def test_a_process_two_packs_deploy_must_be_started_from_a_named_pack(
    org: None, tmp_path: Path
) -> None:
    from engine.base.errors import EngineError

    lab = lab_copy(tmp_path)
    await deploy_pack(lab, "test", search=[lab.parent])
    twin = tmp_path / "packs" / "lab-twin"
    shutil.copytree(lab, twin)
    toml = twin / "pack.toml"
    toml.write_text(toml.read_text().replace('name = "lab"', 'name = "lab-twin"'))
    await deploy_pack(twin, "test", search=[twin.parent])
    eve = await runtime.actor_for("E1")
    with pytest.raises(EngineError, match="several packs .lab, lab-twin."):
        await runtime.start_process("scored", subject="E1", actor=eve)
    started = await runtime.start_process("scored", subject="E1", actor=eve, pack="lab-twin")
    assert (await deployed(started.definition_id)).pack == "lab-twin"


async def test_claiming_a_task_someone_claimed_first_names_them_and_a_personal_task_stays(
    standard: None,
) -> None:
    inst = await runtime.start_process(
        "objective_setting", subject="E1", actor=await runtime.actor_for("H1"),
        data={"lane_owners": {"Employee": ["E1", "E2"]}},
    )
    draft = await open_task(inst.id, "draft_objectives")
    eve, eli = await runtime.actor_for("E1"), await runtime.actor_for("E2")
    assert draft.assignee_id is None
    assert set(draft.candidates) == {str(eve.person_id), str(eli.person_id)}
    await runtime.claim_task(draft.id, eli)
    with pytest.raises(Conflict, match="already claimed by Eli Employee"):
        await runtime.claim_task(draft.id, eve)
    await runtime.release_task(draft.id, eli)
    assert (await HumanTask.get(id=draft.id)).assignee_id is None

    # A task for one person cannot be released into nobody's hands.
    mine = await runtime.start_process(
        "objective_setting", subject="E2", actor=await runtime.actor_for("H1")
    )
    own = await open_task(mine.id, "draft_objectives")
    with pytest.raises(NotAllowed):
        await runtime.release_task(own.id, eli)
    assert (await HumanTask.get(id=own.id)).assignee_id == eli.person_id
