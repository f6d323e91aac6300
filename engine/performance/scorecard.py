"""A person's score card for a cycle: objectives and KPI results, competencies with their
anchors, the trend across cycles, the development plan and the feedback the viewer may read.

Everything comes from the records processes wrote (engine.base.models.Record); scores are
recomputed with engine.scripts.scoring so a card always agrees with what the appraisal computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.models import Cycle, ProcessInstance, Record
from engine.packs.loading import RecordsFeature
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.performance.goals import objective_achievement, objective_kinds
from engine.performance.latest_progress import latest_progress, overlay
from engine.scripts.scoring import kpi_score, weighted_score
from engine.workflow.access import HR_GROUP, SeesSubjects, can_view_subject

DONE_STATUSES = ("done", "completed", "complete", "achieved")
FEEDBACK_VISIBILITY = ("private", "manager", "shared")


@dataclass
class ObjectiveLine:
    """One objective: target, actual, achievement, score and weight."""

    title: str
    kra: str
    kpi: str
    measure_type: str
    baseline: Any
    target: Any
    actual: Any
    achievement: float | None  # percent, capped
    score: int | None  # 1..5
    weight: Any
    aligned_goal: str


@dataclass
class CompetencyLine:
    """A competency of the job family with its ratings and the anchors of the rated level."""

    key: str
    name: str
    description: str
    rating: int | None  # the manager's
    self_rating: int | None
    level_label: str
    anchors: list[str]


@dataclass
class TrendPoint:
    """One cycle's result."""

    cycle_id: int
    cycle_name: str
    rating: int | None
    label: str
    weighted_score: float | None


@dataclass
class DevelopmentAction:
    """One action of the development plan."""

    goal: str
    action: str
    owner: str
    due_date: str
    done: bool
    overdue: bool


@dataclass
class DevelopmentStatus:
    """The latest development plan: actions done, open and overdue."""

    done: int
    open: int
    overdue: int
    actions: list[DevelopmentAction]
    career_aspiration: str
    review_date: str


@dataclass
class FeedbackLine:
    """Feedback about the person that the viewer may read."""

    id: int
    from_id: int | None
    from_name: str
    text: str
    visibility: str
    requested_by: Any
    created_at: datetime | None


@dataclass
class ScoreCard:
    """Everything the score card page shows for one person and cycle."""

    person_id: int
    name: str
    title: str
    job_family: str
    unit_name: str
    manager_name: str
    cycle_id: int | None
    cycle_name: str
    objectives: list[ObjectiveLine] = field(default_factory=list)
    objectives_source: str = ""  # the record kind the objectives come from
    weighted_total: float | None = None  # 1..5, engine.scripts.scoring.weighted_score
    final_rating: int | None = None
    rating_label: str = ""
    competency_family: str = ""
    competencies: list[CompetencyLine] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    development: DevelopmentStatus | None = None
    feedback: list[FeedbackLine] = field(default_factory=list)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def objective_line(objective: Mapping[str, Any]) -> ObjectiveLine:
    """An objective as the score card shows it, achievement and score recomputed."""
    achievement = objective_achievement(objective)
    return ObjectiveLine(
        title=_text(objective.get("title")),
        kra=_text(objective.get("kra")),
        kpi=_text(objective.get("kpi")),
        measure_type=_text(objective.get("measure_type")) or "higher_is_better",
        baseline=objective.get("baseline"),
        target=objective.get("target"),
        actual=objective.get("actual"),
        achievement=achievement,
        score=kpi_score(achievement),
        weight=objective.get("weight"),
        aligned_goal=_text(objective.get("aligned_goal")),
    )


def competency_lines(
    family: str, ratings: Mapping[str, Any], self_ratings: Mapping[str, Any],
    framework: Mapping[str, Any], scale: Mapping[str, Any],
) -> tuple[str, list[CompetencyLine]]:
    """The family's competencies (default family when unknown) with ratings and anchors."""
    families = framework.get("families") or {}
    if family not in families:
        family = str(framework.get("default_family") or "")
    keys = list((families.get(family) or {}).get("competencies") or [])
    keys += [k for k in ratings if k not in keys]  # rated under an older framework: still shown
    labels = {int(lv["value"]): str(lv.get("label", "")) for lv in scale.get("levels", [])}
    catalog = framework.get("competencies") or {}
    lines = []
    for key in keys:
        entry = catalog.get(key) or {}
        rating = _int(ratings.get(key))
        anchors = (entry.get("levels") or {}).get(str(rating), []) if rating is not None else []
        lines.append(CompetencyLine(
            key=key,
            name=str(entry.get("name") or key),
            description=str(entry.get("description") or ""),
            rating=rating,
            self_rating=_int(self_ratings.get(key)),
            level_label=labels.get(rating, "") if rating is not None else "",
            anchors=[str(a) for a in anchors],
        ))
    return family, lines


def _is_done(action: Mapping[str, Any]) -> bool:
    status = str(action.get("status") or "").strip().casefold()
    return status in DONE_STATUSES or action.get("done") is True or action.get("completed") is True


def development_status(plan: Mapping[str, Any], today: date) -> DevelopmentStatus:
    """Actions done / open / overdue (open with a due date before today) of a plan record."""
    actions = []
    for item in plan.get("actions") or []:
        if not isinstance(item, Mapping):
            continue
        done = _is_done(item)
        due = _text(item.get("due_date"))
        try:
            overdue = not done and bool(due) and date.fromisoformat(due[:10]) < today
        except ValueError:
            overdue = False
        actions.append(DevelopmentAction(
            goal=_text(item.get("goal")),
            action=_text(item.get("action")),
            owner=_text(item.get("owner")),
            due_date=due,
            done=done,
            overdue=overdue,
        ))
    return DevelopmentStatus(
        done=sum(1 for a in actions if a.done),
        open=sum(1 for a in actions if not a.done),
        overdue=sum(1 for a in actions if a.overdue),
        actions=actions,
        career_aspiration=_text(plan.get("career_aspiration")),
        review_date=_text(plan.get("plan_review_date")),
    )


def may_read_feedback(
    data: Mapping[str, Any], subject_id: int, viewer: SeesSubjects, directory: DirectorySnapshot
) -> bool:
    """Private notes: their author only; "manager": the author and the subject's managers;
    "shared": also the subject and HR."""
    author = directory.person(data.get("from_id"))
    if author is not None and author.id == viewer.person_id:
        return True
    visibility = data.get("visibility")
    is_manager = directory.is_manager_of(viewer.person_id, subject_id, indirect=True)
    if visibility == "manager":
        return is_manager
    if visibility == "shared":
        return viewer.person_id == subject_id or is_manager or HR_GROUP in viewer.groups
    return False


async def _chosen_cycle(person_id: int, cycle_id: int | None) -> Cycle | None:
    if cycle_id is not None:
        cycle = await Cycle.get_or_none(id=cycle_id)
        if cycle is None:
            raise NotFound(f"no cycle {cycle_id}")
        return cycle
    ids = await Record.filter(person_id=person_id, cycle_id__not_isnull=True).values_list(
        "cycle_id", flat=True
    )
    ids += await ProcessInstance.filter(
        subject_id=person_id, cycle_id__not_isnull=True
    ).values_list("cycle_id", flat=True)
    if not ids:
        return None
    return await Cycle.get_or_none(id=max(ids))


async def scorecard(person_id: int, cycle_id: int | None, viewer: SeesSubjects) -> ScoreCard:
    """The person's score card for the cycle (None: their newest cycle); NotFound when the
    viewer may not see the person."""
    directory = await current_directory()
    person = directory.people.get(person_id)
    if person is None or not can_view_subject(
        viewer.person_id, viewer.groups, person_id, directory
    ):
        raise NotFound(f"no person {person_id}")
    cycle = await _chosen_cycle(person_id, cycle_id)
    unit = directory.unit(person.org_unit_id)
    manager = directory.manager_of(person_id)
    card = ScoreCard(
        person_id=person_id,
        name=person.name,
        title=person.title,
        job_family=person.job_family,
        unit_name=unit.name if unit else "",
        manager_name=manager.name if manager else "",
        cycle_id=cycle.id if cycle else None,
        cycle_name=cycle.name if cycle else "",
    )
    pack = await cycle_pack(card.cycle_id)
    kinds = pack.features.records
    catalogs = pack.catalogs
    scale = catalogs.get("rating_scale", {})
    labels = {int(lv["value"]): str(lv.get("label", "")) for lv in scale.get("levels", [])}
    records = await Record.filter(person_id=person_id).order_by("id").values(
        "id", "kind", "cycle_id", "data", "created_at"
    )
    this_cycle = [r for r in records if cycle is not None and r["cycle_id"] == cycle.id]
    latest = {r["kind"]: r["data"] for r in this_cycle}  # ordered by id: the newest wins

    source = next(
        (r for r in reversed(this_cycle) if r["kind"] in objective_kinds(kinds)
         and isinstance(r["data"].get("objectives"), list)),
        None,
    )
    if source is not None:
        # Newer in-year updates show at once (engine.performance.progress).
        objectives = overlay(
            person_id,
            [o for o in source["data"]["objectives"] if isinstance(o, Mapping)],
            await latest_progress(source["cycle_id"], [person_id]),
            source["created_at"],
        )
        card.objectives = [objective_line(o) for o in objectives]
        card.objectives_source = source["kind"]
        card.weighted_total = weighted_score(objectives)
    final = latest.get(kinds.final_rating) or {}
    card.final_rating = _int(final.get("rating"))
    card.rating_label = str(final.get("label") or labels.get(card.final_rating or 0, ""))

    competency = latest.get("competency_ratings") or {}
    card.competency_family, card.competencies = competency_lines(
        str(competency.get("job_family") or person.job_family or ""),
        competency.get("ratings") or {},
        competency.get("self_ratings") or {},
        catalogs.get("competencies", {}),
        scale,
    )
    card.trend = await _trend(records, labels, kinds)
    plans = [r for r in records if r["kind"] == kinds.development_plan]
    current_plans = [r for r in plans if cycle is not None and r["cycle_id"] == cycle.id]
    if current_plans or plans:
        plan = (current_plans or plans)[-1]
        card.development = development_status(plan["data"], clock.now().date())
    card.feedback = [
        FeedbackLine(
            id=r["id"],
            from_id=author.id if (author := directory.person(r["data"].get("from_id"))) else None,
            from_name=author.name if author else "",
            text=_text(r["data"].get("text")),
            visibility=_text(r["data"].get("visibility")),
            requested_by=r["data"].get("requested_by"),
            created_at=r["created_at"],
        )
        for r in reversed(records)
        if r["kind"] == kinds.feedback
        and (cycle is None or r["cycle_id"] in (None, cycle.id))
        and may_read_feedback(r["data"], person_id, viewer, directory)
    ]
    return card


async def _trend(
    records: list[dict[str, Any]], labels: Mapping[int, str], kinds: RecordsFeature
) -> list[TrendPoint]:
    """Final rating and weighted score per cycle, oldest cycle first."""
    per_cycle: dict[int, dict[str, Any]] = {}
    for r in records:
        if r["cycle_id"] is not None and r["kind"] in (kinds.final_rating, kinds.kpi_results):
            per_cycle.setdefault(r["cycle_id"], {})[r["kind"]] = r["data"]
    cycles = {
        c.id: c for c in await Cycle.filter(id__in=list(per_cycle)).order_by("created_at", "id")
    }
    points = []
    for cid, cycle in cycles.items():
        found = per_cycle[cid]
        final = found.get(kinds.final_rating) or {}
        kpi = found.get(kinds.kpi_results) or {}
        rating = _int(final.get("rating"))
        score = kpi.get("weighted_score", final.get("kpi_score"))
        points.append(TrendPoint(
            cycle_id=cid,
            cycle_name=cycle.name,
            rating=rating,
            label=str(final.get("label") or labels.get(rating or 0, "")),
            weighted_score=float(score) if isinstance(score, int | float)
            and not isinstance(score, bool) else None,
        ))
    return points
