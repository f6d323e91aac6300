"""Where Sightline relies on its dependencies' internals: SpiffWorkflow, Tortoise, aiosqlite.

Everything here uses something a dependency does not promise to keep: a private attribute, a
module-level name, a method meant to be overridden only by the library itself. Each use states
the assumption it rests on, and tests/engine/test_internals.py checks every one of them against
the installed versions, which are pinned exactly (requirements.lock): an upgrade that breaks an
assumption fails that test first, with the assumption's name, instead of somewhere deep in a
process.
"""

from __future__ import annotations

import contextvars
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.backends.sqlite.client import SqliteTransactionWrapper
from tortoise.exceptions import TransactionManagementError
from tortoise.models import Model

from engine.base import clock

M = TypeVar("M", bound=Model)

# --- SpiffWorkflow's timers read the engine clock ----------------------------------------------
#
# Assumption: SpiffWorkflow's timer event definitions (start, due, cycle) read the current time
# only as `datetime.now(timezone.utc)` through the name `datetime` of the module
# SpiffWorkflow.bpmn.specs.event_definitions.timer, and interpret a timestamp without a zone in
# the module's `LOCALTZ`. Replacing those two names makes every timer read `engine.base.clock` —
# simulated time in tests and rehearsals, real time otherwise — and makes a zoneless timestamp
# in a pack mean UTC on every server, whatever the machine's zone.


class _EngineDatetimeType(type):
    """Stands in for `datetime` as a class: every attribute and isinstance check is datetime's,
    so what SpiffWorkflow builds from it (fromisoformat, combine …) stays a plain datetime."""

    def __getattr__(cls, name: str) -> Any:
        return getattr(datetime, name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, datetime)


class _EngineDatetime(metaclass=_EngineDatetimeType):
    """`datetime` whose `now()` is the engine's clock."""

    @staticmethod
    def now(tz: tzinfo | None = None) -> datetime:
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


def timers_read_engine_clock() -> None:
    """Make SpiffWorkflow's timer definitions read `engine.base.clock` (done once, at import)."""
    _spiff_timer.datetime = _EngineDatetime
    _spiff_timer.LOCALTZ = UTC


timers_read_engine_clock()


# --- SpiffWorkflow: the engine's workflow class ----------------------------------------------
#
# Each engine step, and each completed task, makes SpiffWorkflow walk the whole task tree
# looking for READY tasks (to run) and WAITING tasks (to update). Its walk is general (filters,
# depth limits, lazy lists of children); on a year-end appraisal it was a third of the time a
# cycle launch spends per instance. The walks here visit the same tasks in the same order —
# depth first, children in order, a subprocess's tree before the children of the task that
# called it — so the engine's behaviour is SpiffWorkflow's, only cheaper.
#
# Assumptions: a Task keeps its state in `_state` and its children's ids in `_children`, and
# its workflow maps ids to tasks in `tasks`; BpmnWorkflow runs its engine steps in
# `_do_engine_steps(will_complete_task, did_complete_task)` and updates waiting tasks in
# `update_waiting_tasks()`, each waiting task through `task_spec._update(task)`; TaskState
# orders FUTURE above the predicted states (MAYBE, LIKELY), whose children hold no READY task.
# tests/engine/test_internals.py checks every walk against SpiffWorkflow's own through all the
# packs' tests.

# SpiffWorkflow logs every task's every change of state at INFO, and lists every task of a
# workflow into its log lines below INFO: in a service's log that is noise by the thousand per
# action (the audit trail keeps what happened). Its loggers say only warnings, unless a level
# is configured for them explicitly.
# (Workflow.collect_log_extras reads the level set on "spiff.workflow" itself, not the level
# it inherits: each logger gets its own.)
for _name in ("spiff", "spiff.workflow", "spiff.task"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)

# Assumption: Task._set_state(value) sets `_state` and `last_state_change` (time.time()) when
# the state changes, and builds the log line's extras (collect_log_extras) before the logger
# decides whether to write it — a tenth of a task completion. The replacement below does the
# same, building the extras only when the line is written.
_task_log = logging.getLogger("spiff.task")


def _set_state(self: Task, value: int) -> None:
    if value != self._state:
        now = time.time()
        elapsed = now - self.last_state_change
        self.last_state_change = now
        self._state = value
        if _task_log.isEnabledFor(logging.INFO):
            _task_log.info(f"State changed to {TaskState.get_name(value)}",
                           extra=self.collect_log_extras({"elapsed": elapsed}))
    elif _task_log.isEnabledFor(logging.DEBUG):
        _task_log.debug(f"State set to {TaskState.get_name(value)}",
                        extra=self.collect_log_extras())


Task._set_state = _set_state

_READY = TaskState.READY
_WAITING = TaskState.WAITING
_FUTURE = TaskState.FUTURE


def ready_engine_tasks(workflow: Any) -> list[Task]:
    """The READY tasks the engine runs itself (not user or manual tasks), in tree order.

    The same list as `workflow.get_tasks(state=TaskState.READY, manual=False)`: the walk
    descends into every called subprocess (SpiffWorkflow's walk does, finished or not) and
    skips the children of predicted (MAYBE/LIKELY) tasks, which can hold no READY task.
    """
    subprocesses = workflow.top_workflow.subprocesses
    found = []
    stack = [workflow.task_tree]
    pop, push = stack.pop, stack.extend
    while stack:
        task = pop()
        state = task._state
        if state == _READY and not task.task_spec.manual:
            found.append(task)
        sub = subprocesses.get(task.id)
        if sub is None:
            if task._children and state >= _FUTURE:
                tasks = task.workflow.tasks
                push([tasks.get(child) for child in reversed(task._children)])
        else:
            tasks = task.workflow.tasks
            push([tasks.get(child) for child in reversed(task._children)])
            push((sub.task_tree,))
    return found


def waiting_tasks(workflow: Any) -> Iterator[Task]:
    """This workflow's WAITING tasks in tree order (not its subprocesses'), as SpiffWorkflow's
    `update_waiting_tasks` visits them: lazily, each task's state read when the walk gets there,
    since updating one waiting task can change others."""
    tasks = workflow.tasks
    if not any(t._state == _WAITING for t in tasks.values()):
        return
    stack = [workflow.task_tree]
    pop, push = stack.pop, stack.extend
    while stack:
        task = pop()
        state = task._state
        if task._children and state >= _FUTURE:
            push([tasks.get(child) for child in reversed(task._children)])
        if state == _WAITING:
            yield task


class EngineWorkflow(BpmnWorkflow):
    """A BpmnWorkflow whose engine steps and waiting-task updates walk the tree faster."""

    def _do_engine_steps(self, will_complete_task: Any = None, did_complete_task: Any = None
                         ) -> bool:
        def update_workflow(wf: Any) -> int:
            count = 0
            for task in ready_engine_tasks(wf):
                if will_complete_task is not None:
                    will_complete_task(task)
                task.run()
                count += 1
                if did_complete_task is not None:
                    did_complete_task(task)
            return count

        active = self.get_active_subprocesses()
        for subprocess in sorted(active, key=lambda v: v.depth, reverse=True):
            while update_workflow(subprocess) > 0:
                pass
            if subprocess.parent_task_id is not None:
                task = self.get_task_from_id(subprocess.parent_task_id)
                task.task_spec._update(task)
        count = update_workflow(self)
        return count > 0 or len(self.get_active_subprocesses()) > len(active)

    def update_waiting_tasks(self) -> None:
        for task in waiting_tasks(self):
            task.task_spec._update(task)


# --- SpiffWorkflow: a workflow's state without its spec --------------------------------------
#
# Assumptions: SpiffWorkflow's serializer is a registry of converters configured from a dict
# of class -> converter class (SPIFF_CONFIG); TaskConverter.to_dict/from_dict turn one Task to
# and from a dict, reading and setting its `_parent`, `_children`, `last_state_change`,
# `triggered`, `internal_data` and `data`; a Task created with an id adds itself to its
# workflow's `tasks`; a WAITING catching event must be registered with the top workflow's
# `event_manager`; BpmnWorkflowConverter's base class converts the task tree and data, and the
# converter restores attributes with `set_default_attributes` and subprocesses with
# `subprocesses_from_dict`; `convert_to_dict[typenames[BpmnWorkflow]]` is the function the
# registry calls for a workflow.

# Task ids repeat through a state (each task names its parent and children); parsing each
# string once per load saves a third of the load time. One table per thread: workflows are
# restored on several threads at once.
_parsed = threading.local()


def _uuids() -> dict[str, UUID]:
    table: dict[str, UUID] | None = getattr(_parsed, "uuids", None)
    if table is None:
        table = _parsed.uuids = {}
    return table


def _uuid(text: str) -> UUID:
    table = _uuids()
    found = table.get(text)
    if found is None:
        found = table[text] = UUID(text)
    return found


def _text(task: Task, task_id: UUID) -> str:
    top = task.workflow.top_workflow
    texts = getattr(top, "_id_texts", None)
    if texts is None:
        texts = top._id_texts = {}
    found = texts.get(task_id)
    if found is None:
        found = texts[task_id] = str(task_id)
    return found


class CachedIdTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, with task ids parsed and printed once per action."""

    def to_dict(self, task: Task) -> dict[str, Any]:
        # Each task's whole data, not a delta from its parent: computing deltas and replaying
        # them (deep copies) cost more than compression saves; zlib folds the repetition.
        return {
            "id": _text(task, task.id),
            "parent": _text(task, task._parent) if task.parent is not None else None,
            "children": [_text(task, child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(internal) if (internal := task.internal_data)
            else {},
            "data": task.data,
        }

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Task:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=_uuid(dct["id"]))
        task._parent = _uuid(dct["parent"]) if dct["parent"] is not None else None
        task._children = [_uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        internal = dct["internal_data"]
        task.internal_data = self.registry.restore(internal) if internal else {}
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        # Plain JSON values, fresh objects from the parser: nothing to copy or convert.
        task.data = dct["data"]
        return task


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Converts a top-level workflow without its spec and subprocess specs."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        # What the registry would build (WorkflowConverter's fields, each subprocess through
        # BpmnSubWorkflowConverter, each task through the task converter, a "typename" on
        # every converted object), without its dispatch for every task: a third of a save.
        dct = self._fields(workflow)
        dct["subprocesses"] = {
            str(sub_id): {
                **self._fields(sub),
                "parent_task_id": str(sub.parent_task_id),
                "spec": sub.spec.name,
                "typename": _SUBWORKFLOW,
            }
            for sub_id, sub in workflow.subprocesses.items()
        }
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def _fields(self, workflow: Any) -> dict[str, Any]:
        task_dict = _task_converter.to_dict
        tasks = {}
        for task_id, task in workflow.tasks.items():
            converted = task_dict(task)
            converted["typename"] = _TASK
            tasks[_text(task, task_id)] = converted
        return {
            "data": self.registry.convert(self.registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": tasks,
            "root": str(workflow.task_tree.id),
        }

    def from_dict(
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None
    ) -> BpmnWorkflow:
        workflow = EngineWorkflow(spec, subprocess_specs or {}, deserializing=True)
        restore_task = _task_converter.from_dict
        for task in dct["tasks"].values():
            restore_task(task, workflow)  # a new Task adds itself to workflow.tasks
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = SpeclessWorkflowConverter
_config[Task] = CachedIdTaskConverter
_registry = BpmnWorkflowSerializer.configure(_config)
_task_converter = CachedIdTaskConverter(Task, _registry)
_serializer = BpmnWorkflowSerializer(_registry)
_dump_workflow = _registry.convert_to_dict[_registry.typenames[BpmnWorkflow]]
_TASK = _registry.typenames[Task]
_SUBWORKFLOW = _registry.typenames[BpmnSubWorkflow]
# The stock serializer (spec included), for exports and for comparing against SpiffWorkflow.
full_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))




def workflow_to_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    """A workflow's state as a dict, without its spec."""
    # Through the BpmnWorkflow converter: states name that class, whatever subclass runs them.
    return _dump_workflow(workflow)  # type: ignore[no-any-return]


def workflow_from_dict(dct: dict[str, Any], spec: Any, subprocess_specs: Any) -> BpmnWorkflow:
    """A workflow rebuilt from `workflow_to_dict`'s dict and the version's parsed specs."""
    try:
        workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
        # Kept for the next dump: the same ids are printed back when the action saves.
        workflow._id_texts = {uuid: text for text, uuid in _uuids().items()}
    finally:
        _uuids().clear()
    return workflow


# --- SpiffWorkflow: a timer's moment, and firing it ------------------------------------------
#
# Assumption: a waiting timer keeps its due moment in its task's internal data under
# "event_value" (an ISO timestamp, or a dict whose "next" is one for a cycle timer), and fires
# once "event_fired" is set there and the workflow refreshes its timers.


def timer_due(task: Task) -> datetime | None:
    """When a waiting timer task is due (None when it has no moment yet)."""
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):
        value = value.get("next")
    if isinstance(value, str):
        try:
            due: datetime = TimerEventDefinition.get_datetime(value)
            return due
        except ValueError:
            return None
    return None


def fire_timer(task: Task) -> None:
    """Mark a waiting timer as fired (the workflow's next refresh_timers() moves it on)."""
    task._set_internal_data(event_fired=True)


# --- Tortoise and aiosqlite: the raw connections under the ORM ---------------------------------
#
# Assumptions: Tortoise's client for the "default" connection has `acquire_connection()`, an
# async context manager yielding the driver's own connection (asyncpg's, or aiosqlite's); inside
# `in_transaction()` the client is a TransactionalDBClient holding that connection as
# `_connection`. aiosqlite's connection runs a callable on its own thread with `_execute(fn,
# *args)` and keeps the sqlite3 connection as `_conn`.


# A connection one action holds from its first read to its write (see holding_connection).
_held: contextvars.ContextVar[Any] = contextvars.ContextVar("held_connection", default=None)


@asynccontextmanager
async def raw_connection() -> AsyncIterator[Any]:
    """The driver's connection under the ORM: the one the action holds, else the
    transaction's own inside in_transaction, else one from the pool."""
    held = _held.get()
    if held is not None and not in_transaction():
        yield held
        return
    async with connections.get("default").acquire_connection() as connection:
        yield connection


@asynccontextmanager
async def holding_connection() -> AsyncIterator[None]:
    """Let the statements of one action on PostgreSQL share one pooled connection: taking one
    from the pool and giving it back costs a third of a query each time. (SQLite has a single
    connection, whose lock must not be held across the action.)"""
    client = connections.get("default")
    if _held.get() is not None or client.capabilities.dialect != "postgres":
        yield
        return
    async with client.acquire_connection() as connection:
        token = _held.set(connection)
        try:
            yield
        finally:
            _held.reset(token)


def sqlite_file() -> str:
    """The file of the default SQLite connection (Tortoise's client keeps it as `filename`)."""
    return str(connections.get("default").filename)


def in_transaction() -> bool:
    """Whether the code runs inside an in_transaction() block."""
    return isinstance(connections.get("default"), TransactionalDBClient)


def postgres_error() -> type[Exception]:
    """asyncpg's base error class (what a failed statement raises on PostgreSQL)."""
    import asyncpg

    return asyncpg.PostgresError  # type: ignore[no-any-return]


async def on_sqlite_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(sqlite3_connection, *args, own_transaction)` on the SQLite connection's thread:
    a whole batch of statements for one thread hop. `own_transaction` is False inside a
    caller's in_transaction(), whose commit or rollback then decides."""
    client = connections.get("default")
    if isinstance(client, TransactionalDBClient):
        connection = client._connection
        return await connection._execute(fn, connection._conn, *args, False)
    async with client.acquire_connection() as connection:
        return await connection._execute(fn, connection._conn, *args, True)


# --- SQLite transactions take the write lock when they begin ------------------------------------
#
# Assumption: Tortoise opens an explicit SQLite transaction (in_transaction) in
# SqliteTransactionWrapper.begin, by committing whatever is pending and executing "BEGIN".
# A deferred BEGIN takes no lock until the first write; a transaction that read first cannot
# then upgrade to writing once another process has written meanwhile, and SQLite fails it at
# once with "database is locked" instead of waiting busy_timeout. Sightline's explicit
# transactions all write, so they begin IMMEDIATE: they wait their turn for the write lock up
# front, as the batch writer does (engine.workflow.store).


async def _begin_immediate(self: SqliteTransactionWrapper) -> None:
    try:
        await self._connection.commit()
        await self._connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise TransactionManagementError(exc) from exc


def sqlite_transactions_begin_immediate() -> None:
    """Make Tortoise's SQLite transactions take the write lock when they begin (at import)."""
    SqliteTransactionWrapper.begin = _begin_immediate  # type: ignore[method-assign]


sqlite_transactions_begin_immediate()


# --- Tortoise: models as tables, rows as models ------------------------------------------------
#
# Assumptions: a model's `_meta` holds `db_table`, `fields_db_projection` (field name -> column,
# foreign keys as their `<name>_id` column) and `fields_map` (field name -> field); a foreign
# key's field names its `related_model`; `Model._init_from_db(**columns)` builds an instance
# from a row's columns as a query would; an instance saved by other means is marked stored with
# `_saved_in_db`; Tortoise caches query executors by connection name in EXECUTOR_CACHE.


@dataclass(frozen=True)
class Column:
    """One stored field of a model."""

    name: str
    column: str
    field: Any


def table_name(model: type[Model]) -> str:
    """The model's table."""
    return str(model._meta.db_table)


def columns(model: type[Model]) -> list[Column]:
    """The model's stored fields, in declaration order."""
    meta = model._meta
    return [Column(name, column, meta.fields_map[name])
            for name, column in meta.fields_db_projection.items()]


def related_model(model: type[Model], relation: str) -> type[Model]:
    """The model a foreign key of `model` points at."""
    return model._meta.fields_map[relation].related_model  # type: ignore[attr-defined, no-any-return]


def model_from_row(model: type[M], values: dict[str, Any]) -> M:
    """A model instance from a row's columns, as a query would build it."""
    return model._init_from_db(**values)


def mark_saved(instance: Model) -> None:
    """Tell the ORM that an instance written by other means is stored (its id is set)."""
    instance._saved_in_db = True


def forget_cached_executors() -> None:
    """Drop Tortoise's executors, cached by connection name: one process (the test suite)
    talks to SQLite and PostgreSQL under the same name."""
    EXECUTOR_CACHE.clear()
