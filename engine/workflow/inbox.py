"""What waits on whom: queries over the indexed human-task rows (never the workflows).

A person's inbox is every open task they hold, every unclaimed task of one of their groups,
and every unclaimed task that names them (or one of their groups) among several candidates.
Queries touch only the indexed columns; names come from the directory snapshot and process
titles from a small in-memory cache, so a page costs a handful of cheap queries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from tortoise.expressions import Q, RawSQL

from engine.base import clock
from engine.base.errors import Conflict, NotAllowed, NotFound
from engine.base.i18n import pack_text, said
from engine.base.models import HumanTask, ProcessDefinition
from engine.people import assignment
from engine.people.directory import DirectorySnapshot, current_directory

DUE_STATES = ("overdue", "week")
PER_PAGE = 25
SORT = ("undated", "due_at", "id")
# Portable "NULLS LAST" (SQLite sorts NULL first, PostgreSQL last); a literal, so no parameters.
UNDATED_LAST = RawSQL("CASE WHEN due_at IS NULL THEN 1 ELSE 0 END")


@dataclass(frozen=True)
class TaskLine:
    """One open task as a line of text (the CLI's `tasks`)."""

    id: int
    name: str
    instance_id: int
    holder: str
    due_at: datetime | None

    def __str__(self) -> str:
        due = f" due {self.due_at:%Y-%m-%d}" if self.due_at else ""
        return f"{self.id:>6}  {self.name}  [instance {self.instance_id}]  -> {self.holder}{due}"


@dataclass(frozen=True)
class InboxRow:
    """One task in a person's inbox, with everything its table row shows."""

    id: int
    name: str
    instance_id: int
    process_id: str
    process_title: str
    subject_id: int | None
    subject_name: str
    cycle: str
    due_at: datetime | None
    overdue: bool
    # The group a shared task belongs to (None for a personal task or several candidates).
    group: str | None
    # Everyone a shared task names, person ids and "group:x" (empty for a personal task).
    candidates: tuple[str, ...]
    assignee_id: int | None
    routing_note: str | None

    @property
    def shared(self) -> bool:
        """Whether the task belongs to a group or to several people (it can be claimed)."""
        return is_shared(self.group, self.candidates)

    @property
    def claimable(self) -> bool:
        """Nobody holds it yet: the viewer may claim it."""
        return self.assignee_id is None

    @property
    def releasable(self) -> bool:
        """The viewer claimed a shared task and may give it back."""
        return self.assignee_id is not None and self.shared


@dataclass(frozen=True)
class ProcessChoice:
    """A deployed process, as the inbox's process filter offers it."""

    process_id: str
    title: str


@dataclass(frozen=True)
class InboxPage:
    """One page of a person's inbox, its totals and the filter options."""

    rows: list[InboxRow]
    total: int  # tasks matching the filters
    waiting: int  # every task in the inbox, unfiltered
    overdue: int  # of which overdue, unfiltered
    page: int
    per_page: int
    processes: list[ProcessChoice] = field(default_factory=list)

    @property
    def pages(self) -> int:
        """How many pages the filtered tasks fill (at least one)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        """1-based position of the first row on this page (0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        """1-based position of the last row on this page."""
        return (self.page - 1) * self.per_page + len(self.rows)


@dataclass(frozen=True)
class TaskAction:
    """The outcome of a claim or release, with the sentence to show the person."""

    done: bool
    message: str


# -- which tasks are whose ------------------------------------------------------------------


def is_shared(candidate_group: str | None, candidates: Iterable[object] | None) -> bool:
    """Whether a task belongs to a group or several people, rather than to one person."""
    named = [str(c) for c in candidates or ()]
    return candidate_group is not None or len(named) > 1 or any(
        c.startswith("group:") for c in named
    )


def actionable_filter(person_id: int, groups: set[str]) -> Q:
    """Open tasks this person holds, or may claim through a group (not multi-candidate ones)."""
    q = Q(assignee_id=person_id)
    if groups:
        q |= Q(assignee_id=None, candidate_group__in=sorted(groups))
    return q & Q(status="ready")


async def _candidate_task_ids(person_id: int, directory: DirectorySnapshot) -> list[int]:
    """Unclaimed tasks that name this person (or a group of theirs) among several candidates."""
    # Rare rows (no assignee and no single group): read them all and decide in Python, the
    # same way the runtime decides who may act.
    rows = await HumanTask.filter(
        candidate_group=None, assignee_id=None, status="ready"
    ).values_list("id", "candidates")
    return [
        task_id
        for task_id, candidates in rows
        if candidates and assignment.may_act(person_id, None, None, candidates, directory)
    ]


async def inbox_filter(
    person_id: int, groups: Iterable[str], directory: DirectorySnapshot | None = None
) -> Q:
    """Every open task in the person's inbox: held, group-claimable, or named as candidate."""
    directory = directory or await current_directory()
    # Each branch carries `status` so that each can use its own index.
    q = Q(assignee_id=person_id, status="ready")
    group_list = sorted(set(groups))
    if group_list:
        q |= Q(candidate_group__in=group_list, assignee_id=None, status="ready")
    extra = await _candidate_task_ids(person_id, directory)
    if extra:
        q |= Q(id__in=extra, status="ready")
    return q


def _today_start(now: datetime | None = None) -> datetime:
    # Due dates read as days ("due today"), so a task is overdue from the day after its date.
    moment = now or clock.now()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _overdue() -> Q:
    return Q(due_at__lt=_today_start())


def _due_filter(due: str | None) -> Q | None:
    today = _today_start()
    if due == "overdue":
        return _overdue()
    if due == "week":
        return Q(due_at__gte=today, due_at__lt=today + timedelta(days=7))
    return None


def subjects_named(directory: DirectorySnapshot, text: str) -> list[int]:
    """Ids of the people whose name (or employee id) contains the text, ignoring case."""
    needle = text.strip().casefold()
    return [
        p.id
        for p in directory.people.values()
        if needle in p.name.casefold() or needle == p.key.casefold()
    ]


# -- process titles -------------------------------------------------------------------------


def _readable(process_id: str) -> str:
    return process_id.replace("_", " ").capitalize()


async def process_titles(process_ids: Iterable[str] | None = None) -> dict[str, str]:
    """Title of each process by BPMN process id (None: every deployed process): the title of
    its newest deployed version — versions in the order they were deployed (by row id), so
    the last deploy wins, whichever pack it came from. A process without a title, or not
    deployed, reads as its id made readable ("mid_year_review" → "Mid year review")."""
    rows = await ProcessDefinition.all().order_by("id").values_list("process_id", "title")
    titles: dict[str, str] = {}
    for process_id, title in rows:
        titles[str(process_id)] = str(title or "") or _readable(str(process_id))
    if process_ids is None:
        return titles
    return {p: titles.get(p) or _readable(p) for p in set(process_ids)}


async def process_choices() -> list[ProcessChoice]:
    """Every deployed process, by title (the process filter's options)."""
    return sorted(
        (ProcessChoice(p, t) for p, t in (await process_titles()).items()),
        key=lambda c: c.title.casefold(),
    )


# -- the inbox page -------------------------------------------------------------------------


async def inbox_page(
    person_id: int,
    groups: Iterable[str],
    *,
    process: str | None = None,
    subject: str | None = None,
    due: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> InboxPage:
    """One page of the person's inbox, filtered and sorted by due date (undated last)."""
    directory = await current_directory()
    page = max(1, page)
    mine = await inbox_filter(person_id, groups, directory)

    waiting = await HumanTask.filter(mine).count()
    overdue = await HumanTask.filter(mine, _overdue()).count() if waiting else 0

    narrowing: list[Q] = []
    if process:
        narrowing.append(Q(process_id=process))
    if subject and subject.strip():
        narrowing.append(Q(subject_id_cache__in=subjects_named(directory, subject)))
    due_q = _due_filter(due)
    if due_q is not None:
        narrowing.append(due_q)

    if not waiting:
        return InboxPage([], 0, 0, 0, page, per_page, await process_choices())
    if narrowing:
        total = await HumanTask.filter(mine, *narrowing).count()
    else:
        total = waiting
    # Ids first: the sort then reads only the (covering) indexes; full rows for one page only.
    page_ids = cast(
        list[int],
        await HumanTask.filter(mine, *narrowing)
        .annotate(undated=UNDATED_LAST)
        .order_by(*SORT)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .values_list("id", flat=True),
    )
    rows = await _rows(page_ids, directory)
    return InboxPage(rows, total, waiting, overdue, page, per_page, await process_choices())


ROW_FIELDS = (
    "id", "name", "instance_id", "process_id", "subject_id_cache", "due_at", "candidate_group",
    "candidates", "assignee_id", "routing_note", "instance__cycle__name",
)


async def _rows(page_ids: list[int], directory: DirectorySnapshot) -> list[InboxRow]:
    if not page_ids:
        return []
    found = {r["id"]: r for r in await HumanTask.filter(id__in=page_ids).values(*ROW_FIELDS)}
    titles = await process_titles(r["process_id"] for r in found.values())
    today = _today_start()
    rows = []
    for task_id in page_ids:
        t = found.get(task_id)
        if t is None:  # completed and deleted between the two queries
            continue
        person = directory.person(t["subject_id_cache"])
        due_at = t["due_at"]
        rows.append(
            InboxRow(
                id=task_id,
                name=t["name"],
                instance_id=t["instance_id"],
                process_id=t["process_id"],
                process_title=titles.get(t["process_id"], t["process_id"]),
                subject_id=t["subject_id_cache"],
                subject_name=person.name if person else "",
                cycle=t["instance__cycle__name"] or "",
                due_at=due_at,
                overdue=due_at is not None and due_at < today,
                group=t["candidate_group"],
                candidates=tuple(str(c) for c in t["candidates"] or ()),
                assignee_id=t["assignee_id"],
                routing_note=t["routing_note"],
            )
        )
    return rows


async def nav_counts(person_id: int, groups: Iterable[str]) -> dict[str, int]:
    """The Inbox badge: tasks waiting on the person, and how many of them are overdue."""
    mine = await inbox_filter(person_id, groups)
    waiting = await HumanTask.filter(mine).count()
    overdue = await HumanTask.filter(mine, _overdue()).count() if waiting else 0
    return {"inbox": waiting, "overdue": overdue}


async def team_waiting(manager_id: int) -> int:
    """Open tasks held by the manager's reports, direct and indirect (the team's backlog)."""
    directory = await current_directory()
    team = directory.reports_of(manager_id, indirect=True)
    if not team:
        return 0
    return await HumanTask.filter(assignee_id__in=team, status="ready").count()


# -- claim and release ----------------------------------------------------------------------


def _involves(row: HumanTask, person_id: int, directory: DirectorySnapshot) -> bool:
    """Whether the person holds, held, completed or is a candidate for the task."""
    if person_id in (row.assignee_id, row.completed_by_id):
        return True
    return assignment.may_act(person_id, None, row.candidate_group, row.candidates, directory)


async def involved_task(task_id: int, person_id: int) -> HumanTask:
    """The task if the person is (or was) among those it waits on; NotFound otherwise."""
    directory = await current_directory()
    row = await HumanTask.get_or_none(id=task_id)
    if row is None or not _involves(row, person_id, directory):
        raise NotFound(f"no task {task_id}")
    return row


def _holder_name(row: HumanTask, directory: DirectorySnapshot) -> str:
    person = directory.person(row.assignee_id)
    return person.name if person else said("someone else")


def _owner_label(row: HumanTask) -> str:
    if row.candidate_group:
        group = (row.candidate_group.upper() if len(row.candidate_group) <= 3
                 else row.candidate_group.replace("_", " "))
        return said("the %(group)s group", group=group)
    return said("its candidates")


async def claim(task_id: int, actor_person_id: int, actor_label: str) -> TaskAction:
    """Claim a shared task for the person; a lost race is an outcome, not an error."""
    from engine.workflow import (
        runtime,  # runtime is heavy (SpiffWorkflow); the CLI lists without it
    )

    row = await involved_task(task_id, actor_person_id)
    task = pack_text(row.name)
    directory = await current_directory()
    actor = runtime.Actor(actor_person_id, actor_label)
    try:
        await runtime.claim_task(task_id, actor)
    except Conflict as refusal:
        return TaskAction(False, str(refusal))
    except NotAllowed:
        await row.refresh_from_db()
        if row.status != "ready":
            return TaskAction(False, said("'%(task)s' is no longer open.", task=task))
        holder = _holder_name(row, directory)
        return TaskAction(False, said("'%(task)s' was already claimed by %(holder)s.", task=task,
                                      holder=holder))
    subject = directory.person(row.subject_id_cache)
    if subject:
        return TaskAction(True, said("You claimed '%(task)s' for %(person)s; it is now yours "
                                     "alone.", task=task, person=subject.name))
    return TaskAction(True, said("You claimed '%(task)s'; it is now yours alone.", task=task))


async def release(task_id: int, actor_person_id: int, actor_label: str) -> TaskAction:
    """Give a claimed shared task back to its group; refusals come back as outcomes."""
    from engine.workflow import runtime

    row = await involved_task(task_id, actor_person_id)
    task = pack_text(row.name)
    directory = await current_directory()
    if row.status == "ready" and not is_shared(row.candidate_group, row.candidates):
        # A one-person task has nobody to go back to (the runtime would let it go unowned).
        return TaskAction(False, said("'%(task)s' is yours alone: it cannot be released.",
                                      task=task))
    try:
        await runtime.release_task(task_id, runtime.Actor(actor_person_id, actor_label))
    except Conflict as refusal:
        return TaskAction(False, str(refusal))
    except NotAllowed:
        await row.refresh_from_db()
        if row.assignee_id is None:
            return TaskAction(False, said("'%(task)s' is not claimed by anyone.", task=task))
        if row.assignee_id != actor_person_id:
            holder = _holder_name(row, directory)
            return TaskAction(False, said("'%(task)s' is held by %(holder)s, not by you.",
                                          task=task, holder=holder))
        return TaskAction(False, said("'%(task)s' is yours alone: it cannot be released.",
                                      task=task))
    return TaskAction(True, said("You released '%(task)s'; it is back with %(owner)s.",
                                 task=task, owner=_owner_label(row)))


# -- the CLI --------------------------------------------------------------------------------


async def open_tasks(person: str | int | None = None, limit: int = 500) -> list[TaskLine]:
    """Open tasks, optionally only those a person may act on."""
    directory = await current_directory()
    query = HumanTask.filter(status="ready")
    if person is not None:
        who = directory.person(person)
        if who is None:
            raise NotFound(f"no person '{person}' in the directory")
        query = HumanTask.filter(await inbox_filter(who.id, who.groups, directory))
    rows = await query.order_by("due_at", "id").limit(limit)
    lines = []
    for row in rows:
        holder = "nobody"
        if row.assignee_id is not None:
            p = directory.person(row.assignee_id)
            holder = f"{p.name} ({p.key})" if p else f"person {row.assignee_id}"
        elif row.candidate_group:
            holder = f"group:{row.candidate_group}"
        elif row.candidates:
            holder = ", ".join(str(c) for c in row.candidates)
        lines.append(TaskLine(row.id, row.name, row.instance_id, holder, row.due_at))
    return lines
