"""My review: where one person stands in a cycle, step by step, and every rating with its label.

The steps are the pack's `[features.review] steps` (docs/packs.md): each names a process and the
user tasks that make the step (or the signal an appraisal waits for at calibration). Only the
steps of processes the person has in the cycle are shown. A step is

- `current` while one of its tasks is open (or the instance waits for its signal),
- `done` once its tasks were completed (a signal step: once a later step was reached),
- `skipped` when the process finished without it, else `upcoming`.

Ratings come from the records the appraisal writes (`[features.records]`: the proposed and
the final rating) and from the calibration release's audit event (the calibrated rating and
HR's reason); labels from the cycle's `rating_scale` catalog. The person under review sees the
manager's rating only once calibration released it (their manager and HR always do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.i18n import said
from engine.base.models import AuditEvent, HumanTask, ProcessInstance, Record
from engine.packs.loading import ReviewStep
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.cycle_choice import CycleSummary, cycle_with_open_work, find_cycle
from engine.performance.deployed_pack import cycle_pack
from engine.performance.distribution import number
from engine.workflow.access import SeesSubjects, can_view_subject
from engine.workflow.history import group_label
from engine.workflow.inbox import process_titles

OPEN = "ready"
CALIBRATED_ACTION = "ratings_calibrated"


@dataclass(frozen=True)
class TrackerStep:
    """One step of the tracker: its state, who holds it and until when."""

    label: str
    state: str  # done | current | upcoming | skipped
    instance_id: int | None = None
    holder: str = ""  # "you", a name, a group ("HR")
    holder_is_viewer: bool = False
    due_at: datetime | None = None
    overdue: bool = False
    done_at: datetime | None = None
    task_id: int | None = None  # the open task, for a link when the viewer holds it
    note: str = ""


@dataclass(frozen=True)
class RatingShown:
    """A rating as people read it: the figure and its label on the scale."""

    name: str
    value: float
    text: str  # "4" or "3.4"
    label: str  # "Exceeds expectations" (the nearest level for an average)
    approximate: bool = False  # an average: the label is the nearest level's


@dataclass(frozen=True)
class CalibrationChange:
    """HR changed a proposed rating in calibration, and said why."""

    proposed: RatingShown | None
    calibrated: RatingShown
    reason: str
    at: datetime


@dataclass
class MyReview:
    """Where a person stands in a cycle."""

    person_id: int
    person_key: str
    name: str
    manager_name: str
    cycle: CycleSummary
    steps: list[TrackerStep] = field(default_factory=list)
    ratings: list[RatingShown] = field(default_factory=list)
    final: RatingShown | None = None
    calibration: CalibrationChange | None = None
    # The manager's rating waits for calibration before the person sees it.
    ratings_withheld: bool = False
    # Every process of the person in the cycle: (instance id, title, status).
    processes: list[tuple[int, str, str]] = field(default_factory=list)
    is_self: bool = False

    @property
    def current(self) -> TrackerStep | None:
        """The first step in progress (None when nothing is open)."""
        return next((s for s in self.steps if s.state == "current"), None)

    @property
    def finished(self) -> bool:
        """Every step shown is done (or was not needed)."""
        return bool(self.steps) and all(s.state in ("done", "skipped") for s in self.steps)


@dataclass(frozen=True)
class TeamMember:
    """One report on a manager's review overview."""

    person_key: str
    name: str
    current: TrackerStep | None
    done: int
    total: int
    final: RatingShown | None


def _levels(scale: Mapping[str, Any]) -> dict[int, str]:
    levels: dict[int, str] = {}
    for level in scale.get("levels", []) or []:
        value = number(level.get("value")) if isinstance(level, Mapping) else None
        if value is not None:
            levels[int(value)] = str(level.get("label", "")) or str(int(value))
    return levels


def rating_shown(name: str, value: Any, scale: Mapping[str, Any]) -> RatingShown | None:
    """A rating with its label from the scale; an average gets its nearest level's label."""
    figure = number(value)
    if figure is None:
        return None
    levels = _levels(scale)
    whole = figure == int(figure)
    if whole:
        return RatingShown(name, figure, str(int(figure)), levels.get(int(figure), ""))
    nearest = min(levels, key=lambda lv: (abs(lv - figure), -lv)) if levels else None
    return RatingShown(name, figure, f"{figure:.1f}",
                       levels.get(nearest, "") if nearest is not None else "", True)


async def calibration_change(instance_id: int) -> tuple[dict[str, Any], datetime] | None:
    """What calibration did to this appraisal's rating — {proposed, calibrated, reason} — and
    when (the newest release that changed it); None when the release kept the proposal."""
    found: tuple[dict[str, Any], datetime] | None = None
    for detail, at in await AuditEvent.filter(action=CALIBRATED_ACTION).order_by("id").values_list(
        "detail", "at"
    ):
        if not isinstance(detail, Mapping):
            continue
        for change in detail.get("changes") or []:
            if isinstance(change, Mapping) and change.get("instance_id") == instance_id:
                found = (dict(change), at)
    return found


def _holder(row: Mapping[str, Any], person_id: int, viewer_id: int,
            directory: DirectorySnapshot) -> tuple[str, bool]:
    """Who holds an open task, in words for this viewer, and whether it is the viewer."""
    assignee = row["assignee_id"]
    if assignee is not None:
        if assignee == viewer_id:
            return said("you"), True
        person = directory.person(assignee)
        name = person.name if person else said("someone")
        manager = directory.manager_of(person_id)
        if manager is not None and manager.id == assignee and viewer_id == person_id:
            return said("%(name)s (your manager)", name=name), False
        return name, False
    names: list[str] = []
    if row["candidate_group"]:
        names.append(group_label(row["candidate_group"]))
    for ref in row["candidates"] or ():
        ref = str(ref)
        if ref.startswith("group:"):
            label = group_label(ref.removeprefix("group:"))
        else:
            person = directory.person(ref)
            if person is not None and person.id == viewer_id:
                return said("you"), True
            label = person.name if person else ref
        if label not in names:
            names.append(label)
    if not names:
        return said("nobody yet"), False
    if len(names) == 1:
        return names[0], False
    return said("%(names)s or %(last)s", names=", ".join(names[:-1]), last=names[-1]), False


def _track(
    steps: list[ReviewStep],
    instances: dict[str, dict[str, Any]],
    tasks: list[dict[str, Any]],
    person_id: int,
    viewer_id: int,
    directory: DirectorySnapshot,
) -> list[TrackerStep]:
    now = clock.now()
    out: list[TrackerStep] = []
    for index, step in enumerate(steps):
        instance = instances[step.process]
        mine = [t for t in tasks if t["instance_id"] == instance["id"]
                and t["bpmn_id"] in step.tasks and t["status"] != "cancelled"]
        open_rows = sorted((t for t in mine if t["status"] == OPEN), key=lambda t: t["id"])
        done_rows = [t for t in mine if t["status"] == "completed"]
        later_reached = any(
            t["instance_id"] == instance["id"] and t["status"] != "cancelled"
            and any(t["bpmn_id"] in s.tasks for s in steps[index + 1:] if s.process == step.process)
            for t in tasks
        )
        waiting = (bool(step.signal) and instance["status"] == "running"
                   and f"|{step.signal}|" in (instance["waiting_for"] or ""))
        note = ""
        if instance["status"] == "error":
            note = said("Stopped on an error: HR has been told and restarts it.")
        if open_rows:
            row = open_rows[0]
            holder, is_viewer = _holder(row, person_id, viewer_id, directory)
            due = row["due_at"]
            out.append(TrackerStep(
                step.label, "current", instance["id"], holder, is_viewer, due,
                bool(due and due < now), task_id=row["id"], note=note,
            ))
        elif waiting:
            out.append(TrackerStep(
                step.label, "current", instance["id"], "HR", False,
                note="HR compares ratings across teams, then releases them for the discussion.",
            ))
        elif done_rows:
            at = max((t["completed_at"] for t in done_rows if t["completed_at"]), default=None)
            out.append(TrackerStep(step.label, "done", instance["id"], done_at=at))
        elif step.signal and (later_reached or instance["status"] == "completed"):
            out.append(TrackerStep(step.label, "done", instance["id"]))
        elif instance["status"] in ("completed", "cancelled"):
            out.append(TrackerStep(step.label, "skipped", instance["id"], note=said("Not needed.")))
        else:
            out.append(TrackerStep(step.label, "upcoming", instance["id"], note=note))
    return out


async def review_cycle(person_id: int) -> CycleSummary | None:
    """The cycle a person's review opens on: the one with their open work, else their newest."""
    return await cycle_with_open_work([person_id])


async def my_review(person_id: int, cycle_id: int | None, viewer: SeesSubjects) -> MyReview:
    """Where the person stands in the cycle (None: the cycle with their open work); NotFound
    when the viewer may not see them or they have no process in any cycle."""
    directory = await current_directory()
    person = directory.people.get(person_id)
    if person is None or not can_view_subject(viewer.person_id, viewer.groups, person_id,
                                              directory):
        raise NotFound(f"no person {person_id}")
    if cycle_id is None:
        chosen = await review_cycle(person_id)
        if chosen is None:
            raise NotFound(f"{person.name} has no process in any cycle")
        cycle = chosen
    else:
        cycle = await find_cycle(cycle_id)
    manager = directory.manager_of(person_id)
    review = MyReview(person_id, person.key, person.name, manager.name if manager else "",
                      cycle, is_self=viewer.person_id == person_id)
    pack = await cycle_pack(cycle.id)
    scale = pack.catalogs.get("rating_scale", {})
    kinds = pack.features.records
    rows = await ProcessInstance.filter(cycle_id=cycle.id, subject_id=person_id).order_by(
        "id"
    ).values("id", "process_id", "status", "waiting_for")
    titles = await process_titles()
    review.processes = [(r["id"], titles.get(r["process_id"], r["process_id"]), r["status"])
                        for r in rows]
    # The newest instance of each process is the one the tracker follows.
    instances = {r["process_id"]: r for r in rows if r["status"] != "cancelled"}
    steps = [s for s in pack.features.review.steps if s.process in instances]
    tasks = await HumanTask.filter(
        instance_id__in=[r["id"] for r in instances.values()]
    ).values("id", "instance_id", "bpmn_id", "status", "assignee_id", "candidate_group",
             "candidates", "due_at", "completed_at")
    review.steps = _track(steps, instances, tasks, person_id, viewer.person_id, directory)

    records = await Record.filter(
        cycle_id=cycle.id, person_id=person_id,
        kind__in=[kinds.final_rating, kinds.proposed_rating],
    ).order_by("id").values("kind", "data", "instance_id")
    latest = {r["kind"]: (r["data"] if isinstance(r["data"], Mapping) else {}) for r in records}
    final = latest.get(kinds.final_rating)
    proposed = latest.get(kinds.proposed_rating) or {}
    source = final or proposed
    released = final is not None or any(
        shown.state == "done" for step, shown in zip(steps, review.steps, strict=True)
        if step.signal
    )
    review.ratings_withheld = review.is_self and bool(proposed) and not released

    def add(name: str, value: Any) -> None:
        shown = rating_shown(name, value, scale)
        if shown is not None:
            review.ratings.append(shown)

    add(said("Your self-assessment (competency average)") if review.is_self
        else said("Self-assessment (competency average)"), source.get("self_competency_avg"))
    add(said("Weighted KPI score"), source.get("kpi_score"))
    if not review.ratings_withheld:
        add(said("Manager's rating"), source.get("manager_rating", proposed.get("rating")))
        appraisal = next((r["instance_id"] for r in reversed(records)
                          if r["instance_id"] is not None), None)
        change = await calibration_change(appraisal) if appraisal and released else None
        if change is not None:
            detail, at = change
            calibrated = rating_shown(said("After calibration"), detail.get("calibrated"), scale)
            if calibrated is not None:
                review.calibration = CalibrationChange(
                    rating_shown(said("Proposed"), detail.get("proposed"), scale), calibrated,
                    str(detail.get("reason") or ""), at,
                )
                review.ratings.append(calibrated)
    if final is not None:
        review.final = rating_shown(said("Final rating"), final.get("rating"), scale)
        if review.final is not None and final.get("label"):
            review.final = RatingShown(review.final.name, review.final.value, review.final.text,
                                       str(final["label"]))
    return review


async def team_reviews(
    manager_id: int, cycle_id: int | None, viewer: SeesSubjects
) -> tuple[CycleSummary | None, list[TeamMember]]:
    """Where each direct report the viewer may see stands in the cycle (None: the cycle with
    the team's open work): their current step, steps done, final rating."""
    directory = await current_directory()
    team = sorted(
        (directory.people[pid] for pid in directory.reports_of(manager_id)
         if pid in directory.people
         and can_view_subject(viewer.person_id, viewer.groups, pid, directory)),
        key=lambda p: p.name.casefold(),
    )
    cycle = await find_cycle(cycle_id) if cycle_id is not None else await cycle_with_open_work(
        [p.id for p in team]
    )
    if cycle is None:
        return None, []
    members: list[TeamMember] = []
    for report in team:
        review = await my_review(report.id, cycle.id, viewer)
        members.append(TeamMember(
            report.key, report.name, review.current,
            sum(1 for s in review.steps if s.state in ("done", "skipped")), len(review.steps),
            review.final,
        ))
    return cycle, members


@dataclass(frozen=True)
class AppraisalOutcome:
    """What the signed record of an appraisal states: the final rating with its label, the
    manager's and the calibrated rating, and calibration's change with HR's reason."""

    final: RatingShown | None
    manager: RatingShown | None
    calibrated: RatingShown | None
    calibration: CalibrationChange | None


async def appraisal_outcome(instance_id: int) -> AppraisalOutcome | None:
    """The ratings an appraisal instance recorded (None when it recorded none yet). The caller
    has checked the viewer may see the instance."""
    row = await ProcessInstance.get_or_none(id=instance_id).only("id", "cycle_id")
    if row is None:
        return None
    pack = await cycle_pack(row.cycle_id)
    kinds = pack.features.records
    scale = pack.catalogs.get("rating_scale", {})
    records = await Record.filter(
        instance_id=instance_id, kind__in=[kinds.final_rating, kinds.proposed_rating]
    ).order_by("id").values("kind", "data")
    latest = {r["kind"]: (r["data"] if isinstance(r["data"], Mapping) else {}) for r in records}
    final, proposed = latest.get(kinds.final_rating), latest.get(kinds.proposed_rating)
    if final is None and proposed is None:
        return None
    source = final or proposed or {}
    change = await calibration_change(instance_id)
    calibration = None
    if change is not None:
        detail, at = change
        calibrated_shown = rating_shown(said("After calibration"), detail.get("calibrated"),
                                        scale)
        if calibrated_shown is not None:
            calibration = CalibrationChange(
                rating_shown("Proposed", detail.get("proposed"), scale), calibrated_shown,
                str(detail.get("reason") or ""), at,
            )
    final_shown = rating_shown(said("Final rating"), final.get("rating"), scale) if final \
        else None
    if final_shown is not None and final and final.get("label"):
        final_shown = RatingShown(final_shown.name, final_shown.value, final_shown.text,
                                  str(final["label"]))
    calibrated_value = (final or {}).get("calibrated_rating")
    if calibrated_value is None and calibration is not None:
        calibrated_value = calibration.calibrated.value
    return AppraisalOutcome(
        final=final_shown,
        manager=rating_shown("Manager's rating",
                             source.get("manager_rating", (proposed or {}).get("rating")), scale),
        calibrated=rating_shown(said("After calibration"), calibrated_value, scale),
        calibration=calibration,
    )
