"""Records as another system reads them (the REST API's /records): the results processes
wrote — objectives, ratings, feedback, praise — filtered by cycle, kind and person, showing
only what the viewer could read on the pages.

The rules are the pages' own: the record's person must be someone whose processes the viewer
sees (engine.workflow.access); feedback follows its visibility (engine.performance.scorecard),
praise its own (engine.performance.recognition); the other records of a process the pack keeps
between the people in it (`visible_to = "participants"`: check-ins, feedback responses, 1:1s)
only those people. Pages go by keyset (record id), so filtering never skews a page.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.base.models import ProcessInstance, Record
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.deployed_pack import current_features
from engine.performance.recognition import may_see_praise
from engine.performance.scorecard import may_read_feedback
from engine.workflow.access import SeesSubjects, participants_only, visible_subject_ids

# Rows read per query while filling a page (several queries when many rows are hidden).
SCAN_SIZE = 500


@dataclass(frozen=True)
class RecordLine:
    """One record as the API shows it."""

    id: int
    kind: str
    person_id: int
    cycle_id: int | None
    instance_id: int | None
    data: dict[str, Any]
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class RecordPage:
    """Up to `limit` visible records after a cursor, and the cursor of the next page."""

    records: list[RecordLine]
    next_after: int | None


async def visible_records(
    viewer: SeesSubjects,
    *,
    cycle_id: int | None = None,
    kind: str | None = None,
    person_id: int | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> RecordPage:
    """The records the viewer may read, oldest first, after record `after_id`."""
    directory = await current_directory()
    subjects = visible_subject_ids(viewer, directory)
    if person_id is not None:
        if subjects is not None and person_id not in subjects:
            subjects = set()
        else:
            subjects = {person_id}
    if subjects is not None and not subjects:
        return RecordPage([], None)
    features = (await current_features()).records
    query = Record.all()
    if cycle_id is not None:
        query = query.filter(cycle_id=cycle_id)
    if kind:
        query = query.filter(kind=kind)
    if subjects is not None:
        query = query.filter(person_id__in=sorted(subjects))
    found: list[RecordLine] = []
    cursor = after_id
    while len(found) < limit:
        rows = await query.filter(id__gt=cursor).order_by("id").limit(SCAN_SIZE)
        if not rows:
            return RecordPage(found, None)
        private = await _participants_only(rows)
        for row in rows:
            cursor = row.id
            data = row.data if isinstance(row.data, dict) else {}
            if _may_read(row, data, viewer, directory, features.feedback,
                         features.recognition, private):
                found.append(RecordLine(row.id, row.kind, row.person_id, row.cycle_id,
                                        row.instance_id, data, row.created_at, row.created_by))
                if len(found) == limit:
                    break
        if len(rows) < SCAN_SIZE and len(found) < limit:
            return RecordPage(found, None)
    return RecordPage(found, cursor)


def _may_read(
    row: Record, data: dict[str, Any], viewer: SeesSubjects, directory: DirectorySnapshot,
    feedback_kind: str, praise_kind: str, private: dict[int, Collection[int | None]],
) -> bool:
    if row.kind == feedback_kind:
        return may_read_feedback(data, row.person_id, viewer, directory)
    if row.kind == praise_kind:
        return may_see_praise(data, viewer, directory)
    if row.instance_id is not None and row.instance_id in private:
        return viewer.person_id == row.person_id or viewer.person_id in private[row.instance_id]
    return True


async def _participants_only(rows: list[Record]) -> dict[int, Collection[int | None]]:
    """Instance id -> its subject and starter, for the rows written by a process kept between
    the people in it."""
    ids = {row.instance_id for row in rows if row.instance_id is not None}
    if not ids:
        return {}
    out: dict[int, Collection[int | None]] = {}
    for instance in await ProcessInstance.filter(id__in=sorted(ids)).only(
        "id", "definition_id", "subject_id", "starter_id"
    ):
        if await participants_only(instance):
            out[instance.id] = (instance.subject_id, instance.starter_id)
    return out
