"""A manager's team in one cycle: where each report's processes stand, who each open step
waits on, what is overdue, ratings against the guideline and the 9-box.

The team is the manager's direct (or, asked for, also indirect) reports that the viewer may
see: HR may look at any manager's team but sees only the reports in its population.
docs/dashboards.md has the definitions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.models import HumanTask, ProcessInstance, Record
from engine.packs.loading import Features
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.cycle_choice import find_cycle
from engine.performance.deployed_pack import cycle_pack
from engine.performance.distribution import (
    Distribution,
    latest_by_person,
    number,
    rating_distribution,
    rating_of,
)
from engine.scripts.scoring import rating_level
from engine.workflow.access import HR_GROUP, SeesSubjects, can_view_subject
from engine.workflow.inbox import process_titles

BANDS = ("low", "medium", "high")


def performance_band(rating: float | None, weighted_score: float | None) -> str | None:
    """low (1–2) / medium (3) / high (4–5) from the final rating, else the weighted KPI score."""
    level = rating_level(rating) if rating is not None else rating_level(weighted_score)
    if level is None:
        return None
    return "low" if level <= 2 else "medium" if level == 3 else "high"


def potential_band(value: Any) -> str | None:
    """low / medium / high from a "potential" answer (words, or 1..3); None when unknown."""
    if isinstance(value, str):
        word = value.strip().casefold()
        word = {"moderate": "medium", "med": "medium", "mid": "medium"}.get(word, word)
        if word in BANDS:
            return word
        value = int(word) if word.isdigit() else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (1, 2, 3):
        return BANDS[int(value) - 1]
    return None


@dataclass
class StepStatus:
    """An open task: where a process stands and who it waits on."""

    task_id: int
    instance_id: int
    subject_id: int | None
    subject_name: str
    name: str
    bpmn_id: str
    waiting_on: str  # a person's name, or the group ("hr")
    # employee (the subject), manager (the subject's manager), group, or other
    waiting_on_role: str
    due_at: datetime | None
    overdue: bool


@dataclass
class ProcessStatus:
    """One instance of a report's process in the cycle."""

    instance_id: int
    process_id: str
    title: str
    status: str
    steps: list[StepStatus] = field(default_factory=list)
    error: str | None = None


@dataclass
class ReportStatus:
    """One report: their processes, result and 9-box position."""

    person_id: int
    name: str
    title: str
    processes: list[ProcessStatus]
    final_rating: int | None
    rating_label: str
    weighted_score: float | None
    performance: str | None
    potential: str | None


@dataclass
class NineBoxCell:
    """One cell of the 9-box (performance × potential) and who sits in it."""

    performance: str
    potential: str
    people: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class TeamStatus:
    """A manager's view of their team in one cycle."""

    manager_id: int
    cycle_id: int
    cycle_name: str
    reports: list[ReportStatus]
    overdue: list[StepStatus]
    distribution: Distribution
    nine_box: list[NineBoxCell]  # 9 cells, high performance / high potential first
    # Reports with a performance band but no potential on record (outside the 9-box).
    potential_unknown: list[tuple[int, str]]
    # Reports with no rating or KPI score yet.
    not_assessed: list[tuple[int, str]]


def _waiting_on(
    assignee_id: int | None, group: str | None, subject_id: int | None,
    directory: DirectorySnapshot,
) -> tuple[str, str]:
    if assignee_id is not None:
        person = directory.people.get(assignee_id)
        name = person.name if person else f"#{assignee_id}"
        subject = directory.people.get(subject_id) if subject_id is not None else None
        if assignee_id == subject_id:
            return name, "employee"
        if subject is not None and subject.manager_id == assignee_id:
            return name, "manager"
        return name, "other"
    if group:
        return group, "group"
    return "several candidates", "group"


async def _newest_cycle_of(people: Collection[int]) -> int | None:
    row = (
        await ProcessInstance.filter(subject_id__in=list(people), cycle_id__not_isnull=True)
        .order_by("-cycle_id")
        .only("cycle_id")
        .first()
    )
    return row.cycle_id if row else None


async def team_status(
    manager_id: int, cycle_id: int | None, viewer: SeesSubjects, *, indirect: bool = False
) -> TeamStatus:
    """Where each of the manager's reports stands in the cycle (None: their newest cycle)."""
    directory = await current_directory()
    # HR may look at any manager's team, but sees only the reports in its population.
    if manager_id not in directory.people or not (
        HR_GROUP in viewer.groups
        or can_view_subject(viewer.person_id, viewer.groups, manager_id, directory)
    ):
        raise NotFound(f"no person {manager_id}")
    team = [
        pid for pid in directory.reports_of(manager_id, indirect=indirect)
        if can_view_subject(viewer.person_id, viewer.groups, pid, directory)
    ]
    if cycle_id is None:
        cycle_id = await _newest_cycle_of(team)
        if cycle_id is None:
            raise NotFound("the team has no process in any cycle yet")
    cycle = await find_cycle(cycle_id)
    now = clock.now()
    titles = await process_titles()
    instances = await ProcessInstance.filter(cycle_id=cycle_id, subject_id__in=team).order_by(
        "id"
    ).values("id", "subject_id", "process_id", "status", "error")
    by_instance = {
        row["id"]: ProcessStatus(
            instance_id=row["id"],
            process_id=row["process_id"],
            title=titles.get(row["process_id"], row["process_id"]),
            status=row["status"],
            error=(row["error"] or {}).get("message") if row["status"] == "error" else None,
        )
        for row in instances
    }
    subject_of = {row["id"]: row["subject_id"] for row in instances}
    overdue: list[StepStatus] = []
    tasks = await HumanTask.filter(instance_id__in=list(by_instance), status="ready").order_by(
        "id"
    ).values("id", "instance_id", "name", "bpmn_id", "assignee_id", "candidate_group", "due_at")
    for task in tasks:
        subject_id = subject_of[task["instance_id"]]
        holder, role = _waiting_on(
            task["assignee_id"], task["candidate_group"], subject_id, directory
        )
        subject = directory.people.get(subject_id) if subject_id is not None else None
        step = StepStatus(
            task_id=task["id"],
            instance_id=task["instance_id"],
            subject_id=subject_id,
            subject_name=subject.name if subject else "",
            name=task["name"],
            bpmn_id=task["bpmn_id"],
            waiting_on=holder,
            waiting_on_role=role,
            due_at=task["due_at"],
            overdue=task["due_at"] is not None and task["due_at"] < now,
        )
        by_instance[task["instance_id"]].steps.append(step)
        if step.overdue:
            overdue.append(step)
    pack = await cycle_pack(cycle_id)
    kinds = pack.features.records
    records = Record.filter(cycle_id=cycle_id, person_id__in=team).order_by("id")
    ratings = latest_by_person(
        await records.filter(kind=kinds.final_rating).values_list("person_id", "data")
    )
    kpis = latest_by_person(
        await records.filter(kind=kinds.kpi_results).values_list("person_id", "data")
    )
    potentials = {pid: seen.band for pid, seen in (await cycle_potentials(
        cycle_id, team, pack.features)).items()}
    scale = pack.catalogs.get("rating_scale", {})
    labels = {int(lv["value"]): str(lv.get("label", "")) for lv in scale.get("levels", [])}
    reports = []
    for pid in sorted(team, key=lambda p: (directory.people[p].name, p)):
        person = directory.people[pid]
        rating = rating_of(ratings.get(pid))
        score = _score_of(kpis.get(pid), ratings.get(pid))
        reports.append(ReportStatus(
            person_id=pid,
            name=person.name,
            title=person.title,
            processes=[p for i, p in by_instance.items() if subject_of[i] == pid],
            final_rating=rating,
            rating_label=labels.get(rating, "") if rating is not None else "",
            weighted_score=score,
            performance=performance_band(rating, score),
            potential=potentials.get(pid),
        ))
    counts: dict[int, int] = {}
    for report in reports:
        if report.final_rating is not None:
            counts[report.final_rating] = counts.get(report.final_rating, 0) + 1
    cells = {
        (perf, pot): NineBoxCell(perf, pot)
        for perf in reversed(BANDS) for pot in reversed(BANDS)
    }
    unknown, not_assessed = [], []
    for report in reports:
        if report.performance is None:
            not_assessed.append((report.person_id, report.name))
        elif report.potential is None:
            unknown.append((report.person_id, report.name))
        else:
            cells[(report.performance, report.potential)].people.append(
                (report.person_id, report.name)
            )
    return TeamStatus(
        manager_id=manager_id,
        cycle_id=cycle_id,
        cycle_name=cycle.name,
        reports=reports,
        overdue=sorted(overdue, key=lambda s: (s.due_at or now, s.task_id)),
        distribution=rating_distribution(counts, scale, "team"),
        nine_box=list(cells.values()),
        potential_unknown=unknown,
        not_assessed=not_assessed,
    )


def _score_of(kpi: Any, rating: Any) -> float | None:
    for data, key in ((kpi, "weighted_score"), (rating, "kpi_score")):
        value = number(data.get(key)) if isinstance(data, Mapping) else None
        if value is not None:
            return value
    return None


@dataclass(frozen=True)
class PotentialSeen:
    """A person's potential band, where it comes from and when it was given."""

    band: str
    # "review": a talent review's potential record; "appraisal": the appraisal's answer.
    source: str
    at: datetime | None
    # The talent review's record data (ratings per criterion, aspiration, mobility …).
    detail: Mapping[str, Any] = field(default_factory=dict)


def _newer(seen: PotentialSeen | None, other: PotentialSeen) -> bool:
    if seen is None:
        return True
    if seen.at is None or other.at is None:
        return other.at is not None
    return other.at >= seen.at


async def cycle_potentials(
    cycle_id: int, people: Collection[int], features: Features
) -> dict[int, PotentialSeen]:
    """Potential per person in a cycle: the newer of the cycle's appraisal answer (the final
    rating record's potential field — `[features.records] potential_field` — else the newest
    answer a completed task of the cycle submitted) and the person's latest talent review
    (`[features.talent] potential_record`, of any cycle: a talent review usually runs as a
    cycle of its own after the appraisals)."""
    ids = list(people)
    answer = features.records.potential_field
    found: dict[int, PotentialSeen] = {}
    instances = dict(await ProcessInstance.filter(cycle_id=cycle_id, subject_id__in=ids)
                     .values_list("id", "subject_id"))
    tasks = await HumanTask.filter(
        instance_id__in=list(instances), status="completed"
    ).order_by("id").values("instance_id", "submitted", "completed_at")
    for task in tasks:
        submitted = task["submitted"]
        if isinstance(submitted, Mapping) and answer in submitted:
            band = potential_band(submitted[answer])
            subject = instances.get(task["instance_id"])
            if band is not None and subject is not None:
                found[subject] = PotentialSeen(band, "appraisal", task["completed_at"])
    finals = await Record.filter(
        cycle_id=cycle_id, kind=features.records.final_rating, person_id__in=ids
    ).order_by("id").values_list("person_id", "data", "created_at")
    for pid, data, created_at in finals:
        band = potential_band(data.get(answer)) if isinstance(data, Mapping) else None
        if band is not None:
            found[pid] = PotentialSeen(band, "appraisal", created_at)
    reviews = await Record.filter(
        kind=features.talent.potential_record, person_id__in=ids
    ).order_by("id").values_list("person_id", "data", "created_at")
    for pid, data, created_at in reviews:
        band = potential_band(data.get("potential")) if isinstance(data, Mapping) else None
        if band is None:
            continue
        seen = PotentialSeen(band, "review", created_at, data)
        if _newer(found.get(pid), seen):
            found[pid] = seen
    return found
