"""The engine's workflow class: SpiffWorkflow's BpmnWorkflow with a faster task-tree walk.

Each engine step, and each completed task, makes SpiffWorkflow walk the whole task tree looking
for READY tasks (to run) and WAITING tasks (to update). Its walk is general (filters, depth
limits, lazy lists of children); on a year-end appraisal it was a third of the time a cycle
launch spends per instance. The walks here visit the same tasks in the same order — depth
first, children in order, a subprocess's tree before the children of the task that called it —
so the engine's behaviour is SpiffWorkflow's, only cheaper. Every instance the engine creates or
restores is an `EngineWorkflow`; the stored state does not name the class.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine import internals  # noqa: F401  (SpiffWorkflow's timers read the engine clock)

# SpiffWorkflow lists every task of a workflow into the extras of its log lines whenever its
# logger's own level is below INFO, which by default it is: the workflow is walked once more
# at every start and end. An explicitly configured level is left alone.
_workflow_log = logging.getLogger("spiff.workflow")
if _workflow_log.level == logging.NOTSET:
    _workflow_log.setLevel(logging.INFO)

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


class EngineWorkflow(BpmnWorkflow):  # type: ignore[misc]
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
