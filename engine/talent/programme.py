"""Where a roll-out programme stands, as the steering committee reads it beside the adoption
figures: its steps in order — done, current or upcoming — who holds or held each, its due
date, the evidence and notes recorded for it, and the steering committee's reviews (a step
sent back opens again).

Which process is a programme and which tasks are its steps comes from the deployed pack's
`[features.rollout]` (the roll-out pack, processes/rollout): every deployed version whose
process is its pack's `rollout.process` runs programmes. The step's state is read from the
instance's human-task rows, never from its workflow; what the programme is (its name, sponsor,
pilot units …) is the answers of its first step outside the eight, its set-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.base.errors import NotAllowed, NotFound
from engine.base.i18n import PackText, pack_text
from engine.base.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.packs.definitions import Deployed, deployed
from engine.packs.loading import Features, RolloutFeature
from engine.people.directory import DirectorySnapshot, current_directory
from engine.workflow import runtime
from engine.workflow.history import ShownValue, describe_submission, group_label

_DAYS = re.compile(r"^P(\d+)D$")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence a step recorded: what, and where (a web link when it is one)."""

    item: str
    location: str = ""

    @property
    def is_link(self) -> bool:
        """Whether the location is a web address a page may link to."""
        return self.location.startswith(("https://", "http://"))


@dataclass
class Review:
    """The steering committee's review of a step, once completed: its answers and who gave
    them when."""

    answers: list[ShownValue]
    by: str
    at: datetime | None


@dataclass
class ProgrammeStep:
    """One step of the programme as the steering committee reads it."""

    number: int
    label: PackText
    name: PackText
    state: str  # done | current | upcoming
    owner: str  # who holds or held it (a name, a group), else the lane
    owner_is_lane: bool
    due_at: datetime | None = None
    due_days: int | None = None  # upcoming: due this many days after it opens
    completed_at: datetime | None = None
    completed_by: str = ""
    open_task_id: int | None = None  # the open task (step or review), for those who may act
    in_review: bool = False  # current, with the steering committee
    evidence: list[Evidence] = field(default_factory=list)
    notes: str = ""
    reviews: list[Review] = field(default_factory=list)
    sent_back: int = 0  # how often the step was opened again after a review

    @property
    def overdue(self) -> bool:
        """Current and past its due date (the engine's clock)."""
        from engine.base import clock

        return self.state == "current" and self.due_at is not None and self.due_at < clock.now()


@dataclass
class Programme:
    """One roll-out programme instance and its steps."""

    instance_id: int
    title: PackText
    status: str
    started_at: datetime | None
    lead: str
    about: list[ShownValue]
    steps: list[ProgrammeStep]

    @property
    def done(self) -> int:
        """How many steps are done."""
        return sum(1 for s in self.steps if s.state == "done")

    @property
    def current(self) -> ProgrammeStep | None:
        """The step under way (None when none is)."""
        return next((s for s in self.steps if s.state == "current"), None)


async def programme_definitions() -> dict[int, RolloutFeature]:
    """Deployed versions that run a roll-out programme, with their pack's `[features.rollout]`."""
    found: dict[int, RolloutFeature] = {}
    for row in await ProcessDefinition.all().values("id", "process_id", "settings"):
        settings = row["settings"] if isinstance(row["settings"], dict) else {}
        features, _ = Features.from_table(settings.get("features"))
        if features.rollout.process and features.rollout.process == row["process_id"]:
            found[int(row["id"])] = features.rollout
    return found


async def programme_ids() -> list[int]:
    """Every roll-out programme instance, newest first (running ones before finished ones)."""
    definitions = await programme_definitions()
    if not definitions:
        return []
    rows = await ProcessInstance.filter(
        definition_id__in=list(definitions), status__in=["running", "completed", "error"]
    ).order_by("-id").values_list("id", "status")
    running = [int(i) for i, status in rows if status != "completed"]
    return running + [int(i) for i, status in rows if status == "completed"]


def _owner(task: HumanTask, directory: DirectorySnapshot) -> str:
    """Who holds a task: the person it is assigned to, else its lane (a group's tasks)."""
    if task.assignee_id is not None:
        person = directory.person(task.assignee_id)
        return person.name if person else str(task.assignee_id)
    if task.lane:
        return pack_text(task.lane)
    return group_label(task.candidate_group) if task.candidate_group else ""


def _named(value: ShownValue, directory: DirectorySnapshot) -> ShownValue:
    """An answer naming a person by their key (the people picker stores it) shows their name."""
    person = directory.by_key.get(value.text) if value.kind == "text" else None
    return replace(value, text=person.name) if person is not None else value


def _evidence(value: Any) -> list[Evidence]:
    rows = value if isinstance(value, list) else []
    found = []
    for row in rows:
        if isinstance(row, dict) and str(row.get("item") or "").strip():
            found.append(Evidence(str(row["item"]).strip(), str(row.get("link") or "").strip()))
    return found


def _step(number: int, label: str, task_id: str, review_id: str, tasks: list[HumanTask],
          dep: Deployed, rollout: RolloutFeature, directory: DirectorySnapshot) -> ProgrammeStep:
    own = [t for t in tasks if t.bpmn_id == task_id and t.status != "cancelled"]
    reviews = [t for t in tasks if review_id and t.bpmn_id == review_id
               and t.status != "cancelled"]
    info = dep.built.task_forms.get(task_id)
    name = info.name if info else task_id
    lane = (info.lane if info else None) or ""
    ready = [t for t in (*own, *reviews) if t.status == "ready"]
    completed = [t for t in own if t.status == "completed"]
    # A step sent back opens again, so done is: completed, and nothing of it open.
    state = "current" if ready else "done" if completed else "upcoming"
    step = ProgrammeStep(number, pack_text(label), pack_text(name), state,
                         owner=pack_text(lane), owner_is_lane=True)
    holder = ready[0] if ready else (completed[-1] if completed else None)
    if holder is not None:
        step.owner, step.owner_is_lane = _owner(holder, directory) or pack_text(lane), False
        step.due_at = holder.due_at if ready else None
    if ready:
        step.open_task_id = ready[0].id
        step.in_review = ready[0].bpmn_id == review_id
    elif info and info.due_in and (match := _DAYS.match(info.due_in.strip().upper())):
        step.due_days = int(match.group(1)) if state == "upcoming" else None
    if completed:
        last = completed[-1]
        data = last.submitted if isinstance(last.submitted, dict) else {}
        step.completed_at = last.completed_at
        person = directory.person(last.completed_by_id) if last.completed_by_id else None
        step.completed_by = person.name if person else ""
        step.evidence = _evidence(data.get(rollout.evidence_field))
        step.notes = str(data.get(rollout.notes_field) or "").strip()
    step.sent_back = max(len(own) - 1, 0)
    for review in reviews:
        if review.status != "completed":
            continue
        data = review.submitted if isinstance(review.submitted, dict) else {}
        person = directory.person(review.completed_by_id) if review.completed_by_id else None
        step.reviews.append(Review(describe_submission(dep, review.bpmn_id, data),
                                   person.name if person else "", review.completed_at))
    return step


async def programme(instance_id: int) -> Programme:
    """The programme instance's steps as its pack's `[features.rollout]` names them;
    NotFound when the instance is not a roll-out programme."""
    instance = await ProcessInstance.get_or_none(id=instance_id)
    definitions = await programme_definitions()
    if instance is None or instance.definition_id not in definitions:
        raise NotFound(f"no roll-out programme {instance_id}")
    rollout = definitions[instance.definition_id]
    dep = await deployed(instance.definition_id)
    directory = await current_directory()
    tasks = await HumanTask.filter(instance_id=instance_id).order_by("id")
    step_tasks = {s.task for s in rollout.steps} | {s.review for s in rollout.steps if s.review}
    setup = next((t for t in tasks if t.bpmn_id not in step_tasks and t.status == "completed"),
                 None)
    about = [_named(value, directory) for value in
             describe_submission(dep, setup.bpmn_id, setup.submitted or {})] if setup else []
    steps = [_step(n, s.label, s.task, s.review, tasks, dep, rollout, directory)
             for n, s in enumerate(rollout.steps, start=1)]
    lead = directory.person(instance.subject_id) if instance.subject_id else None
    return Programme(instance.id, pack_text(dep.title), instance.status, instance.started_at,
                     lead.name if lead else "", about, steps)


async def may_start_programme(person_id: int) -> bool:
    """Whether the person may start a roll-out programme (its process's `starters`); False
    when no roll-out pack is deployed."""
    definitions = await programme_definitions()
    if not definitions:
        return False
    newest = await deployed(max(definitions))
    starters = list(newest.process_settings.get("starters") or [])
    if not starters:
        return True
    directory = await current_directory()
    person = directory.person(person_id)
    if person is None:
        return False
    return any((s.startswith("group:") and s.removeprefix("group:") in person.groups)
               or s in (f"person:{person.key}", f"person:{person.id}") for s in starters)


async def start_programme(actor: runtime.Actor) -> int:
    """Start a roll-out programme (the newest deployed one) led by the actor; the id of its
    first task (the set-up), which the actor holds. NotFound when no roll-out pack is
    deployed, NotAllowed for someone its starters do not name."""
    definitions = await programme_definitions()
    if not definitions:
        raise NotFound("no roll-out programme is deployed")
    if actor.person_id is None or not await may_start_programme(actor.person_id):
        raise NotAllowed(f"{actor.label} may not start a roll-out programme")
    newest = await deployed(max(definitions))
    instance = await runtime.start_process(newest.process_id, subject=actor.person_id,
                                           actor=actor, pack=newest.pack)
    task = await HumanTask.get_or_none(instance_id=instance.id, status="ready")
    if task is None:
        raise NotFound("the programme has no first step to open")
    return task.id
