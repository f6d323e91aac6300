"""Which cycle a page shows: every cycle, newest first, one cycle by id, and the cycle a page
opens on when the address names none.

Each monitoring page offers the cycles at its top and shows `?cycle=<id>`, else the cycle with
open work for its viewer — not the most recently launched one: a one-person mid-year cycle
launched after the year-end must not empty everybody's pages. Pages get these summaries rather
than rows, so the web app never holds a model.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from tortoise.functions import Count

from engine.base.errors import NotFound
from engine.base.models import Cycle, ProcessInstance, Record
from engine.people.directory import current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.workflow.access import SeesSubjects, can_view_subject, visible_subject_ids


@dataclass(frozen=True)
class CycleSummary:
    """A performance cycle as pages name it."""

    id: int
    name: str
    starts_on: date | None
    due_on: date | None


def _summary(row: Cycle) -> CycleSummary:
    return CycleSummary(row.id, row.name, row.starts_on, row.due_on)


async def cycles_newest_first() -> list[CycleSummary]:
    """Every cycle, newest first (the choice offered at the top of each page)."""
    return [_summary(row) for row in await Cycle.all().order_by("-id")]


async def find_cycle(cycle_id: int) -> CycleSummary:
    """The cycle with this id; NotFound when there is none."""
    row = await Cycle.get_or_none(id=cycle_id)
    if row is None:
        raise NotFound(f"no cycle {cycle_id}")
    return _summary(row)


async def _people_per_cycle(person_ids: Collection[int] | None, *, running: bool) -> dict[int, int]:
    """Per cycle, how many of these people (None: everyone) have a process in it (running
    ones only, or any)."""
    query = ProcessInstance.filter(cycle_id__not_isnull=True)
    if running:
        query = query.filter(status="running")
    if person_ids is not None:
        query = query.filter(subject_id__in=list(person_ids))
    rows = await query.annotate(people=Count("subject_id", distinct=True)).group_by(
        "cycle_id"
    ).values_list("cycle_id", "people")
    return {int(cycle_id): int(people) for cycle_id, people in rows}


def _most(counts: dict[int, int]) -> int | None:
    """The cycle with the highest count; the newest (highest id) of equals."""
    return max(counts, key=lambda cycle_id: (counts[cycle_id], cycle_id)) if counts else None


async def _summary_of(cycle_id: int | None) -> CycleSummary | None:
    if cycle_id is None:
        return None
    row = await Cycle.get_or_none(id=cycle_id)
    return _summary(row) if row else None


async def cycle_with_open_work(person_ids: Collection[int] | None) -> CycleSummary | None:
    """Among the cycles where any of these people (None: everyone) has a process running, the
    one that concerns the most of them (then: the most running, then the newest); with nothing
    running, the cycle with the most of them in it; None when they have no process in any."""
    running = await _people_per_cycle(person_ids, running=True)
    concerned = await _people_per_cycle(person_ids, running=False)
    if running:
        chosen: int | None = max(
            running, key=lambda c: (concerned.get(c, 0), running[c], c)
        )
    else:
        chosen = _most(concerned)
    return await _summary_of(chosen)


async def scorecard_cycle(person_id: int) -> CycleSummary | None:
    """The cycle a person's score card opens on: the cycle with their open work when it has
    results of theirs already, else the newest cycle with results (a signed rating stays in
    view while a new cycle has recorded nothing yet), else the open one."""
    open_cycle = await cycle_with_open_work([person_id])
    with_results = {int(row["cycle_id"]) for row in await Record.filter(
        person_id=person_id, cycle_id__not_isnull=True
    ).distinct().values("cycle_id")}
    if open_cycle is not None and open_cycle.id in with_results:
        return open_cycle
    if with_results:
        return await _summary_of(max(with_results))
    return open_cycle


async def team_cycle(
    manager_id: int, viewer: SeesSubjects, *, indirect: bool = False
) -> CycleSummary | None:
    """The cycle a manager's team page opens on: the one where most of the reports the
    viewer may see have open work."""
    directory = await current_directory()
    team = [
        pid for pid in directory.reports_of(manager_id, indirect=indirect)
        if can_view_subject(viewer.person_id, viewer.groups, pid, directory)
    ]
    return await cycle_with_open_work(team) if team else None


async def hr_cycle(viewer: SeesSubjects) -> CycleSummary | None:
    """The cycle HR's dashboard opens on: the one where most people of the viewer's
    population have open work."""
    return await cycle_with_open_work(visible_subject_ids(viewer, await current_directory()))


async def calibration_cycle(viewer: SeesSubjects) -> CycleSummary | None:
    """The cycle HR's calibration opens on: the one with the most appraisals of the viewer's
    population waiting for the release (its pack's signal), else the dashboard's cycle."""
    people = visible_subject_ids(viewer, await current_directory())
    running = ProcessInstance.filter(cycle_id__not_isnull=True, status="running")
    if people is not None:
        running = running.filter(subject_id__in=list(people))
    waiting: dict[int, int] = {}
    for cycle_id in {int(row["cycle_id"]) for row in await running.distinct().values("cycle_id")}:
        signal = (await cycle_pack(cycle_id)).features.calibration.release_signal
        count = await running.filter(
            cycle_id=cycle_id, waiting_for__contains=f"|{signal}|"
        ).count()
        if count:
            waiting[cycle_id] = count
    chosen = await _summary_of(_most(waiting))
    return chosen if chosen is not None else await hr_cycle(viewer)
