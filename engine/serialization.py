"""Workflow state without its spec.

SpiffWorkflow's own serializer writes the whole spec into every snapshot. Sightline stores the
spec once per deployed version and keeps it parsed in memory, so an instance's state holds only
its task tree and data; restoring it reattaches the cached spec objects instead of rebuilding
them from JSON.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.stepping import EngineWorkflow

STATE_FORMAT = "sightline-1"

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
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
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
# The stock serializer (spec included), for exports and for comparing against SpiffWorkflow.
full_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def dump_state(workflow: BpmnWorkflow) -> bytes:
    """The workflow's state without the spec: compressed JSON."""
    # Through the BpmnWorkflow converter: states name that class, whatever subclass runs them.
    dct = _dump_workflow(workflow)
    dct["format"] = STATE_FORMAT
    # Level 1: a fifth of the size for about 30 µs; higher levels gain little more.
    return zlib.compress(orjson.dumps(dct, option=orjson.OPT_NON_STR_KEYS), 1)


def state_dict(state: bytes) -> dict[str, Any]:
    """A stored state as a dict (for inspection and compatibility checks)."""
    try:
        return orjson.loads(zlib.decompress(state))
    except zlib.error as exc:
        raise ValueError(f"not a stored workflow state: {exc}") from exc


def load_state(
    state: bytes, spec: Any, subprocess_specs: Any, script_engine: Any
) -> BpmnWorkflow:
    """Rebuild a workflow from a stored state and the version's parsed spec."""
    dct = state_dict(state)
    dct.pop("format", None)
    try:
        workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
        # Kept for dump_state: the same ids are printed back when the action saves.
        workflow._id_texts = {uuid: text for text, uuid in _uuids().items()}
    finally:
        _uuids().clear()
    workflow.script_engine = script_engine
    return workflow
