"""Continuous feedback: what a person received, gave and was asked for, and starting the
pack's feedback process with the person's choice as its first step.

Which process and steps these are comes from the deployed pack's `[features.feedback]`, and
the record kind from `[features.records]` (engine.performance.deployed_pack).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.base.errors import EngineError
from engine.base.models import HumanTask, Record
from engine.people.directory import DirectorySnapshot
from engine.performance.deployed_pack import current_features
from engine.performance.scorecard import may_read_feedback
from engine.workflow import runtime
from engine.workflow.access import SeesSubjects


@dataclass(frozen=True)
class FeedbackEntry:
    """One piece of feedback as recorded (from_id, about_id, topic, text, visibility …)."""

    id: int
    data: dict[str, Any]
    created_at: datetime | None


@dataclass(frozen=True)
class OpenStep:
    """A step waiting for someone: a feedback request, a development action."""

    id: int
    name: str
    assignee_id: int | None
    subject_id_cache: int | None
    due_at: datetime | None


@dataclass
class FeedbackLists:
    """Feedback about the viewer they may read, feedback they wrote, the requests they
    sent that are still open, and the requests waiting for their answer."""

    received: list[FeedbackEntry]
    given: list[FeedbackEntry]
    open_requests: list[OpenStep]
    asked_of_me: list[OpenStep]


def _entry(row: Record) -> FeedbackEntry:
    return FeedbackEntry(row.id, row.data, row.created_at)


def open_step(row: HumanTask) -> OpenStep:
    """A ready task as the pages list it."""
    return OpenStep(
        id=row.id,
        name=row.name,
        assignee_id=row.assignee_id,
        subject_id_cache=row.subject_id_cache,
        due_at=row.due_at,
    )


async def feedback_lists(viewer: SeesSubjects, directory: DirectorySnapshot) -> FeedbackLists:
    """What the feedback page lists for the viewer."""
    features = await current_features()
    process, kind = features.feedback.process, features.records.feedback
    requested = features.feedback.requested_task
    received = [
        _entry(row)
        for row in await Record.filter(kind=kind, person_id=viewer.person_id).order_by("-id")
        if may_read_feedback(row.data, viewer.person_id, viewer, directory)
    ]
    # Records are the process's, not the writer's: what the viewer wrote comes from the
    # feedback instances whose writing step they completed.
    written = await HumanTask.filter(
        process_id=process, completed_by_id=viewer.person_id, status="completed"
    ).values_list("instance_id", flat=True)
    given = [
        _entry(row)
        for row in await Record.filter(
            kind=kind, instance_id__in=list(set(written))
        ).order_by("-id")
        if row.data.get("from_id") == viewer.person_id
    ]
    open_requests = await HumanTask.filter(
        process_id=process, bpmn_id=requested, status="ready",
        subject_id_cache=viewer.person_id,
    ).order_by("-id")
    asked_of_me = await HumanTask.filter(
        process_id=process, bpmn_id=requested, status="ready", assignee_id=viewer.person_id,
    ).order_by("due_at")
    return FeedbackLists(
        received=received,
        given=given,
        open_requests=[open_step(t) for t in open_requests],
        asked_of_me=[open_step(t) for t in asked_of_me],
    )


async def start_feedback(actor: runtime.Actor, choice: dict[str, Any]) -> int | None:
    """Start the feedback process for the actor and complete its first step with `choice`
    (mode, colleague key, topic, request message). Returns the writing step the actor goes
    to next when giving feedback, else None (a request went to the colleague)."""
    features = (await current_features()).feedback
    instance = await runtime.start_process(
        features.process, subject=actor.person_id, actor=actor
    )
    choose = await HumanTask.get_or_none(
        instance_id=instance.id, bpmn_id=features.choose_task, status="ready"
    )
    if choose is None:
        raise EngineError("the feedback process did not start as expected")
    await runtime.complete_task(choose.id, actor, choice)
    if choice.get("mode") != "give":
        return None
    write = await HumanTask.get_or_none(
        instance_id=instance.id, bpmn_id=features.write_task, status="ready"
    )
    return write.id if write is not None else None
