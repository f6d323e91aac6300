"""In-year progress: updates are checked, kept as history, and move the roll-ups at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed
from engine.base.models import KpiUpdate, ObjectiveStatus, Record
from engine.performance import progress
from engine.performance.goals import create_goal, current_objectives, goal_tree
from engine.performance.progress import ProgressError, UpdateRequest
from engine.performance.scorecard import scorecard
from tests.engine.test_dashboards import Org, build_org, new_cycle

OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the API", "kpi": "Endpoints live", "key": "ship-api",
     "measure_type": "higher_is_better", "target": 10, "weight": 60,
     "aligned_goal": "Grow revenue"},
    {"kra": "Quality", "title": "Cut defects", "kpi": "Escaped defects",
     "measure_type": "lower_is_better", "baseline": 20, "target": 10, "weight": 40},
]
JAN = datetime(2026, 1, 15, 9, tzinfo=UTC)


async def record(org: Org, cycle_id: int, key: str, kind: str, data: dict[str, object]) -> None:
    """A record as a process writes it: stamped with the engine's clock."""
    await Record.create(kind=kind, person_id=org.ids[key], cycle_id=cycle_id, data=data,
                        created_at=clock.now())


@pytest.fixture
async def org(db: str) -> Org:
    return await build_org()


@pytest.fixture
async def cycle(org: Org) -> int:
    cycle_id = await new_cycle()
    with clock.frozen_at(JAN - timedelta(days=10)):
        await record(org, cycle_id, "D1", "objectives", {"objectives": OBJECTIVES})
    return cycle_id


async def test_the_owner_updates_an_objective_and_its_history_is_kept(org, cycle):
    dora = org.viewer("D1")
    with clock.frozen_at(JAN):
        await progress.record_update(dora, org.ids["D1"], cycle, "ship-api", actual="4",
                                     status="on_track", comment="Four endpoints live")
    with clock.frozen_at(JAN + timedelta(days=7)):
        latest = await progress.record_update(dora, org.ids["D1"], cycle, "ship-api",
                                              actual=5, status="at_risk",
                                              comment="Auth endpoint slipped")
    assert (latest.actual, latest.status, latest.updates) == (5.0, "at_risk", 2)
    assert latest.updated_by == "D1"
    points = await progress.history(org.ids["D1"], cycle, "ship-api")
    assert [(p.actual, p.status, p.source) for p in points] == [
        (4.0, "on_track", "web"), (5.0, "at_risk", "web")]
    assert points[-1].created_at == JAN + timedelta(days=7)


async def test_an_update_moves_the_objectives_the_goal_tree_and_the_score_card(org, cycle):
    goal = await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    tree = await goal_tree(cycle, org.viewer("HA"))
    assert tree.goals[0].progress is None
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "Ship the API",
                                     actual=8, status="on_track")
    objectives = (await current_objectives(cycle, [org.ids["D1"]]))[org.ids["D1"]]
    assert objectives[0]["actual"] == 8.0 and objectives[0]["progress_status"] == "on_track"
    assert objectives[1]["key"] == "cut-defects" and "actual" not in objectives[1]
    tree = await goal_tree(cycle, org.viewer("HA"))
    assert tree.goals[0].goal.id == goal.id and tree.goals[0].progress == 80.0
    card = await scorecard(org.ids["D1"], cycle, org.viewer("D1"))
    assert card.objectives[0].actual == 8.0


async def test_a_record_written_after_the_update_wins(org, cycle):
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=3, status="on_track")
    # The mid-year check-in typed 6 later: that is the actual that counts.
    checked_in = [{**OBJECTIVES[0], "actual": 6}, OBJECTIVES[1]]
    with clock.frozen_at(JAN + timedelta(days=30)):
        await record(org, cycle, "D1", "midyear_checkin", {"objectives": checked_in})
    objectives = (await current_objectives(cycle, [org.ids["D1"]]))[org.ids["D1"]]
    assert objectives[0]["actual"] == 6


async def test_the_goal_tree_takes_the_check_in_then_a_later_update(org, cycle):
    await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=3, status="on_track")
    checked_in = [{**OBJECTIVES[0], "actual": 6}, OBJECTIVES[1]]
    with clock.frozen_at(JAN + timedelta(days=30)):
        await record(org, cycle, "D1", "midyear_checkin", {"objectives": checked_in})
    assert (await goal_tree(cycle, org.viewer("HA"))).goals[0].progress == 60.0
    with clock.frozen_at(JAN + timedelta(days=37)):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=9)
    assert (await goal_tree(cycle, org.viewer("HA"))).goals[0].progress == 90.0


async def test_a_manager_may_update_for_a_report_but_a_colleague_may_not(org, cycle):
    with clock.frozen_at(JAN):
        latest = await progress.record_update(org.viewer("EM"), org.ids["D1"], cycle,
                                              "ship-api", status="off_track")
    assert latest.updated_by == "EM" and latest.actual is None
    with pytest.raises(NotAllowed):
        await progress.record_update(org.viewer("D2"), org.ids["D1"], cycle, "ship-api",
                                     actual=1)
    with pytest.raises(NotAllowed):
        await progress.record_update(org.viewer("HA"), org.ids["D1"], cycle, "ship-api",
                                     actual=1)


@pytest.mark.parametrize(("objective", "actual", "status", "comment", "message"), [
    ("no-such-objective", 1, "", "", "no objective"),
    ("ship-api", "lots", "", "", "must be a number"),
    ("ship-api", "nan", "", "", "finite"),
    ("ship-api", float("inf"), "", "", "finite"),
    ("ship-api", True, "", "", "must be a number"),
    ("ship-api", 1, "great", "", "on track, at risk or off track"),
    ("ship-api", 1, "", "x" * 1001, "under 1000 characters"),
    ("ship-api", "", "", "only words", "give an actual or a status"),
])
async def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(
    org, cycle, objective, actual, status, comment, message
):
    with pytest.raises(ProgressError, match=message):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, objective,
                                     actual=actual, status=status, comment=comment)
    assert await KpiUpdate.all().count() == 0
    assert await ObjectiveStatus.all().count() == 0


async def test_no_update_once_the_final_rating_is_recorded_or_without_objectives(org, cycle):
    await record(org, cycle, "D1", "final_rating", {"rating": 3})
    with pytest.raises(ProgressError, match="cycle is closed"):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=1)
    with pytest.raises(ProgressError, match="no objectives"):
        await progress.record_update(org.viewer("D2"), org.ids["D2"], cycle, "ship-api",
                                     actual=1)


async def test_check_updates_reports_every_failing_row_by_index(org, cycle):
    checked, errors = await progress.check_updates([
        UpdateRequest(org.ids["D1"], cycle, "ship-api", "2", "on track"),
        UpdateRequest(org.ids["D1"], cycle, "Cut defects", "abc"),
        UpdateRequest(org.ids["D2"], cycle, "ship-api", "1"),
    ])
    assert [c.status for c in checked] == ["on_track"]
    assert [n for n, _ in errors] == [1, 2]


async def test_the_team_list_shows_at_risk_objectives_only_to_who_may_see_them(org, cycle):
    await record(org, cycle, "R1", "objectives", {"objectives": OBJECTIVES})
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=2, status="at_risk", comment="Waiting on infra")
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "cut-defects",
                                     actual=19, status="on_track")
        await progress.record_update(org.viewer("R1"), org.ids["R1"], cycle, "ship-api",
                                     actual=0, status="off_track")
    mine = await progress.team_at_risk(org.viewer("EM"), cycle)
    assert [(a.person_name, a.title, a.comment) for a in mine] == [
        ("Dora Dev", "Ship the API", "Waiting on infra")]
    everyone = await progress.team_at_risk(org.viewer("HA"), cycle)
    assert [a.status for a in everyone] == ["off_track", "at_risk"]  # off track first
    assert await progress.team_at_risk(org.viewer("D2"), cycle) == []


async def test_the_progress_card_draws_from_history_and_says_who_may_update(org, cycle):
    for week in range(3):
        with clock.frozen_at(JAN + timedelta(weeks=week)):
            await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                         actual=week + 1, status="on_track")
    card = await progress.progress_card(org.ids["D1"], cycle, org.viewer("D1"))
    assert card.may_update and not card.closed
    api, defects = card.objectives
    assert [p.actual for p in api.history] == [1.0, 2.0, 3.0]
    assert (api.actual, api.status_label, defects.history) == (3.0, "On track", [])
    assert not (await progress.progress_card(org.ids["D1"], cycle, org.viewer("HA"))).may_update


async def test_latest_actuals_for_many_people_in_one_call(org, cycle):
    await record(org, cycle, "D2", "objectives", {"objectives": OBJECTIVES})
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=4)
        await progress.record_update(org.viewer("D2"), org.ids["D2"], cycle, "ship-api",
                                     actual=7)
    found = await progress.latest_actuals(cycle, [org.ids["D1"], org.ids["D2"]])
    assert {k: v.actual for k, v in found.items()} == {
        (org.ids["D1"], "ship-api"): 4.0, (org.ids["D2"], "ship-api"): 7.0}


async def test_the_demo_seeds_weeks_of_progress_with_one_objective_at_risk(db: str) -> None:
    from pathlib import Path

    from engine.operations import demo
    from engine.people.directory import current_directory

    await demo.seed([Path(__file__).resolve().parents[2] / "processes"])
    assert await KpiUpdate.all().count() >= 8
    at_risk = await ObjectiveStatus.filter(status="at_risk")
    directory = await current_directory()
    assert [directory.people[s.person_id].key for s in at_risk] == ["E1021"]
    assert "vendor" in at_risk[0].comment


async def test_a_mid_year_launch_starts_from_the_latest_actuals(org, cycle) -> None:
    from pathlib import Path

    from engine.base.models import ProcessInstance
    from engine.base.serialization import load_state
    from engine.packs.definitions import deploy_pack, latest
    from engine.performance.cycles import Population, launch_cycle
    from engine.workflow import runtime

    processes = Path(__file__).resolve().parents[2] / "processes"
    await deploy_pack(processes / "standard", "test", search=[processes])
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=6, status="at_risk", comment="Auth slipped")
    with clock.frozen_at(JAN + timedelta(days=1)):
        await launch_cycle("mid_year_review", Population.of_people(["D1"]),
                           cycle_name="2026 mid-year", due_on=None,
                           actor=await runtime.actor_for("HA"))
    instance = await ProcessInstance.get(process_id="mid_year_review")
    dep = await latest("mid_year_review")
    workflow = load_state(instance.state, dep.built.spec, dep.built.subprocess_specs, None)
    data = workflow.task_tree.data  # type: ignore[union-attr]
    api, defects = data["objectives"]
    assert (api["key"], api["actual"], api["progress_status"]) == ("ship-api", 6.0, "at_risk")
    assert api["progress_comment"] == "Auth slipped"
    assert defects["key"] == "cut-defects" and "actual" not in defects
