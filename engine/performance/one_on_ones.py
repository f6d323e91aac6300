"""Recurring 1:1s between a manager and a report: the series, its meetings, a shared agenda,
action items that carry over until done, shared and private notes, and the objectives
discussed.

Who may do what:
- A manager schedules a series with one of their direct reports (a report asks their manager
  in person: a series is the manager's commitment, so only the manager starts one). A pair has
  at most one running series.
- Both people add agenda items and actions, tick them, write the shared notes and link the
  report's objectives. Each writes private notes that only the author ever reads.
- The manager marks a meeting held or skipped, reschedules it, or ends the series.
- Anyone else gets NotFound, as if the series did not exist. HR reads `hr_overview`: which
  series exist and how many meetings were held, never notes, agenda or actions.

The next meeting always exists while a series runs: holding or skipping one schedules the next
from the cadence. Each meeting runs the pack's `[features.one_on_ones]` process (the standard
pack's `one_on_one`): it opens the manager's "Hold the 1:1" task, reminds both people before
the meeting and records the meeting when it is held. Marking the meeting held completes that
task — the one path: completing it from the inbox marks the meeting held too, the next time
anyone reads the series (either person's 1:1s, HR's overview, the year so far). Skipping a
meeting or ending the series sends the cancel signal, which ends the meeting's instance with
nothing recorded.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.base import clock
from engine.base.errors import EngineError, NotFound
from engine.base.models import (
    HumanTask,
    ObjectiveStatus,
    OneOnOneItem,
    OneOnOneMeeting,
    OneOnOneNote,
    OneOnOneSeries,
    ProcessInstance,
    Record,
)
from engine.packs.loading import OneOnOnesFeature
from engine.people.directory import DirectorySnapshot, PersonInfo, current_directory
from engine.performance.deployed_pack import current_features, newest_pack
from engine.performance.goals import objective_kinds
from engine.performance.objectives import with_keys
from engine.performance.progress import status_label
from engine.workflow import calendar_invites, runtime
from engine.workflow.access import SeesSubjects

# The meeting's page as the web app serves it: the process's task links to it.
MEETING_PATH = "/one-on-ones/meetings/{id}"
ITEM_MAX = 500
NOTES_MAX = 20000
DURATIONS = (15, 30, 45, 60, 90)
CADENCE_LABELS = {"weekly": "Weekly", "fortnightly": "Every two weeks", "monthly": "Monthly"}
KINDS = ("agenda", "action")


class OneOnOneError(EngineError):
    """A 1:1 request that cannot be done as asked; the message says why."""


# --- cadence arithmetic ------------------------------------------------------------------------


def _add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, on the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def occurrence(first_at: datetime, cadence: str, n: int) -> datetime:
    """The n-th meeting of a series (0: the first). Monthly meetings keep the first one's day
    of the month, on the month's last day when it is shorter (31 Jan, 28 Feb, 31 Mar)."""
    if cadence == "weekly":
        return first_at + timedelta(weeks=n)
    if cadence == "fortnightly":
        return first_at + timedelta(weeks=2 * n)
    if cadence == "monthly":
        return _add_months(first_at, n)
    raise OneOnOneError(f"'{cadence}' is not a cadence (known: {', '.join(CADENCE_LABELS)})")


def next_occurrence(first_at: datetime, cadence: str, after: datetime) -> datetime:
    """The series' first meeting time strictly after `after`: a meeting moved by a day or held
    late does not shift the rhythm the two people agreed."""
    if after < first_at:
        return first_at
    # Start near the answer, then step: a year of weekly meetings is 52 steps, not a search.
    days = (after - first_at).days
    n = {"weekly": days // 7, "fortnightly": days // 14}.get(cadence, days // 31)
    n = max(n - 1, 0)
    while True:
        candidate = occurrence(first_at, cadence, n)
        if candidate > after:
            return candidate
        n += 1


def parse_when(text: str) -> datetime:
    """A meeting time typed in a form ("2026-12-08T10:00" or "2026-12-08 10:00", the
    organisation's local time unless it names a zone), in UTC."""
    value = (text or "").strip()
    if not value:
        raise OneOnOneError("Give the meeting's date and time, such as 2026-12-08 10:00.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise OneOnOneError(
            f"'{value}' is not a date and time such as 2026-12-08 10:00."
        ) from None
    return clock.from_local(moment)


# --- what pages show ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    """An agenda item or action as a page shows it."""

    id: int
    kind: str
    text: str
    author: PersonInfo | None
    owner: PersonInfo | None
    done: bool
    done_at: datetime | None
    # The meeting the item was added in, and (actions) the meeting it was done in.
    meeting_id: int
    meeting_at: datetime
    done_meeting_id: int | None


@dataclass(frozen=True)
class ObjectiveChoice:
    """One of the report's objectives, with its latest in-year progress when there is one."""

    key: str
    title: str
    progress: str
    chosen: bool


@dataclass(frozen=True)
class MeetingSummary:
    """A meeting in a list: when, and what became of it."""

    id: int
    scheduled_at: datetime
    status: str
    held_at: datetime | None


@dataclass(frozen=True)
class SeriesSummary:
    """A series as the list of my 1:1s shows it."""

    id: int
    manager: PersonInfo
    report: PersonInfo
    role: str  # "manager" or "report": the viewer's side
    cadence: str
    cadence_label: str
    duration_minutes: int
    next_meeting: MeetingSummary | None
    open_actions: int
    held: int
    ended_at: datetime | None

    @property
    def other(self) -> PersonInfo:
        """The person the viewer meets."""
        return self.report if self.role == "manager" else self.manager


@dataclass
class MeetingView:
    """Everything the meeting page shows its viewer (never the other person's private notes)."""

    meeting: OneOnOneMeeting
    series: OneOnOneSeries
    manager: PersonInfo
    report: PersonInfo
    role: str
    agenda: list[ItemView]
    carried_actions: list[ItemView]
    actions: list[ItemView]
    private_notes: str
    objectives: list[ObjectiveChoice]
    past: list[MeetingSummary]
    next_meeting: MeetingSummary | None
    cadence_label: str
    hold_task_id: int | None = None
    participants: list[PersonInfo] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Whether the meeting is still to be held (agenda and notes can change)."""
        return self.meeting.status == "scheduled" and self.series.ended_at is None

    @property
    def can_manage(self) -> bool:
        """Whether the viewer may mark it held, skip, reschedule or end the series."""
        return self.role == "manager" and self.is_open

    @property
    def other(self) -> PersonInfo:
        """The person the viewer meets."""
        return self.report if self.role == "manager" else self.manager


@dataclass(frozen=True)
class OverviewRow:
    """A series as HR sees it: who, how often, how many held — no notes."""

    id: int
    manager: PersonInfo | None
    report: PersonInfo | None
    cadence_label: str
    created_at: datetime
    held: int
    last_held_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class HistoryAction:
    """An action as the history reports it."""

    text: str
    owner: str
    done: bool


@dataclass(frozen=True)
class HistoryEntry:
    """A held meeting for the year-end context: never anyone's private notes."""

    meeting_id: int
    held_at: datetime
    manager: str
    shared_notes: str
    objectives: list[str]
    actions: list[HistoryAction]


# --- reading ----------------------------------------------------------------------------------


async def feature() -> OneOnOnesFeature:
    """The `[features.one_on_ones]` of the newest deployed pack."""
    return (await current_features()).one_on_ones


async def allowed_cadences() -> list[tuple[str, str]]:
    """The cadences the pack allows, as (value, label) pairs."""
    return [(c, CADENCE_LABELS[c]) for c in (await feature()).cadences]


def _role(series: OneOnOneSeries, viewer_id: int) -> str:
    if viewer_id == series.manager_id:
        return "manager"
    if viewer_id == series.report_id:
        return "report"
    # Not a participant: the series does not exist for them.
    raise NotFound("no such 1:1")


async def _series(series_id: int, viewer_id: int) -> tuple[OneOnOneSeries, str]:
    series = await OneOnOneSeries.get_or_none(id=series_id)
    if series is None:
        raise NotFound("no such 1:1")
    return series, _role(series, viewer_id)


async def _meeting(meeting_id: int, viewer_id: int) -> tuple[OneOnOneMeeting, OneOnOneSeries, str]:
    meeting = await OneOnOneMeeting.get_or_none(id=meeting_id)
    if meeting is None:
        raise NotFound("no such 1:1 meeting")
    series, role = await _series(meeting.series_id, viewer_id)
    await _settle(series)
    await meeting.refresh_from_db()
    return meeting, series, role


def _person(directory: DirectorySnapshot, person_id: int | None) -> PersonInfo | None:
    return directory.person(person_id) if person_id is not None else None


def _known(directory: DirectorySnapshot, person_id: int) -> PersonInfo:
    person = directory.person(person_id)
    if person is None:
        raise NotFound(f"no person {person_id} in the directory")
    return person


def _summary(meeting: OneOnOneMeeting) -> MeetingSummary:
    return MeetingSummary(meeting.id, meeting.scheduled_at, meeting.status, meeting.held_at)


async def my_series(viewer_id: int) -> list[SeriesSummary]:
    """The viewer's running 1:1s — as manager (one per report) and as report — then ended
    ones, the soonest next meeting first."""
    directory = await current_directory()
    rows = await OneOnOneSeries.filter(manager_id=viewer_id).all()
    rows += await OneOnOneSeries.filter(report_id=viewer_id).all()
    for series in rows:
        await _settle(series)
    ids = [s.id for s in rows]
    upcoming = {
        m.series_id: m
        for m in await OneOnOneMeeting.filter(series_id__in=ids, status="scheduled")
    }
    held = Counter(m.series_id for m in await OneOnOneMeeting.filter(
        series_id__in=ids, status="held").only("id", "series_id"))
    open_actions = Counter(i.series_id for i in await OneOnOneItem.filter(
        series_id__in=ids, kind="action", done_at=None).only("id", "series_id"))
    found = []
    for s in rows:
        manager, report = directory.person(s.manager_id), directory.person(s.report_id)
        if manager is None or report is None:
            continue
        next_meeting = upcoming.get(s.id) if s.ended_at is None else None
        found.append(SeriesSummary(
            id=s.id, manager=manager, report=report, role=_role(s, viewer_id),
            cadence=s.cadence, cadence_label=CADENCE_LABELS.get(s.cadence, s.cadence),
            duration_minutes=s.duration_minutes,
            next_meeting=_summary(next_meeting) if next_meeting else None,
            open_actions=open_actions.get(s.id, 0), held=held.get(s.id, 0),
            ended_at=s.ended_at,
        ))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(found, key=lambda s: (
        s.ended_at is not None,
        s.next_meeting.scheduled_at if s.next_meeting else far,
        s.other.name,
    ))


async def reports_without_series(manager_id: int) -> list[PersonInfo]:
    """The manager's direct reports who have no running 1:1 with them yet."""
    directory = await current_directory()
    running = {s.report_id for s in await OneOnOneSeries.filter(
        manager_id=manager_id, ended_at=None).only("id", "report_id")}
    people = (directory.person(pid) for pid in directory.reports_of(manager_id))
    return sorted((p for p in people if p is not None and p.active and p.id not in running),
                  key=lambda p: p.name)


def _item_view(item: OneOnOneItem, directory: DirectorySnapshot,
               meeting_at: dict[int, datetime]) -> ItemView:
    return ItemView(
        id=item.id, kind=item.kind, text=item.text,
        author=_person(directory, item.author_id), owner=_person(directory, item.owner_id),
        done=item.done_at is not None, done_at=item.done_at,
        meeting_id=item.meeting_id, meeting_at=meeting_at.get(item.meeting_id, item.created_at),
        done_meeting_id=item.done_meeting_id,
    )


async def report_objectives(report_id: int) -> tuple[int | None, list[dict[str, Any]]]:
    """The report's current objectives (their newest objectives-bearing record, keyed), and
    the cycle they belong to."""
    kinds = objective_kinds((await current_features()).records)
    record = await Record.filter(person_id=report_id, kind__in=kinds).order_by("-id").first()
    if record is None or not isinstance(record.data, dict):
        return None, []
    objectives = record.data.get("objectives")
    if not isinstance(objectives, list):
        return record.cycle_id, []
    return record.cycle_id, with_keys([o for o in objectives if isinstance(o, dict)])


def _progress_text(row: ObjectiveStatus) -> str:
    parts = [status_label(row.status)] if row.status else []
    if row.actual is not None:
        parts.append(f"actual {row.actual:g}")
    return ", ".join(p for p in parts if p)


async def _objective_choices(report_id: int, chosen: Sequence[str]) -> list[ObjectiveChoice]:
    cycle_id, objectives = await report_objectives(report_id)
    progress: dict[str, str] = {}
    if cycle_id is not None and objectives:
        for row in await ObjectiveStatus.filter(person_id=report_id, cycle_id=cycle_id):
            progress[row.objective_key] = _progress_text(row)
    choices = [
        ObjectiveChoice(o["key"], str(o.get("title") or o["key"]), progress.get(o["key"], ""),
                        o["key"] in chosen)
        for o in objectives
    ]
    # An objective discussed earlier and since dropped stays listed, so the record stays true.
    known = {c.key for c in choices}
    choices += [ObjectiveChoice(k, k, "", True) for k in chosen if k not in known]
    return choices


async def meeting_view(meeting_id: int, viewer_id: int) -> MeetingView:
    """The meeting page for one of its two participants (NotFound for anyone else)."""
    meeting, series, role = await _meeting(meeting_id, viewer_id)
    directory = await current_directory()
    meetings = await OneOnOneMeeting.filter(series_id=series.id).order_by("scheduled_at")
    when = {m.id: m.scheduled_at for m in meetings}
    items = await OneOnOneItem.filter(series_id=series.id).order_by("created_at", "id")
    agenda = [_item_view(i, directory, when) for i in items
              if i.kind == "agenda" and i.meeting_id == meeting.id]
    actions = [_item_view(i, directory, when) for i in items
               if i.kind == "action" and i.meeting_id == meeting.id]
    earlier = {m.id for m in meetings if m.scheduled_at < meeting.scheduled_at}
    carried = [
        _item_view(i, directory, when) for i in items
        if i.kind == "action" and i.meeting_id in earlier
        # Open ones, and the ones done in this very meeting (ticked here).
        and (i.done_at is None or i.done_meeting_id == meeting.id)
    ]
    note = await OneOnOneNote.get_or_none(meeting_id=meeting.id, author_id=viewer_id)
    past = [_summary(m) for m in reversed(meetings)
            if m.id != meeting.id and m.status != "scheduled"]
    upcoming = [m for m in meetings if m.status == "scheduled" and m.id != meeting.id]
    hold_task = None
    if meeting.status == "scheduled" and series.instance_id is not None:
        hold_task = await HumanTask.get_or_none(
            instance_id=series.instance_id, bpmn_id=(await feature()).hold_task, status="ready"
        )
    manager, report = _known(directory, series.manager_id), _known(directory, series.report_id)
    return MeetingView(
        meeting=meeting, series=series, manager=manager, report=report, role=role,
        agenda=agenda, carried_actions=carried, actions=actions,
        private_notes=note.text if note else "",
        objectives=await _objective_choices(series.report_id, meeting.objective_keys or []),
        past=past, next_meeting=_summary(upcoming[0]) if upcoming else None,
        cadence_label=CADENCE_LABELS.get(series.cadence, series.cadence),
        hold_task_id=hold_task.id if hold_task else None,
        participants=[manager, report],
    )


async def current_meeting_id(series_id: int, viewer_id: int) -> int:
    """The series' next meeting (its newest held one once the series ended)."""
    series, _ = await _series(series_id, viewer_id)
    await _settle(series)
    meeting = (
        await OneOnOneMeeting.filter(series_id=series.id, status="scheduled").first()
        or await OneOnOneMeeting.filter(series_id=series.id).order_by("-scheduled_at").first()
    )
    if meeting is None:
        raise NotFound("no such 1:1")
    return meeting.id


async def hr_overview(subject_ids: set[int] | None = None) -> list[OverviewRow]:
    """Every series (of the people given; None: everyone) with how many meetings were held —
    what HR may know of 1:1s. No notes, agenda or actions."""
    directory = await current_directory()
    query = OneOnOneSeries.all()
    if subject_ids is not None:
        query = query.filter(report_id__in=list(subject_ids))
    rows = await query.order_by("id")
    await _settle_finished(rows)
    held: dict[int, list[datetime]] = {}
    for series_id, held_at in await OneOnOneMeeting.filter(
        series_id__in=[s.id for s in rows], status="held"
    ).values_list("series_id", "held_at"):
        held.setdefault(series_id, []).append(held_at)
    return [
        OverviewRow(
            id=s.id, manager=directory.person(s.manager_id), report=directory.person(s.report_id),
            cadence_label=CADENCE_LABELS.get(s.cadence, s.cadence), created_at=s.created_at,
            held=len(held.get(s.id, [])),
            last_held_at=max((h for h in held.get(s.id, []) if h), default=None),
            ended_at=s.ended_at,
        )
        for s in rows
    ]


async def one_on_one_history(
    subject_id: int, since: datetime | None, until: datetime | None, viewer: SeesSubjects
) -> list[HistoryEntry]:
    """The held meetings of the subject's 1:1s (as report) between `since` and `until`: date,
    shared notes, objectives discussed, actions and whether they are done. Never private
    notes. Only the subject, their current manager and the managers they met see it; anyone
    else — HR included — gets an empty list, since 1:1 notes stay between the two people."""
    directory = await current_directory()
    current_manager = directory.manager_of(subject_id)
    series = await OneOnOneSeries.filter(report_id=subject_id).all()
    allowed = {subject_id, *(s.manager_id for s in series)}
    if current_manager is not None:
        allowed.add(current_manager.id)
    if viewer.person_id not in allowed or not series:
        return []
    await _settle_finished(series)
    by_series = {s.id: s for s in series}
    query = OneOnOneMeeting.filter(series_id__in=list(by_series), status="held")
    if since is not None:
        query = query.filter(held_at__gte=since)
    if until is not None:
        query = query.filter(held_at__lte=until)
    meetings = await query.order_by("held_at")
    actions: dict[int, list[HistoryAction]] = {}
    for item in await OneOnOneItem.filter(
        meeting_id__in=[m.id for m in meetings], kind="action"
    ).order_by("id"):
        owner = directory.person(item.owner_id) if item.owner_id else None
        actions.setdefault(item.meeting_id, []).append(
            HistoryAction(item.text, owner.name if owner else "", item.done_at is not None)
        )
    _, objectives = await report_objectives(subject_id)
    titles = {o["key"]: str(o.get("title") or o["key"]) for o in objectives}
    entries = []
    for m in meetings:
        manager = directory.person(by_series[m.series_id].manager_id)
        entries.append(HistoryEntry(
            meeting_id=m.id, held_at=m.held_at or m.scheduled_at,
            manager=manager.name if manager else "",
            shared_notes=m.shared_notes,
            objectives=[titles.get(k, k) for k in (m.objective_keys or [])],
            actions=actions.get(m.id, []),
        ))
    return entries


# --- scheduling and the meeting's process ------------------------------------------------------


async def _start_meeting_process(series: OneOnOneSeries, meeting: OneOnOneMeeting,
                                 actor: runtime.Actor) -> int | None:
    """Start the pack's process for a meeting; None when no pack deploys one (the series then
    runs without reminders)."""
    features = await feature()
    pack = await newest_pack()
    remind_at = meeting.scheduled_at - _duration(features.reminder)
    data = {
        "series_id": series.id,
        "meeting_id": meeting.id,
        "meeting_at": meeting.scheduled_at.isoformat(),
        "remind_at": remind_at.isoformat(),
        "meeting_url": MEETING_PATH.format(id=meeting.id),
    }
    try:
        instance = await runtime.start_process(
            features.process, subject=series.report_id, actor=actor, data=data,
            pack=pack.name or None,
        )
    except NotFound:
        return None
    return instance.id


_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def _duration(text: str) -> timedelta:
    """An ISO 8601 duration as a timedelta (a month counts 30 days, a year 365)."""
    m = _DURATION.match(text.strip().upper())
    if m is None:
        return timedelta(days=1)
    y, mo, w, d, h, mi, s = (int(g or 0) for g in m.groups())
    return timedelta(days=365 * y + 30 * mo + 7 * w + d, hours=h, minutes=mi, seconds=s)


async def _cancel_meeting_process(series: OneOnOneSeries, actor: runtime.Actor) -> None:
    """End the waiting instance of the series' current meeting (skipped, moved or ended)."""
    if series.instance_id is None:
        return
    signal = (await feature()).cancel_signal
    await runtime.send_signal(signal, [series.instance_id], actor)


async def _new_meeting(series: OneOnOneSeries, when: datetime, actor: runtime.Actor) -> int:
    meeting = await OneOnOneMeeting.create(series_id=series.id, scheduled_at=when,
                                           status="scheduled", objective_keys=[])
    await calendar_invites.one_on_one_invitation(
        meeting.id, when, series.duration_minutes, series.manager_id, series.report_id)
    series.instance_id = await _start_meeting_process(series, meeting, actor)
    await OneOnOneSeries.filter(id=series.id).update(instance_id=series.instance_id)
    return meeting.id


async def schedule_series(
    actor: runtime.Actor, report_id: int, cadence: str, first_at: datetime,
    duration_minutes: int = 30,
) -> int:
    """A manager schedules a recurring 1:1 with one of their direct reports; returns the first
    meeting's id. The cadence must be one the pack allows; the first meeting is in the future."""
    if actor.person_id is None:
        raise OneOnOneError("Only a person can schedule a 1:1.")
    directory = await current_directory()
    report = directory.person(report_id)
    manager = _known(directory, actor.person_id)
    if report is None or report.manager_id != manager.id:
        raise OneOnOneError("You can schedule 1:1s only with your own direct reports.")
    allowed = (await feature()).cadences
    if cadence not in allowed:
        labels = ", ".join(CADENCE_LABELS[c].lower() for c in allowed)
        raise OneOnOneError(f"Choose how often you meet: {labels}.")
    if duration_minutes not in DURATIONS:
        raise OneOnOneError(
            f"A 1:1 lasts {', '.join(str(d) for d in DURATIONS)} minutes; "
            f"{duration_minutes} is not one of them."
        )
    first_at = first_at.astimezone(UTC).replace(second=0, microsecond=0)
    if first_at <= clock.now():
        raise OneOnOneError(
            f"The first meeting must be in the future, not {clock.wall_time(first_at)}."
        )
    if await OneOnOneSeries.filter(manager_id=manager.id, report_id=report.id,
                                   ended_at=None).exists():
        raise OneOnOneError(f"You already have a recurring 1:1 with {report.name}.")
    series = await OneOnOneSeries.create(
        manager_id=manager.id, report_id=report.id, cadence=cadence,
        duration_minutes=duration_minutes, first_at=first_at, created_at=clock.now(),
        created_by=actor.label,
    )
    return await _new_meeting(series, first_at, actor)


async def _settle(series: OneOnOneSeries) -> None:
    """Catch up with the meeting's process: a "Hold the 1:1" task completed from the inbox
    marks the meeting held (with the notes typed there) and schedules the next one."""
    if series.ended_at is not None or series.instance_id is None:
        return
    instance = await ProcessInstance.get_or_none(id=series.instance_id)
    if instance is None or instance.status != "completed":
        return
    task = await HumanTask.filter(
        instance_id=series.instance_id, bpmn_id=(await feature()).hold_task, status="completed"
    ).first()
    meeting = await OneOnOneMeeting.filter(series_id=series.id, status="scheduled").first()
    if task is None or meeting is None:
        return
    submitted = task.submitted if isinstance(task.submitted, dict) else {}
    notes = str(submitted.get("shared_notes") or "")
    await _held(series, meeting, task.completed_at or clock.now(), notes,
                await runtime.actor_for(series.manager_id))


async def _settle_finished(series: Iterable[OneOnOneSeries]) -> None:
    """`_settle` each open series whose meeting process has finished, so what is counted
    across series (HR's overview, the year so far) reads a meeting held from the inbox as held."""
    open_series = [s for s in series if s.ended_at is None and s.instance_id is not None]
    if not open_series:
        return
    finished: set[Any] = set(await ProcessInstance.filter(
        id__in=[s.instance_id for s in open_series], status="completed"
    ).values_list("id", flat=True))
    for found in open_series:
        if found.instance_id in finished:
            await _settle(found)


async def _held(series: OneOnOneSeries, meeting: OneOnOneMeeting, held_at: datetime,
                notes_from_task: str, actor: runtime.Actor) -> None:
    """Mark `meeting` held (once: the conditional update decides a race) and schedule the next."""
    values: dict[str, Any] = {"status": "held", "held_at": held_at}
    if notes_from_task and not meeting.shared_notes:
        values["shared_notes"] = notes_from_task[:NOTES_MAX]
    won = await OneOnOneMeeting.filter(id=meeting.id, status="scheduled").update(**values)
    if won:
        after = max(meeting.scheduled_at, clock.now())
        await _new_meeting(series, next_occurrence(series.first_at, series.cadence, after), actor)


async def _manager_meeting(meeting_id: int, actor: runtime.Actor
                           ) -> tuple[OneOnOneMeeting, OneOnOneSeries]:
    if actor.person_id is None:
        raise NotFound("no such 1:1 meeting")
    meeting, series, role = await _meeting(meeting_id, actor.person_id)
    if role != "manager":
        raise OneOnOneError("Only the manager marks a 1:1 held, skips, moves or ends it.")
    if series.ended_at is not None:
        raise OneOnOneError("This 1:1 series has ended.")
    if meeting.status != "scheduled":
        raise OneOnOneError(f"This meeting was already {meeting.status}.")
    return meeting, series


async def mark_held(meeting_id: int, actor: runtime.Actor) -> int:
    """The manager marks the meeting held: completes their "Hold the 1:1" task with the
    meeting's shared notes, actions and objectives (the process records it) and schedules the
    next meeting; returns the next meeting's id."""
    meeting, series = await _manager_meeting(meeting_id, actor)
    features = await feature()
    task = None
    if series.instance_id is not None:
        task = await HumanTask.get_or_none(
            instance_id=series.instance_id, bpmn_id=features.hold_task, status="ready"
        )
    if task is not None:
        directory = await current_directory()
        items = await OneOnOneItem.filter(series_id=series.id, kind="action").order_by("id")
        owners = {p.id: p.name for p in (_known(directory, series.manager_id),
                                         _known(directory, series.report_id))}
        # This meeting's actions, the ones still open and the ones done in it.
        actions = [
            {"text": i.text, "owner": owners.get(i.owner_id or 0, ""),
             "done": i.done_at is not None}
            for i in items
            if i.meeting_id == meeting.id or i.done_at is None or i.done_meeting_id == meeting.id
        ]
        await runtime.complete_task(task.id, actor, {
            "held_on": clock.now().date().isoformat(),
            "shared_notes": meeting.shared_notes,
            "actions": actions,
            "objectives_discussed": list(meeting.objective_keys or []),
            "meeting_id": meeting.id,
        })
    await _held(series, meeting, clock.now(), "", actor)
    return await current_meeting_id(series.id, actor.person_id or 0)


async def skip_meeting(meeting_id: int, actor: runtime.Actor) -> int:
    """The manager skips the meeting: its process ends with nothing recorded, its open
    actions carry over, and the next meeting is scheduled; returns the next meeting's id."""
    meeting, series = await _manager_meeting(meeting_id, actor)
    await _cancel_meeting_process(series, actor)
    won = await OneOnOneMeeting.filter(id=meeting.id, status="scheduled").update(
        status="skipped")
    if won:
        await calendar_invites.one_on_one_invitation(
            meeting.id, meeting.scheduled_at, series.duration_minutes, series.manager_id,
            series.report_id, calendar_invites.CANCEL)
        after = max(meeting.scheduled_at, clock.now())
        await _new_meeting(series, next_occurrence(series.first_at, series.cadence, after), actor)
    return await current_meeting_id(series.id, actor.person_id or 0)


async def reschedule(meeting_id: int, actor: runtime.Actor, when: datetime) -> None:
    """The manager moves the meeting: the reminder follows it (its process starts again)."""
    meeting, series = await _manager_meeting(meeting_id, actor)
    when = when.astimezone(UTC).replace(second=0, microsecond=0)
    if when <= clock.now():
        raise OneOnOneError(f"Move the meeting to a time in the future, not "
                            f"{clock.wall_time(when)}.")
    await _cancel_meeting_process(series, actor)
    meeting.scheduled_at = when
    await meeting.save(update_fields=["scheduled_at"])
    await calendar_invites.one_on_one_invitation(
        meeting.id, when, series.duration_minutes, series.manager_id, series.report_id,
        moved=True)
    series.instance_id = await _start_meeting_process(series, meeting, actor)
    await OneOnOneSeries.filter(id=series.id).update(instance_id=series.instance_id)


async def end_series(series_id: int, actor: runtime.Actor) -> None:
    """The manager ends the series: the waiting meeting's process ends, nothing more is
    scheduled; held meetings, notes and actions stay readable to both."""
    if actor.person_id is None:
        raise NotFound("no such 1:1")
    series, role = await _series(series_id, actor.person_id)
    if role != "manager":
        raise OneOnOneError("Only the manager ends a 1:1 series.")
    if series.ended_at is not None:
        raise OneOnOneError("This 1:1 series has already ended.")
    await _settle(series)
    await _cancel_meeting_process(series, actor)
    waiting = await OneOnOneMeeting.filter(series_id=series.id, status="scheduled")
    await OneOnOneMeeting.filter(series_id=series.id, status="scheduled").update(
        status="skipped")
    for meeting in waiting:
        await calendar_invites.one_on_one_invitation(
            meeting.id, meeting.scheduled_at, series.duration_minutes, series.manager_id,
            series.report_id, calendar_invites.CANCEL)
    await OneOnOneSeries.filter(id=series.id).update(ended_at=clock.now(), instance_id=None)


# --- agenda, actions, notes, objectives --------------------------------------------------------


def _clean_text(text: str, what: str, limit: int = ITEM_MAX) -> str:
    value = " ".join((text or "").split())
    if not value:
        raise OneOnOneError(f"Write the {what} first.")
    if len(value) > limit:
        raise OneOnOneError(f"The {what} is {len(value)} characters long; keep it to {limit}.")
    return value


async def add_item(meeting_id: int, viewer_id: int, kind: str, text: str,
                   owner_id: int | None = None) -> int:
    """Either participant adds an agenda item or an action (with its owner: one of the two)
    to a meeting still to be held; returns the item's id."""
    meeting, series, _ = await _meeting(meeting_id, viewer_id)
    if kind not in KINDS:
        raise OneOnOneError(f"'{kind}' is not an agenda item or an action.")
    if meeting.status != "scheduled" or series.ended_at is not None:
        raise OneOnOneError("This meeting is over: add it to the next one.")
    value = _clean_text(text, "agenda item" if kind == "agenda" else "action")
    owner = None
    if kind == "action":
        owner = owner_id if owner_id is not None else viewer_id
        if owner not in (series.manager_id, series.report_id):
            raise OneOnOneError("An action belongs to one of the two people in the 1:1.")
    item = await OneOnOneItem.create(
        series_id=series.id, meeting_id=meeting.id, kind=kind, author_id=viewer_id,
        owner_id=owner, text=value, created_at=clock.now(),
    )
    return item.id


async def set_item_done(item_id: int, viewer_id: int, done: bool,
                        meeting_id: int | None = None) -> None:
    """Tick (or untick) an agenda item or action. An action done is recorded against the
    meeting it was ticked in (the series' next meeting when none is given)."""
    item = await OneOnOneItem.get_or_none(id=item_id)
    if item is None:
        raise NotFound("no such item")
    series, _ = await _series(item.series_id, viewer_id)
    if meeting_id is None:
        meeting_id = await current_meeting_id(series.id, viewer_id)
    meeting = await OneOnOneMeeting.get_or_none(id=meeting_id, series_id=series.id)
    if meeting is None:
        raise NotFound("no such 1:1 meeting")
    if meeting.status != "scheduled" or series.ended_at is not None:
        raise OneOnOneError("This meeting is over: tick it on the next one.")
    if done:
        await OneOnOneItem.filter(id=item.id).update(done_at=clock.now(),
                                                     done_meeting_id=meeting.id)
    else:
        await OneOnOneItem.filter(id=item.id).update(done_at=None, done_meeting_id=None)


async def save_shared_notes(meeting_id: int, viewer_id: int, text: str) -> None:
    """Either participant writes the meeting's shared notes (until it is held)."""
    meeting, series, _ = await _meeting(meeting_id, viewer_id)
    if meeting.status != "scheduled" or series.ended_at is not None:
        raise OneOnOneError("The shared notes of a meeting already held are kept as they were.")
    value = (text or "").strip()
    if len(value) > NOTES_MAX:
        raise OneOnOneError(f"The notes are {len(value)} characters long; keep them to "
                            f"{NOTES_MAX}.")
    await OneOnOneMeeting.filter(id=meeting.id).update(shared_notes=value)


async def save_private_notes(meeting_id: int, viewer_id: int, text: str) -> None:
    """The viewer's own notes on a meeting: nobody else ever reads them."""
    meeting, _, _ = await _meeting(meeting_id, viewer_id)
    value = (text or "").strip()
    if len(value) > NOTES_MAX:
        raise OneOnOneError(f"The notes are {len(value)} characters long; keep them to "
                            f"{NOTES_MAX}.")
    updated = await OneOnOneNote.filter(meeting_id=meeting.id, author_id=viewer_id).update(
        text=value, updated_at=clock.now())
    if not updated:
        await OneOnOneNote.create(meeting_id=meeting.id, author_id=viewer_id, text=value,
                                  updated_at=clock.now())


async def set_objectives(meeting_id: int, viewer_id: int, keys: Iterable[str]) -> None:
    """The report's objectives discussed in the meeting, by stable key."""
    meeting, series, _ = await _meeting(meeting_id, viewer_id)
    if meeting.status != "scheduled" or series.ended_at is not None:
        raise OneOnOneError("This meeting is over: link objectives on the next one.")
    _, objectives = await report_objectives(series.report_id)
    known = {o["key"] for o in objectives} | set(meeting.objective_keys or [])
    chosen = list(dict.fromkeys(k for k in keys if k))
    unknown = [k for k in chosen if k not in known]
    if unknown:
        raise OneOnOneError(f"'{unknown[0]}' is not one of the objectives of this 1:1.")
    await OneOnOneMeeting.filter(id=meeting.id).update(objective_keys=chosen)


# --- the demo ----------------------------------------------------------------------------------


async def seed_demo(manager_key: str, report_key: str) -> int | None:
    """A weekly 1:1 between a demo manager and their report: two meetings held with notes,
    one action done and one carried over, and the next meeting tomorrow. Earlier meetings are
    written at their own times on the engine's clock. Returns the next meeting's id (None
    when the two people are not manager and report)."""
    directory = await current_directory()
    manager, report = directory.person(manager_key), directory.person(report_key)
    if manager is None or report is None or report.manager_id != manager.id:
        return None
    actor = await runtime.actor_for(manager.id)
    now = clock.now()
    first = datetime.combine(now.date() - timedelta(days=13), datetime.min.time(), UTC)
    first = first.replace(hour=10)
    _, objectives = await report_objectives(report.id)
    keys = [o["key"] for o in objectives[:2]]
    with clock.frozen_at(first - timedelta(days=2)):
        meeting = await schedule_series(actor, report.id, "weekly", first, 30)
        await add_item(meeting, report.id, "agenda", "How the release went")
        await add_item(meeting, manager.id, "agenda", "Training budget for next quarter")
        course = await add_item(meeting, manager.id, "action", "Book the data-modelling course",
                                owner_id=manager.id)
        await add_item(meeting, report.id, "action", "Write up the on-call runbook",
                       owner_id=report.id)
        await save_private_notes(meeting, manager.id, "Seems stretched; check the workload.")
    with clock.frozen_at(first + timedelta(minutes=20)):
        await save_shared_notes(meeting, manager.id,
                                "Release went out on time. Agreed the course and a runbook.")
        if keys:
            await set_objectives(meeting, manager.id, keys[:1])
        second = await mark_held(meeting, actor)
    with clock.frozen_at(first + timedelta(days=6)):
        await add_item(second, report.id, "agenda", "Feedback on the runbook draft")
        await set_item_done(course, manager.id, True, second)
    with clock.frozen_at(first + timedelta(days=7, minutes=25)):
        await save_shared_notes(
            second, report.id,
            "Course booked for next month. Runbook half done; review next week.")
        if keys:
            await set_objectives(second, report.id, keys)
        return await mark_held(second, actor)
