"""The runtime's operations: start a process, complete, claim and release a task, save a
draft, retry an instance stopped on an error, save an instance moved to another version.

Every operation is one user (or system) action on a `LiveInstance` (engine.workflow.instance):
read the task and instance, run SpiffWorkflow in memory, then write everything the action
changed — the task rows, records, emails, audit events and the instance with its optimistic
version check — as one batch in one transaction (engine.workflow.store). A lost race raises
Conflict and writes nothing. Timers (engine.workflow.timers) and messages and signals
(engine.workflow.messages) are operations of the same kind; they are re-exported here so
callers find every operation in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.base import clock
from engine.base.errors import Conflict, EngineError, NotAllowed, NotFound
from engine.base.internals import holding_connection
from engine.base.models import HumanTask, OutboxEmail, ProcessInstance
from engine.base.serialization import load_state, state_dict
from engine.packs.definitions import Deployed, deployed, latest
from engine.packs.loading import parse_start_data
from engine.people import assignment
from engine.people.directory import DirectorySnapshot, current_directory
from engine.workflow import offload, scheduled_meetings
from engine.workflow.instance import (
    Actor,
    LiveInstance,
    actor_for,
    before_reapply,
    json_safe,
    ready_human_tasks,
    script_engine,
)
from engine.workflow.messages import deliver_due_messages, deliver_message, send_signal
from engine.workflow.records import start_data_for
from engine.workflow.store import Batch, apply, fetch_with
from engine.workflow.timers import fire_due_timers

# How often an action is run again on fresh state when its instance changed under it.
REAPPLY_ATTEMPTS = 8


# --- start ---------------------------------------------------------------------------------


async def start_process(
    process_id: str,
    *,
    subject: int | str | None,
    actor: Actor,
    data: dict[str, Any] | None = None,
    cycle_id: int | None = None,
    pack: str | None = None,
) -> ProcessInstance:
    """Start the newest version of a process for a subject; returns the saved instance."""
    directory = await current_directory()
    dep = await latest(process_id, pack)
    person = directory.person(subject) if subject is not None else None
    if subject is not None and person is None:
        raise NotFound(f"no person '{subject}' in the directory")
    sources = parse_start_data(dep.process_settings.get("start_data"))
    if sources and person is not None:
        carried = (await start_data_for([person.id], sources))[person.id]
        data = {**carried, **(data or {})}
    batches: list[Batch] = []

    def start() -> LiveInstance:
        batches.append(Batch())
        return start_in_batch(
            batches[-1], dep, person.id if person else None, actor, directory, data, cycle_id
        )

    run = await offload.run_off_loop_if_slow(start)
    await apply(batches[-1])
    return run.saved()


# Run a new instance to its first wait and add its writes to a batch (a cycle launch adds
# many; with `launch_job_id` the instance is staged until that launch publishes it).
start_in_batch = LiveInstance.begin


# --- tasks ---------------------------------------------------------------------------------


async def _open_task(task_id: int, actor: Actor, directory: DirectorySnapshot) -> HumanTask:
    row: HumanTask | None = await fetch_with(HumanTask, task_id, "instance")  # type: ignore[assignment]
    if row is None:
        raise NotFound(f"no task {task_id}")
    if actor.person_id is not None and not assignment.may_act(
        actor.person_id,
        row.assignee_id,
        row.candidate_group,
        row.candidates,
        directory,
    ):
        if row.completed_by_id == actor.person_id:
            raise Conflict(already_done_message(row, directory))
        raise NotAllowed(f"{actor.label} may not act on task {task_id}")
    if row.status != "ready":
        raise Conflict(already_done_message(row, directory))
    return row


def already_done_message(row: HumanTask, directory: DirectorySnapshot) -> str:
    """Why a task can no longer be acted on, in words for the person who tried."""
    if row.status == "completed":
        person = directory.person(row.completed_by_id)
        who = f" by {person.name}" if person else ""
        when = (f" at {clock.wall_time(row.completed_at, '%Y-%m-%d %H:%M')}"
                if row.completed_at else "")
        return f"'{row.name}' was already completed{who}{when}."
    if row.status == "cancelled":
        return f"'{row.name}' is no longer open: the process moved on without it."
    return f"'{row.name}' is no longer open (it was {row.status})."


async def _refreshed_conflict(task_id: int, directory: DirectorySnapshot) -> Conflict:
    row = await HumanTask.get(id=task_id)
    if row.status != "ready":
        return Conflict(already_done_message(row, directory))
    return Conflict("this process changed while you were working on it; reload and try again")


async def complete_task(task_id: int, actor: Actor, data: dict[str, Any]) -> ProcessInstance:
    """Submit a human task's form data and run the process on to its next wait.

    When another action changed the instance meanwhile (a colleague completed a parallel step,
    a timer fired) and this task is still open, nothing conflicted with this submission: it is
    applied again on the instance as it is now. Only a task that was completed or closed
    meanwhile is a conflict for the person submitting."""
    directory = await current_directory()
    for attempt in range(REAPPLY_ATTEMPTS):
        async with holding_connection():
            task_row = await _open_task(task_id, actor, directory)
            run = await _submission(task_row, actor, directory, data)
            for email in await scheduled_meetings.invitation_emails(task_row, data, directory):
                run.batch.insert(OutboxEmail, email)
            try:
                await apply(run.batch)
            except Conflict:
                conflicted = True
            else:
                conflicted = False
        if conflicted:
            await before_reapply(attempt)
            continue
        return run.saved()
    raise await _refreshed_conflict(task_id, directory)


async def _submission(
    task_row: HumanTask, actor: Actor, directory: DirectorySnapshot, data: dict[str, Any]
) -> LiveInstance:
    """The run of one task submission on the instance as stored now."""
    row: ProcessInstance = task_row.instance
    if row.status == "error":
        raise Conflict("this process is stopped on an error; HR must retry it first")

    def submit(run: LiveInstance) -> None:
        run.action = f"task {task_row.bpmn_id}"
        task = run.workflow.get_task_from_id(UUID(task_row.spiff_task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"'{task_row.name}' is no longer open.")

        def step() -> None:
            task.data.update(data)
            task.run()

        run.advance(step)
        submitted = json_safe(data)
        # Conditional on still being ready: of two people submitting at once, exactly one wins.
        run.batch.update(
            HumanTask,
            {"id": task_row.id, "status": "ready"},
            {
                "status": "completed",
                "completed_by_id": actor.person_id,
                "completed_at": clock.now(),
                "submitted": submitted,
                "draft": None,
            },
            conflict="task already completed",
        )
        run.ready_before.discard(task_row.spiff_task_id)
        run.batch.audit(
            actor.label,
            "task_completed",
            instance=row.id,
            task=task_row.id,
            detail={"bpmn_id": task_row.bpmn_id, "name": task_row.name, "data": submitted},
        )

    run = await LiveInstance.act(row, actor, directory, submit)
    assert run is not None
    return run


def _shared(row: HumanTask) -> bool:
    """Whether a task is offered to a group or to several people (so it can be claimed)."""
    return bool(row.candidate_group) or len(row.candidates or ()) > 1


async def claim_task(task_id: int, actor: Actor) -> HumanTask:
    """Take a group task so it becomes the actor's own."""
    directory = await current_directory()
    row = await HumanTask.get_or_none(id=task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    holder = row.assignee_id
    offered = actor.person_id is not None and assignment.may_act(
        actor.person_id, None, row.candidate_group, row.candidates, directory
    )
    if not offered and holder != actor.person_id:
        raise NotAllowed(f"{actor.label} may not claim task {task_id}")
    if row.status != "ready":
        raise Conflict(already_done_message(row, directory))
    if holder == actor.person_id:
        return row
    if holder is not None:
        raise Conflict(_claimed_message(row, directory))
    batch = Batch()
    batch.update(
        HumanTask,
        {"id": row.id, "assignee_id": None, "status": "ready"},
        {"assignee_id": actor.person_id},
        conflict="claimed meanwhile",
    )
    batch.audit(actor.label, "task_claimed", instance=row.instance_id, task=row.id)
    try:
        await apply(batch)
    except Conflict:
        await row.refresh_from_db()
        raise Conflict(_claimed_message(row, directory)) from None
    row.assignee_id = actor.person_id
    return row


def _claimed_message(row: HumanTask, directory: DirectorySnapshot) -> str:
    person = directory.person(row.assignee_id)
    if row.status != "ready":
        return already_done_message(row, directory)
    return f"'{row.name}' was already claimed by {person.name if person else 'someone else'}."


async def release_task(task_id: int, actor: Actor) -> HumanTask:
    """Give a claimed group task back to its group."""
    directory = await current_directory()
    row = await HumanTask.get_or_none(id=task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    if row.status != "ready":
        raise Conflict(already_done_message(row, directory))
    # A personal task lists its one holder as its candidate: releasing it would orphan it.
    if row.assignee_id != actor.person_id or not _shared(row):
        raise NotAllowed("only the person holding a group task can release it")
    batch = Batch()
    batch.update(
        HumanTask,
        {"id": row.id, "assignee_id": actor.person_id, "status": "ready"},
        {"assignee_id": None},
        conflict="changed meanwhile",
    )
    batch.audit(actor.label, "task_released", instance=row.instance_id, task=row.id)
    try:
        await apply(batch)
    except Conflict:
        raise await _refreshed_conflict(row.id, directory) from None
    row.assignee_id = None
    return row


async def save_draft(task_id: int, actor: Actor, draft: dict[str, Any]) -> None:
    """Keep unfinished form input on the task so it comes back when reopened."""
    directory = await current_directory()
    row = await _open_task(task_id, actor, directory)
    # A draft that sets a meeting's time sends its invitation in the same write.
    emails = await scheduled_meetings.invitation_emails(row, draft.get("posted") or {}, directory)
    batch = Batch()
    batch.update(HumanTask, {"id": row.id, "status": "ready"}, {"draft": json_safe(draft)},
                 conflict="task already completed")
    for email in emails:
        batch.insert(OutboxEmail, email)
    try:
        await apply(batch)
    except Conflict:
        raise await _refreshed_conflict(row.id, directory) from None


# --- errors and moves ----------------------------------------------------------------------


async def retry_instance(instance_id: int, actor: Actor, upgrade: bool = True) -> ProcessInstance:
    """Run a failed instance again, on the newest version of its process when `upgrade`."""
    row = await ProcessInstance.get_or_none(id=instance_id)
    if row is None:
        raise NotFound(f"no instance {instance_id}")
    if row.status != "error":
        raise Conflict(f"instance {instance_id} is not in error (it is {row.status})")
    dep = await deployed(row.definition_id)
    if upgrade:
        newest = await latest(row.process_id, dep.pack)
        if newest.id != dep.id:
            check_compatible(row.state, newest)
            dep = newest
    workflow = load_state(row.state, dep.built.spec, dep.built.subprocess_specs, script_engine())
    ready_before = set(ready_human_tasks(workflow))
    failed = list(workflow.get_tasks(state=TaskState.ERROR))

    def again() -> None:
        for task in failed:
            workflow.reset_from_task_id(task.id)

    detail = {
        "from_definition": row.definition_id,
        "to_definition": dep.id,
        "version": dep.version,
        "previous_error": row.error,
    }
    row.error = None
    return await save_moved(
        row, dep, workflow, actor, ready_before=ready_before, step=again,
        action="instance_retried", detail=detail,
    )


async def save_moved(
    row: ProcessInstance,
    dep: Deployed,
    workflow: BpmnWorkflow,
    actor: Actor,
    *,
    ready_before: set[str],
    step: Callable[[], Any],
    action: str,
    detail: dict[str, Any],
) -> ProcessInstance:
    """Save an instance whose workflow was repaired or moved to `dep` outside a task (a retry,
    a migration): run `step` and the engine steps after it, audit `action`, write it all."""
    row.definition_id = dep.id
    run = LiveInstance(row, dep, workflow, await current_directory(), actor, Batch(), row.id)
    run.batch.chain_from(row.id, row.audit_seq, row.audit_head)
    run.ready_before = ready_before
    run.action = action.removeprefix("instance_")

    def move() -> None:
        run.advance(step)
        run.batch.audit(actor.label, action, instance=row.id, detail=detail)
        run.finish()

    # Retries and migrations are rare and may run what failed before: off the event loop.
    await asyncio.to_thread(move)
    await apply(run.batch)
    return run.saved()


def check_compatible(state: bytes, dep: Deployed) -> None:
    """Refuse to move a state onto a version that lacks one of its tasks."""
    tasks = state_dict(state).get("tasks", {})
    names = set(dep.built.spec.task_specs)
    for sub in dep.built.subprocess_specs.values():
        names |= set(sub.task_specs)
    missing = sorted({t["task_spec"] for t in tasks.values()} - names)
    if missing:
        raise EngineError(
            f"version {dep.version} lacks task(s) this instance has used: {', '.join(missing)}"
        )

__all__ = [
    "Actor",
    "LiveInstance",
    "actor_for",
    "already_done_message",
    "check_compatible",
    "claim_task",
    "complete_task",
    "deliver_due_messages",
    "deliver_message",
    "fire_due_timers",
    "release_task",
    "retry_instance",
    "save_draft",
    "save_moved",
    "send_signal",
    "start_in_batch",
    "start_process",
]
