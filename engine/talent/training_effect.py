"""Whether training works: the change in the targeted competencies' ratings of those trained
against those not, and which people managers have taken the managers' appraisal-skills course.

Effectiveness, per course and per competency it develops: for each person who completed the
course, their manager's rating of that competency in the last appraisal before the completion
and in the first one after it (the pack's `competency_ratings` records, `ratings` by
competency key) — the change between the two. Against it, the change between the same two
cycles for everyone rated on that competency in both who has not completed the course. A
figure from fewer than `MIN_GROUP` people on either side is shown as too few to read: one
person's good year is not a course's effect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from engine.base.models import Course, Cycle, Enrolment, Record
from engine.people.directory import DirectorySnapshot, PersonInfo, UnitInfo
from engine.performance.deployed_pack import newest_pack
from engine.talent.training import CourseInfo, course_info, training_feature

# Fewer people than this on either side of a comparison: too few to read.
MIN_GROUP = 5


@dataclass(frozen=True)
class CompetencyEffect:
    """One competency a course develops: the mean change in its rating for those trained and
    those not, between the same appraisal cycles."""

    competency: str
    trained: int
    trained_change: float | None
    untrained: int
    untrained_change: float | None

    @property
    def enough(self) -> bool:
        """Whether both groups are big enough to compare."""
        return self.trained >= MIN_GROUP and self.untrained >= MIN_GROUP

    @property
    def difference(self) -> float | None:
        """How much more (or less) the trained improved than the others."""
        if self.trained_change is None or self.untrained_change is None:
            return None
        return round(self.trained_change - self.untrained_change, 2)


@dataclass(frozen=True)
class CourseEffect:
    """A course and the effect on each competency it develops."""

    course: CourseInfo
    completed: int
    effects: tuple[CompetencyEffect, ...]


@dataclass(frozen=True)
class _Rated:
    cycle_id: int | None
    at: datetime
    ratings: Mapping[str, Any]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _rating(ratings: Mapping[str, Any], key: str) -> float | None:
    value = ratings.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


async def _ratings_by_person(kind: str) -> dict[int, list[_Rated]]:
    """Each person's competency ratings, oldest first. A rating belongs to its appraisal
    cycle: it counts as given when the cycle was due (records brought over from an earlier
    system were written later than that), else when it was written."""
    due = {c["id"]: c["due_on"] for c in await Cycle.all().values("id", "due_on")}
    rows = await Record.filter(kind=kind).values("person_id", "cycle_id", "created_at", "data")
    found: dict[int, list[_Rated]] = defaultdict(list)
    for row in rows:
        data = row["data"] if isinstance(row["data"], dict) else {}
        ratings = data.get("ratings")
        if not isinstance(ratings, dict):
            continue
        day = due.get(row["cycle_id"])
        at = datetime.combine(day, time(23, 59), tzinfo=UTC) if day else row["created_at"]
        found[row["person_id"]].append(_Rated(row["cycle_id"], at, ratings))
    for history in found.values():
        history.sort(key=lambda r: r.at)
    return found


def _around(history: list[_Rated], moment: datetime, key: str
            ) -> tuple[_Rated, _Rated] | None:
    """The last rating of `key` before `moment` and the first after it."""
    before = [r for r in history if r.at < moment and _rating(r.ratings, key) is not None]
    after = [r for r in history if r.at > moment and _rating(r.ratings, key) is not None]
    if not before or not after:
        return None
    return before[-1], after[0]


def _in_cycle(history: list[_Rated], cycle_id: int | None, key: str) -> float | None:
    found = [r for r in history if r.cycle_id == cycle_id and _rating(r.ratings, key) is not None]
    return _rating(found[-1].ratings, key) if found else None


async def course_effects() -> list[CourseEffect]:
    """For every course someone has completed: the effect on each competency it develops."""
    pack = await newest_pack()
    history = await _ratings_by_person(pack.features.records.competency_ratings)
    completions = await Enrolment.filter(status="completed").exclude(completed_at=None).values(
        "course_id", "person_id", "completed_at")
    by_course: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    for row in completions:
        by_course[row["course_id"]].append((row["person_id"], row["completed_at"]))
    courses = {c.id: course_info(c) for c in await Course.filter(id__in=list(by_course))}
    found = []
    for course_id, done in by_course.items():
        course = courses[course_id]
        trained_people = {person_id for person_id, _ in done}
        effects = []
        for key in course.competencies:
            changes: list[float] = []
            pairs: dict[tuple[int | None, int | None], int] = defaultdict(int)
            for person_id, completed_at in done:
                span = _around(history.get(person_id, []), completed_at, key)
                if span is None:
                    continue
                first, second = span
                changes.append(
                    (_rating(second.ratings, key) or 0.0) - (_rating(first.ratings, key) or 0.0))
                pairs[(first.cycle_id, second.cycle_id)] += 1
            others: list[float] = []
            compared: set[int] = set()
            for (first_cycle, second_cycle), weight in pairs.items():
                for person_id, rated in history.items():
                    if person_id in trained_people:
                        continue
                    a = _in_cycle(rated, first_cycle, key)
                    b = _in_cycle(rated, second_cycle, key)
                    if a is not None and b is not None:
                        # Weighted like the trained: each cycle pair counts as often as
                        # trained people crossed it.
                        others.extend([b - a] * weight)
                        compared.add(person_id)
            effects.append(CompetencyEffect(
                competency=key, trained=len(changes), trained_change=_mean(changes),
                untrained=len(compared), untrained_change=_mean(others),
            ))
        found.append(CourseEffect(course, len(done), tuple(effects)))
    found.sort(key=lambda e: e.course.title.casefold())
    return found


# --- the managers' appraisal-skills course -----------------------------------------------------


@dataclass(frozen=True)
class ManagerTraining:
    """A people manager and where they stand with the managers' course."""

    person: PersonInfo
    status: str  # completed | enrolled | not_yet
    completed_at: datetime | None


@dataclass(frozen=True)
class UnitManagers:
    """The people managers of one unit and their standing with the managers' course."""

    unit: UnitInfo | None
    managers: tuple[ManagerTraining, ...]

    def count(self, status: str) -> int:
        """How many of the unit's managers stand at `status`."""
        return sum(1 for m in self.managers if m.status == status)


@dataclass(frozen=True)
class ManagerCourseCoverage:
    """Which people managers have completed the managers' course, are enrolled or not yet."""

    course: CourseInfo | None
    units: tuple[UnitManagers, ...]

    def count(self, status: str) -> int:
        """How many managers in all stand at `status`."""
        return sum(u.count(status) for u in self.units)

    @property
    def total(self) -> int:
        """How many people managers there are."""
        return sum(len(u.managers) for u in self.units)


async def manager_course_coverage(directory: DirectorySnapshot) -> ManagerCourseCoverage:
    """Everyone with reports, by unit, and whether they completed the pack's managers' course
    (`[features.training] manager_course`), are enrolled on it, or neither."""
    code = training_feature(await newest_pack()).manager_course
    row = await Course.get_or_none(code=code)
    course = course_info(row) if row is not None else None
    standing: dict[int, tuple[str, datetime | None]] = {}
    if row is not None:
        for e in await Enrolment.filter(course_id=row.id).values(
                "person_id", "status", "completed_at"):
            if e["status"] == "completed":
                standing[e["person_id"]] = ("completed", e["completed_at"])
            elif e["status"] in ("enrolled", "attended"):
                standing.setdefault(e["person_id"], ("enrolled", None))
    by_unit: dict[int | None, list[ManagerTraining]] = defaultdict(list)
    for person in directory.people.values():
        if not person.active or not directory.reports_of(person.id):
            continue
        status, when = standing.get(person.id, ("not_yet", None))
        by_unit[person.org_unit_id].append(ManagerTraining(person, status, when))
    order = {"not_yet": 0, "enrolled": 1, "completed": 2}
    units = [
        UnitManagers(directory.unit(unit_id),
                     tuple(sorted(people, key=lambda m: (order[m.status], m.person.name))))
        for unit_id, people in by_unit.items()
    ]
    units.sort(key=lambda u: (u.unit.name if u.unit else "").casefold())
    return ManagerCourseCoverage(course, tuple(units))
