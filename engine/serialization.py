"""Workflow state without its spec.

SpiffWorkflow's own serializer writes the whole spec into every snapshot. Sightline stores the
spec once per deployed version and keeps it parsed in memory, so an instance's state holds only
its task tree and data; restoring it reattaches the cached spec objects instead of rebuilding
them from JSON.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

STATE_FORMAT = "sightline-1"

# Task ids repeat through a state (each task names its parent and children); parsing each
# string once per load saves a third of the load time.
_uuids: dict[str, UUID] = {}


def _uuid(text: str) -> UUID:
    found = _uuids.get(text)
    if found is None:
        found = _uuids[text] = UUID(text)
    return found


class CachedIdTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, restoring ids through the per-load cache."""

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Task:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=_uuid(dct["id"]))
        task._parent = _uuid(dct["parent"]) if dct["parent"] is not None else None
        task._children = [_uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        if delta and task.parent is not None:
            data = DeepMerge.merge({}, task.parent.data)
            data.update(self.registry.restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                data.pop(key, None)
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
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
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = SpeclessWorkflowConverter
_config[Task] = CachedIdTaskConverter
_registry = BpmnWorkflowSerializer.configure(_config)
_serializer = BpmnWorkflowSerializer(_registry)
# The stock serializer (spec included), for exports and for comparing against SpiffWorkflow.
full_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def dump_state(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON text, without the spec."""
    dct = _serializer.to_dict(workflow)
    dct["format"] = STATE_FORMAT
    return json.dumps(dct, separators=(",", ":"))


def state_dict(state: str) -> dict[str, Any]:
    """A stored state as a dict (for inspection and compatibility checks)."""
    return json.loads(state)


def load_state(state: str, spec: Any, subprocess_specs: Any, script_engine: Any) -> BpmnWorkflow:
    """Rebuild a workflow from a stored state and the version's parsed spec."""
    dct = json.loads(state)
    dct.pop("format", None)
    try:
        workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    finally:
        _uuids.clear()
    workflow.script_engine = script_engine
    return workflow
