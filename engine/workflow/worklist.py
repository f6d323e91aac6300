"""Human tasks as a person works through them: the open tasks assigned to someone, and where an
instance stands right after one of its tasks was submitted (what the person is told next).

The inbox (engine.workflow.inbox) filters, sorts and pages; a task page's context comes from
engine.workflow.task_context. These are the plain questions in between, asked by the task page,
the CLI and `sightline bench` alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from engine.base.models import HumanTask, ProcessInstance
from engine.workflow.task_context import NextStep, next_steps, waiting_on

# Statuses in which nothing more waits on anyone after a submission.
_AT_REST = ("error", "completed")


@dataclass(frozen=True)
class AfterSubmission:
    """Where an instance stands right after a task of it was submitted."""

    status: str
    # The instance's open tasks now (asked only when it runs on).
    next_steps: list[NextStep] = field(default_factory=list)
    # What it waits for when no task is open, in the diagram's words.
    waiting_for: list[str] = field(default_factory=list)


async def after_submission(instance: ProcessInstance) -> AfterSubmission:
    """What follows the submission that left `instance` as it is (runtime.complete_task's
    result): stopped on an error, complete, or the next steps and whom they wait on."""
    if instance.status in _AT_REST:
        return AfterSubmission(instance.status)
    steps = await next_steps(instance.id)
    if steps:
        return AfterSubmission(instance.status, next_steps=steps)
    return AfterSubmission(instance.status, waiting_for=await waiting_on(instance))


async def open_task_ids_of(person_id: int) -> list[int]:
    """The ids of the open tasks assigned to the person (not their groups'), oldest first."""
    ids = await HumanTask.filter(assignee_id=person_id, status="ready").order_by("id").values_list(
        "id", flat=True
    )
    return cast(list[int], ids)
