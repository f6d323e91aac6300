"""Gap analysis: required against assessed proficiency per source, heat maps by team and
unit, who sees what, and the suggestions a development plan offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.models import (
    AuditEvent,
    Course,
    CourseSession,
    Cycle,
    HumanTask,
    Person,
    Record,
)
from engine.people.directory import current_directory, forget_directory
from engine.talent import gap_suggestions, gaps, positions
from engine.workflow import runtime


@dataclass(frozen=True)
class Viewer:
    person_id: int
    groups: frozenset[str] = frozenset()


async def viewer(key: str) -> Viewer:
    directory = await current_directory()
    person = directory.person(key)
    assert person is not None
    return Viewer(person.id, person.groups)


async def record(key: str, kind: str, data: dict[str, Any], cycle: Cycle | None = None) -> None:
    person = await Person.get(key=key)
    await Record.create(kind=kind, person_id=person.id, cycle=cycle, data=data)


@pytest.fixture
async def assessed(standard: None) -> Cycle:
    """Eve is a software engineer (all five competencies required at level 3) with a
    calibrated appraisal and feedback from colleagues; Eli has no evidence at all."""
    await positions.list_positions()
    await Person.filter(key="E1").update(position="software_engineer")
    forget_directory()
    cycle = await Cycle.create(name="Last year-end", starts_on=clock.now().date())
    await record("E1", "competency_ratings", {
        "job_family": "engineering",
        "ratings": {"communication": 2, "collaboration": 3, "delivering_results": 4,
                    "technical_mastery": 1, "problem_solving": 3},
        "self_ratings": {"communication": 4, "collaboration": 3, "delivering_results": 4,
                         "technical_mastery": 3, "problem_solving": 2},
    }, cycle)
    await record("E1", "final_rating", {"rating": 3, "manager_rating": 3,
                                        "calibrated_rating": 3}, cycle)
    eli, hana = await Person.get(key="E2"), await Person.get(key="H1")
    for giver, visibility, level in ((eli, "shared", 2), (hana, "manager", 3),
                                     (eli, "private", 1)):
        await record("E1", "feedback", {"from_id": giver.id, "visibility": visibility,
                                        "text": "…", "competency_ratings": {
                                            "communication": level}})
    return cycle


def line(found: gaps.PersonGaps, key: str) -> gaps.CompetencyGap:
    return next(g for g in found.lines if g.key == key)


async def test_each_source_is_shown_and_the_gap_is_from_the_best_evidence(
    assessed: Cycle,
) -> None:
    directory = await current_directory()
    found = await gaps.person_gaps(directory.person("E1").id, await viewer("M1"), directory)  # type: ignore[union-attr]

    assert found.profile is not None and found.profile.code == "software_engineer"
    communication = line(found, "communication")
    assert communication.required == 3
    # The manager sees feedback shared with Eve and feedback for managers; never a private note.
    assert communication.assessed == {"self": 4, "manager": 2, "peers": 2.5, "calibrated": 2}
    assert communication.peer_count == 2
    # Calibrated evidence wins over the employee's own higher view.
    assert (communication.evidence, communication.gap, communication.status) == (
        "calibrated", 1.0, "gap")
    assert line(found, "delivering_results").status == "meets"
    assert line(found, "delivering_results").gap == -1.0
    assert [g.key for g in found.gaps] == ["technical_mastery", "communication"]
    # The behaviours of the level Eve has to reach.
    assert communication.anchors[0] == (
        "Keeps stakeholders informed of progress and problems before they ask.")


async def test_without_calibration_the_manager_rating_is_the_evidence(assessed: Cycle) -> None:
    await Record.filter(kind="final_rating").delete()
    directory = await current_directory()

    found = await gaps.person_gaps(directory.person("E1").id, await viewer("M1"), directory)  # type: ignore[union-attr]

    communication = line(found, "communication")
    assert communication.assessed["calibrated"] is None
    assert (communication.evidence, communication.gap) == ("manager", 1.0)


async def test_the_newest_appraisal_counts_with_its_own_calibration_and_a_years_feedback(
    assessed: Cycle,
) -> None:
    """This year's appraisal replaces last year's, and last year's calibration does not carry
    over to it; feedback older than a year no longer counts."""
    this_year = await Cycle.create(name="This year-end", starts_on=clock.now().date())
    await record("E1", "competency_ratings", {
        "job_family": "engineering",
        "ratings": {"communication": 3, "technical_mastery": 2}}, this_year)
    eli = await Person.get(key="E2")
    await record("E1", "feedback", {"from_id": eli.id, "visibility": "shared", "text": "…",
                                    "competency_ratings": {"technical_mastery": 5}})
    old = await Record.filter(kind="feedback").order_by("-id").first()
    assert old is not None
    await Record.filter(id=old.id).update(created_at=clock.now() - gaps.PEER_WINDOW * 2)
    directory = await current_directory()

    found = await gaps.person_gaps(directory.person("E1").id, await viewer("M1"), directory)  # type: ignore[union-attr]

    communication = line(found, "communication")
    assert communication.assessed["manager"] == 3 and communication.assessed["calibrated"] is None
    assert (communication.evidence, communication.status) == ("manager", "meets")
    mastery = line(found, "technical_mastery")
    assert mastery.assessed["peers"] is None and mastery.assessed["manager"] == 2
    # A calibrated final rating of this year's cycle calibrates this year's appraisal.
    await record("E1", "final_rating", {"rating": 3, "calibrated_rating": 3}, this_year)
    again = await gaps.person_gaps(directory.person("E1").id, await viewer("M1"), directory)  # type: ignore[union-attr]
    assert line(again, "communication").evidence == "calibrated"


async def test_only_feedback_ratings_count_when_nothing_else_was_assessed(
    assessed: Cycle,
) -> None:
    await Record.filter(kind__in=["final_rating", "competency_ratings"]).delete()
    directory = await current_directory()
    eve = directory.person("E1")
    assert eve is not None

    as_manager = await gaps.person_gaps(eve.id, await viewer("M1"), directory)
    as_herself = await gaps.person_gaps(eve.id, await viewer("E1"), directory)

    assert line(as_manager, "communication").evidence == "peers"
    assert line(as_manager, "communication").gap == 0.5
    # Eve counts only the feedback she may read herself.
    assert line(as_herself, "communication").assessed["peers"] == 2
    assert line(as_herself, "collaboration").status == "no_evidence"


async def test_a_colleague_may_not_see_someone_elses_gaps(assessed: Cycle) -> None:
    directory = await current_directory()
    eve = directory.person("E1")
    assert eve is not None

    with pytest.raises(NotFound):
        await gaps.person_gaps(eve.id, await viewer("E2"), directory)
    # HR (Hana partners no unit: she covers everyone) and Eve's managers may.
    assert (await gaps.person_gaps(eve.id, await viewer("H1"), directory)).lines
    assert (await gaps.person_gaps(eve.id, await viewer("D1"), directory)).lines


async def test_the_team_heat_map_counts_gaps_per_competency(assessed: Cycle) -> None:
    directory = await current_directory()
    morgan = directory.person("M1")
    assert morgan is not None

    team = await gaps.team_heat_map(morgan.id, await viewer("M1"), directory)

    assert [r.label for r in team.rows] == ["Eli Employee", "Eve Employee"]
    eli, eve = team.rows
    assert eve.cells["technical_mastery"] == gaps.Cell(1, 1, 1, 2.0)
    assert eve.cells["technical_mastery"].band == "large"
    assert eve.cells["communication"].band == "medium"
    assert eve.cells["delivering_results"].band == "none"
    # Eli (generic engineering profile) was never assessed.
    assert eli.cells["communication"] == gaps.Cell(1, 0, 0, None)
    assert eli.cells["communication"].band == "unknown"
    with pytest.raises(NotFound):
        await gaps.team_heat_map(morgan.id, await viewer("E1"), directory)


async def test_the_unit_heat_map_is_for_hr_and_sums_everyone_below(assessed: Cycle) -> None:
    directory = await current_directory()
    unit = directory.unit_by_code("ORG")
    assert unit is not None

    units, people = await gaps.unit_heat_map(unit.id, await viewer("H1"), directory)

    total = units.rows[0]
    assert total.kind == "total" and total.people == 5
    # Of the three people whose profile requires communication with evidence, Eve has a gap.
    assert total.cells["communication"].with_gap == 1
    assert [r.label for r in people.rows][:2] == ["Dana Director", "Eli Employee"]
    with pytest.raises(NotAllowed):
        await gaps.unit_heat_map(unit.id, await viewer("M1"), directory)


async def plan_task() -> HumanTask:
    morgan = await runtime.actor_for("M1")
    instance = await runtime.start_process("development_plan", subject="E1", actor=morgan)
    return await HumanTask.get(instance_id=instance.id, bpmn_id="agree_plan", status="ready")


async def test_a_plan_suggests_actions_and_courses_and_adds_only_what_is_accepted(
    assessed: Cycle,
) -> None:
    await Course.create(code="tech_deep_dive", title="Technical deep dive",
                        competencies=["technical_mastery"], updated_at=clock.now())
    await Course.create(code="retired_course", title="Old course", active=False,
                        competencies=["technical_mastery"], updated_at=clock.now())
    deep_dive = await Course.get(code="tech_deep_dive")
    for days, cancelled in ((10, clock.now()), (40, None), (80, None), (-5, None)):
        await CourseSession.create(course=deep_dive, starts_at=clock.now() + timedelta(days),
                                   cancelled_at=cancelled, created_at=clock.now())
    task = await plan_task()
    directory = await current_directory()
    morgan = await viewer("M1")

    offered = await gap_suggestions.plan_suggestions(task.id, morgan, directory, "en")

    assert [i.gap.key for i in offered.items] == ["technical_mastery", "communication"]
    tech = offered.items[0]
    assert str(tech.goal) == "Technical mastery: reach level 3 (Meets expectations)"
    assert [s.kind for s in tech.suggestions] == ["action", "action", "course"]
    assert tech.suggestions[-1].text == "Technical deep dive"
    # Nothing was added by itself.
    assert (await HumanTask.get(id=task.id)).draft in (None, {})

    await gap_suggestions.decide(task.id, tech.suggestions[-1].id, True, morgan,
                                 "person:M1", directory, "en")
    await gap_suggestions.decide(task.id, tech.suggestions[0].id, False, morgan,
                                 "person:M1", directory, "en")

    draft = (await HumanTask.get(id=task.id)).draft["posted"]
    assert draft["actions-0-goal"] == ["Technical mastery: reach level 3 (Meets expectations)"]
    assert draft["actions-0-action"] == ["Take the course Technical deep dive"]
    assert draft["actions-0-training"] == ["Technical deep dive"]
    # Due when the next session that still runs begins.
    assert draft["actions-0-due_date"] == [(clock.now() + timedelta(40)).date().isoformat()]
    assert "actions-1-action" not in draft
    again = await gap_suggestions.plan_suggestions(task.id, morgan, directory, "en")
    assert (again.accepted, again.dismissed) == (1, 1)
    assert [s.kind for s in again.items[0].suggestions] == ["action"]
    audited = await AuditEvent.filter(instance_id=task.instance_id,
                                      action__startswith="gap_suggestion").values_list(
        "action", flat=True)
    assert list(audited) == ["gap_suggestion_accepted", "gap_suggestion_dismissed"]


async def test_accepting_keeps_what_was_typed_and_adds_a_row_after_it(assessed: Cycle) -> None:
    task = await plan_task()
    directory = await current_directory()
    morgan = await viewer("M1")
    offered = await gap_suggestions.plan_suggestions(task.id, morgan, directory, "en")
    typed = {"goals": ["Grow as an engineer"], "actions-0-action": ["Pair weekly"],
             "actions-0-owner": ["employee"], "actions-0-due_date": ["2099-01-31"]}

    await gap_suggestions.decide(task.id, offered.items[1].suggestions[0].id, True, morgan,
                                 "person:M1", directory, "en", typed)

    draft = (await HumanTask.get(id=task.id)).draft["posted"]
    assert draft["goals"] == ["Grow as an engineer"]
    assert draft["actions-0-action"] == ["Pair weekly"]
    assert draft["actions-1-action"] == [
        "Keeps stakeholders informed of progress and problems before they ask."]
    assert draft["actions-1-owner"] == ["employee"]
    # An action is first due a quarter ahead; the row typed before keeps its own date.
    assert draft["actions-1-due_date"] == [(clock.now() + timedelta(91)).date().isoformat()]
    assert draft["actions-0-due_date"] == ["2099-01-31"]
    # Someone who does not hold the plan cannot decide for it.
    with pytest.raises(NotFound):
        await gap_suggestions.decide(task.id, offered.items[1].suggestions[1].id, False,
                                     await viewer("E2"), "person:E2", directory, "en")


async def test_ratings_given_in_feedback_are_the_360_evidence(standard: None) -> None:
    from engine.performance import feedback

    await positions.list_positions()
    eli = await runtime.actor_for("E2")
    write = await feedback.start_feedback(eli, {"mode": "give", "colleague": "E1",
                                                "topic": "Release", "request_message": None})
    assert write is not None
    await runtime.complete_task(write, eli, {
        "feedback_text": "Clear release notes.", "visibility": "shared",
        "competency_ratings": {"communication": 4, "collaboration": None}})

    [given] = await Record.filter(kind="feedback").values_list("data", flat=True)
    assert given["competency_ratings"] == {"communication": 4}  # type: ignore[index]
    directory = await current_directory()
    found = await gaps.person_gaps(directory.person("E1").id, await viewer("E1"), directory)  # type: ignore[union-attr]
    assert line(found, "communication").assessed["peers"] == 4
    assert line(found, "communication").status == "meets"
    assert line(found, "collaboration").status == "no_evidence"
