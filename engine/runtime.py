"""Running instances: start, complete a task, fire timers, deliver messages, retry after errors.

Every public function here is one user (or system) action and one database transaction: load the
instance, run SpiffWorkflow, sync the human-task rows, append the audit event, and save with an
optimistic version check. A lost race raises Conflict; nothing is half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from tortoise.transactions import in_transaction

from engine import assignment, clock, notifications, scripting
from engine.audit import record_event
from engine.definitions import Deployed, deployed, latest
from engine.directory import DirectorySnapshot, current_directory
from engine.errors import Conflict, EngineError, NotAllowed, NotFound
from engine.models import HumanTask, PendingMessage, Person, ProcessInstance, Record
from engine.side_branches import forget_ended_side_branches
from engine.serialization import dump_state, load_state, state_dict

log = logging.getLogger(__name__)

OPEN_STATUSES = ("running", "error")


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


def _script_engine() -> Any:
    global _engine
    if _engine is None:
        _engine = scripting.make_script_engine()
    return _engine


_engine: Any = None


@dataclass
class _Run:
    """One action's working set: the instance row, its version, its workflow, the directory."""

    row: ProcessInstance
    dep: Deployed
    workflow: BpmnWorkflow
    directory: DirectorySnapshot
    actor: Actor
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[BpmnEvent] = field(default_factory=list)
    error: dict[str, Any] | None = None
    fired_timers: list[str] = field(default_factory=list)

    def advance(self, step: Callable[[], Any]) -> None:
        """Run `step` and the engine steps after it; an error is kept, not raised."""
        with scripting.script_context(
            directory=self.directory,
            catalogs=self.dep.catalogs,
            now=clock.now(),
            mocks=None,
        ) as ctx:
            try:
                step()
                self.workflow.do_engine_steps()
                forget_ended_side_branches(self.workflow)
            except WorkflowException as exc:
                self.error = _error_detail(exc)
            except Exception as exc:  # a bug in a pack must not crash the app
                log.exception("instance %s failed", self.row.id)
                self.error = {"task": None, "task_name": None, "message": str(exc), "data": {}}
            self.records.extend(ctx.records)
            self.events.extend(self.workflow.get_events())


def _error_detail(exc: WorkflowException) -> dict[str, Any]:
    task = getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None) or getattr(exc, "task_spec", None)
    message = str(exc)
    line = getattr(exc, "line_number", None)
    if line:
        message = f"{message} (line {line})"
    data: dict[str, Any] = {}
    if task is not None:
        data = _json_safe(task.data)
    return {
        "task": getattr(spec, "bpmn_id", None) or getattr(spec, "name", None),
        "task_name": getattr(spec, "bpmn_name", None),
        "task_id": str(task.id) if task is not None else None,
        "message": message,
        "data": data,
    }


def _json_safe(data: Any) -> Any:
    import json

    return json.loads(json.dumps(data, default=str))


async def _load(row: ProcessInstance, actor: Actor, directory: DirectorySnapshot) -> _Run:
    dep = await deployed(row.definition_id)  # type: ignore[attr-defined]
    workflow = load_state(row.state, dep.built.spec, dep.built.subprocess_specs, _script_engine())
    return _Run(row, dep, workflow, directory, actor)


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
    async with in_transaction():
        return await _start(dep, person.id if person else None, actor, directory, data, cycle_id)


async def _start(
    dep: Deployed,
    subject_id: int | None,
    actor: Actor,
    directory: DirectorySnapshot,
    data: dict[str, Any] | None,
    cycle_id: int | None,
) -> ProcessInstance:
    """Start inside the caller's transaction (cycle launches start many in one)."""
    workflow = BpmnWorkflow(
        dep.built.spec, dep.built.subprocess_specs, script_engine=_script_engine()
    )
    initial: dict[str, Any] = {}
    subject = directory.person(subject_id) if subject_id is not None else None
    if subject is not None:
        initial["subject"] = subject.as_data()
    initial.update(data or {})
    subject_name = subject.name if subject else ""
    row = ProcessInstance(
        definition_id=dep.id,
        process_id=dep.process_id,
        subject_id=subject_id,
        cycle_id=cycle_id,
        title=f"{dep.title} — {subject_name}" if subject_name else dep.title,
        status="running",
        state="{}",
        version=0,
        started_by=actor.label,
        starter_id=actor.person_id,
    )
    await row.save()
    run = _Run(row, dep, workflow, directory, actor)

    def begin() -> None:
        workflow.task_tree.data.update(initial)
        workflow.data.update(initial)

    run.advance(begin)
    await record_event(
        actor.label,
        "instance_started",
        instance_id=row.id,
        detail={"process": dep.process_id, "version": dep.version, "subject_id": subject_id},
    )
    await _finish(run)
    return run.row


# --- tasks ---------------------------------------------------------------------------------


async def _open_task(task_id: int, actor: Actor, directory: DirectorySnapshot) -> HumanTask:
    row = await HumanTask.get_or_none(id=task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    if row.status != "ready":
        raise Conflict(await _already_done_message(row))
    if actor.person_id is not None and not assignment.may_act(
        actor.person_id, row.assignee_id, row.candidate_group, row.candidates, directory  # type: ignore[attr-defined]
    ):
        raise NotAllowed(f"{actor.label} may not act on task {task_id}")
    return row


async def _already_done_message(row: HumanTask) -> str:
    if row.status == "completed":
        who = ""
        if row.completed_by_id is not None:  # type: ignore[attr-defined]
            person = await Person.get_or_none(id=row.completed_by_id)  # type: ignore[attr-defined]
            who = f" by {person.name}" if person else ""
        when = f" at {row.completed_at:%Y-%m-%d %H:%M} UTC" if row.completed_at else ""
        return f"'{row.name}' was already completed{who}{when}."
    return f"'{row.name}' is no longer open (it was {row.status})."


async def complete_task(task_id: int, actor: Actor, data: dict[str, Any]) -> ProcessInstance:
    """Submit a human task's form data and run the process on to its next wait."""
    directory = await current_directory()
    async with in_transaction():
        task_row = await _open_task(task_id, actor, directory)
        row = await ProcessInstance.get(id=task_row.instance_id)  # type: ignore[attr-defined]
        if row.status == "error":
            raise Conflict("this process is stopped on an error; HR must retry it first")
        run = await _load(row, actor, directory)
        task = run.workflow.get_task_from_id(UUID(task_row.spiff_task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"'{task_row.name}' is no longer open.")

        def submit() -> None:
            task.data.update(data)
            task.run()

        run.advance(submit)
        # Conditional on still being ready: of two people submitting at once, exactly one
        # matches; the other waits for the winner's commit, then matches nothing.
        taken = await HumanTask.filter(id=task_row.id, status="ready").update(
            status="completed",
            completed_by_id=actor.person_id,
            completed_at=clock.now(),
            submitted=_json_safe(data),
            draft=None,
        )
        if not taken:
            await task_row.refresh_from_db()
            raise Conflict(await _already_done_message(task_row))
        await record_event(
            actor.label,
            "task_completed",
            instance_id=row.id,
            task_id=task_row.id,
            detail={"bpmn_id": task_row.bpmn_id, "name": task_row.name, "data": data},
        )
        await _finish(run)
        return run.row


async def claim_task(task_id: int, actor: Actor) -> HumanTask:
    """Take a group task so it becomes the actor's own."""
    directory = await current_directory()
    async with in_transaction():
        row = await _open_task(task_id, actor, directory)
        if row.assignee_id is not None:  # type: ignore[attr-defined]
            if row.assignee_id == actor.person_id:  # type: ignore[attr-defined]
                return row
            raise Conflict(f"'{row.name}' was already claimed by someone else.")
        updated = await HumanTask.filter(id=row.id, assignee_id=None, status="ready").update(
            assignee_id=actor.person_id
        )
        if not updated:
            raise Conflict(f"'{row.name}' was claimed by someone else meanwhile.")
        await record_event(actor.label, "task_claimed", instance_id=row.instance_id, task_id=row.id)  # type: ignore[attr-defined]
        return await HumanTask.get(id=row.id)


async def release_task(task_id: int, actor: Actor) -> HumanTask:
    """Give a claimed group task back to its group."""
    async with in_transaction():
        row = await HumanTask.get_or_none(id=task_id)
        if row is None:
            raise NotFound(f"no task {task_id}")
        if row.status != "ready":
            raise Conflict(await _already_done_message(row))
        holder = row.assignee_id  # type: ignore[attr-defined]
        if holder != actor.person_id or not (row.candidate_group or row.candidates):
            raise NotAllowed("only the person holding a group task can release it")
        row.assignee_id = None  # type: ignore[attr-defined]
        await row.save(update_fields=["assignee_id"])
        await record_event(
            actor.label, "task_released", instance_id=row.instance_id, task_id=row.id  # type: ignore[attr-defined]
        )
        return row


async def save_draft(task_id: int, actor: Actor, draft: dict[str, Any]) -> None:
    """Keep unfinished form input on the task so it comes back when reopened."""
    directory = await current_directory()
    row = await _open_task(task_id, actor, directory)
    row.draft = _json_safe(draft)
    await row.save(update_fields=["draft"])


# --- timers and messages -------------------------------------------------------------------


def _timer_tasks(workflow: BpmnWorkflow) -> Iterable[Any]:
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            yield task


def _fire_timers(run: _Run, now: datetime, reminded: list[str]) -> None:
    """Mark the timers due by `now` as fired; note the open tasks they remind about."""
    for task in _timer_tasks(run.workflow):
        due = _due_moment(task)
        if due is not None and due <= now:
            task._set_internal_data(event_fired=True)
            run.fired_timers.append(task.task_spec.bpmn_id or task.task_spec.name)
            reminded.extend(_attached_open_tasks(task))
    run.workflow.refresh_timers()


def _attached_open_tasks(timer_task: Any) -> list[str]:
    """Ids of the READY user/manual tasks a boundary timer is attached to."""
    parent = timer_task.parent
    if timer_task.task_spec.cancel_activity:
        return []  # an interrupting timer is an escalation, not a reminder
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return []
    return [
        str(t.id)
        for t in parent.children
        if t is not timer_task and t.task_spec.manual and t.state == TaskState.READY
    ]


def _due_moment(task: Any) -> datetime | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, str):
        try:
            return TimerEventDefinition.get_datetime(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("next"), str):
        return TimerEventDefinition.get_datetime(value["next"])
    return None


async def fire_due_timers(limit: int = 200) -> int:
    """Fire every timer due by `clock.now()`; returns how many instances moved."""
    from engine.db import is_postgres

    moved = 0
    now = clock.now()
    candidates = (
        await ProcessInstance.filter(next_timer_at__lte=now, status="running")
        .order_by("next_timer_at")
        .limit(limit)
        .values_list("id", flat=True)
    )
    directory = await current_directory()
    for instance_id in candidates:
        async with in_transaction():
            query = ProcessInstance.filter(id=instance_id, next_timer_at__lte=now, status="running")
            if is_postgres():
                # Several app processes poll; each instance is claimed by exactly one of them.
                query = query.select_for_update(skip_locked=True)
            row = await query.first()
            if row is None:
                continue
            run = await _load(row, Actor.system("timer"), directory)

            reminded: list[str] = []
            run.advance(partial(_fire_timers, run, now, reminded))
            if reminded:
                # The timer left its task open (non-interrupting): that is a reminder.
                still_open = await HumanTask.filter(
                    instance_id=row.id, status="ready", spiff_task_id__in=reminded
                )
                await notifications.queue_reminders(list(still_open), directory)
            if run.fired_timers:
                await record_event(
                    "system:timer",
                    "timer_fired",
                    instance_id=row.id,
                    detail={"timers": run.fired_timers},
                )
            await _finish(run)
            moved += 1
    return moved


def _catch(workflow: BpmnWorkflow, event: BpmnEvent, caught: list[bool]) -> None:
    """Hand one event to a workflow; `caught` gets True when it was waiting for it."""
    try:
        workflow.send_event(event)
    except WorkflowException:
        return  # waiting for that name, but not with this correlation
    caught.append(True)


async def _deliver(events: list[BpmnEvent], source_id: int, directory: DirectorySnapshot) -> None:
    """Hand thrown messages and signals to the instances waiting for them (same transaction)."""
    queue = [(e, source_id) for e in events]
    hops = 0
    while queue and hops < 100:
        hops += 1
        event, from_id = queue.pop(0)
        name = event.event_definition.name
        kind = "signal" if "Signal" in type(event.event_definition).__name__ else "message"
        await PendingMessage.create(
            name=name,
            kind=kind,
            payload=_json_safe(event.payload),
            correlations=_json_safe(event.correlations or {}),
            from_instance_id=from_id,
            delivered=True,
        )
        targets = await ProcessInstance.filter(
            waiting_for__contains=f"|{name}|", status="running"
        ).exclude(id=from_id)
        for target in targets:
            run = await _load(target, Actor.system("message"), directory)
            caught: list[bool] = []
            run.advance(partial(_catch, run.workflow, event, caught))
            if not caught:
                continue
            await record_event(
                "system:message",
                f"{kind}_received",
                instance_id=target.id,
                detail={"name": name, "from_instance": from_id},
            )
            queue.extend((e, target.id) for e in run.events)
            run.events = []
            await _finish(run, deliver=False)


# --- errors --------------------------------------------------------------------------------


async def retry_instance(instance_id: int, actor: Actor, upgrade: bool = True) -> ProcessInstance:
    """Run a failed instance again, on the newest version of its process when `upgrade`."""
    directory = await current_directory()
    async with in_transaction():
        row = await ProcessInstance.get_or_none(id=instance_id)
        if row is None:
            raise NotFound(f"no instance {instance_id}")
        if row.status != "error":
            raise Conflict(f"instance {instance_id} is not in error (it is {row.status})")
        dep = await deployed(row.definition_id)  # type: ignore[attr-defined]
        if upgrade:
            newest = await latest(row.process_id, dep.pack)
            if newest.id != dep.id:
                _check_compatible(row.state, newest)
                dep = newest
        workflow = load_state(
            row.state, dep.built.spec, dep.built.subprocess_specs, _script_engine()
        )
        old_definition = row.definition_id  # type: ignore[attr-defined]
        row.definition_id = dep.id  # type: ignore[attr-defined]
        run = _Run(row, dep, workflow, directory, actor)
        failed = [t for t in workflow.get_tasks(state=TaskState.ERROR)]

        def again() -> None:
            for task in failed:
                workflow.reset_from_task_id(task.id)

        run.advance(again)
        await record_event(
            actor.label,
            "instance_retried",
            instance_id=row.id,
            detail={
                "from_definition": old_definition,
                "to_definition": dep.id,
                "version": dep.version,
                "previous_error": row.error,
            },
        )
        row.error = None
        await _finish(run)
        return run.row


def _check_compatible(state: str, dep: Deployed) -> None:
    """Refuse to move a state onto a version that lacks one of its tasks."""
    tasks = state_dict(state).get("tasks", {})
    names = set(dep.built.spec.task_specs)
    for sub in dep.built.subprocess_specs.values():
        names |= set(sub.task_specs)
    missing = sorted(
        {t["task_spec"] for t in tasks.values()} - names
    )
    if missing:
        raise EngineError(
            f"version {dep.version} lacks task(s) this instance has used: {', '.join(missing)}"
        )


# --- saving --------------------------------------------------------------------------------


def _lane_of(task: Any, workflow: BpmnWorkflow) -> str | None:
    """The task's lane; in a call activity without lanes, the calling task's lane."""
    lane = getattr(task.task_spec, "lane", None)
    while lane is None and task.workflow.parent_task_id is not None:
        task = workflow.get_task_from_id(task.workflow.parent_task_id)
        if task is None:
            break
        lane = getattr(task.task_spec, "lane", None)
    return lane


def _form_of(task: Any) -> str | None:
    props = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
    return props.get("formJsonSchemaFilename")


def _due_at(task: Any, workflow: BpmnWorkflow) -> datetime | None:
    props = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
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


async def _sync_tasks(run: _Run) -> list[HumanTask]:
    """Make the human-task rows match the workflow's READY user and manual tasks."""
    workflow = run.workflow
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    open_rows = await HumanTask.filter(instance_id=run.row.id, status="ready")
    stale = [r.id for r in open_rows if r.spiff_task_id not in ready]
    if stale:
        # Interrupted by a boundary event, or the branch was cancelled.
        await HumanTask.filter(id__in=stale).update(status="cancelled", completed_at=clock.now())
    known = {r.spiff_task_id for r in open_rows}
    subject_id = run.row.subject_id  # type: ignore[attr-defined]
    created: list[HumanTask] = []
    for spiff_id, task in ready.items():
        if spiff_id in known:
            continue
        lane = _lane_of(task, workflow)
        lane_owners = task.data.get("lane_owners") if isinstance(task.data, dict) else None
        who = assignment.resolve_lane(
            lane,
            run.dep.lanes,
            run.directory,
            subject_id,
            run.row.starter_id,
            lane_owners,
        )
        created.append(
            HumanTask(
                instance_id=run.row.id,
                spiff_task_id=spiff_id,
                bpmn_id=task.task_spec.bpmn_id or task.task_spec.name,
                process_id=run.row.process_id,
                name=task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name,
                lane=lane,
                form=_form_of(task),
                assignee_id=who.assignee_id,
                candidate_group=who.candidate_group,
                candidates=[str(c) for c in who.candidates],
                routing_note=who.note,
                subject_id_cache=subject_id,
                due_at=_due_at(task, workflow),
                status="ready",
            )
        )
    if created:
        await HumanTask.bulk_create(created)
        created = list(
            await HumanTask.filter(
                instance_id=run.row.id, spiff_task_id__in=[c.spiff_task_id for c in created]
            )
        )
        await notifications.queue_task_created(created, run.directory)
    return created


def _waiting(workflow: BpmnWorkflow) -> tuple[datetime | None, str]:
    next_timer: datetime | None = None
    names: list[str] = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if definition is None:
            continue
        if isinstance(definition, TimerEventDefinition):
            due = _due_moment(task)
            if due is not None and (next_timer is None or due < next_timer):
                next_timer = due
        elif getattr(definition, "name", None):
            names.append(definition.name)
    return next_timer, ("|" + "|".join(sorted(set(names))) + "|") if names else ""


async def _finish(run: _Run, deliver: bool = True) -> None:
    """Sync tasks, write records, and save the instance with the optimistic version check."""
    row = run.row
    workflow = run.workflow
    was_error = row.status == "error"
    if run.error is not None:
        row.status = "error"
        row.error = run.error
    elif workflow.is_completed():
        row.status = "completed"
        row.completed_at = clock.now()
    else:
        row.status = "running"
    await _sync_tasks(run)
    for record in run.records:
        person = record.get("person")
        target = run.directory.person(person) if person is not None else None
        await Record.create(
            kind=record["kind"],
            person_id=target.id if target else row.subject_id,  # type: ignore[attr-defined]
            cycle_id=row.cycle_id,  # type: ignore[attr-defined]
            instance_id=row.id,
            data=_json_safe(record.get("data", {})),
            created_by=run.actor.label,
        )
    next_timer, waiting_for = _waiting(workflow)
    state = dump_state(workflow)
    fields_ = dict(
        state=state,
        status=row.status,
        error=row.error,
        next_timer_at=next_timer if row.status == "running" else None,
        waiting_for=waiting_for,
        completed_at=row.completed_at,
        definition_id=row.definition_id,  # type: ignore[attr-defined]
        updated_at=clock.now(),
        version=row.version + 1,
    )
    updated = await ProcessInstance.filter(id=row.id, version=row.version).update(**fields_)
    if not updated:
        raise Conflict("this process changed while you were working on it; reload and try again")
    for key, value in fields_.items():
        setattr(row, key, value)
    if row.status == "error" and not was_error:
        await record_event(
            "system", "instance_error", instance_id=row.id, detail=row.error or {}
        )
    elif row.status == "completed":
        await record_event("system", "instance_completed", instance_id=row.id)
    if deliver and run.events:
        await _deliver(run.events, row.id, run.directory)
