"""An instance's story from the audit trail: timeline, open steps, highlights, BPMN, reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.base import clock
from engine.base.models import Cycle, HumanTask, ProcessInstance
from engine.workflow import runtime
from engine.workflow.history import instance_history, reviews_of
from tests.support.org import ADA, HAL, MARIA, PEOPLE_HEADER, SAM, org_csv

ROOT = Path(__file__).resolve().parents[2]
ORG = org_csv(MARIA, SAM, ADA, HAL, header=PEOPLE_HEADER)
OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the appraisal module", "target": 1, "weight": 50},
    {"kra": "Quality", "title": "Cut escaped defects", "target": 4, "weight": 30,
     "measure_type": "lower_is_better"},
    {"kra": "People", "title": "Mentor two engineers", "target": 2, "weight": 20},
]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def org(db: str) -> dict[str, runtime.Actor]:
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org

    report = await import_org(ORG)
    assert not report.errors
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    return {key: await runtime.actor_for(key) for key in ("E200", "E300", "E400")}


async def submit(instance_id: int, actor: runtime.Actor, data: dict[str, Any]) -> None:
    task = await HumanTask.get(instance_id=instance_id, status="ready")
    await runtime.complete_task(task.id, actor, data)


def signature(actor: runtime.Actor, comment: str) -> dict[str, Any]:
    return {"acknowledged": True, "name": "Ada Lovelace", "signer_id": actor.person_id,
            "signed_at": "2026-03-05T10:30:00+00:00", "comment": comment}


async def returned_once(org: dict[str, runtime.Actor]) -> ProcessInstance:
    """Ada drafts, Sam returns the objectives for rework: the draft is open again."""
    with clock.frozen_at(START):
        instance = await runtime.start_process(
            "objective_setting", subject="E300", actor=org["E400"]
        )
        await submit(instance.id, org["E300"], {"objectives": OBJECTIVES[:2] + [
            {"kra": "People", "title": "Mentor", "target": 2, "weight": 10}]})
        await submit(instance.id, org["E200"], {"decision": "return",
                                                "manager_comments": "Weights must add up."})
    return instance


async def test_after_a_return_for_rework_the_draft_is_current_and_the_review_done(org):
    instance = await returned_once(org)
    history = await instance_history(instance.id)
    assert history.current_ids == {"draft_objectives"}
    assert {"start_objective_setting", "review_objectives", "review_decision"} <= (
        history.completed_ids
    )
    # Open again, so not shown as done; never reached, so not shown at all.
    assert "draft_objectives" not in history.completed_ids
    assert "acknowledge_objectives" not in history.completed_ids | history.current_ids
    assert "review_overdue" not in history.completed_ids | history.current_ids
    [step] = history.open_steps
    assert (step.name, step.holder) == ("Draft objectives", "Ada Lovelace")
    assert step.due_at is not None


async def test_the_timeline_names_who_did_what_with_a_readable_summary(org):
    instance = await returned_once(org)
    history = await instance_history(instance.id)
    lines = [(e.headline, e.summary) for e in history.timeline]
    assert lines == [
        ("Hal Ruiz started Objective setting for Ada Lovelace", "version 1"),
        ("Ada Lovelace completed Draft objectives", "3 objectives, weights 90%"),
        ("Sam Patel completed Review objectives",
         "Decision: Return them to the employee"),
    ]
    draft = history.timeline[1]
    [table] = [f for f in draft.fields if f.kind == "table"]
    assert table.label == "Objectives"
    assert "Key result area" in table.columns and "Measure" in table.columns
    assert ("Quality", "Cut escaped defects", "Lower is better", "4", "30") in table.rows
    assert table.footer == "Total weight: 90%"
    review = history.timeline[2]
    assert [(f.label, f.text) for f in review.fields] == [
        ("Decision", "Return them to the employee"),
        ("Comments for the employee", "Weights must add up."),
    ]


async def test_a_completed_process_keeps_only_the_last_round_current_and_collects_signatures(
    org,
):
    instance = await returned_once(org)
    with clock.frozen_at(START):
        await submit(instance.id, org["E300"], {"objectives": OBJECTIVES})
        await submit(instance.id, org["E200"], {"decision": "approve"})
        await submit(instance.id, org["E300"],
                     {"acknowledgement": signature(org["E300"], "Agreed.")})
    history = await instance_history(instance.id)
    assert history.status == "completed" and history.status_label == "Completed"
    assert history.current_ids == set() and history.open_steps == []
    assert {"draft_objectives", "acknowledge_objectives", "end_objective_setting"} <= (
        history.completed_ids
    )
    drafts = [e for e in history.submissions if e.bpmn_id == "draft_objectives"]
    assert [d.superseded for d in drafts] == [True, False]
    assert drafts[1].summary == "3 objectives, weights 100%"
    [signed] = history.signatures
    assert (signed.name, signed.comment) == ("Ada Lovelace", "Agreed.")
    assert signed.signed_at == datetime(2026, 3, 5, 10, 30, tzinfo=UTC)
    assert history.timeline[-1].headline == "Objective setting completed"


async def test_the_bpmn_xml_is_the_file_that_defines_the_process(org):
    instance = await returned_once(org)
    history = await instance_history(instance.id)
    assert '<bpmn:process id="objective_setting"' in history.bpmn_xml
    assert "BPMNDiagram" in history.bpmn_xml


async def test_an_error_shows_its_message_and_step(org):
    instance = await returned_once(org)
    await ProcessInstance.filter(id=instance.id).update(
        status="error", error={"task": "review_decision", "task_name": "Decision?",
                               "message": "name 'decision' is not defined"},
    )
    history = await instance_history(instance.id)
    assert history.status_label == "Stopped on an error"
    assert history.error_step == "Decision?"
    assert history.error_message == "name 'decision' is not defined"


async def test_reviews_of_lists_a_persons_own_processes_newest_first(org):
    cycle = await Cycle.create(name="2026 objectives")
    with clock.frozen_at(START):
        older = await runtime.start_process(
            "objective_setting", subject="E300", actor=org["E400"]
        )
    with clock.frozen_at(datetime(2026, 9, 1, tzinfo=UTC)):
        newer = await runtime.start_process(
            "objective_setting", subject="E300", actor=org["E400"], cycle_id=cycle.id
        )
    await runtime.start_process("objective_setting", subject="E200", actor=org["E400"])
    await ProcessInstance.filter(id=older.id).update(started_at=START)
    lines = await reviews_of(org["E300"].person_id)
    assert [line.instance_id for line in lines] == [newer.id, older.id]
    assert lines[0].cycle_name == "2026 objectives" and lines[1].cycle_name is None
    assert lines[0].process_title == "Objective setting"
    assert [(s.name, s.holder) for s in lines[0].now_with] == [("Draft objectives",
                                                                 "Ada Lovelace")]
    assert await reviews_of(org["E400"].person_id) == []


async def test_an_overdue_review_shows_the_timer_and_moves_to_the_skip_level_manager(org):
    # Timers count from the real moment the review opened, so the clock moves from now.
    instance = await runtime.start_process("objective_setting", subject="E300", actor=org["E400"])
    await submit(instance.id, org["E300"], {"objectives": OBJECTIVES})
    with clock.frozen_at(clock.now() + timedelta(days=11)):
        assert await runtime.fire_due_timers() == 1
    history = await instance_history(instance.id)
    timers = [e.headline for e in history.timeline if e.action == "timer_fired"]
    assert any("Review overdue (10 days)" in headline for headline in timers), timers
    assert history.current_ids == {"escalated_review"}
    assert "review_overdue" in history.completed_ids
    assert "review_objectives" not in history.completed_ids | history.current_ids
    [step] = history.open_steps
    assert (step.name, step.holder) == ("Review objectives (escalated)", "Maria Okafor")


async def test_the_person_appraised_does_not_see_what_the_form_keeps_private(org):
    """The manager's view of potential is for HR and the manager: the appraised employee's
    history of their own appraisal leaves it out (`"ui:options": {"private": true}`)."""
    import json

    case = json.loads((ROOT / "processes" / "standard" / "tests" /
                       "test_year_end_appraisal.json").read_text())["agree_without_gap"]["tasks"]
    instance = await runtime.start_process("year_end_appraisal", subject="E300",
                                           actor=org["E400"])
    await submit(instance.id, org["E300"], case["self_appraisal"]["data"][0])
    await submit(instance.id, org["E200"],
                 {**case["manager_appraisal"]["data"][0], "potential": "high"})

    def shown(history: Any) -> dict[str, str]:
        return {value.label: value.text for entry in history.timeline for value in entry.fields}

    assert "High — ready for a bigger role within a year" in shown(
        await instance_history(instance.id, org["E200"].person_id)).get("Potential", "")
    assert "Potential" in shown(await instance_history(instance.id, org["E400"].person_id))  # HR
    own = shown(await instance_history(instance.id, org["E300"].person_id))
    assert "Potential" not in own
    assert "Comments for the employee" in own  # the rest of the appraisal is hers to read
