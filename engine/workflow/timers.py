"""Timers: fire what is due by the engine's clock, a batch of instances at a time.

A poller claims the instances whose next timer is due (moving it ahead by a lease, so another
poller leaves them alone), fires each one's due timers as that instance's own action, and saves
it; a non-interrupting boundary timer on an open task is a reminder and sends its emails.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from tortoise import connections

from engine.base import clock
from engine.base.db import Params
from engine.base.errors import Conflict
from engine.base.internals import fire_timer, timer_due
from engine.base.metrics import actions_reapplied
from engine.base.models import HumanTask, OutboxEmail, ProcessInstance
from engine.people.directory import current_directory
from engine.workflow import jobs, notifications
from engine.workflow.instance import Actor, LiveInstance, all_tasks
from engine.workflow.store import apply


def _timer_tasks(workflow: BpmnWorkflow) -> Iterable[Any]:
    for task in all_tasks(workflow):
        if task.state != TaskState.WAITING:
            continue
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            yield task


def _fire_timers(run: LiveInstance, now: datetime, reminded: list[str]) -> None:
    """Mark the timers due by `now` as fired; note the open tasks they remind about."""
    for task in _timer_tasks(run.workflow):
        due = timer_due(task)
        if due is not None and due <= now:
            fire_timer(task)
            run.fired_timers.append(task.task_spec.bpmn_id or task.task_spec.name)
            reminded.extend(_attached_open_tasks(task))
    run.workflow.refresh_timers()


def _attached_open_tasks(timer_task: Any) -> list[str]:
    """Ids of the READY user/manual tasks a non-interrupting boundary timer is attached to."""
    # An interrupting timer is an escalation, not a reminder; an intermediate timer event
    # (no cancel_activity) waits on its own branch and reminds nobody.
    if getattr(timer_task.task_spec, "cancel_activity", True):
        return []
    parent = timer_task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return []
    return [
        str(t.id)
        for t in parent.children
        if t is not timer_task and t.task_spec.manual and t.state == TaskState.READY
    ]


async def _claim_due_instances(now: datetime, limit: int) -> list[int]:
    """Take the instances whose timers are due, so no other poller fires them at once.

    The lease moves their next_timer_at ahead: if this poller dies, they are due again when
    the lease runs out; when it saves them, the real next timer replaces the lease."""
    p = Params()
    sql = (
        f'UPDATE "process_instance" SET "next_timer_at" = {p(now + jobs.LEASE)} '
        'WHERE "id" IN (SELECT "id" FROM "process_instance" '
        f'WHERE "next_timer_at" <= {p(now)} AND "status" = \'running\' '
        f'ORDER BY "next_timer_at" LIMIT {p(limit)}{p.lock()}) RETURNING "id"'
    )
    rows = await connections.get("default").execute_query_dict(sql, p.values)
    return sorted(int(row["id"]) for row in rows)


async def fire_due_timers(limit: int = 200) -> int:
    """Fire every timer due by `clock.now()`, `limit` instances at a time until none is left;
    returns how many instances moved."""
    moved = 0
    while True:
        now = clock.now()
        claimed = await _claim_due_instances(now, limit)
        for instance_id in claimed:
            moved += await fire_timers_of(instance_id, now)
        if len(claimed) < limit:
            return moved


async def fire_timers_of(instance_id: int, now: datetime) -> int:
    """Fire one claimed instance's due timers; 1 when it moved."""
    directory = await current_directory()
    row = await ProcessInstance.get_or_none(id=instance_id, status="running")
    if row is None:
        return 0
    open_tasks = {t.spiff_task_id: t for t in await HumanTask.filter(
        instance_id=row.id, status="ready")}

    def fire(run: LiveInstance) -> None:
        run.action = "timer"
        reminded: list[str] = []
        run.advance(partial(_fire_timers, run, now, reminded))
        # A timer that left its task open (non-interrupting) is a reminder.
        for spiff_id in reminded:
            task_row = open_tasks.get(spiff_id)
            for email in notifications.reminder_emails(task_row, directory) if task_row else ():
                run.batch.insert(OutboxEmail, email)
        if run.fired_timers:
            run.batch.audit("system:timer", "timer_fired", instance=row.id,
                            detail={"timers": run.fired_timers})

    run = await LiveInstance.act(row, Actor.system("timer"), directory, fire)
    assert run is not None
    try:
        await apply(run.batch)
    except Conflict:
        # Someone acted on the instance meanwhile: its save recomputed next_timer_at, so a
        # timer still due is taken again at the next poll.
        actions_reapplied.inc()
        return 0
    run.saved()
    return 1
