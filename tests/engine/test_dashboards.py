"""Dashboards: a manager's team status, HR's cycle dashboard and the guideline maths.

The org chart and the cycle helpers here are shared by the goals, score card and export tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.models import Cycle, HumanTask, ProcessDefinition, ProcessInstance, Record
from engine.packs.loading import load_pack
from engine.packs.pack_tests import run_pack_tests
from engine.people.directory import current_directory
from engine.people.org_import import import_org
from engine.performance.calibration import population_calibration
from engine.performance.distribution import rating_distribution
from engine.performance.hr_dashboard import hr_dashboard
from engine.performance.team_status import performance_band, potential_band, team_status

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"
ACME = STANDARD.parent / "acme"
ORG = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups,unit_head,unit.hr_partner
CEO,Cleo Chief,,Chief executive,people_manager,ROOT,Company,,,,yes,
EM,Emil Engman,,Engineering manager,people_manager,ENG,Engineering,ROOT,CEO,,yes,HP
D1,Dora Dev,,Engineer,engineering,ENG,Engineering,ROOT,EM,,,
D2,Dan Dev,,Engineer,engineering,PLAT,Platform,ENG,EM,,,
SM,Sara Salesman,,Sales manager,people_manager,SALES,Sales,ROOT,CEO,,yes,
R1,Rita Rep,,Account executive,sales,SALES,Sales,ROOT,SM,,,
HP,Hana Partner,,HR partner,individual_contributor,ROOT,Company,,CEO,hr,,
HA,Hugo Admin,,HR admin,individual_contributor,ROOT,Company,,CEO,hr,,
"""
SCALE = load_pack(STANDARD).catalog("rating_scale")


@dataclass(frozen=True)
class Someone:
    """A viewer: who they are and their groups (the web app's Viewer has the same shape)."""

    person_id: int
    groups: frozenset[str] = frozenset()


@dataclass
class Org:
    ids: dict[str, int]
    units: dict[str, int]
    definitions: dict[str, int]

    def viewer(self, key: str) -> Someone:
        groups = frozenset({"hr"}) if key in ("HP", "HA") else frozenset()
        return Someone(self.ids[key], groups)


@pytest.fixture
async def org(db: str) -> Org:
    """The org chart above, and two deployed processes carrying the standard catalogs."""
    return await build_org()


async def build_org() -> Org:
    """Import ORG and store two process definitions that carry the standard catalogs."""
    report = await import_org(ORG)
    assert not report.errors, report.errors
    directory = await current_directory()
    sources = {
        f"catalogs/{p.name}": p.read_text() for p in (STANDARD / "catalogs").glob("*.toml")
    }
    definitions = {}
    for process, title in (("year_end_appraisal", "Year-end appraisal"),
                           ("objective_setting", "Objective setting")):
        row = await ProcessDefinition.create(
            pack="standard", process_id=process, version=1, content_hash=process, title=title,
            sources=sources,
        )
        definitions[process] = row.id
    return Org(
        ids={p.key: p.id for p in directory.people.values()},
        units={u.code: u.id for u in directory.units.values()},
        definitions=definitions,
    )


async def new_cycle(name: str = "2026") -> int:
    return (await Cycle.create(name=name)).id


async def start(org: Org, cycle_id: int, key: str, process: str = "year_end_appraisal",
                status: str = "running", error: dict[str, Any] | None = None) -> int:
    row = await ProcessInstance.create(
        definition_id=org.definitions[process], process_id=process, subject_id=org.ids[key],
        cycle_id=cycle_id, status=status, state=b"", error=error,
    )
    return row.id


async def task(org: Org, instance_id: int, bpmn_id: str, name: str, holder: str | None,
               due_in_days: float | None = 7, status: str = "ready",
               group: str | None = None, submitted: dict[str, Any] | None = None) -> int:
    due = clock.now() + timedelta(days=due_in_days) if due_in_days is not None else None
    row = await HumanTask.create(
        instance_id=instance_id, spiff_task_id=f"{instance_id}-{bpmn_id}", bpmn_id=bpmn_id,
        process_id="year_end_appraisal", name=name,
        assignee_id=org.ids[holder] if holder else None, candidate_group=group,
        due_at=due, status=status, submitted=submitted,
    )
    return row.id


async def record(org: Org, cycle_id: int | None, key: str, kind: str,
                 data: dict[str, Any]) -> None:
    await Record.create(kind=kind, person_id=org.ids[key], cycle_id=cycle_id, data=data)


# --- guideline maths -------------------------------------------------------------------------


def test_a_population_on_the_guideline_has_no_gap():
    dist = rating_distribution({5: 2, 4: 4, 3: 8, 2: 4, 1: 2}, SCALE, "all")
    assert dist.rated == 20
    assert [(lv.value, lv.count, lv.guideline_count) for lv in dist.levels] == [
        (5, 2, 2.0), (4, 4, 4.0), (3, 8, 8.0), (2, 4, 4.0), (1, 2, 2.0)]
    assert all(lv.gap == 0 and lv.within_tolerance for lv in dist.levels)
    assert (dist.above_guideline, dist.below_guideline) == (0, 0)
    assert [(g.label, g.count, g.guideline_share) for g in dist.groups] == [
        ("Top", 6, 30.0), ("Core", 8, 40.0), ("Below", 6, 30.0)]


def test_a_lenient_population_shows_how_many_ratings_sit_above_the_guideline():
    # 20 people: 6 outstanding where the guideline expects 2, nobody below meets.
    dist = rating_distribution({5: 6, 4: 6, 3: 8}, SCALE, "lenient")
    by_value = {lv.value: lv for lv in dist.levels}
    assert by_value[5].gap == 4.0 and by_value[5].share == 30.0
    assert not by_value[5].within_tolerance
    assert by_value[4].gap == 2.0
    assert by_value[3].within_tolerance
    assert by_value[1].gap == -2.0 and by_value[2].gap == -4.0
    assert (dist.above_guideline, dist.below_guideline) == (6, 6)
    top, core, below = dist.groups
    assert (top.count, top.guideline_count, top.gap, top.share) == (12, 6.0, 6.0, 60.0)
    assert (core.gap, below.gap) == (0.0, -6.0)


def test_an_empty_population_has_zero_shares_not_a_division_error():
    dist = rating_distribution({}, SCALE, "nobody")
    assert dist.rated == 0
    assert all(lv.share == 0 and lv.guideline_count == 0 for lv in dist.levels)


def test_nine_box_bands_come_from_the_rating_else_the_weighted_score():
    assert performance_band(5, None) == "high"
    assert performance_band(3, 4.9) == "medium"  # the final rating wins over the KPI score
    assert performance_band(None, 2.5) == "medium"  # rounded half up like rating_level
    assert performance_band(None, 2.4) == "low"
    assert performance_band(None, None) is None
    assert potential_band("High") == "high"
    assert potential_band("moderate") == "medium"
    assert potential_band(1) == "low"
    assert potential_band("unsure") is None
    assert potential_band(7) is None


# --- manager: team status --------------------------------------------------------------------


async def test_a_manager_sees_where_each_report_stands_and_who_it_waits_on(org):
    cycle = await new_cycle()
    dora = await start(org, cycle, "D1")
    dan = await start(org, cycle, "D2")
    await task(org, dora, "self_appraisal", "Self-appraisal", "D1", due_in_days=-2)
    await task(org, dan, "manager_appraisal", "Manager appraisal", "EM", due_in_days=5)
    await start(org, cycle, "R1")  # another manager's report: not in this team

    team = await team_status(org.ids["EM"], cycle, org.viewer("EM"))

    assert [r.name for r in team.reports] == ["Dan Dev", "Dora Dev"]
    dan_row, dora_row = team.reports
    (step,) = dora_row.processes[0].steps
    assert (step.name, step.waiting_on, step.waiting_on_role, step.overdue) == (
        "Self-appraisal", "Dora Dev", "employee", True)
    (step,) = dan_row.processes[0].steps
    assert (step.waiting_on, step.waiting_on_role, step.overdue) == (
        "Emil Engman", "manager", False)
    assert [s.subject_name for s in team.overdue] == ["Dora Dev"]


async def test_team_ratings_fill_the_distribution_and_the_nine_box(org):
    cycle = await new_cycle()
    dora = await start(org, cycle, "D1", status="completed")
    await task(org, dora, "manager_appraisal", "Manager appraisal", "EM", status="completed",
               submitted={"manager_rating": 5, "potential": "high"})
    await record(org, cycle, "D1", "final_rating", {"rating": 5, "label": "Outstanding"})
    await record(org, cycle, "D2", "kpi_results", {"objectives": [], "weighted_score": 2.2})

    team = await team_status(org.ids["EM"], cycle, org.viewer("EM"))

    by_name = {r.name: r for r in team.reports}
    assert (by_name["Dora Dev"].performance, by_name["Dora Dev"].potential) == ("high", "high")
    assert by_name["Dora Dev"].rating_label == "Outstanding"
    assert (by_name["Dan Dev"].performance, by_name["Dan Dev"].potential) == ("low", None)
    cell = next(c for c in team.nine_box if (c.performance, c.potential) == ("high", "high"))
    assert cell.people == [(org.ids["D1"], "Dora Dev")]
    assert team.nine_box[0] is cell  # the top-right box comes first
    assert len(team.nine_box) == 9
    assert team.potential_unknown == [(org.ids["D2"], "Dan Dev")]
    assert team.distribution.rated == 1
    assert {lv.value: lv.count for lv in team.distribution.levels}[5] == 1


async def test_team_status_is_for_the_manager_their_line_and_hr_only(org):
    cycle = await new_cycle()
    await start(org, cycle, "D1")
    assert (await team_status(org.ids["EM"], cycle, org.viewer("CEO"))).reports
    assert (await team_status(org.ids["EM"], cycle, org.viewer("HP"))).reports
    with pytest.raises(NotFound):
        await team_status(org.ids["EM"], cycle, org.viewer("D1"))
    with pytest.raises(NotFound):
        await team_status(org.ids["EM"], cycle, org.viewer("SM"))


async def test_an_hr_partner_sees_only_the_reports_in_their_units(org):
    cycle = await new_cycle()
    await start(org, cycle, "D1")
    # The CEO's direct reports sit in Engineering, Sales and the company unit; the partner
    # covers Engineering only (and sees themselves, as everyone does).
    team = await team_status(org.ids["CEO"], cycle, org.viewer("HP"))
    assert [r.name for r in team.reports] == ["Emil Engman", "Hana Partner"]


async def test_no_cycle_means_the_teams_newest_cycle(org):
    await start(org, await new_cycle("2025"), "D1")
    newest = await new_cycle("2026")
    await start(org, newest, "D2")
    team = await team_status(org.ids["EM"], None, org.viewer("EM"))
    assert team.cycle_name == "2026"


# --- HR dashboard ----------------------------------------------------------------------------


async def cycle_with_progress(org: Org) -> int:
    cycle = await new_cycle()
    dora = await start(org, cycle, "D1")
    await task(org, dora, "self_appraisal", "Self-appraisal", "D1", due_in_days=-1)
    dan = await start(org, cycle, "D2")
    await task(org, dan, "manager_appraisal", "Manager appraisal", "EM", due_in_days=3)
    rita = await start(org, cycle, "R1")
    await task(org, rita, "self_appraisal", "Self-appraisal", "R1", due_in_days=-3)
    await start(org, cycle, "EM", status="completed")
    await start(org, cycle, "SM", status="error",
                error={"task": "score_kpis", "task_name": "Score the KPIs",
                       "message": "unknown measure_type 'faster'"})
    await start(org, cycle, "D1", process="objective_setting", status="completed")
    await record(org, cycle, "EM", "final_rating", {"rating": 4})
    await record(org, cycle, "D1", "final_rating", {"rating": 2})
    await record(org, cycle, "D1", "final_rating", {"rating": 3})  # re-recorded: latest counts
    await record(org, cycle, "R1", "final_rating", {"rating": 5})
    await record(org, cycle, "SM", "final_rating", {"rating": "n/a"})  # not a number: skipped
    return cycle


async def test_hr_admin_sees_the_funnel_by_unit_and_per_step(org):
    cycle = await cycle_with_progress(org)
    board = await hr_dashboard(cycle, org.viewer("HA"))

    assert board.scope == "organisation"
    totals = {f.process_id: f for f in board.totals}
    year_end = totals["year_end_appraisal"]
    assert (year_end.started, year_end.open, year_end.completed, year_end.error) == (5, 3, 1, 1)
    assert [(s.bpmn_id, s.at_step, s.overdue) for s in year_end.steps] == [
        ("self_appraisal", 2, 2), ("manager_appraisal", 1, 0)]
    assert totals["objective_setting"].percent_completed == 100

    units = {u.code: u for u in board.units}
    assert [u.code for u in board.units] == ["ROOT", "ENG", "PLAT", "SALES"]
    assert [u.depth for u in board.units] == [0, 1, 2, 1]
    eng = {f.process_id: f for f in units["ENG"].processes}["year_end_appraisal"]
    # Engineering includes its Platform sub-unit: Dora, Dan and Emil.
    assert (eng.started, eng.open, eng.completed) == (3, 2, 1)
    plat = {f.process_id: f for f in units["PLAT"].processes}["year_end_appraisal"]
    assert [(s.bpmn_id, s.at_step) for s in plat.steps] == [("manager_appraisal", 1)]
    root = {f.process_id: f for f in units["ROOT"].processes}["year_end_appraisal"]
    assert root.started == 5


async def test_hr_sees_overdue_by_step_and_the_instances_in_error(org):
    cycle = await cycle_with_progress(org)
    board = await hr_dashboard(cycle, org.viewer("HA"))
    assert [(o.name, o.open, o.overdue) for o in board.overdue] == [("Self-appraisal", 2, 2)]
    assert board.errors_total == 1
    (error,) = board.errors
    assert (error.subject_name, error.task, error.message) == (
        "Sara Salesman", "Score the KPIs", "unknown measure_type 'faster'")


async def test_calibration_counts_the_latest_numeric_rating_per_person(org):
    cycle = await cycle_with_progress(org)
    board = await hr_dashboard(cycle, org.viewer("HA"))
    everyone = board.calibration[0]
    assert everyone.population == "organisation"
    assert everyone.rated == 3
    assert {lv.value: lv.count for lv in everyone.levels} == {5: 1, 4: 1, 3: 1, 2: 0, 1: 0}
    populations = [d.population for d in board.calibration]
    assert "Engineering" in populations and "job family engineering" in populations
    eng = next(d for d in board.calibration if d.population == "Engineering")
    assert {lv.value: lv.count for lv in eng.levels if lv.count} == {4: 1, 3: 1}


async def test_an_hr_partner_sees_only_their_units_in_the_hr_dashboard(org):
    cycle = await cycle_with_progress(org)
    board = await hr_dashboard(cycle, org.viewer("HP"))
    assert board.scope == "Engineering"
    assert [u.code for u in board.units] == ["ENG", "PLAT"]
    year_end = {f.process_id: f for f in board.totals}["year_end_appraisal"]
    assert year_end.started == 3
    assert board.errors_total == 0  # Sara's error is in Sales
    assert board.calibration[0].rated == 2


async def test_the_hr_dashboard_is_refused_to_managers_and_employees(org):
    cycle = await cycle_with_progress(org)
    for key in ("EM", "D1", "CEO"):
        with pytest.raises(NotAllowed):
            await hr_dashboard(cycle, org.viewer(key))
    with pytest.raises(NotFound):
        await hr_dashboard(cycle + 100, org.viewer("HA"))


# --- HR: calibration before the release ------------------------------------------------------


async def waiting_for_release(org: Org, cycle_id: int, key: str) -> int:
    instance_id = await start(org, cycle_id, key)
    await ProcessInstance.filter(id=instance_id).update(waiting_for="|ratings_released|")
    return instance_id


def proposal(rating: Any, manager: str = "Emil Engman") -> dict[str, Any]:
    return {"rating": rating, "kpi_score": 3.4, "self_competency_avg": 4.2,
            "manager_competency_avg": 3.8, "manager_id": None, "manager_name": manager}


async def cycle_in_calibration(org: Org) -> int:
    """Dora, Dan and Rita wait for the release (Dan without a proposal on record); Emil's
    appraisal is done, Sara's still open."""
    cycle = await new_cycle()
    for key in ("D1", "D2", "R1"):
        await waiting_for_release(org, cycle, key)
    await start(org, cycle, "EM", status="completed")
    await start(org, cycle, "SM")
    await record(org, cycle, "D1", "proposed_rating", proposal(2))
    await record(org, cycle, "D1", "proposed_rating", proposal(4))  # re-proposed: latest counts
    await record(org, cycle, "R1", "proposed_rating", proposal(5, "Sara Salesman"))
    await record(org, cycle, "SM", "proposed_rating", proposal(1))  # not waiting: left out
    await record(org, cycle, "EM", "final_rating", {"rating": 3})
    return cycle


async def test_calibration_counts_the_proposed_ratings_waiting_for_the_release(org):
    cycle = await cycle_in_calibration(org)
    board = await hr_dashboard(cycle, org.viewer("HA"))

    def counts(key: str) -> dict[int, int]:
        return {lv.value: lv.count for lv in board.proposed[key].levels if lv.count}

    assert counts("all") == {5: 1, 4: 1}
    assert board.awaiting_release["all"] == 3  # Dan waits too, without a proposal
    eng = f"unit:{org.units['ENG']}"
    assert counts(eng) == {4: 1} and board.awaiting_release[eng] == 2  # Platform included
    assert counts("family:sales") == {5: 1}
    # A population shows as soon as it has appraisals waiting, before any final rating.
    by_key = {d.key: d for d in board.calibration}
    assert by_key[f"unit:{org.units['SALES']}"].rated == 0
    assert by_key["all"].rated == 1  # Emil's final rating is still counted
    assert board.proposed[eng].population == "Engineering"


async def test_the_calibration_list_shows_each_waiting_person_with_the_proposal(org):
    cycle = await cycle_in_calibration(org)
    everyone = await population_calibration(cycle, "all", org.viewer("HA"))
    assert [(p.name, p.unit, p.proposed_rating) for p in everyone.people] == [
        ("Dora Dev", "Engineering", 4), ("Dan Dev", "Platform", None),
        ("Rita Rep", "Sales", 5)]
    dora, dan, rita = everyone.people
    assert (dora.manager, dora.kpi_score, dora.self_average) == ("Emil Engman", 3.4, 4.2)
    assert dan.manager == "Emil Engman" and dan.kpi_score is None  # from the directory
    assert rita.manager == "Sara Salesman"
    assert everyone.proposed.rated == 2
    assert everyone.levels[0] == (5, "Outstanding") and len(everyone.levels) == 5

    platform = await population_calibration(cycle, f"unit:{org.units['PLAT']}",
                                            org.viewer("HA"))
    assert (platform.population, [p.name for p in platform.people]) == (
        "Platform", ["Dan Dev"])
    engineers = await population_calibration(cycle, "family:engineering", org.viewer("HA"))
    assert [p.name for p in engineers.people] == ["Dora Dev", "Dan Dev"]


async def test_an_hr_partner_calibrates_only_their_units(org):
    cycle = await cycle_in_calibration(org)
    mine = await population_calibration(cycle, "all", org.viewer("HP"))
    assert mine.population == "Engineering"
    assert [p.name for p in mine.people] == ["Dora Dev", "Dan Dev"]
    board = await hr_dashboard(cycle, org.viewer("HP"))
    assert board.awaiting_release["all"] == 2
    with pytest.raises(NotFound):
        await population_calibration(cycle, f"unit:{org.units['SALES']}", org.viewer("HP"))
    for key in ("unit:999", "team:1", ""):
        with pytest.raises(NotFound):
            await population_calibration(cycle, key, org.viewer("HA"))
    with pytest.raises(NotAllowed):
        await population_calibration(cycle, "all", org.viewer("EM"))


@pytest.mark.parametrize("pack", [STANDARD, ACME], ids=["standard", "acme"])
def test_the_year_end_appraisal_proposes_the_managers_rating_before_the_release(pack):
    report = run_pack_tests(pack)
    released = [r for r in report.results if r.file == "test_year_end_appraisal.json"
                and any(rec["kind"] == "final_rating" for rec in r.records)]
    assert released
    for result in released:
        [proposed] = [r["data"] for r in result.records if r["kind"] == "proposed_rating"]
        [final] = [r["data"] for r in result.records if r["kind"] == "final_rating"]
        assert proposed["rating"] == final["manager_rating"], result.case
        assert proposed["kpi_score"] == final["kpi_score"]
        assert proposed["self_competency_avg"] == final["self_competency_avg"]
        assert proposed["manager_name"], result.case
