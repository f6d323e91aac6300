"""Training for the demo: the pack's courses, sessions past and upcoming, completions with
evaluations, the managers' appraisal-skills course half taken, and competency ratings in two
past cycles so HR's effect table has something to read.

The two oldest closed year-end cycles (engine.operations.demo_history) get everyone's
competency ratings when they have none: a person's level drifts a little from one cycle to the
next, and the people who completed a course between the two improve on what it develops more
often than the others — the story an HR manager hopes the table tells. This year brings
upcoming sessions with people enrolled, one person waiting for a session, the demo employee's
completed course waiting for their evaluation, and their request for a costly course waiting
on their manager.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engine.base import clock
from engine.base.models import Course, CourseSession, Cycle, Enrolment, Record
from engine.people.directory import PersonInfo, current_directory
from engine.performance.deployed_pack import newest_pack
from engine.talent import training, training_enrolments
from engine.workflow import runtime, store

# Courses run last year (code, weeks after the older cycle closed, participants).
PAST_RUNS = (
    ("feedback_conversations", 10, 12),
    ("structured_problem_solving", 14, 10),
    ("secure_coding", 18, 8),
    ("working_across_teams", 22, 9),
    ("presenting_with_impact", 26, 6),
)
# Courses on offer in the coming weeks: (code, days ahead, seats, location, trainer).
UPCOMING = (
    ("appraisal_coaching_skills", 16, 12, "Berlin HQ, room Ada", "Nora Fischer"),
    ("appraisal_coaching_skills", 58, 12, "Online", "Nora Fischer"),
    ("feedback_conversations", 9, 16, "Berlin HQ, room Turing", "Jonas Weber"),
    ("leading_teams", 30, 14, "Hartmann Institute, Munich", "Dr. Eva Hartmann"),
    ("cloud_architecture", 44, 10, "Online", "Skyline Tech Education"),
    ("secure_coding", 23, 14, "Lab 2", "Security team"),
    ("negotiation_skills", 37, 12, "Hamburg office", "Harbour Sales Academy"),
)
DEMO_EMPLOYEE = "E1021"
WHAT_THEY_APPLY = (
    "Asking for feedback at the end of every sprint review.",
    "Writing the problem statement before proposing a fix.",
    "Threat-modelling each new endpoint with the team.",
    "A stakeholder map for the migration project.",
    "Opening with the decision I need, not the background.",
    "Agreeing next steps in writing after each conversation.",
)
COMMENTS = ("", "", "Great trainer, very practical.", "Half a day more would help.",
            "The exercises were close to our daily work.", "")


def _clamp(level: int) -> int:
    return max(1, min(5, level))


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _family_competencies(catalogs: dict[str, Any], family: str) -> list[str]:
    framework = catalogs.get("competencies") or {}
    families = framework.get("families") or {}
    chosen = family if family in families else framework.get("default_family", "")
    return list((families.get(chosen) or {}).get("competencies") or [])


async def seed_demo_training(seed: int = 2026) -> list[str]:
    """The demo's training; a line saying what was done (nothing without the pack's courses
    or when courses have sessions already)."""
    pack = await newest_pack()
    await training.sync_pack_courses(pack)
    courses = {c.code: c for c in await Course.all()}
    if not courses or await CourseSession.exists():
        return []
    rng = random.Random(seed)
    directory = await current_directory()
    people = sorted((p for p in directory.people.values() if p.active), key=lambda p: p.key)
    now = clock.now()
    kind = pack.features.records.competency_ratings
    cycles = [c for c in await Cycle.filter(name__endswith="year-end").order_by("starts_on")
              if c.due_on is not None and c.due_on < now.date()]
    trained: dict[int, set[str]] = {}
    completions = 0
    if len(cycles) >= 2:
        older, newer = cycles[0], cycles[1]
        assert older.due_on is not None
        for code, weeks, size in PAST_RUNS:
            course = courses.get(code)
            if course is None:
                continue
            day = older.due_on + timedelta(weeks=weeks)
            session = await CourseSession.create(
                course_id=course.id, starts_at=_at(day), ends_at=_at(day, 17),
                location="Berlin HQ", trainer=course.provider, seats=size + 2,
                created_by="demo", created_at=_at(day - timedelta(days=40)))
            fits = [p for p in people
                    if set(course.competencies) & set(_family_competencies(pack.catalogs,
                                                                           p.job_family))]
            for person in rng.sample(fits, min(size, len(fits))):
                completions += await _past_enrolment(rng, course, session, person, day)
                trained.setdefault(person.id, set()).update(course.competencies)
        await _past_ratings(rng, pack.catalogs, kind, people, older, newer, trained)
    managers = await _managers_course(rng, courses, people, directory.reports_of, now)
    upcoming = await _upcoming(rng, courses, people,
                               {p.id for p in people if directory.reports_of(p.id)}, now)
    await _demo_employee(courses, now)
    return [f"Training: {len(courses)} courses, {completions} completions last year, "
            f"{managers} managers through the appraisal-skills course, {upcoming} enrolled "
            "in upcoming sessions."]


async def _past_enrolment(rng: random.Random, course: Course, session: CourseSession,
                          person: PersonInfo, day: date) -> int:
    """A participant of last year's session: completed and mostly evaluated, or a no-show."""
    if rng.random() < 0.08:
        await Enrolment.create(course_id=course.id, session_id=session.id, person_id=person.id,
                               status="no_show", enrolled_at=_at(day - timedelta(days=30)),
                               updated_by="demo")
        return 0
    evaluation = None
    if rng.random() < 0.8:
        evaluation = {"rating": rng.choice((3, 4, 4, 5, 5)), "useful": rng.choice((3, 4, 4, 5)),
                      "applied": rng.choice(WHAT_THEY_APPLY), "comment": rng.choice(COMMENTS)}
    await Enrolment.create(
        course_id=course.id, session_id=session.id, person_id=person.id, status="completed",
        enrolled_at=_at(day - timedelta(days=30)), completed_at=_at(day, 17),
        evaluation=evaluation, evaluated_at=_at(day + timedelta(days=2)) if evaluation else None,
        updated_by="demo")
    return 1


async def _past_ratings(rng: random.Random, catalogs: dict[str, Any], kind: str,
                        people: list[PersonInfo], older: Cycle, newer: Cycle,
                        trained: dict[int, set[str]]) -> None:
    """Everyone's competency ratings in the two cycles, unless those cycles have some."""
    if await Record.exists(kind=kind, cycle_id__in=[older.id, newer.id]):
        return
    batch = store.Batch()
    for person in people:
        keys = _family_competencies(catalogs, person.job_family)
        if not keys:
            continue
        before: dict[str, int] = {}
        after: dict[str, int] = {}
        for key in keys:
            level = _clamp(3 + rng.choice((-1, -1, 0, 0, 0, 1)))
            before[key] = level
            step = rng.choice((-1, 0, 0, 0, 0, 1))
            if key in trained.get(person.id, ()) and rng.random() < 0.55:
                step = 1  # the course shows: more often a level up
            after[key] = _clamp(level + step)
        for cycle, ratings in ((older, before), (newer, after)):
            assert cycle.due_on is not None
            own = {k: _clamp(v + rng.choice((0, 0, 1))) for k, v in ratings.items()}
            batch.insert(Record, {
                "kind": kind, "person_id": person.id, "cycle_id": cycle.id,
                "data": {"job_family": person.job_family, "ratings": ratings,
                         "self_ratings": own},
                "created_at": _at(cycle.due_on), "created_by": "demo-history",
            })
    await store.apply(batch)


async def _managers_course(rng: random.Random, courses: dict[str, Course],
                           people: list[PersonInfo], reports_of: Any, now: datetime) -> int:
    """About half the people managers completed the course last year; a few are enrolled."""
    course = courses.get((await _feature()).manager_course)
    if course is None:
        return 0
    managers = [p for p in people if reports_of(p.id)]
    day = (now - timedelta(days=150)).date()
    session = await CourseSession.create(
        course_id=course.id, starts_at=_at(day), ends_at=_at(day + timedelta(days=1), 17),
        location="Berlin HQ, room Ada", trainer="Nora Fischer", seats=14, created_by="demo",
        created_at=_at(day - timedelta(days=60)))
    done = 0
    for person in managers:
        if rng.random() < 0.5:
            await _past_enrolment(rng, course, session, person, day)
            done += 1
    return done


async def _feature() -> Any:
    return training.training_feature(await newest_pack())


async def _upcoming(rng: random.Random, courses: dict[str, Course], people: list[PersonInfo],
                    managers: set[int], now: datetime) -> int:
    """Sessions in the coming weeks, some people enrolled; one person waiting for a place."""
    enrolled = 0
    taken = {(e["person_id"], e["course_id"]) for e in await Enrolment.filter(
        status__in=("enrolled", "completed")).values("person_id", "course_id")}
    manager_course = (await _feature()).manager_course
    for code, days, seats, location, trainer in UPCOMING:
        course = courses.get(code)
        if course is None:
            continue
        day = (now + timedelta(days=days)).date()
        session = await CourseSession.create(
            course_id=course.id, starts_at=_at(day), ends_at=_at(day, 17), location=location,
            trainer=trainer, seats=seats, created_by="demo", created_at=now)
        # The managers' course is for people managers; the others for anyone.
        pool = [p for p in people if p.id in managers] if code == manager_course else people
        for person in rng.sample(pool, min(len(pool), rng.randint(2, 5))):
            key = (person.id, course.id)
            if key in taken or person.key == DEMO_EMPLOYEE:
                continue
            taken.add(key)
            await Enrolment.create(course_id=course.id, session_id=session.id,
                                   person_id=person.id, status="enrolled",
                                   enrolled_at=now - timedelta(days=rng.randint(1, 20)),
                                   updated_by="demo")
            enrolled += 1
    course = courses.get("project_delivery")
    waiting = next((p for p in people if p.key != DEMO_EMPLOYEE
                    and (p.id, course.id if course else 0) not in taken), None)
    if course is not None and waiting is not None:
        await Enrolment.create(course_id=course.id, person_id=waiting.id, status="enrolled",
                               enrolled_at=now - timedelta(days=3), updated_by="demo")
    return enrolled


async def _demo_employee(courses: dict[str, Course], now: datetime) -> None:
    """The demo employee finished a course last month (their evaluation is asked for) and
    asks for a costly one now: it waits on their manager."""
    directory = await current_directory()
    person = directory.person(DEMO_EMPLOYEE)
    course = courses.get("customer_discovery")
    if person is None or course is None:
        return
    day = (now - timedelta(days=24)).date()
    session = await CourseSession.create(
        course_id=course.id, starts_at=_at(day), ends_at=_at(day, 17), location="Berlin HQ",
        trainer=course.provider, seats=12, created_by="demo", created_at=_at(day))
    await Enrolment.create(course_id=course.id, session_id=session.id, person_id=person.id,
                           status="completed", enrolled_at=_at(day - timedelta(days=20)),
                           completed_at=_at(day, 17), updated_by="demo")
    if "cloud_architecture" not in courses:
        return
    actor = await runtime.actor_for(DEMO_EMPLOYEE)
    task_id = await training_enrolments.request_course(actor, person.id, "cloud_architecture")
    if task_id is None:
        return
    upcoming = await training.sessions_of([courses["cloud_architecture"].id], upcoming_only=True)
    await runtime.complete_task(task_id, actor, {
        "preferred_session": f"session:{upcoming[0].id}" if upcoming else "",
        "target_competency": "technical_mastery",
        "reason": "Our services move to the cloud next year and I will design the new "
                  "deployment; the certification covers exactly that.",
    })
