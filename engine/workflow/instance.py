"""An instance during one action: the workflow in memory, and everything the action writes.

`LiveInstance` is what every operation of the runtime works on. `LiveInstance.act` restores a
stored instance (or takes the workflow this process saved last), lets an operation move it, and
adds the outcome to the action's batch: the human-task rows opened and closed, the records its
scripts wrote, the messages it threw, what it now waits for, and the saved state with the
optimistic version check. `LiveInstance.begin` does the same for a new instance.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.internals import EngineWorkflow, mark_saved, timer_due
from engine.base.metrics import actions_reapplied
from engine.base.models import (
    GENESIS,
    EventWait,
    HumanTask,
    OutboxEmail,
    PendingMessage,
    ProcessInstance,
    Record,
)
from engine.base.serialization import dump_state, load_state
from engine.base.side_branches import forget_ended_side_branches
from engine.packs.definitions import Deployed, deployed
from engine.people import assignment
from engine.people.directory import DirectorySnapshot, current_directory
from engine.scripts import sandbox

# Registers itself with the store: every batch's events become webhook and chat deliveries.
from engine.workflow import deliveries as _deliveries  # noqa: F401
from engine.workflow import notifications, offload
from engine.workflow.store import Batch, Ref
from forms import limits

log = logging.getLogger(__name__)


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


def json_safe(data: Any) -> Any:
    """`data` as JSON would give it back (dates as strings): what rows and the audit keep."""
    return json.loads(json.dumps(data, default=str))


@dataclass
class LiveInstance:
    """An instance during one action: its stored row, its workflow in memory, who acts, and
    the batch that action writes (tasks, records, emails, audit events, the saved state)."""

    row: ProcessInstance
    dep: Deployed
    workflow: BpmnWorkflow
    directory: DirectorySnapshot
    actor: Actor
    batch: Batch
    # The instance's id, or the Ref an insert in this batch will fill.
    ref: int | Ref
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
            subject_id=self.row.subject_id,
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
            # Only messages and signals leave the instance: a terminate end event is caught
            # by the instance itself (it ends every branch) and names nothing to deliver.
            self.events.extend(e for e in self.workflow.get_events()
                               if not isinstance(e.event_definition, TerminateEventDefinition))

    @classmethod
    async def act(
        cls,
        row: ProcessInstance,
        actor: Actor,
        directory: DirectorySnapshot,
        act: Callable[[LiveInstance], bool | None],
        batch: Batch | None = None,
    ) -> LiveInstance | None:
        """One action on a stored instance: restore its workflow (or take the one this process
        saved last), let `act` run it and add its own writes, then add the outcome. The writes go
        to `batch`, or a new one. None when `act` says there was nothing to do after all (returns
        False)."""
        dep = await deployed(row.definition_id)
        saved = [recent_workflows.take(row)]
        writes = batch or Batch()
        mark = len(writes.steps)

        def work() -> LiveInstance | None:
            workflow = saved.pop() if saved and saved[-1] is not None else load_state(
                row.state, dep.built.spec, dep.built.subprocess_specs, script_engine()
            )
            saved.clear()
            run = cls(row, dep, workflow, directory, actor, writes, row.id)
            run.batch.chain_from(row.id, row.audit_seq, row.audit_head)
            run.ready_before = set(ready_human_tasks(workflow))
            if act(run) is False:
                return None
            run.finish()
            return run

        def undo() -> None:
            # The interrupted try changed its workflow and may have added writes: both go.
            del writes.steps[mark:]
            offload.heavy_instances.add(row.id)

        heavy = (len(row.state or b"") >= offload.OFFLOAD_STATE_BYTES
                 or row.id in offload.heavy_instances)
        return await offload.run_off_loop_if_slow(work, heavy=heavy, undo=undo)

    @classmethod
    def begin(
        cls,
        batch: Batch,
        dep: Deployed,
        subject_id: int | None,
        actor: Actor,
        directory: DirectorySnapshot,
        data: dict[str, Any] | None = None,
        cycle_id: int | None = None,
        launch_job_id: int | None = None,
    ) -> LiveInstance:
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
        inserted = _row_values(row)
        ref = batch.insert(ProcessInstance, inserted)
        batch.chain_from(ref, 0, GENESIS)
        run = cls(row, dep, workflow, directory, actor, batch, ref,
                  staged=launch_job_id is not None, inserted=inserted, action="start")

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
        run.finish()
        return run

    def finish(self) -> None:
        """Add the action's outcome to its batch: tasks, records, events and the saved state."""
        row = self.row
        was_error = row.status == "error" and row.error is not None
        if self.error is not None:
            row.status = "error"
            row.error = self.error
        elif self.workflow.is_completed():
            row.status = "completed"
            row.completed_at = clock.now()
        else:
            row.status = "running"
        self._sync_tasks()
        for record in self.records:
            person = record.get("person")
            target = self.directory.person(person) if person is not None else None
            self.batch.insert(
                Record,
                {
                    "kind": record["kind"],
                    "person_id": target.id if target else row.subject_id,
                    "cycle_id": row.cycle_id,
                    "instance_id": self.ref,
                    "data": json_safe(record.get("data", {})),
                    "created_at": clock.now(),
                    "created_by": f"process:{row.process_id} ({self.action or 'action'})"[:128],
                },
            )
        for event in self.events:
            # Delivered by a worker once this action commits (deliver_due_messages).
            self.batch.insert(
                PendingMessage,
                {
                    "name": event.event_definition.name,
                    "kind": event_kind(event),
                    "payload": json_safe(event.payload),
                    "correlations": json_safe(event.correlations or {}),
                    "from_instance_id": self.ref,
                    "created_at": clock.now(),
                    "next_attempt_at": clock.now(),
                },
            )
        next_timer, waiting_for = _waiting(self.workflow)
        if waiting_for != row.waiting_for or isinstance(self.ref, Ref):
            self._index_waits(row.waiting_for or "", waiting_for)
        values = {
            "state": dump_state(self.workflow),
            # A staged instance keeps its outcome in error / completed_at until it is published.
            "status": "launching" if self.staged else row.status,
            "error": row.error,
            "next_timer_at": next_timer if row.status == "running" else None,
            "waiting_for": waiting_for,
            "completed_at": row.completed_at,
            "definition_id": row.definition_id,
            "updated_at": clock.now(),
            "version": row.version + 1,
        }
        if self.inserted is not None:
            # Inserted earlier in this batch (start_in_batch): its row gets the outcome at once.
            self.inserted.update(values)
        else:
            self.batch.update(
                ProcessInstance,
                {"id": self.ref, "version": row.version},
                values,
                conflict="instance changed meanwhile",
            )
        for key, value in values.items():
            if key != "status":  # a staged row is stored as launching; row.status is its outcome
                setattr(row, key, value)
        if row.status == "error" and not was_error:
            self.batch.audit("system", "instance_error", instance=self.ref, detail=row.error)
        elif row.status == "completed":
            self.batch.audit("system", "instance_completed", instance=self.ref)

    def _sync_tasks(self) -> None:
        """Open human-task rows for new READY user/manual tasks; cancel rows no longer READY."""
        workflow = self.workflow
        ready = ready_human_tasks(workflow)
        now = clock.now()
        for spiff_id in sorted(self.ready_before - set(ready)):
            # Interrupted by a boundary event, or its branch was cancelled.
            self.batch.update(
                HumanTask,
                {"instance_id": self.ref, "spiff_task_id": spiff_id, "status": "ready"},
                {"status": "cancelled", "completed_at": now},
            )
        subject_id = self.row.subject_id
        for spiff_id, task in ready.items():
            if spiff_id in self.ready_before:
                continue
            lane = _lane_of(task, workflow)
            lane_owners = task.data.get("lane_owners") if isinstance(task.data, dict) else None
            who = assignment.resolve_lane(
                lane, self.dep.lanes, self.directory, subject_id, self.row.starter_id, lane_owners
            )
            values = {
                "spiff_task_id": spiff_id,
                "bpmn_id": task.task_spec.bpmn_id or task.task_spec.name,
                "process_id": self.row.process_id,
                "name": task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name,
                "lane": lane,
                "form": _properties(task).get("formJsonSchemaFilename"),
                "assignee_id": who.assignee_id,
                "candidate_group": who.candidate_group,
                "candidates": [str(c) for c in who.candidates],
                "routing_note": who.note,
                "subject_id_cache": subject_id,
                "due_at": _due_at(task, workflow),
                "status": "staged" if self.staged else "ready",
                "created_at": now,
            }
            task_ref = self.batch.insert(HumanTask, {"instance_id": self.ref, **values})
            # The new row as the notifications read it (an ORM object costs more than it helps).
            row = SimpleNamespace(id=None, **values)
            for email in notifications.task_created_emails(row, self.directory):  # type: ignore[arg-type]
                if self.staged:
                    email = {**email, "status": "held"}
                self.batch.insert(OutboxEmail, {**email, "task_id": task_ref})

    def _index_waits(self, before: str, after: str) -> None:
        """Keep EventWait rows — what delivery looks names up in — equal to what the instance
        waits for: the names it no longer waits for go, the new ones come."""
        old = set() if isinstance(self.ref, Ref) else _names(before)
        new = _names(after)
        for name in sorted(old - new):
            self.batch.delete(EventWait, {"instance_id": self.ref, "name": name})
        for name in sorted(new - old):
            self.batch.insert(EventWait, {"instance_id": self.ref, "name": name})

    def saved(self) -> ProcessInstance:
        """The instance as saved, once its batch is written (ids filled in, workflow kept)."""
        row = self.row
        if isinstance(self.ref, Ref):
            row.id = self.ref.value  # type: ignore[assignment]
            mark_saved(row)
        recent_workflows.keep(row, self.workflow)
        return row


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
        "data": json_safe(task.data) if task is not None else {},
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


class RecentWorkflows:
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
        if version != row.version or definition_id != row.definition_id:
            return None
        return workflow

    def keep(self, row: ProcessInstance, workflow: BpmnWorkflow) -> None:
        self.entries[row.id] = (row.version, row.definition_id, workflow)
        self.entries.move_to_end(row.id)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


recent_workflows = RecentWorkflows()


def _row_values(row: ProcessInstance) -> dict[str, Any]:
    return {
        "definition_id": row.definition_id,
        "process_id": row.process_id,
        "subject_id": row.subject_id,
        "cycle_id": row.cycle_id,
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
    properties: dict[str, str] = (
        getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
    return properties


def _due_at(task: Any, workflow: BpmnWorkflow) -> datetime | None:
    props = _properties(task)
    if props.get("dueIn"):
        parsed = TimerEventDefinition.parse_iso_duration(props["dueIn"])
        after: timedelta = TimerEventDefinition.get_timedelta_from_start(parsed, clock.now())
        return clock.now() + after
    if props.get("dueDate"):
        value = workflow.script_engine.evaluate(task, props["dueDate"])
        if isinstance(value, datetime):
            return value
        if value:
            moment = datetime.fromisoformat(str(value))
            return moment if moment.tzinfo else moment.replace(tzinfo=clock.now().tzinfo)
    return None


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


def _names(waiting_for: str) -> set[str]:
    return {name for name in waiting_for.strip("|").split("|") if name}


def event_kind(event: BpmnEvent) -> str:
    return "signal" if "Signal" in type(event.event_definition).__name__ else "message"


async def before_reapply(attempt: int) -> None:
    """A short, growing, jittered pause, so two actions that keep colliding fall apart."""
    actions_reapplied.inc()
    await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
