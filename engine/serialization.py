"""Workflow state without its spec.

SpiffWorkflow's own serializer writes the whole spec into every snapshot. Sightline stores the
spec once per deployed version and keeps it parsed in memory, so an instance's state holds only
its task tree and data; restoring it reattaches the cached spec objects instead of rebuilding
them from JSON.
"""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

STATE_FORMAT = "sightline-1"


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
        from uuid import UUID

        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = SpeclessWorkflowConverter
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
    workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow
