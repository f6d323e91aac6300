"""The score card: KPI results, competencies with anchors, trend, development plan, feedback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.base import clock
from engine.base.errors import NotFound
from engine.performance.scorecard import scorecard
from tests.engine.test_dashboards import Org, build_org, new_cycle, record


@pytest.fixture
async def org(db: str) -> Org:
    """The shared org chart (tests/engine/test_dashboards.py)."""
    return await build_org()

OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the API", "kpi": "Endpoints live",
     "measure_type": "higher_is_better", "target": 10, "actual": 12, "weight": 60},
    {"kra": "Quality", "title": "Cut defects", "kpi": "Escaped defects",
     "measure_type": "lower_is_better", "baseline": 20, "target": 10, "actual": 16, "weight": 40},
]


async def dora_year(org: Org, cycle: int) -> None:
    await record(org, cycle, "D1", "kpi_results",
                 {"objectives": OBJECTIVES, "weighted_score": 3.0})
    await record(org, cycle, "D1", "final_rating",
                 {"rating": 4, "label": "Exceeds expectations", "kpi_score": 3.0})
    await record(org, cycle, "D1", "competency_ratings", {
        "job_family": "engineering",
        "ratings": {"communication": 4, "technical_mastery": 5},
        "self_ratings": {"communication": 3},
    })


async def test_the_score_card_shows_each_objective_and_the_weighted_total(org):
    cycle = await new_cycle()
    await dora_year(org, cycle)
    card = await scorecard(org.ids["D1"], cycle, org.viewer("D1"))
    api, defects = card.objectives
    assert (api.target, api.actual, api.achievement, api.score, api.weight) == (10, 12, 120.0, 4,
                                                                                 60)
    # Lower is better: from 20 towards 10, 16 reached is 40 % of the way.
    assert (defects.achievement, defects.score) == (40.0, 1)
    assert card.weighted_total == pytest.approx(4 * 0.6 + 1 * 0.4)
    assert card.objectives_source == "kpi_results"
    assert (card.final_rating, card.rating_label) == (4, "Exceeds expectations")
    assert (card.unit_name, card.manager_name) == ("Engineering", "Emil Engman")


async def test_competencies_follow_the_job_family_with_the_anchors_of_the_rated_level(org):
    cycle = await new_cycle()
    await dora_year(org, cycle)
    card = await scorecard(org.ids["D1"], cycle, org.viewer("D1"))
    assert card.competency_family == "engineering"
    keys = [c.key for c in card.competencies]
    assert keys == ["communication", "collaboration", "delivering_results",
                    "technical_mastery", "problem_solving"]
    comm = card.competencies[0]
    assert (comm.rating, comm.self_rating, comm.level_label) == (4, 3, "Exceeds expectations")
    assert comm.anchors[0].startswith("Writes concise updates")
    assert card.competencies[1].rating is None and card.competencies[1].anchors == []


async def test_the_trend_lists_each_cycles_result_oldest_first(org):
    first, second = await new_cycle("2025"), await new_cycle("2026")
    await record(org, first, "D1", "final_rating", {"rating": 3, "kpi_score": 2.8})
    await dora_year(org, second)
    card = await scorecard(org.ids["D1"], None, org.viewer("EM"))
    assert card.cycle_name == "2026"  # no cycle asked: the newest
    assert [(t.cycle_name, t.rating, t.weighted_score) for t in card.trend] == [
        ("2025", 3, 2.8), ("2026", 4, 3.0)]
    assert card.trend[0].label == "Meets expectations"  # from the scale when not recorded


async def test_development_actions_are_counted_done_open_and_overdue(org):
    cycle = await new_cycle()
    await record(org, cycle, "D1", "development_plan", {"actions": [
        {"goal": "Lead", "action": "Run a design review", "owner": "employee",
         "due_date": "2026-03-01", "status": "done"},
        {"goal": "Lead", "action": "Mentor a junior", "owner": "manager",
         "due_date": "2026-03-01"},
        {"goal": "Learn", "action": "Course", "owner": "hr", "due_date": "2026-09-01"},
    ], "plan_review_date": "2026-06-30"})
    with clock.frozen_at(datetime(2026, 5, 1, tzinfo=UTC)):
        card = await scorecard(org.ids["D1"], cycle, org.viewer("D1"))
    plan = card.development
    assert plan is not None
    assert (plan.done, plan.open, plan.overdue) == (1, 2, 1)
    assert [a.overdue for a in plan.actions] == [False, True, False]


async def test_feedback_is_shown_by_its_visibility(org):
    cycle = await new_cycle()
    about = org.ids["D1"]
    for author, visibility in (("D2", "shared"), ("D2", "manager"), ("D2", "private"),
                               ("EM", "private")):
        await record(org, cycle, "D1", "feedback", {
            "from_id": org.ids[author], "about_id": about, "visibility": visibility,
            "text": f"{author} {visibility}"})

    async def read(key: str) -> list[str]:
        return [f.text for f in (await scorecard(about, cycle, org.viewer(key))).feedback]

    assert await read("D1") == ["D2 shared"]
    assert sorted(await read("EM")) == ["D2 manager", "D2 shared", "EM private"]
    assert sorted(await read("CEO")) == ["D2 manager", "D2 shared"]  # an indirect manager
    assert await read("HP") == ["D2 shared"]


async def test_a_score_card_is_hidden_from_peers_other_teams_and_other_hr_partners(org):
    cycle = await new_cycle()
    await dora_year(org, cycle)
    for key in ("D1", "EM", "CEO", "HP", "HA"):
        assert (await scorecard(org.ids["D1"], cycle, org.viewer(key))).final_rating == 4
    for key in ("D2", "SM", "R1"):
        with pytest.raises(NotFound):
            await scorecard(org.ids["D1"], cycle, org.viewer(key))
    with pytest.raises(NotFound):  # the partner covers Engineering, not Sales
        await scorecard(org.ids["R1"], cycle, org.viewer("HP"))


async def test_a_person_without_records_gets_an_empty_card(org):
    card = await scorecard(org.ids["R1"], None, org.viewer("R1"))
    assert (card.cycle_id, card.objectives, card.trend, card.development) == (None, [], [], None)
    assert card.competency_family == "sales"
    assert all(c.rating is None for c in card.competencies)
