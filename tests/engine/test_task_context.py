"""What a task page is made of, gathered without the web, and readable summaries of steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.base.errors import NotFound
from engine.base.models import Cycle, HumanTask, OrgGoal, ProcessInstance
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.workflow import runtime
from engine.workflow.task_context import next_steps, parsed_form, summarize, task_context
from tests.support.org import DANA, EVE, HANA, MORGAN, org_csv

ROOT = Path(__file__).resolve().parents[2]

ORG = org_csv(DANA, MORGAN, EVE, HANA)

OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship billing", "kpi": "", "measure_type": "lower_is_better",
     "baseline": None, "target": 1, "weight": 60, "aligned_goal": ""},
    {"kra": "People", "title": "Mentor", "kpi": "", "measure_type": "higher_is_better",
     "baseline": None, "target": 2.5, "weight": 40, "aligned_goal": ""},
]


@pytest.fixture
async def instance(db: str) -> ProcessInstance:
    report = await import_org(ORG)
    assert not report.errors, report.errors
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="FY26")
    hr = await runtime.actor_for("H1")
    return await runtime.start_process(
        "objective_setting", subject="E1", actor=hr, cycle_id=cycle.id
    )


async def ready(instance: ProcessInstance, bpmn_id: str) -> HumanTask:
    return await HumanTask.get(instance_id=instance.id, bpmn_id=bpmn_id, status="ready")


async def test_context_of_a_review_holds_task_data_form_and_the_earlier_step(
    instance: ProcessInstance,
) -> None:
    draft = await ready(instance, "draft_objectives")
    await runtime.complete_task(
        draft.id, await runtime.actor_for("E1"), {"objectives": OBJECTIVES, "comments": "v1"}
    )
    review = await ready(instance, "review_objectives")

    ctx = await task_context(review.id)

    assert ctx.is_open and not ctx.is_overdue
    assert ctx.process_title == "Objective setting" and ctx.cycle_name == "FY26"
    assert ctx.subject is not None and ctx.subject.name == "Eve Employee"
    assert ctx.subject_unit is not None and ctx.subject_unit.name == "Engineering"
    assert ctx.manager is not None and ctx.manager.name == "Morgan Manager"
    # The workflow task's own data: what the employee submitted and what the postScript set.
    assert ctx.data["objectives"][0]["title"] == "Ship billing"
    assert ctx.data["review_round"] == 1
    assert ctx.form is not None and ctx.form.schema_path.endswith("review-objectives-schema.json")
    assert '"decision"' in ctx.form.schema_text and ctx.form.uischema_text
    assert ctx.instructions is not None and "round {{ review_round }}" in ctx.instructions
    assert ctx.template_data["subject"]["name"] == "Eve Employee"
    schema, uischema = parsed_form(ctx)
    assert schema is not None and "decision" in schema["properties"]

    [step] = ctx.earlier
    assert step.name == "Draft objectives" and step.completed_by is not None
    assert step.completed_by.name == "Eve Employee" and step.completed_at is not None
    table = step.summary[0]
    assert table.is_table and table.label == "Objectives"
    assert table.columns == ("Key result area", "Objective", "Measure", "Target", "Weight (%)")
    assert table.rows[0] == ("Delivery", "Ship billing", "Lower is better", "1", "60")
    assert table.rows[1][3] == "2.5"
    assert (step.summary[1].label, step.summary[1].text) == ("Comments for your manager", "v1")


async def test_an_earlier_step_names_the_goals_its_objectives_support_even_retired_ones(
    instance: ProcessInstance,
) -> None:
    assert instance.cycle_id is not None
    growth = await OrgGoal.create(cycle_id=instance.cycle_id, title="Grow revenue 10%")
    quality = await OrgGoal.create(cycle_id=instance.cycle_id, title="Fewer incidents")
    chosen = [
        {**OBJECTIVES[0], "aligned_goal": f"goal:{growth.id}"},
        {**OBJECTIVES[1], "aligned_goal": f"goal:{quality.id}"},
    ]
    draft = await ready(instance, "draft_objectives")
    await runtime.complete_task(draft.id, await runtime.actor_for("E1"), {"objectives": chosen})
    # A goal retired after the employee chose it is still named, not shown as its raw id.
    await OrgGoal.filter(id=quality.id).update(retired_at=growth.created_at)
    review = await ready(instance, "review_objectives")

    [step] = (await task_context(review.id)).earlier

    table = step.summary[0]
    column = table.columns.index("Aligned to goal")
    assert [row[column] for row in table.rows] == [
        "Grow revenue 10% (Organisation)", "Fewer incidents (Organisation)",
    ]


async def test_a_completed_task_says_who_completed_it(instance: ProcessInstance) -> None:
    draft = await ready(instance, "draft_objectives")
    await runtime.complete_task(
        draft.id, await runtime.actor_for("E1"), {"objectives": OBJECTIVES, "comments": ""}
    )

    ctx = await task_context(draft.id)

    assert not ctx.is_open
    assert ctx.closed_message().startswith(
        "'Draft objectives' was already completed by Eve Employee at "
    )
    assert ctx.data["objectives"][1]["title"] == "Mentor"


async def test_draft_comes_back_with_the_context(instance: ProcessInstance) -> None:
    draft = await ready(instance, "draft_objectives")
    await runtime.save_draft(
        draft.id, await runtime.actor_for("E1"), {"posted": {"comments": ["half"]}}
    )

    ctx = await task_context(draft.id)

    assert ctx.draft == {"posted": {"comments": ["half"]}}
    assert ctx.earlier == []


async def test_unknown_task_is_not_found(instance: ProcessInstance) -> None:
    with pytest.raises(NotFound):
        await task_context(424242)


async def test_next_steps_name_who_holds_them(instance: ProcessInstance) -> None:
    [step] = await next_steps(instance.id)
    assert (step.name, step.holder) == ("Draft objectives", "Eve Employee")


def test_summary_uses_titles_choice_labels_and_skips_empty_values() -> None:
    schema = {
        "properties": {
            "decision": {"title": "Decision", "type": "string", "enum": ["approve", "return"]},
            "score": {"type": "integer", "oneOf": [{"const": 3, "title": "Meets"}]},
            "notes": {"title": "Notes", "type": "string"},
            "urgent": {"title": "Urgent", "type": "boolean"},
            "signature": {"title": "Your signature", "type": "object"},
            "secret": {"type": "string"},
        }
    }
    uischema = {
        "ui:order": ["signature", "*"],
        "decision": {"ui:enumNames": ["Approve them", "Return them"]},
        "signature": {"ui:widget": "signature"},
        "secret": {"ui:widget": "hidden"},
    }
    data = {
        "decision": "return",
        "score": 3,
        "notes": "",
        "urgent": False,
        "secret": "x",
        "signature": {"acknowledged": True, "name": "Eve Employee",
                      "signed_at": "2026-03-01T09:30:00+00:00", "comment": "ok"},
    }

    lines = [(i.label, i.text) for i in summarize(data, schema, uischema)]

    assert lines == [
        ("Your signature", "Signed by Eve Employee on 2026-03-01 09:30 UTC — “ok”"),
        ("Decision", "Return them"),
        ("Score", "Meets"),
        ("Urgent", "No"),
    ]


def test_summary_without_a_schema_shows_every_key_in_words() -> None:
    lines = [(i.label, i.text) for i in summarize({"manager_comments": "Fine", "round": 2})]
    assert lines == [("Manager comments", "Fine"), ("Round", "2")]
