"""The year so far: what an appraisal's subject received and discussed during the cycle —
feedback (with the receiver's responses), check-ins, praise and 1:1s held — for the person
working one of the appraisal's tasks, each piece only as that person may read it.

Which tasks show it is the pack's `[features.year_context] tasks`. The period is the cycle's:
from its start day (else a year before its end) to its due day (else today).

The panel is a list of sections, each read by one function of `SECTIONS` from a `YearQuery`
(subject, period, viewer). Another kind of history joins the panel by adding its reader there,
as the 1:1s did; the page shows every section the same way (`YearItem`s), so it needs no change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.i18n import Said, said, said_together
from engine.base.models import Cycle, HumanTask, ProcessInstance, Record
from engine.packs.loading import Features
from engine.people.assignment import may_act
from engine.people.directory import DirectorySnapshot, PersonInfo, current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.performance.feedback import responses_of
from engine.performance.one_on_ones import one_on_one_history
from engine.performance.recognition import praise_received
from engine.performance.scorecard import may_read_feedback
from engine.workflow.access import SeesSubjects

# "The year so far" of a cycle that names no start day.
YEAR = timedelta(days=365)


@dataclass(frozen=True)
class YearQuery:
    """Whose year, which days, and who is looking."""

    subject_id: int
    since: date
    until: date
    viewer: SeesSubjects
    directory: DirectorySnapshot
    features: Features

    def name(self, person_id: Any) -> str:
        """A person's name, or "Someone" for an id the directory no longer has."""
        found = self.directory.person(person_id) if person_id is not None else None
        return found.name if found is not None else said("Someone")


@dataclass(frozen=True)
class YearItem:
    """One entry of a section: who and what in a line, the text, and a note under it (a
    response, agreed next steps) — the page shows every section's items alike."""

    headline: str
    text: str = ""
    when: datetime | None = None
    badge: str = ""
    note_label: str = ""
    note: str = ""


@dataclass(frozen=True)
class YearSection:
    """One part of the panel ("Feedback received", "Check-ins", "Praise")."""

    key: str
    title: str
    items: list[YearItem]
    empty: str


@dataclass
class YearContext:
    """The panel for one task: whose year, which days, and its sections."""

    subject: PersonInfo
    since: date
    until: date
    sections: list[YearSection] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many entries all sections hold."""
        return sum(len(s.items) for s in self.sections)


SectionReader = Callable[[YearQuery], Awaitable[YearSection]]


def _between(query: YearQuery) -> dict[str, datetime]:
    zone = clock.now().tzinfo
    return {
        "created_at__gte": datetime.combine(query.since, time.min, zone),
        "created_at__lt": datetime.combine(query.until + timedelta(days=1), time.min, zone),
    }


async def feedback_section(query: YearQuery) -> YearSection:
    """Feedback about the subject the viewer may read, with the subject's responses."""
    rows = [
        row
        for row in await Record.filter(
            kind=query.features.records.feedback, person_id=query.subject_id, **_between(query)
        ).order_by("-id")
        if isinstance(row.data, dict)
        and may_read_feedback(row.data, query.subject_id, query.viewer, query.directory)
    ]
    responses = await responses_of(
        [row.instance_id for row in rows if row.instance_id is not None],
        query.features.records.feedback_response,
    )
    items = []
    for row in rows:
        topic = str(row.data.get("topic") or "")
        response = responses.get(row.instance_id) if row.instance_id is not None else None
        note_label, note = "", ""
        if response is not None:
            if response.is_reply:
                note_label, note = said("Reply"), response.text
            else:
                note_label = said("Acknowledged")
        items.append(YearItem(
            headline=said("From %(name)s on %(topic)s", name=query.name(row.data.get("from_id")),
                          topic=topic) if topic
            else said("From %(name)s", name=query.name(row.data.get("from_id"))),
            text=str(row.data.get("text") or ""),
            when=row.created_at,
            badge=said("Managers only") if row.data.get("visibility") == "manager" else "",
            note_label=note_label,
            note=note,
        ))
    return YearSection("feedback", said("Feedback received"), items,
                       said("No feedback in this period."))


def _may_read_checkin(data: Mapping[str, Any], query: YearQuery) -> bool:
    """The two people in the check-in, and the subject's managers."""
    viewer = query.viewer.person_id
    if viewer in (data.get("by_id"), data.get("with_id"), query.subject_id):
        return True
    return query.directory.is_manager_of(viewer, query.subject_id)


def _action_line(action: Any) -> Said:
    """An agreed action of a 1:1 in a line: what, who, and whether it is done."""
    if action.owner:
        if action.done:
            return said("%(text)s (%(owner)s, done)", text=action.text, owner=action.owner)
        return said("%(text)s (%(owner)s, open)", text=action.text, owner=action.owner)
    if action.done:
        return said("%(text)s (done)", text=action.text)
    return said("%(text)s (open)", text=action.text)


async def checkin_section(query: YearQuery) -> YearSection:
    """Check-ins recorded for the subject: topics and agreed next steps for the two people in
    it and the subject's managers; coaching notes only as their writer shared them."""
    items = []
    for row in await Record.filter(
        kind=query.features.records.checkin, person_id=query.subject_id, **_between(query)
    ).order_by("-id"):
        data = row.data if isinstance(row.data, dict) else {}
        if not _may_read_checkin(data, query):
            continue
        people = {data.get("by_id"), data.get("with_id")} - {None}
        other = next((p for p in people if p != query.subject_id), None)
        text = str(data.get("topics") or "")
        notes = str(data.get("coaching_notes") or "")
        readers = (data.get("by_id"),) if data.get("visibility") == "private" else tuple(people)
        if notes and query.viewer.person_id in readers:
            coaching = said("Coaching notes: %(notes)s", notes=notes)
            text = said_together([text, coaching], "\n\n") if text else notes
        items.append(YearItem(
            headline=said("Check-in with %(name)s", name=query.name(other)) if other
            else said("Check-in"),
            text=text,
            when=row.created_at,
            note_label=said("Next steps") if data.get("next_steps") else "",
            note=str(data.get("next_steps") or ""),
        ))
    return YearSection("checkins", said("Check-ins"), items,
                       said("No check-ins in this period."))


async def praise_section(query: YearQuery) -> YearSection:
    """Praise the subject received that the viewer may see."""
    praise = await praise_received(
        query.subject_id, query.viewer, query.directory, query.since, query.until
    )
    items = [
        YearItem(
            headline=said("From %(name)s", name=query.name(p.from_id)),
            text=p.message,
            when=p.created_at,
            badge=said("%(tag)s · private", tag=p.tag) if p.is_private else p.tag,
        )
        for p in praise
    ]
    return YearSection("praise", said("Praise"), items, said("No praise in this period."))


async def one_on_one_section(query: YearQuery) -> YearSection:
    """The subject's 1:1s held in the period: shared notes, objectives discussed and actions
    (never anyone's private notes), for the two people and the subject's manager only."""
    zone = clock.now().tzinfo
    entries = await one_on_one_history(
        query.subject_id,
        datetime.combine(query.since, time.min, zone),
        datetime.combine(query.until + timedelta(days=1), time.min, zone),
        query.viewer,
    )
    items = []
    for entry in reversed(entries):
        text = entry.shared_notes
        if entry.objectives:
            discussed = said("Objectives discussed: %(objectives)s",
                             objectives=", ".join(entry.objectives))
            text = said_together([text, discussed], "\n\n") if text else discussed
        actions = said_together((_action_line(a) for a in entry.actions), "; ") \
            if entry.actions else ""
        items.append(YearItem(
            headline=said("1:1 with %(name)s", name=entry.manager) if entry.manager else "1:1",
            text=text,
            when=entry.held_at,
            note_label=said("Actions") if actions else "",
            note=actions,
        ))
    return YearSection("one_on_ones", said("1:1s"), items, said("No 1:1s held in this period."))


# The panel's sections, in order. A reader for another kind of history is added here.
SECTIONS: tuple[SectionReader, ...] = (
    feedback_section, checkin_section, praise_section, one_on_one_section,
)


def cycle_period(cycle: Cycle | None, today: date) -> tuple[date, date]:
    """The days a cycle covers: its start (else a year before its end) to its due day
    (else today)."""
    until = (cycle.due_on if cycle is not None else None) or today
    since = (cycle.starts_on if cycle is not None else None) or until - YEAR
    return since, until


async def year_so_far(
    subject_id: int,
    cycle_id: int | None,
    viewer: SeesSubjects,
    features: Features,
    directory: DirectorySnapshot,
    sections: tuple[SectionReader, ...] = SECTIONS,
) -> YearContext:
    """Every section of the subject's year in the cycle, as the viewer may read it."""
    subject = directory.person(subject_id)
    if subject is None:
        raise NotFound(f"no person {subject_id}")
    cycle = await Cycle.get_or_none(id=cycle_id) if cycle_id is not None else None
    since, until = cycle_period(cycle, clock.now().date())
    query = YearQuery(subject_id, since, until, viewer, directory, features)
    return YearContext(subject, since, until, [await read(query) for read in sections])


async def task_year_context(task_id: int, viewer: SeesSubjects) -> YearContext | None:
    """The year so far for the subject of a task the viewer works (or worked); None when the
    pack does not show it on this task. NotFound when the viewer has nothing to do with the
    task."""
    task = await HumanTask.get_or_none(id=task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    directory = await current_directory()
    if task.completed_by_id != viewer.person_id and not may_act(
        viewer.person_id, task.assignee_id, task.candidate_group, task.candidates, directory
    ):
        raise NotFound(f"no task {task_id}")
    instance = await ProcessInstance.get(id=task.instance_id)
    if not await shows_year_context(task, instance):
        return None
    pack = await cycle_pack(instance.cycle_id)
    assert instance.subject_id is not None  # shows_year_context checked
    return await year_so_far(
        instance.subject_id, instance.cycle_id, viewer, pack.features, directory
    )


async def shows_year_context(task: HumanTask, instance: ProcessInstance) -> bool:
    """Whether the task's page has the year-so-far panel: a task of a cycle, about someone,
    that the cycle's pack names in `[features.year_context] tasks`. The task page asks before
    it makes room for the panel, so other tasks carry no link to an empty one."""
    if instance.subject_id is None or instance.cycle_id is None:
        return False
    pack = await cycle_pack(instance.cycle_id)
    return task.bpmn_id in pack.features.year_context.tasks
