"""The latest in-year progress of objectives, laid over the objectives a record holds.

An objective's in-year updates (engine.performance.progress) keep its latest state in one
ObjectiveStatus row; roll-ups, score cards and the forms of the mid-year and year-end read
that row, never the KpiUpdate history, so a page costs the same in December as in January.

The latest update wins over the actual a record holds only when it is newer than the record:
an actual typed in a mid-year check-in after the last update is the one that counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.base.models import ObjectiveStatus
from engine.performance.objectives import with_keys

# Keys an objective gains from its latest update (besides `actual`): what forms and pages show.
STATUS_FIELD = "progress_status"
COMMENT_FIELD = "progress_comment"
# Beyond this many people the cycle's rows are read whole and sifted here: one long IN list
# costs the database more than the rows do (and meets its limit on parameters).
MANY_PEOPLE = 2000


@dataclass(frozen=True)
class LatestProgress:
    """One objective's latest in-year state."""

    person_id: int
    objective_key: str
    title: str
    actual: float | None
    status: str
    comment: str
    updates: int
    updated_at: datetime
    updated_by: str


async def latest_progress(
    cycle_id: int, person_ids: Iterable[int] | None
) -> dict[tuple[int, str], LatestProgress]:
    """(person id, objective key) → latest state, for the people (None: everyone) in one query."""
    query = ObjectiveStatus.filter(cycle_id=cycle_id)
    wanted: set[int] | None = None
    if person_ids is not None:
        wanted = set(person_ids)
        if not wanted:
            return {}
        if len(wanted) <= MANY_PEOPLE:
            query = query.filter(person_id__in=list(wanted))
    rows = await query.values_list(
        "person_id", "objective_key", "title", "actual", "status", "comment", "updates",
        "updated_at", "updated_by",
    )
    return {
        (row[0], row[1]): LatestProgress(*row)
        for row in rows
        if wanted is None or row[0] in wanted
    }


async def latest_actuals(
    cycle_id: int, person_ids: Iterable[int]
) -> dict[tuple[int, str], tuple[float | None, datetime]]:
    """(person id, objective key) → (latest actual, when), the two columns a roll-up needs: at
    ten thousand people reading the status, comment and signature too costs a third more."""
    wanted = set(person_ids)
    if not wanted:
        return {}
    query = ObjectiveStatus.filter(cycle_id=cycle_id)
    if len(wanted) <= MANY_PEOPLE:
        query = query.filter(person_id__in=list(wanted))
    rows = await query.values_list("person_id", "objective_key", "actual", "updated_at")
    return {(pid, key): (actual, at) for pid, key, actual, at in rows if pid in wanted}


def overlay(
    person_id: int,
    objectives: Sequence[Mapping[str, Any]],
    latest: Mapping[tuple[int, str], LatestProgress],
    written_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The objectives (each with its key) with their latest actual, status and comment, where
    an update exists that is newer than the record they come from (`written_at`)."""
    keyed = with_keys(list(objectives))
    for row in keyed:
        found = latest.get((person_id, row["key"]))
        if found is None or (written_at is not None and found.updated_at <= written_at):
            continue
        if found.actual is not None:
            row["actual"] = found.actual
        row[STATUS_FIELD] = found.status
        row[COMMENT_FIELD] = found.comment
    return keyed


def overlay_actuals(
    person_id: int,
    objectives: Sequence[Mapping[str, Any]],
    latest: Mapping[tuple[int, str], tuple[float | None, datetime]],
    written_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """`overlay` for a roll-up: the latest actual only (no status or comment), same rule."""
    keyed = with_keys(list(objectives))
    for row in keyed:
        found = latest.get((person_id, row["key"]))
        if found is None or found[0] is None or (written_at is not None and found[1] <= written_at):
            continue
        row["actual"] = found[0]
    return keyed


async def with_latest_progress(
    cycle_id: int,
    objectives: Mapping[int, list[dict[str, Any]]],
    written_at: Mapping[int, datetime] | None = None,
    *,
    actuals_only: bool = False,
) -> dict[int, list[dict[str, Any]]]:
    """Per person, their objectives with the latest in-year progress laid over (one query);
    `actuals_only` lays only the actuals over, all a roll-up reads."""
    if not objectives:
        return {}
    stamps = written_at or {}
    if actuals_only:
        actuals = await latest_actuals(cycle_id, objectives.keys())
        return {pid: overlay_actuals(pid, rows, actuals, stamps.get(pid))
                for pid, rows in objectives.items()}
    latest = await latest_progress(cycle_id, objectives.keys())
    return {pid: overlay(pid, rows, latest, stamps.get(pid)) for pid, rows in objectives.items()}


async def merge_for_start(
    items: list[tuple[int, int | None, datetime | None, Any]],
) -> list[Any]:
    """Start data from a `progress:` source (engine.workflow.records): each list of objectives
    with its person's latest in-year progress laid over, one query per cycle."""
    cycles = {cycle_id for _, cycle_id, _, value in items
              if cycle_id is not None and isinstance(value, list)}
    latest: dict[int, dict[tuple[int, str], LatestProgress]] = {}
    for cycle in cycles:
        people = {pid for pid, c, _, _ in items if c == cycle}
        latest[cycle] = await latest_progress(cycle, people)
    merged: list[Any] = []
    for pid, cycle_id, written_at, value in items:
        if cycle_id is None or not isinstance(value, list):
            merged.append(value)
            continue
        rows = [row for row in value if isinstance(row, Mapping)]
        merged.append(overlay(pid, rows, latest[cycle_id], written_at))
    return merged
