"""Instances of a cycle stopped on an error: the list the HR dashboard shows, and running one
again.

A script, condition or timer expression that fails stops its instance with the task and the
message (docs/engine.md, instance states). HR sees the first of them with the count of all,
and may run one again on the newest version of its process once the pack is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.base.errors import EngineError, NotFound
from engine.base.models import ProcessInstance
from engine.people.directory import DirectorySnapshot, current_directory
from engine.workflow import runtime
from engine.workflow.access import SeesSubjects, can_view_subject

# How many instances in error the dashboard lists (the count covers all of them).
ERRORS_LISTED = 50


@dataclass
class InstanceError:
    """An instance stopped on an error: which task, what message."""

    instance_id: int
    process_id: str
    subject_id: int | None
    subject_name: str
    task: str
    message: str


async def cycle_errors(
    cycle_id: int, scope: set[int] | None, directory: DirectorySnapshot
) -> tuple[list[InstanceError], int]:
    """The cycle's first ERRORS_LISTED instances in error among the people of an HR scope
    (None: everyone), oldest first, and how many there are in all."""
    query = ProcessInstance.filter(cycle_id=cycle_id, status="error")
    if scope is not None:
        query = query.filter(subject__org_unit_id__in=sorted(scope))
    total = await query.count()
    rows = await query.order_by("id").limit(ERRORS_LISTED).values(
        "id", "process_id", "subject_id", "error"
    )
    listed = []
    for row in rows:
        error = row["error"] or {}
        subject = directory.people.get(row["subject_id"]) if row["subject_id"] else None
        listed.append(InstanceError(
            instance_id=row["id"],
            process_id=row["process_id"],
            subject_id=row["subject_id"],
            subject_name=subject.name if subject else "",
            task=str(error.get("task_name") or error.get("task") or ""),
            message=str(error.get("message") or ""),
        ))
    return listed, total



@dataclass
class RetryOutcome:
    """What running an instance in error again came to."""

    instance_id: int
    cycle_id: int | None
    refused: str | None = None  # the retry could not run (not in error, incompatible): why
    stopped_again: str | None = None  # it ran and stopped on an error again: the message


async def retry_failed(
    instance_id: int, viewer: SeesSubjects, actor: runtime.Actor
) -> RetryOutcome:
    """Run an instance stopped on an error again, on the newest version of its process.

    NotFound when the viewer may not see the instance's subject (or it has none): HR retries
    only within the people it covers. A retry the engine refuses is an outcome, not an error,
    so the page can say why and still return to the cycle."""
    directory = await current_directory()
    row = await ProcessInstance.get_or_none(id=instance_id)
    if row is None or row.subject_id is None or not can_view_subject(
        viewer.person_id, viewer.groups, row.subject_id, directory
    ):
        raise NotFound(f"no instance {instance_id}")
    outcome = RetryOutcome(row.id, row.cycle_id)
    try:
        again = await runtime.retry_instance(row.id, actor)
    except EngineError as error:
        outcome.refused = str(error)
    else:
        if again.status == "error":
            outcome.stopped_again = str((again.error or {}).get("message", ""))
    return outcome
