"""Side branches of a process: what a non-interrupting boundary event starts (a reminder …).

SpiffWorkflow merges the data of every finished branch into the process data when the process
ends, merging lists item by item. A reminder branch that fired on day 10 holds the data of day
10; merged at the end it would mix stale objectives into the final ones. A side branch only
reacts to the main path, so once it has ended its data is dropped and never flows back.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState


def forget_ended_side_branches(workflow: BpmnWorkflow) -> None:
    """Clear the data of completed end events reached from a non-interrupting boundary event."""
    tasks = list(workflow.tasks.values())
    for sub in workflow.subprocesses.values():
        tasks.extend(sub.tasks.values())
    for task in tasks:
        if task.state != TaskState.COMPLETED or not task.data:
            continue
        if not isinstance(task.task_spec, EndEvent):
            continue
        if not isinstance(task.task_spec.event_definition, NoneEventDefinition):
            continue
        ancestor = task.parent
        while ancestor is not None and not isinstance(ancestor.task_spec, BoundaryEvent):
            ancestor = ancestor.parent
        if ancestor is not None and not ancestor.task_spec.cancel_activity:
            task.data = {}
