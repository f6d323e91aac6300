"""My review (the step tracker and ratings with labels) and the cycle each page opens on."""

from __future__ import annotations

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.models import AuditEvent, ProcessInstance
from engine.performance.cycle_choice import (
    calibration_cycle,
    cycle_with_open_work,
    hr_cycle,
    scorecard_cycle,
    team_cycle,
)
from engine.performance.my_review import appraisal_outcome, my_review, team_reviews
from tests.engine.test_dashboards import Org, new_cycle, org, proposal, record, start, task

__all__ = ["org"]


async def year_end_at_manager(org: Org) -> tuple[int, int]:
    """Dora's year-end: objectives agreed, self-appraisal done, the manager's appraisal open."""
    cycle = await new_cycle("2026 year-end")
    objectives = await start(org, cycle, "D1", process="objective_setting", status="completed")
    await task(org, objectives, "draft_objectives", "Draft objectives", "D1", status="completed")
    appraisal = await start(org, cycle, "D1")
    await task(org, appraisal, "self_appraisal", "Self-appraisal", "D1", status="completed")
    await task(org, appraisal, "manager_appraisal", "Manager appraisal", "EM", due_in_days=-2)
    return cycle, appraisal


async def test_the_tracker_shows_each_step_and_who_holds_the_current_one(org):
    cycle, _ = await year_end_at_manager(org)

    review = await my_review(org.ids["D1"], None, org.viewer("D1"))

    assert review.cycle.id == cycle
    assert [(s.label, s.state) for s in review.steps] == [
        ("Objectives", "done"), ("Self-appraisal", "done"), ("Manager appraisal", "current"),
        ("Calibration", "upcoming"), ("Discussion", "upcoming"), ("Sign-off", "upcoming"),
    ]
    current = review.current
    assert current is not None
    assert current.holder == "Emil Engman (your manager)" and not current.holder_is_viewer
    assert current.overdue and current.due_at is not None and current.due_at < clock.now()
    # The manager sees the step as theirs.
    as_manager = await my_review(org.ids["D1"], cycle, org.viewer("EM"))
    assert as_manager.current is not None and as_manager.current.holder == "you"


async def test_calibration_is_the_current_step_while_the_appraisal_waits_for_the_release(org):
    cycle, appraisal = await year_end_at_manager(org)
    await HumanTaskDone.manager(appraisal)
    await ProcessInstance.filter(id=appraisal).update(waiting_for="|ratings_released|")
    await record(org, cycle, "D1", "proposed_rating", proposal(4))

    mine = await my_review(org.ids["D1"], cycle, org.viewer("D1"))
    managers = await my_review(org.ids["D1"], cycle, org.viewer("EM"))

    assert mine.current is not None and mine.current.label == "Calibration"
    assert mine.current.holder == "HR"
    # Before the release the employee does not see the manager's rating; the manager does.
    assert mine.ratings_withheld
    assert "Manager's rating" not in [r.name for r in mine.ratings]
    shown = {r.name: r for r in managers.ratings}
    assert shown["Manager's rating"].text == "4"
    assert shown["Manager's rating"].label == "Exceeds expectations"
    # An average carries the nearest level's label.
    assert shown["Weighted KPI score"].text == "3.4"
    assert shown["Weighted KPI score"].label == "Meets expectations"


class HumanTaskDone:
    @staticmethod
    async def manager(instance_id: int) -> None:
        from engine.base.models import HumanTask

        await HumanTask.filter(instance_id=instance_id, bpmn_id="manager_appraisal").update(
            status="completed", completed_at=clock.now()
        )


async def calibrated(org: Org, cycle: int, appraisal: int, reason: str) -> None:
    await AuditEvent.create(
        stream="system", seq=1, at=clock.now(), actor="person:HA",
        action="ratings_calibrated", prev_hash="", hash="",
        detail={"cycle_id": cycle, "population": "all", "released": [appraisal],
                "changes": [{"person_id": org.ids["D1"], "instance_id": appraisal,
                             "proposed": 4, "calibrated": 3, "reason": reason}]},
    )


async def test_the_final_rating_and_calibrations_change_are_stated_with_labels(org):
    cycle, appraisal = await year_end_at_manager(org)
    await HumanTaskDone.manager(appraisal)
    await calibrated(org, cycle, appraisal, "Peers with the same results were rated 3.")
    await ProcessInstance.filter(id=appraisal).update(status="completed")
    from engine.base.models import Record

    await Record.create(kind="final_rating", person_id=org.ids["D1"], cycle_id=cycle,
                        instance_id=appraisal,
                        data={"rating": 3, "label": "Meets expectations", "manager_rating": 4,
                              "calibrated_rating": 3, "kpi_score": 3.4})

    review = await my_review(org.ids["D1"], cycle, org.viewer("D1"))
    outcome = await appraisal_outcome(appraisal)

    assert review.final is not None and (review.final.text, review.final.label) == (
        "3", "Meets expectations")
    assert review.calibration is not None
    assert review.calibration.reason == "Peers with the same results were rated 3."
    assert review.steps[3].label == "Calibration" and review.steps[3].state == "done"
    assert outcome is not None and outcome.final is not None
    assert outcome.final.label == "Meets expectations"
    assert outcome.manager is not None and outcome.manager.label == "Exceeds expectations"
    assert outcome.calibration is not None and outcome.calibration.proposed is not None
    assert outcome.calibration.proposed.text == "4"


async def test_a_person_outside_the_viewers_reach_is_not_found(org):
    await year_end_at_manager(org)
    try:
        await my_review(org.ids["D1"], None, org.viewer("R1"))
    except NotFound:
        pass
    else:
        raise AssertionError("a colleague saw Dora's review")


async def one_person_mid_year_after_the_year_end(org: Org) -> tuple[int, int]:
    """The story from the field: the year-end waits for calibration for the team, Dora's is
    signed with a final 4; then HR launches a mid-year cycle for Dan alone."""
    year_end = await new_cycle("2026 year-end")
    for key in ("D2", "R1", "EM", "SM"):
        instance = await start(org, year_end, key)
        await ProcessInstance.filter(id=instance).update(waiting_for="|ratings_released|")
    await start(org, year_end, "D1", status="completed")
    await record(org, year_end, "D1", "final_rating", {"rating": 4})
    await record(org, year_end, "D2", "proposed_rating", proposal(3))
    mid_year = await new_cycle("2027 mid-year")
    await start(org, mid_year, "D2", process="objective_setting")
    return year_end, mid_year


async def test_pages_open_on_the_cycle_with_open_work_not_the_newest(org):
    year_end, mid_year = await one_person_mid_year_after_the_year_end(org)

    team = await team_cycle(org.ids["EM"], org.viewer("EM"))
    dashboard = await hr_cycle(org.viewer("HA"))
    calibration = await calibration_cycle(org.viewer("HA"))
    dora_card = await scorecard_cycle(org.ids["D1"])
    dan = await cycle_with_open_work([org.ids["D2"]])

    assert team is not None and team.id == year_end
    assert dashboard is not None and dashboard.id == year_end
    assert calibration is not None and calibration.id == year_end
    assert dora_card is not None and dora_card.id == year_end
    # Dan has open work in both; the tie goes to the newest cycle.
    assert dan is not None and dan.id == mid_year
    # Dan's score card keeps his year-end results in view while the mid-year records nothing.
    dan_card = await scorecard_cycle(org.ids["D2"])
    assert dan_card is not None and dan_card.id == year_end


async def test_a_managers_team_overview_shows_each_reports_current_step(org):
    cycle, _ = await year_end_at_manager(org)

    shown_cycle, members = await team_reviews(org.ids["EM"], None, org.viewer("EM"))

    assert shown_cycle is not None and shown_cycle.id == cycle
    by_name = {m.name: m for m in members}
    assert set(by_name) == {"Dora Dev", "Dan Dev"}
    dora = by_name["Dora Dev"]
    assert dora.current is not None and dora.current.label == "Manager appraisal"
    assert (dora.done, dora.total) == (2, 6)
    assert by_name["Dan Dev"].current is None and by_name["Dan Dev"].total == 0
