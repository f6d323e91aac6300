"""Development plans on a real database: each action becomes its owner's task, reminded by email."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.base import clock
from engine.base.models import HumanTask, OutboxEmail, Person, ProcessInstance, Record
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.workflow import runtime
from tests.support.org import ORG_DANA, ORG_EVE, ORG_MORGAN, org_csv

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"

ORG = org_csv(ORG_DANA, ORG_MORGAN, ORG_EVE)

# Far-future dates: SpiffWorkflow compares timeDate timers with the real clock as well.
AGREED_ON = datetime(2099, 5, 4, 10, 0, tzinfo=UTC)
PLAN = {
    "goals": "Lead design reviews.",
    "career_aspiration": "Tech lead",
    "actions": [
        {"goal": "Reviews", "action": "Shadow two design reviews", "owner": "employee",
         "due_date": "2099-06-01", "training": ""},
        {"goal": "Reviews", "action": "Book the architecture course", "owner": "manager",
         "due_date": "2099-06-20", "training": "Software architecture"},
    ],
    "plan_review_date": "2099-07-01",
}


@pytest.fixture
async def standard(db: str) -> None:
    await import_org(ORG)
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])


async def agreed_plan() -> int:
    """Morgan starts Eve's plan and agrees two actions; returns the instance id."""
    morgan = await runtime.actor_for("M1")
    with clock.frozen_at(AGREED_ON):
        inst = await runtime.start_process("development_plan", subject="E1", actor=morgan)
        agree = await HumanTask.get(instance_id=inst.id, bpmn_id="agree_plan", status="ready")
        await runtime.complete_task(agree.id, morgan, PLAN)
    return inst.id


async def action_tasks(instance_id: int) -> dict[int | None, HumanTask]:
    rows = await HumanTask.filter(
        instance_id=instance_id, bpmn_id="complete_action", status="ready"
    )
    return {row.assignee_id: row for row in rows}


async def plan_records() -> list[dict[str, Any]]:
    return [r.data for r in await Record.filter(kind="development_plan").order_by("id")]


async def test_each_action_goes_to_its_owner_due_on_its_date(standard: None) -> None:
    inst = await agreed_plan()
    eve, morgan = await Person.get(key="E1"), await Person.get(key="M1")

    tasks = await action_tasks(inst)

    assert set(tasks) == {eve.id, morgan.id}
    assert tasks[eve.id].due_at.date() == date(2099, 6, 1)
    assert tasks[morgan.id].due_at.date() == date(2099, 6, 20)
    # The agreed plan is on record at once, so the score card shows open actions.
    [agreed] = await plan_records()
    assert [a["status"] for a in agreed["actions"]] == ["open", "open"]


async def test_a_reminder_three_days_before_due_emails_the_owner(standard: None) -> None:
    inst = await agreed_plan()
    eve = await Person.get(key="E1")
    await OutboxEmail.all().delete()

    with clock.frozen_at(datetime(2099, 5, 28, 12, 0, tzinfo=UTC)):
        assert await runtime.fire_due_timers() == 0
    with clock.frozen_at(datetime(2099, 5, 29, 12, 0, tzinfo=UTC)):
        assert await runtime.fire_due_timers() == 1

    [reminder] = await OutboxEmail.all()
    assert reminder.to == "Eve Employee <eve@example.com>"
    assert reminder.subject == "Reminder: Complete a development action"
    # A reminder, not an escalation: both actions stay open with their owners.
    assert set(await action_tasks(inst)) == {eve.id, (await Person.get(key="M1")).id}


async def test_closing_every_action_records_each_status(standard: None) -> None:
    inst = await agreed_plan()
    eve, morgan = await Person.get(key="E1"), await Person.get(key="M1")
    tasks = await action_tasks(inst)

    with clock.frozen_at(datetime(2099, 5, 20, 9, 0, tzinfo=UTC)):
        await runtime.complete_task(
            tasks[eve.id].id, await runtime.actor_for("E1"),
            {"action_status": "done", "action_note": "Shadowed two."},
        )
        await runtime.complete_task(
            tasks[morgan.id].id, await runtime.actor_for("M1"), {"action_status": "cancelled"}
        )

    assert (await ProcessInstance.get(id=inst)).status == "completed"
    final = (await plan_records())[-1]
    assert {a["action"]: a["status"] for a in final["actions"]} == {
        "Shadow two design reviews": "done",
        "Book the architecture course": "cancelled",
    }
    assert final["finished_on"] == "2099-05-20"
