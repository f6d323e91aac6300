"""Development plans and check-ins: the newest plan of each person, the development actions
waiting for someone, and starting the pack's plan and check-in processes.

Which processes and steps these are comes from the deployed pack's `[features.development]`,
and the plan's record kind from `[features.records]` (engine.performance.deployed_pack).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from engine.base.errors import EngineError
from engine.base.models import HumanTask, Record
from engine.performance.deployed_pack import current_features
from engine.performance.feedback import OpenStep, open_step
from engine.performance.scorecard import DevelopmentStatus, development_status
from engine.workflow import runtime


async def newest_plans(
    person_ids: Iterable[int], today: date
) -> dict[int, DevelopmentStatus]:
    """Each person's newest development plan record, as its status on `today` (people
    without a plan are left out)."""
    kind = (await current_features()).records.development_plan
    newest: dict[int, dict[str, Any]] = {}
    rows = await Record.filter(kind=kind, person_id__in=list(person_ids)).order_by(
        "id"
    ).values_list("person_id", "data")
    for person_id, data in rows:
        newest[person_id] = data  # ordered by id: the newest wins
    return {pid: development_status(data, today) for pid, data in newest.items()}


async def open_actions(person_id: int) -> list[OpenStep]:
    """The development actions waiting for the person, soonest due first."""
    task = (await current_features()).development.action_task
    rows = await HumanTask.filter(
        assignee_id=person_id, bpmn_id=task, status="ready"
    ).order_by("due_at")
    return [open_step(row) for row in rows]


async def start_checkin(actor: runtime.Actor) -> int:
    """Start a check-in for the actor; returns its first step (the actor's form)."""
    features = (await current_features()).development
    instance = await runtime.start_process(
        features.checkin_process, subject=actor.person_id, actor=actor
    )
    task = await HumanTask.get_or_none(
        instance_id=instance.id, bpmn_id=features.checkin_task, status="ready"
    )
    if task is None:
        raise EngineError(f"the process did not reach '{features.checkin_task}' as expected")
    return task.id


async def start_plan(actor: runtime.Actor, person_id: int) -> int | None:
    """Start a development plan for a report; returns the actor's agreeing step when it is
    theirs, else None (it waits in someone's inbox)."""
    features = (await current_features()).development
    instance = await runtime.start_process(
        features.plan_process, subject=person_id, actor=actor
    )
    task = await HumanTask.get_or_none(
        instance_id=instance.id, bpmn_id=features.agree_task, status="ready",
        assignee_id=actor.person_id,
    )
    return task.id if task is not None else None
