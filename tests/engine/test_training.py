"""Training: the catalog seeded from the pack and kept as HR edits it, sessions, a training
request through the standard pack's approval to an enrolment, attendance, completion and the
participant's evaluation, with clear errors for bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed
from engine.base.models import Course, Cycle, Enrolment, HumanTask, Record
from engine.people.directory import current_directory
from engine.talent import training, training_effect, training_enrolments
from engine.talent.training import TrainingInputError
from engine.workflow import runtime
from engine.workflow.task_context import task_context

pytestmark = pytest.mark.usefixtures("standard")

# Dana directs Morgan, who leads Eve and Eli; Hana is HR (and reports to Dana).
KNOWN = {"communication": "Communication", "coaching": "Coaching", "leading_people": "Leading"}


def _when(days: int) -> str:
    return (clock.now() + timedelta(days=days)).strftime("%Y-%m-%dT09:00")


async def _pid(key: str) -> int:
    person = (await current_directory()).person(key)
    assert person is not None
    return person.id


async def _task(instance_id: int, bpmn_id: str) -> HumanTask:
    task = await HumanTask.get_or_none(instance_id=instance_id, bpmn_id=bpmn_id, status="ready")
    assert task is not None, f"{bpmn_id} is not open"
    return task


async def _ask(person: str, code: str, by: str | None = None, session: str = "") -> int:
    """`by` (else the person) asks for the course; returns the instance."""
    directory = await current_directory()
    actor = await runtime.actor_for(by or person)
    subject = directory.person(person)
    assert subject is not None
    task_id = await training_enrolments.request_course(actor, subject.id, code)
    assert task_id is not None
    task = await HumanTask.get(id=task_id)
    await runtime.complete_task(task_id, actor, {
        "preferred_session": session, "target_competency": "coaching",
        "reason": "I lead appraisals for the first time this year."})
    return task.instance_id


async def test_the_pack_catalog_becomes_courses_and_hr_edits_survive_a_sync() -> None:
    await training.ensure_catalog()
    courses = {c.code: c for c in await training.all_courses()}
    manager_course = courses["appraisal_coaching_skills"]
    assert manager_course.title == "Appraisal and coaching skills for managers"
    assert manager_course.from_pack and "coaching" in manager_course.competencies
    assert len(courses) >= 10
    assert {c.delivery for c in courses.values()} == {"internal", "external"}
    # HR changes the price: the course is HR's now, and a sync leaves it alone.
    form = {**manager_course.as_start_data(), "cost": "520",
            "competencies": list(manager_course.competencies)}
    await training.save_course("appraisal_coaching_skills", form,
                               {k: k for k in manager_course.competencies}, "person:H1")
    await Course.filter(code="secure_coding").update(title="Old title")  # pack's, drifted
    assert await training.sync_pack_courses() == 1
    assert (await training.course_by_code("appraisal_coaching_skills")).cost == 520.0
    assert (await training.course_by_code("secure_coding")).title == "Secure coding workshop"
    # A course HR retired stays retired after a sync.
    await training.set_course_active("secure_coding", False, "person:H1")
    await training.sync_pack_courses()
    assert "secure_coding" not in {c.code for c in await training.all_courses()}


async def test_bad_course_and_session_input_is_refused_with_the_field_named() -> None:
    await training.ensure_catalog()
    good = {"code": "excel_basics", "title": "Excel basics", "delivery": "internal",
            "cost": "120", "currency": "EUR", "duration_hours": "4",
            "competencies": ["communication"]}
    cases = [
        ({"title": ""}, "title"),
        ({"delivery": "online"}, "delivery"),
        ({"cost": "a lot"}, "cost"),
        ({"cost": "-5"}, "cost"),
        ({"duration_hours": "0"}, "duration_hours"),
        ({"currency": "euro"}, "currency"),
        ({"competencies": []}, "competencies"),
        ({"competencies": ["juggling"]}, "competencies"),
        ({"code": "Excel Basics!"}, "code"),
        ({"code": "secure_coding"}, "code"),  # taken
    ]
    for change, field in cases:
        with pytest.raises(TrainingInputError) as caught:
            await training.save_course(None, {**good, **change}, KNOWN, "person:H1")
        assert caught.value.field == field, change
    assert not await Course.exists(code="excel_basics")
    added = await training.save_course(None, good, KNOWN, "person:H1")
    assert added.origin == "app" and added.cost == 120.0
    for change, field in [
        ({"starts_at": ""}, "starts_at"),
        ({"starts_at": "next Monday"}, "starts_at"),
        ({"ends_at": _when(9)}, "ends_at"),  # before it starts
        ({"seats": "0"}, "seats"),
        ({"seats": "ten"}, "seats"),
    ]:
        with pytest.raises(TrainingInputError) as caught:
            await training.schedule_session(
                "excel_basics", {"starts_at": _when(10), **change}, "person:H1")
        assert caught.value.field == field, change
    session = await training.schedule_session(
        "excel_basics", {"starts_at": _when(10), "ends_at": _when(11), "seats": "8",
                         "location": "Room 4"}, "person:H1")
    assert session.free == 8 and not session.is_past


async def test_a_costly_request_goes_through_manager_and_hr_to_an_enrolment() -> None:
    await training.ensure_catalog()
    session = await training.schedule_session(
        "leading_teams", {"starts_at": _when(20), "seats": "10", "location": "Berlin"},
        "person:H1")
    instance_id = await _ask("M1", "leading_teams", session=f"session:{session.id}")
    # The manager's manager approves; 2,400 EUR external goes to HR too.
    review = await _task(instance_id, "manager_review")
    await runtime.complete_task(review.id, await runtime.actor_for("D1"),
                                {"manager_decision": "approve"})
    assert not await Enrolment.exists()
    hr = await _task(instance_id, "hr_review")
    assert hr.candidate_group == "hr"
    await runtime.complete_task(hr.id, await runtime.actor_for("H1"), {"hr_decision": "approve"})
    morgan = await _pid("M1")
    [enrolment] = await training_enrolments.enrolments_of_person(morgan)
    assert enrolment.course.code == "leading_teams" and enrolment.status == "enrolled"
    assert enrolment.session is not None and enrolment.session.id == session.id
    assert enrolment.instance_id == instance_id
    assert (await training.session_by_id(session.id)).free == 9
    await _task(instance_id, "see_training_decision")  # Morgan is told
    # HR marks attendance, then completion; Morgan evaluates once.
    assert await training_enrolments.mark_enrolments(
        [enrolment.id], "completed", "person:H1", session.id) == 1
    done = await training_enrolments.enrolment_by_id(enrolment.id)
    assert done.status == "completed" and done.completed_at is not None
    assert done.awaits_evaluation
    with pytest.raises(TrainingInputError) as caught:
        await training_enrolments.evaluate(enrolment.id, morgan, {"rating": "6", "useful": "4"})
    assert caught.value.field == "rating"
    with pytest.raises(TrainingInputError) as caught:
        await training_enrolments.evaluate(enrolment.id, morgan, {"rating": "5", "useful": "4"})
    assert caught.value.field == "applied"
    answers = {"rating": "5", "useful": "4", "applied": "Weekly one-to-ones", "comment": ""}
    await training_enrolments.evaluate(enrolment.id, morgan, answers)
    with pytest.raises(TrainingInputError):
        await training_enrolments.evaluate(enrolment.id, morgan, answers)
    [summary] = await training_enrolments.evaluations_by_course()
    assert (summary.count, summary.mean_rating, summary.mean_useful) == (1, 5.0, 4.0)


async def test_a_cheap_internal_course_needs_only_the_manager_and_a_decline_enrols_nobody(
) -> None:
    await training.ensure_catalog()
    approved = await _ask("E1", "feedback_conversations")
    review = await _task(approved, "manager_review")
    await runtime.complete_task(review.id, await runtime.actor_for("M1"),
                                {"manager_decision": "approve"})
    assert not await HumanTask.exists(instance_id=approved, bpmn_id="hr_review")
    declined = await _ask("E2", "cloud_architecture")
    review = await _task(declined, "manager_review")
    await runtime.complete_task(review.id, await runtime.actor_for("M1"),
                                {"manager_decision": "decline", "manager_comment": "Next year."})
    rows = await Enrolment.all().values_list("person_id", flat=True)
    assert rows == [await _pid("E1")]
    # No session chosen: Eve waits for HR to place her.
    [eve] = await training_enrolments.enrolments_of_person(await _pid("E1"))
    assert eve.session is None


async def test_a_manager_asks_for_a_report_and_their_asking_is_the_approval() -> None:
    await training.ensure_catalog()
    instance_id = await _ask("E1", "appraisal_coaching_skills", by="M1")
    assert not await HumanTask.exists(instance_id=instance_id, bpmn_id="manager_review")
    await _task(instance_id, "see_training_decision")
    assert await Enrolment.exists()
    # Nobody asks for someone outside their line, and nobody for the same course twice.
    with pytest.raises(NotAllowed):
        await training_enrolments.request_course(
            await runtime.actor_for("E2"), await _pid("E1"), "secure_coding")
    with pytest.raises(TrainingInputError):
        await training_enrolments.request_course(
            await runtime.actor_for("E1"), await _pid("E1"), "appraisal_coaching_skills")


async def test_the_request_form_offers_the_course_s_open_sessions_with_free_seats() -> None:
    await training.ensure_catalog()
    soon = await training.schedule_session(
        "secure_coding", {"starts_at": _when(5), "seats": "1", "location": "Lab"}, "person:H1")
    later = await training.schedule_session(
        "secure_coding", {"starts_at": _when(30), "location": "Online"}, "person:H1")
    full = await training.schedule_session(
        "secure_coding", {"starts_at": _when(40), "seats": "1"}, "person:H1")
    await training.schedule_session("feedback_conversations", {"starts_at": _when(6)},
                                    "person:H1")
    await training_enrolments.enrol_directly(await _pid("E2"), "secure_coding", full.id,
                                             "person:H1")
    actor = await runtime.actor_for("E1")
    task_id = await training_enrolments.request_course(actor, await _pid("E1"), "secure_coding")
    assert task_id is not None
    ctx = await task_context(task_id)
    offered = ctx.catalogs["course_sessions"]["open"]
    assert [e["value"] for e in offered] == [f"session:{soon.id}", f"session:{later.id}"]
    assert "Lab" in offered[0]["label"] and "1 of 1 seats free" in offered[0]["label"]
    german = await task_context(task_id, "de")
    assert "1 von 1 Plätzen frei" in german.catalogs["course_sessions"]["open"][0]["label"]


async def _rated(key: str, cycle_id: int, ratings: dict[str, int]) -> None:
    await Record.create(kind="competency_ratings", person_id=await _pid(key), cycle_id=cycle_id,
                        data={"job_family": "engineering", "ratings": ratings})


async def test_the_effect_compares_the_trained_with_the_rest_between_the_same_cycles() -> None:
    await training.ensure_catalog()
    today = clock.now().date()
    before = await Cycle.create(name="Earlier year-end", starts_on=today - timedelta(days=400),
                                due_on=today - timedelta(days=340))
    after = await Cycle.create(name="Later year-end", starts_on=today - timedelta(days=60),
                               due_on=today - timedelta(days=5))
    # Eve and Eli took the course between the two appraisals; the others did not.
    for key, first, second in (("E1", 2, 4), ("E2", 3, 4), ("M1", 3, 3), ("D1", 2, 3),
                               ("H1", 4, 3)):
        await _rated(key, before.id, {"communication": first, "collaboration": 3})
        await _rated(key, after.id, {"communication": second, "collaboration": 3})
    course = await Course.get(code="feedback_conversations")
    for key in ("E1", "E2"):
        await Enrolment.create(course_id=course.id, person_id=await _pid(key),
                               status="completed", enrolled_at=clock.now(),
                               completed_at=clock.now() - timedelta(days=200))
    [effect] = await training_effect.course_effects()
    by_key = {e.competency: e for e in effect.effects}
    communication = by_key["communication"]
    assert (communication.trained, communication.trained_change) == (2, 1.5)
    assert (communication.untrained, communication.untrained_change) == (3, 0.0)
    assert communication.difference == 1.5
    assert not communication.enough  # two people are too few to read
    assert by_key["collaboration"].difference == 0.0


async def test_hr_sees_which_managers_took_the_managers_course() -> None:
    await training.ensure_catalog()
    session = await training.schedule_session("appraisal_coaching_skills",
                                              {"starts_at": _when(10)}, "person:H1")
    done = await training_enrolments.enrol_directly(await _pid("D1"),
                                                    "appraisal_coaching_skills", None, "H1")
    await training_enrolments.mark_enrolments([done.id], "completed", "person:H1")
    await training_enrolments.enrol_directly(await _pid("M1"), "appraisal_coaching_skills",
                                             session.id, "person:H1")
    coverage = await training_effect.manager_course_coverage(await current_directory())
    assert coverage.course is not None and coverage.course.code == "appraisal_coaching_skills"
    standing = {m.person.key: m.status for u in coverage.units for m in u.managers}
    assert standing == {"D1": "completed", "M1": "enrolled"}  # Eve, Eli, Hana lead nobody
    assert (coverage.count("completed"), coverage.count("enrolled"), coverage.total) == (1, 1, 2)
