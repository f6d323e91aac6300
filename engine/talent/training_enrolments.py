"""People on courses: training requests, enrolments, attendance, completion and evaluations.

A person asks for a course through the pack's request process (`[features.training]
process`), started here with the course as the catalog has it — the approvers decide on what
was asked for, even if HR changes the price later. When the process writes its enrolment
record (`enrolment_record`: `course` code, `session` "session:<id>" or empty), the store hook
below adds the `Enrolment` row to the same batch: an approval is never without its enrolment,
and a lost race enrols nobody. The preferred session is kept when it is still open and has a
free seat; otherwise HR places the person.

HR marks attendance a session at a time (attended, no-show, completed); a completed course
asks its participant for a short evaluation on their training page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.base import clock
from engine.base.db import Params, clears_on_connect
from engine.base.errors import NotAllowed, NotFound
from engine.base.i18n import said
from engine.base.models import Course, CourseSession, Enrolment, HumanTask, ProcessInstance, Record
from engine.packs.loading import Features, TrainingFeature
from engine.people.directory import current_directory
from engine.performance.deployed_pack import newest_pack
from engine.talent.training import (
    HOLDS_SEAT,
    CourseInfo,
    SessionInfo,
    TrainingInputError,
    course_info,
    session_by_id,
    sessions_of,
    training_feature,
)
from engine.workflow import runtime
from engine.workflow.store import Batch, Ref, before_apply

STATUSES = ("enrolled", "attended", "completed", "no_show", "cancelled")
# What HR may set from the session roster.
MARKS = ("attended", "completed", "no_show", "cancelled", "enrolled")
SESSION_REF = "session:"
TEXT_MAX = 2000


@dataclass(frozen=True)
class EnrolmentInfo:
    """A person on a course, as the pages show it."""

    id: int
    course: CourseInfo
    session: SessionInfo | None
    person_id: int
    instance_id: int | None
    status: str
    enrolled_at: datetime
    completed_at: datetime | None
    evaluation: dict[str, Any] | None
    evaluated_at: datetime | None
    updated_by: str

    @property
    def awaits_evaluation(self) -> bool:
        """Completed, and its participant has not evaluated it yet."""
        return self.status == "completed" and self.evaluation is None


# --- requests ----------------------------------------------------------------------------------


async def request_course(actor: runtime.Actor, person_id: int, code: str) -> int | None:
    """Start a training request for `person_id` (the actor themselves, or someone they
    manage) on the course `code`; returns the actor's request step, opened next."""
    directory = await current_directory()
    person = directory.person(person_id)
    if person is None or not person.active:
        raise NotFound(f"no person {person_id}")
    if actor.person_id != person.id and (
        actor.person_id is None or not directory.is_manager_of(actor.person_id, person.id)
    ):
        raise NotAllowed("only the person or their manager may ask for a course for them")
    row = await Course.get_or_none(code=code)
    if row is None or not row.active:
        raise TrainingInputError("course", said("That course is not offered any more."))
    if await Enrolment.exists(person_id=person.id, course_id=row.id, status="enrolled"):
        raise TrainingInputError("course", said(
            "%(name)s is enrolled on this course already.", name=person.name))
    feature = training_feature(await newest_pack())
    asker = directory.person(actor.person_id)
    instance = await runtime.start_process(
        feature.process, subject=person.id, actor=actor,
        data={
            "course": course_info(row).as_start_data(),
            "requested_by": {"id": actor.person_id, "name": asker.name if asker else ""},
        },
    )
    task = await HumanTask.get_or_none(instance_id=instance.id, bpmn_id=feature.request_task,
                                       status="ready")
    return task.id if task is not None else None


# --- enrolling when the request is approved ---------------------------------------------------

# Definition rows never change: the training feature of each is kept per definition id.
_features_by_definition: dict[int, TrainingFeature] = {}
clears_on_connect(_features_by_definition.clear)


async def _feature_of(definition_id: int) -> TrainingFeature:
    """The `[features.training]` a deployed version runs under, read on the connection the
    action holds (this runs inside an action: Params.rows)."""
    found = _features_by_definition.get(definition_id)
    if found is None:
        p = Params()
        rows = await p.rows(
            f'SELECT "settings" FROM "process_definition" WHERE "id" = {p(definition_id)}')
        settings = rows[0]["settings"] if rows else None
        if isinstance(settings, str):
            settings = json.loads(settings)
        table = settings.get("features") if isinstance(settings, dict) else None
        features: Features = Features.from_table(table)[0]
        found = _features_by_definition[definition_id] = features.training
    return found


def _moment(value: Any) -> datetime:
    """A timestamp as a raw read returns it (a string on SQLite) as an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _session_id(value: Any) -> int | None:
    text = str(value or "")
    if not text.startswith(SESSION_REF) or not text[len(SESSION_REF):].isdigit():
        return None
    return int(text[len(SESSION_REF):])


async def _enrolment_values(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Enrolment row an enrolment record asks for; None for a course that is gone."""
    stored = values.get("data")
    data: Mapping[str, Any] = stored if isinstance(stored, dict) else {}
    p = Params()
    rows = await p.rows(f'SELECT "id" FROM "course" WHERE "code" = {p(str(data.get("course")))}')
    if not rows:
        return None
    course_id = rows[0]["id"]
    session_id = _session_id(data.get("session"))
    if session_id is not None:
        p = Params()
        held = await p.rows(
            'SELECT s."seats", s."starts_at", (SELECT COUNT(*) FROM "enrolment" e '
            f'WHERE e."session_id" = s."id" AND e."status" IN ({p.many(HOLDS_SEAT)})) AS "taken" '
            f'FROM "course_session" s WHERE s."id" = {p(session_id)} '
            f'AND s."course_id" = {p(course_id)} AND s."cancelled_at" IS NULL')
        if not held or _moment(held[0]["starts_at"]) <= clock.now() or (
            held[0]["seats"] is not None and held[0]["taken"] >= held[0]["seats"]
        ):
            session_id = None  # gone, cancelled, started or full: HR places the person
    instance = values.get("instance_id")
    return {
        "course_id": course_id, "session_id": session_id, "person_id": values["person_id"],
        "instance_id": instance, "status": "enrolled", "enrolled_at": clock.now(),
        "updated_by": str(values.get("created_by", ""))[:128],
    }


async def _enrol_on_approval(batch: Batch) -> None:
    """Store hook: each enrolment record a batch writes adds its Enrolment row to the batch."""
    records = batch.inserts_of(Record)
    if not records:
        return
    definitions: dict[int | Ref, int] = {}
    for where, values in batch.updates_of(ProcessInstance):
        if "definition_id" in values and where.get("id") is not None:
            definitions[where["id"]] = values["definition_id"]
    for values, ref in batch.inserts_of(ProcessInstance):
        definitions[ref] = values["definition_id"]
    for values, _ in records:
        instance = values.get("instance_id")
        definition_id = definitions.get(instance) if instance is not None else None
        if definition_id is None:
            continue
        if values.get("kind") != (await _feature_of(definition_id)).enrolment_record:
            continue
        enrolment = await _enrolment_values(values)
        if enrolment is not None:
            batch.insert(Enrolment, enrolment)


before_apply(_enrol_on_approval)


# --- reading enrolments ------------------------------------------------------------------------


async def _infos(rows: list[Enrolment]) -> list[EnrolmentInfo]:
    course_ids = sorted({row.course_id for row in rows})
    courses = {row.id: course_info(row) for row in await Course.filter(id__in=course_ids)}
    session_ids = sorted({row.session_id for row in rows if row.session_id is not None})
    sessions = {s.id: s for s in await sessions_of(course_ids)} if session_ids else {}
    return [
        EnrolmentInfo(
            id=row.id, course=courses[row.course_id],
            session=sessions.get(row.session_id) if row.session_id is not None else None,
            person_id=row.person_id, instance_id=row.instance_id, status=row.status,
            enrolled_at=row.enrolled_at, completed_at=row.completed_at,
            evaluation=row.evaluation if isinstance(row.evaluation, dict) else None,
            evaluated_at=row.evaluated_at, updated_by=row.updated_by,
        )
        for row in rows
    ]


async def enrolments_of_person(person_id: int) -> list[EnrolmentInfo]:
    """A person's enrolments, newest first."""
    rows = await Enrolment.filter(person_id=person_id).order_by("-enrolled_at", "-id")
    return await _infos(rows)


async def enrolments_of_course(course_id: int) -> list[EnrolmentInfo]:
    """Everyone enrolled on a course (in any session, or waiting for one), oldest first."""
    rows = await Enrolment.filter(course_id=course_id).order_by("enrolled_at", "id")
    return await _infos(rows)


async def enrolment_by_id(enrolment_id: int) -> EnrolmentInfo:
    """One enrolment; NotFound when it does not exist."""
    row = await Enrolment.get_or_none(id=enrolment_id)
    if row is None:
        raise NotFound(f"no enrolment {enrolment_id}")
    return (await _infos([row]))[0]


async def enrolments_of_people(person_ids: list[int]) -> list[EnrolmentInfo]:
    """The enrolments of these people (a manager's team), newest first."""
    rows = await Enrolment.filter(person_id__in=person_ids).order_by("-enrolled_at", "-id")
    return await _infos(rows)


async def enrolments_of_session(session_id: int) -> list[EnrolmentInfo]:
    """The people in a session (cancelled enrolments too, so HR can undo a mistake)."""
    rows = await Enrolment.filter(session_id=session_id).order_by("enrolled_at", "id")
    return await _infos(rows)


async def waiting_for_session() -> list[EnrolmentInfo]:
    """People enrolled on a course but in no session yet, longest waiting first."""
    rows = await Enrolment.filter(status="enrolled", session_id=None).order_by("enrolled_at", "id")
    return await _infos(rows)


async def counts_by_course() -> dict[int, dict[str, int]]:
    """Per course id: how many enrolments stand at each status."""
    counts: dict[int, dict[str, int]] = {}
    for row in await Enrolment.all().values("course_id", "status"):
        per = counts.setdefault(row["course_id"], {})
        per[row["status"]] = per.get(row["status"], 0) + 1
    return counts


# --- HR's marks --------------------------------------------------------------------------------


async def enrol_directly(person_id: int, code: str, session_id: int | None, actor_label: str
                         ) -> EnrolmentInfo:
    """HR enrols a person without a request (a mandatory course): in the session when it is
    the course's, open and not full."""
    course = await Course.get_or_none(code=code)
    if course is None:
        raise NotFound(f"no course '{code}'")
    if await Enrolment.exists(person_id=person_id, course_id=course.id, status="enrolled"):
        raise TrainingInputError("person", said("They are enrolled on this course already."))
    if session_id is not None:
        session = await session_by_id(session_id)
        if session.course_id != course.id or session.cancelled_at is not None:
            raise TrainingInputError("session", said("Choose an open session of this course."))
        if session.free == 0:
            raise TrainingInputError("session", said("That session is full."))
    row = await Enrolment.create(course_id=course.id, session_id=session_id,
                                 person_id=person_id, status="enrolled",
                                 enrolled_at=clock.now(), updated_by=actor_label)
    return await enrolment_by_id(row.id)


async def place_in_session(enrolment_id: int, session_id: int, actor_label: str) -> None:
    """HR places an enrolled person in a session of their course (one with a free seat)."""
    enrolment = await enrolment_by_id(enrolment_id)
    session = await session_by_id(session_id)
    if session.course_id != enrolment.course.id or session.cancelled_at is not None:
        raise TrainingInputError("session", said("Choose an open session of this course."))
    if session.free == 0 and enrolment.session is None:
        raise TrainingInputError("session", said("That session is full."))
    await Enrolment.filter(id=enrolment_id).update(session_id=session_id, updated_by=actor_label)


async def mark_enrolments(ids: list[int], status: str, actor_label: str,
                          session_id: int | None = None) -> int:
    """Set the status of these enrolments (of `session_id`, when given): attended, completed
    (dated now), no-show, cancelled, or back to enrolled. Returns how many changed."""
    if status not in MARKS:
        raise TrainingInputError("status", said("Choose attended, completed, no-show or "
                                                "cancelled."))
    if not ids:
        raise TrainingInputError("enrolments", said("Tick the people to mark first."))
    query = Enrolment.filter(id__in=ids)
    if session_id is not None:
        query = query.filter(session_id=session_id)
    rows = await query
    changed = 0
    now = clock.now()
    for row in rows:
        if row.status == status:
            continue
        completed_at = (row.completed_at or now) if status == "completed" else None
        await Enrolment.filter(id=row.id).update(status=status, completed_at=completed_at,
                                                 updated_by=actor_label)
        changed += 1
    return changed


# --- evaluations -------------------------------------------------------------------------------


def _score(form: Mapping[str, Any], name: str) -> int:
    text = str(form.get(name, "") or "").strip()
    if text not in ("1", "2", "3", "4", "5"):
        raise TrainingInputError(name, said("Choose from 1 to 5."))
    return int(text)


def evaluation_values(form: Mapping[str, Any]) -> dict[str, Any]:
    """An evaluation form checked: overall rating and usefulness for the job (1–5), what the
    person will apply and a comment; else a TrainingInputError naming the field."""
    rating = _score(form, "rating")
    useful = _score(form, "useful")
    applied = str(form.get("applied", "") or "").strip()
    comment = str(form.get("comment", "") or "").strip()
    if not applied:
        raise TrainingInputError("applied", said("Say one thing you will apply in your work."))
    for name, text in (("applied", applied), ("comment", comment)):
        if len(text) > TEXT_MAX:
            raise TrainingInputError(name, said("Keep it under %(count)s characters.",
                                                count=TEXT_MAX))
    return {"rating": rating, "useful": useful, "applied": applied, "comment": comment}


async def evaluate(enrolment_id: int, person_id: int, form: Mapping[str, Any]) -> None:
    """The participant's evaluation of a course they completed (once)."""
    row = await Enrolment.get_or_none(id=enrolment_id, person_id=person_id)
    if row is None:
        raise NotFound(f"no enrolment {enrolment_id} of this person")
    if row.status != "completed":
        raise TrainingInputError("rating", said("You can evaluate a course once you have "
                                                "completed it."))
    values = evaluation_values(form)
    changed = await Enrolment.filter(id=row.id, evaluated_at=None).update(
        evaluation=values, evaluated_at=clock.now())
    if not changed:
        raise TrainingInputError("rating", said("You evaluated this course already."))


@dataclass(frozen=True)
class CourseEvaluations:
    """What the participants of one course said of it."""

    course: CourseInfo
    count: int
    completed: int
    mean_rating: float | None
    mean_useful: float | None
    # (enrolment id, person id, evaluation), newest first.
    answers: tuple[tuple[int, int, dict[str, Any]], ...]


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


async def evaluations_by_course() -> list[CourseEvaluations]:
    """Per course with completions: how many evaluated it, the mean overall rating and
    usefulness, and the answers, newest first."""
    rows = await Enrolment.filter(status="completed").order_by("-evaluated_at", "-id")
    by_course: dict[int, list[Enrolment]] = {}
    for row in rows:
        by_course.setdefault(row.course_id, []).append(row)
    courses = {c.id: course_info(c) for c in await Course.filter(id__in=list(by_course))}
    found = []
    for course_id, done in by_course.items():
        answered = [r for r in done if isinstance(r.evaluation, dict)]
        found.append(CourseEvaluations(
            course=courses[course_id], count=len(answered), completed=len(done),
            mean_rating=_mean([int(r.evaluation["rating"]) for r in answered]),
            mean_useful=_mean([int(r.evaluation["useful"]) for r in answered]),
            answers=tuple((r.id, r.person_id, r.evaluation) for r in answered),
        ))
    found.sort(key=lambda e: e.course.title.casefold())
    return found


async def session_course(session_id: int) -> CourseInfo:
    """The course a session belongs to."""
    row = await CourseSession.get_or_none(id=session_id).select_related("course")
    if row is None:
        raise NotFound(f"no session {session_id}")
    return course_info(row.course)
