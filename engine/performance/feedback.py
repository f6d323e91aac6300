"""Continuous feedback: what a person received, gave and was asked for, starting the pack's
feedback process with the person's choice as its first step, and the receiver's response.

Feedback its receiver may read asks them, as a step of the same feedback process, to
acknowledge it or reply; the response is a record of that instance, which is what links it to
the feedback (one piece of feedback per instance). Both the giver and the receiver see it.

Which process and steps these are comes from the deployed pack's `[features.feedback]`, and
the record kind from `[features.records]` (engine.performance.deployed_pack).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.base.errors import EngineError, NotFound
from engine.base.models import HumanTask, Record
from engine.people.directory import DirectorySnapshot
from engine.performance.deployed_pack import current_features
from engine.performance.scorecard import may_read_feedback
from engine.workflow import runtime
from engine.workflow.access import SeesSubjects

RESPONSES = ("acknowledge", "reply")
REPLY_MAX = 2000


class ResponseError(EngineError):
    """A response that cannot be recorded as given (no reply text, an unknown choice)."""


@dataclass(frozen=True)
class FeedbackResponse:
    """The receiver's acknowledgement or reply (`response`, `text`, `responded_on`)."""

    response: str
    text: str
    created_at: datetime | None

    @property
    def is_reply(self) -> bool:
        """Whether the receiver answered with words, not only an acknowledgement."""
        return self.response == "reply" and bool(self.text)


@dataclass(frozen=True)
class FeedbackEntry:
    """One piece of feedback as recorded (from_id, about_id, topic, text, visibility …), its
    response once there is one, and the receiver's open step to give it."""

    id: int
    data: dict[str, Any]
    created_at: datetime | None
    instance_id: int | None = None
    response: FeedbackResponse | None = None
    respond_task_id: int | None = None


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


def _entry(
    row: Record,
    responses: dict[int, FeedbackResponse] | None = None,
    open_steps: dict[int, int] | None = None,
) -> FeedbackEntry:
    instance = row.instance_id
    return FeedbackEntry(
        row.id, row.data, row.created_at, instance,
        response=(responses or {}).get(instance) if instance is not None else None,
        respond_task_id=(open_steps or {}).get(instance) if instance is not None else None,
    )


async def responses_of(instance_ids: list[int], kind: str) -> dict[int, FeedbackResponse]:
    """The response recorded in each feedback instance, by instance id (the newest wins)."""
    found: dict[int, FeedbackResponse] = {}
    if not instance_ids:
        return found
    for row in await Record.filter(kind=kind, instance_id__in=instance_ids).order_by("id"):
        if row.instance_id is None or not isinstance(row.data, dict):
            continue
        found[row.instance_id] = FeedbackResponse(
            response=str(row.data.get("response") or "acknowledge"),
            text=str(row.data.get("text") or ""),
            created_at=row.created_at,
        )
    return found


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
    readable = [
        row
        for row in await Record.filter(kind=kind, person_id=viewer.person_id).order_by("-id")
        if may_read_feedback(row.data, viewer.person_id, viewer, directory)
    ]
    received_in = [row.instance_id for row in readable if row.instance_id is not None]
    responses = await responses_of(received_in, features.records.feedback_response)
    # The receiver's own open steps to respond: the page's Acknowledge and Reply complete them.
    open_steps = {
        instance_id: task_id
        for task_id, instance_id in await HumanTask.filter(
            process_id=process, bpmn_id=features.feedback.respond_task, status="ready",
            assignee_id=viewer.person_id, instance_id__in=received_in,
        ).values_list("id", "instance_id")
    } if received_in else {}
    received = [_entry(row, responses, open_steps) for row in readable]
    # Records are the process's, not the writer's: what the viewer wrote comes from the
    # feedback instances whose writing step they completed.
    written = await HumanTask.filter(
        process_id=process, completed_by_id=viewer.person_id, status="completed"
    ).values_list("instance_id", flat=True)
    given_rows = [
        row
        for row in await Record.filter(
            kind=kind, instance_id__in=list(set(written))
        ).order_by("-id")
        if row.data.get("from_id") == viewer.person_id
    ]
    given_responses = await responses_of(
        [row.instance_id for row in given_rows if row.instance_id is not None],
        features.records.feedback_response,
    )
    given = [_entry(row, given_responses) for row in given_rows]
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


def checked_response(response: str, text: str) -> dict[str, Any]:
    """The respond step's data from what the receiver chose; ResponseError when a reply has
    no text, the text is too long or the choice is neither acknowledge nor reply."""
    text = text.strip()
    if response not in RESPONSES:
        raise ResponseError("Choose Acknowledge or Reply.")
    if response == "reply" and not text:
        raise ResponseError("Write your reply, or choose Acknowledge.")
    if len(text) > REPLY_MAX:
        raise ResponseError(f"Keep the reply under {REPLY_MAX} characters.")
    return {"response": response, "reply_text": text if response == "reply" else ""}


async def respond_to_feedback(
    actor: runtime.Actor, task_id: int, response: str, text: str = ""
) -> None:
    """Complete the receiver's respond step of a feedback instance with an acknowledgement
    or a reply. NotFound unless `task_id` is an open respond step held by the actor (someone
    else's step, or one already answered, is no business of theirs)."""
    features = (await current_features()).feedback
    data = checked_response(response, text)
    task = await HumanTask.get_or_none(
        id=task_id, process_id=features.process, bpmn_id=features.respond_task,
        status="ready", assignee_id=actor.person_id,
    )
    if task is None:
        raise NotFound(f"no open feedback response {task_id} for this person")
    await runtime.complete_task(task.id, actor, data)
