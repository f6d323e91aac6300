"""Running instances: start, complete a task, fire timers, deliver messages, retry after errors.

Every public function here is one user (or system) action: read the task and instance, run
SpiffWorkflow in memory, then write everything the action changed — the task rows, records,
emails, audit events and the instance with its optimistic version check — as one batch in one
transaction (engine.workflow.store). A lost race raises Conflict and writes nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any, TypeVar
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import (
    MessageEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from tortoise import connections

from engine.base import clock
from engine.base.db import Params, clears_on_connect
from engine.base.errors import Conflict, EngineError, NotAllowed, NotFound
from engine.base.internals import (
    EngineWorkflow,
    fire_timer,
    holding_connection,
    mark_saved,
    timer_due,
)
from engine.base.metrics import actions_reapplied, delivery_retries
from engine.base.models import (
    GENESIS,
    EventWait,
    HumanTask,
    MessageReceipt,
    OutboxEmail,
    PendingMessage,
    ProcessInstance,
    Record,
)
from engine.base.serialization import dump_state, load_state, state_dict
from engine.base.side_branches import forget_ended_side_branches
from engine.packs.definitions import Deployed, deployed, latest
from engine.packs.loading import parse_start_data
from engine.people import assignment
from engine.people.directory import DirectorySnapshot, current_directory
from engine.scripts import sandbox
from engine.workflow import jobs, notifications, offload
from engine.workflow.records import start_data_for
from engine.workflow.store import Batch, Ref, apply, fetch_with
from forms import limits

log = logging.getLogger(__name__)
T = TypeVar("T")

# A worker holds the instances whose timers it fires, and a message it delivers, for
# jobs.LEASE. A delivery that keeps meeting instances that changed meanwhile is tried again
# after 2, 4, 8 … seconds, MESSAGE_ATTEMPTS times.
MESSAGE_BACKOFF = timedelta(seconds=1)
MESSAGE_ATTEMPTS = 8
# How often an action is run again on fresh state when its instance changed under it.
REAPPLY_ATTEMPTS = 8


@dataclass(frozen=True)
class Actor:
    """Who acts: a person from the directory, or the system (timers, CLI, migrations)."""

    person_id: int | None
    label: str

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        """An actor that is not a person."""
        return cls(None, what)


async def actor_for(ref: int | str) -> Actor:
    """The actor for a person id or employee key."""
    directory = await current_directory()
    person = directory.person(ref)
    if person is None:
        raise NotFound(f"no person '{ref}' in the directory")
    return Actor(person.id, f"person:{person.key}")


_engine: Any = None


def script_engine() -> Any:
    """The one restricted script engine every workflow runs with."""
    global _engine
    if _engine is None:
        _engine = sandbox.make_script_engine()
    return _engine


def _json_safe(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


@dataclass
class _Run:
    """One action's working set: the instance, its version, its workflow and what it writes."""

    row: ProcessInstance
    dep: Deployed
    workflow: BpmnWorkflow
    directory: DirectorySnapshot
    actor: Actor
    batch: Batch
    # The instance's id, or the Ref an insert in this batch will fill.
    instance: int | Ref
    # READY user/manual tasks before the action: exactly the open human-task rows.
    ready_before: set[str] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[BpmnEvent] = field(default_factory=list)
    error: dict[str, Any] | None = None
    fired_timers: list[str] = field(default_factory=list)
    # Written by a cycle launch still in progress: stored as launching, its tasks staged and
    # its emails held until the launch publishes the whole population (engine.performance.cycles).
    staged: bool = False
    # A new instance's row as this batch inserts it (its outcome is written into it).
    inserted: dict[str, Any] | None = None
    # What moved the instance ("start", "task draft_objectives", "timer" …): what its records
    # are attributed to, with the process — never the person whose submit happened to run it.
    action: str = ""

    def advance(self, step: Callable[[], Any]) -> None:
        """Run `step` and the engine steps after it; an error is kept, not raised."""
        with sandbox.script_context(
            directory=self.directory, catalogs=self.dep.catalogs, now=clock.now(), mocks=None,
            subject_id=self.row.subject_id,  # type: ignore[attr-defined]
            records_about=self.dep.process_settings.get("records_about", ()),
        ) as ctx:
            try:
                step()
                self.workflow.do_engine_steps()
                forget_ended_side_branches(self.workflow)
            except limits.RunElsewhere:
                raise
            except WorkflowException as exc:
                if _caused_by(exc, limits.RunElsewhere):
                    raise limits.RunElsewhere(str(exc)) from exc
                self.error = _error_detail(exc)
            except Exception as exc:  # a bug in a pack must not crash the app
                log.exception("instance %s failed", self.row.id)
                self.error = {"task": None, "task_name": None, "message": str(exc), "data": {}}
            self.records.extend(ctx.records)
            self.events.extend(self.workflow.get_events())


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `exc` wraps an exception of `kind` (SpiffWorkflow wraps what scripts raise)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        wrapped = getattr(current, "exception", None)
        current = wrapped if isinstance(wrapped, BaseException) else (
            current.__cause__ or current.__context__)
    return False


def _error_detail(exc: WorkflowException) -> dict[str, Any]:
    task = getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None) or getattr(exc, "task_spec", None)
    message = str(exc).strip()
    line = getattr(exc, "line_number", None)
    if line:
        message = f"{message} (line {line})"
    return {
        "task": getattr(spec, "bpmn_id", None) or getattr(spec, "name", None),
        "task_name": getattr(spec, "bpmn_name", None),
        "task_id": str(task.id) if task is not None else None,
        "message": message,
        "data": _json_safe(task.data) if task is not None else {},
    }


def all_tasks(workflow: BpmnWorkflow) -> Iterable[Any]:
    """Every task of the workflow and its subprocesses, in no particular order (fast)."""
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def ready_human_tasks(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The READY user and manual tasks by task id (what the human-task rows mirror)."""
    return {
        str(t.id): t
        for t in all_tasks(workflow)
        if t.state == TaskState.READY and t.task_spec.manual
    }


class _RecentWorkflows:
    """The last workflows saved by this process, by instance, for the next action on them.

    Someone opens a task and submits it minutes later; the manager reviews right after. An
    entry is used only while the instance's stored version is the one it was saved at (any
    other writer bumps the version), and it is taken out while an action runs on it, so a
    failed action never leaves a half-changed workflow behind.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.entries: OrderedDict[int, tuple[int, int, BpmnWorkflow]] = OrderedDict()

    def take(self, row: ProcessInstance) -> BpmnWorkflow | None:
        entry = self.entries.pop(row.id, None)
        if entry is None:
            return None
        version, definition_id, workflow = entry
        if version != row.version or definition_id != row.definition_id:  # type: ignore[attr-defined]
            return None
        return workflow

    def keep(self, row: ProcessInstance, workflow: BpmnWorkflow) -> None:
        self.entries[row.id] = (row.version, row.definition_id, workflow)  # type: ignore[attr-defined]
        self.entries.move_to_end(row.id)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


recent_workflows = _RecentWorkflows()
clears_on_connect(recent_workflows.clear)


async def _act(
    row: ProcessInstance,
    actor: Actor,
    directory: DirectorySnapshot,
    act: Callable[[_Run], bool | None],
    batch: Batch | None = None,
) -> _Run | None:
    """One action on a stored instance: restore its workflow (or take the one this process
    saved last), let `act` run it and add its own writes, then add the outcome. The writes go
    to `batch`, or a new one. None when `act` says there was nothing to do after all (returns
    False)."""
    dep = await deployed(row.definition_id)  # type: ignore[attr-defined]
    saved = [recent_workflows.take(row)]
    writes = batch or Batch()
    mark = len(writes.steps)

    def work() -> _Run | None:
        workflow = saved.pop() if saved and saved[-1] is not None else load_state(
            row.state, dep.built.spec, dep.built.subprocess_specs, script_engine()
        )
        saved.clear()
        run = _Run(row, dep, workflow, directory, actor, writes, row.id)
        run.batch.chain_from(row.id, row.audit_seq, row.audit_head)
        run.ready_before = set(ready_human_tasks(workflow))
        if act(run) is False:
            return None
        _finish(run)
        return run

    def undo() -> None:
        # The interrupted try changed its workflow and may have added writes: both go.
        del writes.steps[mark:]
        offload.heavy_instances.add(row.id)

    heavy = (len(row.state or b"") >= offload.OFFLOAD_STATE_BYTES
             or row.id in offload.heavy_instances)
    return await offload.run_off_loop_if_slow(work, heavy=heavy, undo=undo)


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

    def start() -> _Run:
        batches.append(Batch())
        return start_in_batch(
            batches[-1], dep, person.id if person else None, actor, directory, data, cycle_id
        )

    run = await offload.run_off_loop_if_slow(start)
    await apply(batches[-1])
    return await _after_apply(run)


def start_in_batch(
    batch: Batch,
    dep: Deployed,
    subject_id: int | None,
    actor: Actor,
    directory: DirectorySnapshot,
    data: dict[str, Any] | None = None,
    cycle_id: int | None = None,
    launch_job_id: int | None = None,
) -> _Run:
    """Run a new instance to its first wait and add its writes to `batch` (cycles add many;
    with `launch_job_id` the instance is staged until that launch publishes it)."""
    workflow = EngineWorkflow(
        dep.built.spec, dep.built.subprocess_specs, script_engine=script_engine()
    )
    subject = directory.person(subject_id) if subject_id is not None else None
    initial: dict[str, Any] = {"subject": subject.as_data()} if subject is not None else {}
    initial.update(data or {})
    now = clock.now()
    row = ProcessInstance(
        definition_id=dep.id,
        process_id=dep.process_id,
        subject_id=subject_id,
        cycle_id=cycle_id,
        title=f"{dep.title} — {subject.name}" if subject else dep.title,
        status="running",
        state=b"",
        version=0,
        started_by=actor.label,
        starter_id=actor.person_id,
        started_at=now,
        updated_at=now,
        launch_job_id=launch_job_id,
    )
    inserted = _instance_values(row)
    ref = batch.insert(ProcessInstance, inserted)
    batch.chain_from(ref, 0, GENESIS)
    run = _Run(row, dep, workflow, directory, actor, batch, ref, staged=launch_job_id is not None,
               inserted=inserted, action="start")

    def begin() -> None:
        workflow.task_tree.data.update(initial)
        workflow.data.update(initial)

    run.advance(begin)
    batch.audit(
        actor.label,
        "instance_started",
        instance=ref,
        detail={"process": dep.process_id, "version": dep.version, "subject_id": subject_id},
    )
    _finish(run)
    return run


def _instance_values(row: ProcessInstance) -> dict[str, Any]:
    return {
        "definition_id": row.definition_id,  # type: ignore[attr-defined]
        "process_id": row.process_id,
        "subject_id": row.subject_id,  # type: ignore[attr-defined]
        "cycle_id": row.cycle_id,  # type: ignore[attr-defined]
        "title": row.title,
        "status": row.status,
        "state": row.state,
        "version": row.version,
        "started_by": row.started_by,
        "starter_id": row.starter_id,
        "started_at": row.started_at,
        "updated_at": row.updated_at,
        "launch_job_id": row.launch_job_id,
    }


# --- tasks ---------------------------------------------------------------------------------


async def _open_task(task_id: int, actor: Actor, directory: DirectorySnapshot) -> HumanTask:
    row: HumanTask | None = await fetch_with(HumanTask, task_id, "instance")  # type: ignore[assignment]
    if row is None:
        raise NotFound(f"no task {task_id}")
    if actor.person_id is not None and not assignment.may_act(
        actor.person_id,
        row.assignee_id,  # type: ignore[attr-defined]
        row.candidate_group,
        row.candidates,
        directory,
    ):
        if row.completed_by_id == actor.person_id:  # type: ignore[attr-defined]
            raise Conflict(already_done_message(row, directory))
        raise NotAllowed(f"{actor.label} may not act on task {task_id}")
    if row.status != "ready":
        raise Conflict(already_done_message(row, directory))
    return row


def already_done_message(row: HumanTask, directory: DirectorySnapshot) -> str:
    """Why a task can no longer be acted on, in words for the person who tried."""
    if row.status == "completed":
        person = directory.person(row.completed_by_id)  # type: ignore[attr-defined]
        who = f" by {person.name}" if person else ""
        when = f" at {row.completed_at:%Y-%m-%d %H:%M} UTC" if row.completed_at else ""
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
            try:
                await apply(run.batch)
            except Conflict:
                conflicted = True
            else:
                conflicted = False
        if conflicted:
            await _before_reapply(attempt)
            continue
        return await _after_apply(run)
    raise await _refreshed_conflict(task_id, directory)


async def _submission(
    task_row: HumanTask, actor: Actor, directory: DirectorySnapshot, data: dict[str, Any]
) -> _Run:
    """The run of one task submission on the instance as stored now."""
    row: ProcessInstance = task_row.instance  # type: ignore[assignment]
    if row.status == "error":
        raise Conflict("this process is stopped on an error; HR must retry it first")

    def submit(run: _Run) -> None:
        run.action = f"task {task_row.bpmn_id}"
        task = run.workflow.get_task_from_id(UUID(task_row.spiff_task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"'{task_row.name}' is no longer open.")

        def step() -> None:
            task.data.update(data)
            task.run()

        run.advance(step)
        submitted = _json_safe(data)
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

    run = await _act(row, actor, directory, submit)
    assert run is not None
    return run


async def _before_reapply(attempt: int) -> None:
    """A short, growing, jittered pause, so two actions that keep colliding fall apart."""
    actions_reapplied.inc()
    await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))


def _shared(row: HumanTask) -> bool:
    """Whether a task is offered to a group or to several people (so it can be claimed)."""
    return bool(row.candidate_group) or len(row.candidates or ()) > 1


async def claim_task(task_id: int, actor: Actor) -> HumanTask:
    """Take a group task so it becomes the actor's own."""
    directory = await current_directory()
    row = await HumanTask.get_or_none(id=task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    holder = row.assignee_id  # type: ignore[attr-defined]
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
    batch.audit(actor.label, "task_claimed", instance=row.instance_id, task=row.id)  # type: ignore[attr-defined]
    try:
        await apply(batch)
    except Conflict:
        await row.refresh_from_db()
        raise Conflict(_claimed_message(row, directory)) from None
    row.assignee_id = actor.person_id  # type: ignore[attr-defined]
    return row


def _claimed_message(row: HumanTask, directory: DirectorySnapshot) -> str:
    person = directory.person(row.assignee_id)  # type: ignore[attr-defined]
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
    if row.assignee_id != actor.person_id or not _shared(row):  # type: ignore[attr-defined]
        raise NotAllowed("only the person holding a group task can release it")
    batch = Batch()
    batch.update(
        HumanTask,
        {"id": row.id, "assignee_id": actor.person_id, "status": "ready"},
        {"assignee_id": None},
        conflict="changed meanwhile",
    )
    batch.audit(actor.label, "task_released", instance=row.instance_id, task=row.id)  # type: ignore[attr-defined]
    try:
        await apply(batch)
    except Conflict:
        raise await _refreshed_conflict(row.id, directory) from None
    row.assignee_id = None  # type: ignore[attr-defined]
    return row


async def save_draft(task_id: int, actor: Actor, draft: dict[str, Any]) -> None:
    """Keep unfinished form input on the task so it comes back when reopened."""
    directory = await current_directory()
    row = await _open_task(task_id, actor, directory)
    updated = await HumanTask.filter(id=row.id, status="ready").update(draft=_json_safe(draft))
    if not updated:
        raise await _refreshed_conflict(row.id, directory)


# --- timers --------------------------------------------------------------------------------


def _timer_tasks(workflow: BpmnWorkflow) -> Iterable[Any]:
    for task in all_tasks(workflow):
        if task.state != TaskState.WAITING:
            continue
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            yield task


def _fire_timers(run: _Run, now: datetime, reminded: list[str]) -> None:
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
    if timer_task.task_spec.cancel_activity:
        return []  # an interrupting timer is an escalation, not a reminder
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
            moved += await _fire_timers_of(instance_id, now)
        if len(claimed) < limit:
            return moved


async def _fire_timers_of(instance_id: int, now: datetime) -> int:
    """Fire one claimed instance's due timers; 1 when it moved."""
    directory = await current_directory()
    row = await ProcessInstance.get_or_none(id=instance_id, status="running")
    if row is None:
        return 0
    open_tasks = {t.spiff_task_id: t for t in await HumanTask.filter(
        instance_id=row.id, status="ready")}

    def fire(run: _Run) -> None:
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

    run = await _act(row, Actor.system("timer"), directory, fire)
    assert run is not None
    try:
        await apply(run.batch)
    except Conflict:
        # Someone acted on the instance meanwhile: its save recomputed next_timer_at, so a
        # timer still due is taken again at the next poll.
        actions_reapplied.inc()
        return 0
    await _after_apply(run)
    return 1


# --- messages and signals ------------------------------------------------------------------


def _event_kind(event: BpmnEvent) -> str:
    return "signal" if "Signal" in type(event.event_definition).__name__ else "message"


def _catch(workflow: BpmnWorkflow, event: BpmnEvent, caught: list[bool]) -> None:
    """Hand one event to a workflow; `caught` gets True when it was waiting for it."""
    try:
        workflow.send_event(event)
    except WorkflowException:
        return  # waiting for that name, but not with this correlation
    caught.append(True)


def _event_of(message: PendingMessage) -> BpmnEvent:
    """The event a stored message or signal stands for, as SpiffWorkflow catches it."""
    definition = SignalEventDefinition if message.kind == "signal" else MessageEventDefinition
    # A copy for each receiver: no two workflows share a value.
    return BpmnEvent(definition(message.name), copy.deepcopy(message.payload),
                     dict(message.correlations or {}))


async def _claim_due_messages(now: datetime, limit: int) -> list[int]:
    """Take messages due for delivery (not those of an instance still being launched)."""
    p = Params()
    sql = (
        f'UPDATE "pending_message" SET "next_attempt_at" = {p(now + jobs.LEASE)} '
        'WHERE "id" IN (SELECT m."id" FROM "pending_message" m '
        f'WHERE m."status" = \'pending\' AND m."next_attempt_at" <= {p(now)} '
        'AND NOT EXISTS (SELECT 1 FROM "process_instance" i '
        'WHERE i."id" = m."from_instance_id" AND i."status" = \'launching\') '
        f'ORDER BY m."id" LIMIT {p(limit)}{p.lock()}) RETURNING "id"'
    )
    rows = await connections.get("default").execute_query_dict(sql, p.values)
    return sorted(int(row["id"]) for row in rows)


async def deliver_due_messages(limit: int = 100) -> int:
    """Deliver every thrown message and signal that is due; returns how many instances got one.

    Each delivery to one instance is that instance's own action, with a receipt written in the
    same transaction: a delivery interrupted anywhere is taken up again after its lease, and
    no instance receives the same message twice."""
    received = 0
    while True:
        claimed = await _claim_due_messages(clock.now(), limit)
        for message_id in claimed:
            received += await deliver_message(message_id)
        if len(claimed) < limit:
            return received


async def deliver_message(message_id: int) -> int:
    """Hand one stored message to every instance waiting for it; returns how many caught it."""
    message = await PendingMessage.get_or_none(id=message_id)
    if message is None or message.status != "pending":
        return 0
    directory = await current_directory()
    waiting = set(await EventWait.filter(
        name=message.name, instance__status="running"
    ).values_list("instance_id", flat=True))
    waiting.discard(message.from_instance_id)
    done = set(await MessageReceipt.filter(message_id=message.id).values_list(
        "instance_id", flat=True))
    received, moved = 0, []
    for instance_id in sorted(waiting - done):
        row = await ProcessInstance.get_or_none(id=instance_id, status="running")
        if row is None:
            continue

        def catch(run: _Run) -> bool:
            run.action = f"{message.kind} {message.name}"
            caught: list[bool] = []
            run.advance(partial(_catch, run.workflow, _event_of(message), caught))
            if not caught:
                return False  # waiting for that name, but not with this correlation
            run.batch.insert(MessageReceipt, {"message_id": message.id,
                                              "instance_id": run.row.id})
            run.batch.audit(
                "system:message", f"{message.kind}_received", instance=run.row.id,
                detail={"name": message.name, "from_instance": message.from_instance_id,
                        "message": message.id},
            )
            return True

        run = await _act(row, Actor.system("message"), directory, catch)
        if run is None:
            continue
        try:
            await apply(run.batch)
        except Conflict:
            moved.append(row.id)
            continue
        await _after_apply(run)
        received += 1
    await _settle(message, moved)
    return received


async def _settle(message: PendingMessage, moved: list[int]) -> None:
    """Mark a delivery done, or due again later for the instances that moved meanwhile."""
    now = clock.now()
    # Counted from the receipts: an attempt cut short counted nothing but wrote its receipts.
    values: dict[str, Any] = {
        "received": await MessageReceipt.filter(message_id=message.id).count()
    }
    if not moved:
        values.update(status="delivered", delivered_at=now, last_error=None)
    else:
        delivery_retries.inc()
        attempts = message.attempts + 1
        values.update(
            attempts=attempts,
            last_error=f"instance(s) {', '.join(map(str, moved))} changed while receiving it",
            next_attempt_at=now + MESSAGE_BACKOFF * 2 ** min(attempts, 10),
        )
        if attempts >= MESSAGE_ATTEMPTS:
            values["status"] = "failed"
            log.error("message %s (%s) failed after %s attempts: %s", message.id, message.name,
                      attempts, values["last_error"])
    await PendingMessage.filter(id=message.id).update(**values)


async def send_signal(
    name: str,
    instance_ids: Iterable[int],
    actor: Actor,
    payload: Any = None,
    *,
    audit: Callable[[list[int]], tuple[str, dict[str, Any]]] | None = None,
) -> list[int]:
    """Signal `name` to the given instances only (HR releasing one population's ratings), all
    in one transaction with the caller's own audit event (`audit(received ids)` gives its
    action and detail); returns the ids of those that were waiting for it."""
    directory = await current_directory()
    ids = list(instance_ids)
    for attempt in range(REAPPLY_ATTEMPTS):
        batch = Batch()
        runs: list[_Run] = []

        def catch(run: _Run) -> bool:
            run.action = f"signal {name}"
            # Each instance its own copy of the payload: no two workflows share a value.
            event = BpmnEvent(SignalEventDefinition(name), copy.deepcopy(payload))
            caught: list[bool] = []
            run.advance(partial(_catch, run.workflow, event, caught))
            if caught:
                run.batch.audit(actor.label, "signal_received", instance=run.row.id,
                                detail={"name": name})
            return bool(caught)

        for row in await ProcessInstance.filter(
            id__in=ids, status="running", waiting_for__contains=f"|{name}|"
        ).order_by("id"):
            run = await _act(row, actor, directory, catch, batch)
            if run is not None:
                runs.append(run)
        received = [run.row.id for run in runs]
        if audit is not None:
            action, detail = audit(received)
            batch.audit(actor.label, action, detail=detail)
        try:
            await apply(batch)
        except Conflict:
            await _before_reapply(attempt)
            continue
        for run in runs:
            await _after_apply(run)
        return received
    raise Conflict("these processes kept changing while the signal was sent; send it again")


# --- errors --------------------------------------------------------------------------------


async def retry_instance(instance_id: int, actor: Actor, upgrade: bool = True) -> ProcessInstance:
    """Run a failed instance again, on the newest version of its process when `upgrade`."""
    row = await ProcessInstance.get_or_none(id=instance_id)
    if row is None:
        raise NotFound(f"no instance {instance_id}")
    if row.status != "error":
        raise Conflict(f"instance {instance_id} is not in error (it is {row.status})")
    dep = await deployed(row.definition_id)  # type: ignore[attr-defined]
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
        "from_definition": row.definition_id,  # type: ignore[attr-defined]
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
    row.definition_id = dep.id  # type: ignore[attr-defined]
    run = _Run(row, dep, workflow, await current_directory(), actor, Batch(), row.id)
    run.batch.chain_from(row.id, row.audit_seq, row.audit_head)
    run.ready_before = ready_before
    run.action = action.removeprefix("instance_")

    def move() -> None:
        run.advance(step)
        run.batch.audit(actor.label, action, instance=row.id, detail=detail)
        _finish(run)

    # Retries and migrations are rare and may run what failed before: off the event loop.
    await asyncio.to_thread(move)
    await apply(run.batch)
    return await _after_apply(run)


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


# --- writing an action's outcome -----------------------------------------------------------


def _lane_of(task: Any, workflow: BpmnWorkflow) -> str | None:
    """The task's lane; in a call activity without lanes, the calling task's lane."""
    lane = getattr(task.task_spec, "lane", None)
    while lane is None and task.workflow.parent_task_id is not None:
        task = workflow.get_task_from_id(task.workflow.parent_task_id)
        if task is None:
            break
        lane = getattr(task.task_spec, "lane", None)
    return lane


def _properties(task: Any) -> dict[str, str]:
    return (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})


def _due_at(task: Any, workflow: BpmnWorkflow) -> datetime | None:
    props = _properties(task)
    if props.get("dueIn"):
        parsed = TimerEventDefinition.parse_iso_duration(props["dueIn"])
        return clock.now() + TimerEventDefinition.get_timedelta_from_start(parsed, clock.now())
    if props.get("dueDate"):
        value = workflow.script_engine.evaluate(task, props["dueDate"])
        if isinstance(value, datetime):
            return value
        if value:
            moment = datetime.fromisoformat(str(value))
            return moment if moment.tzinfo else moment.replace(tzinfo=clock.now().tzinfo)
    return None


def _sync_tasks(run: _Run) -> None:
    """Open human-task rows for new READY user/manual tasks; cancel rows no longer READY."""
    workflow = run.workflow
    ready = ready_human_tasks(workflow)
    now = clock.now()
    for spiff_id in sorted(run.ready_before - set(ready)):
        # Interrupted by a boundary event, or its branch was cancelled.
        run.batch.update(
            HumanTask,
            {"instance_id": run.instance, "spiff_task_id": spiff_id, "status": "ready"},
            {"status": "cancelled", "completed_at": now},
        )
    subject_id = run.row.subject_id  # type: ignore[attr-defined]
    for spiff_id, task in ready.items():
        if spiff_id in run.ready_before:
            continue
        lane = _lane_of(task, workflow)
        lane_owners = task.data.get("lane_owners") if isinstance(task.data, dict) else None
        who = assignment.resolve_lane(
            lane, run.dep.lanes, run.directory, subject_id, run.row.starter_id, lane_owners
        )
        values = {
            "spiff_task_id": spiff_id,
            "bpmn_id": task.task_spec.bpmn_id or task.task_spec.name,
            "process_id": run.row.process_id,
            "name": task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name,
            "lane": lane,
            "form": _properties(task).get("formJsonSchemaFilename"),
            "assignee_id": who.assignee_id,
            "candidate_group": who.candidate_group,
            "candidates": [str(c) for c in who.candidates],
            "routing_note": who.note,
            "subject_id_cache": subject_id,
            "due_at": _due_at(task, workflow),
            "status": "staged" if run.staged else "ready",
            "created_at": now,
        }
        task_ref = run.batch.insert(HumanTask, {"instance_id": run.instance, **values})
        # The new row as the notifications read it (an ORM object costs more than it helps).
        row = SimpleNamespace(id=None, **values)
        for email in notifications.task_created_emails(row, run.directory):  # type: ignore[arg-type]
            if run.staged:
                email = {**email, "status": "held"}
            run.batch.insert(OutboxEmail, {**email, "task_id": task_ref})


def _waiting(workflow: BpmnWorkflow) -> tuple[datetime | None, str]:
    next_timer: datetime | None = None
    names: list[str] = []
    for task in all_tasks(workflow):
        if task.state != TaskState.WAITING:
            continue
        definition = getattr(task.task_spec, "event_definition", None)
        if definition is None:
            continue
        if isinstance(definition, TimerEventDefinition):
            due = timer_due(task)
            if due is not None and (next_timer is None or due < next_timer):
                next_timer = due
        elif getattr(definition, "name", None):
            names.append(definition.name)
    return next_timer, ("|" + "|".join(sorted(set(names))) + "|") if names else ""


def _finish(run: _Run) -> None:
    """Add the action's outcome to its batch: tasks, records, events and the saved state."""
    row = run.row
    was_error = row.status == "error" and row.error is not None
    if run.error is not None:
        row.status = "error"
        row.error = run.error
    elif run.workflow.is_completed():
        row.status = "completed"
        row.completed_at = clock.now()
    else:
        row.status = "running"
    _sync_tasks(run)
    for record in run.records:
        person = record.get("person")
        target = run.directory.person(person) if person is not None else None
        run.batch.insert(
            Record,
            {
                "kind": record["kind"],
                "person_id": target.id if target else row.subject_id,  # type: ignore[attr-defined]
                "cycle_id": row.cycle_id,  # type: ignore[attr-defined]
                "instance_id": run.instance,
                "data": _json_safe(record.get("data", {})),
                "created_at": clock.now(),
                "created_by": f"process:{row.process_id} ({run.action or 'action'})"[:128],
            },
        )
    for event in run.events:
        # Delivered by a worker once this action commits (deliver_due_messages).
        run.batch.insert(
            PendingMessage,
            {
                "name": event.event_definition.name,
                "kind": _event_kind(event),
                "payload": _json_safe(event.payload),
                "correlations": _json_safe(event.correlations or {}),
                "from_instance_id": run.instance,
                "created_at": clock.now(),
                "next_attempt_at": clock.now(),
            },
        )
    next_timer, waiting_for = _waiting(run.workflow)
    if waiting_for != row.waiting_for or isinstance(run.instance, Ref):
        _index_waits(run, row.waiting_for or "", waiting_for)
    values = {
        "state": dump_state(run.workflow),
        # A staged instance keeps its outcome in error / completed_at until it is published.
        "status": "launching" if run.staged else row.status,
        "error": row.error,
        "next_timer_at": next_timer if row.status == "running" else None,
        "waiting_for": waiting_for,
        "completed_at": row.completed_at,
        "definition_id": row.definition_id,  # type: ignore[attr-defined]
        "updated_at": clock.now(),
        "version": row.version + 1,
    }
    if run.inserted is not None:
        # Inserted earlier in this batch (start_in_batch): its row gets the outcome at once.
        run.inserted.update(values)
    else:
        run.batch.update(
            ProcessInstance,
            {"id": run.instance, "version": row.version},
            values,
            conflict="instance changed meanwhile",
        )
    for key, value in values.items():
        if key != "status":  # a staged row is stored as launching; row.status is its outcome
            setattr(row, key, value)
    if row.status == "error" and not was_error:
        run.batch.audit("system", "instance_error", instance=run.instance, detail=row.error)
    elif row.status == "completed":
        run.batch.audit("system", "instance_completed", instance=run.instance)


def _names(waiting_for: str) -> set[str]:
    return {name for name in waiting_for.strip("|").split("|") if name}


def _index_waits(run: _Run, before: str, after: str) -> None:
    """Keep EventWait rows — what delivery looks names up in — equal to what the instance
    waits for: the names it no longer waits for go, the new ones come."""
    old = set() if isinstance(run.instance, Ref) else _names(before)
    new = _names(after)
    for name in sorted(old - new):
        run.batch.delete(EventWait, {"instance_id": run.instance, "name": name})
    for name in sorted(new - old):
        run.batch.insert(EventWait, {"instance_id": run.instance, "name": name})


async def _after_apply(run: _Run) -> ProcessInstance:
    """The instance as saved, once the batch is written."""
    row = run.row
    if isinstance(run.instance, Ref):
        row.id = run.instance.value  # type: ignore[assignment]
        mark_saved(row)
    recent_workflows.keep(row, run.workflow)
    return row


async def finish_started(run: _Run) -> ProcessInstance:
    """After the batch of a `start_in_batch` run is applied: the saved instance (ids set)."""
    return await _after_apply(run)


__all__ = [
    "Actor",
    "actor_for",
    "already_done_message",
    "check_compatible",
    "claim_task",
    "complete_task",
    "finish_started",
    "fire_due_timers",
    "release_task",
    "ready_human_tasks",
    "retry_instance",
    "save_moved",
    "save_draft",
    "send_signal",
    "start_in_batch",
    "start_process",
]
