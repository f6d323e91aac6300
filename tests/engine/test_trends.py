"""HR's trends across cycles: rates, distributions and unit scoping over three known cycles."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.models import Cycle, HumanTask, ProcessDefinition
from engine.performance.trends import (
    MAX_CYCLES,
    BadTrendRequest,
    cycle_count,
    cycle_trends,
    mean_rating,
    rate,
    start_order,
    trend_tables,
    writes_record,
)
from tests.engine.test_dashboards import STANDARD, Org, build_org, record, start


@pytest.fixture
async def org(db: str) -> Org:
    """The dashboards' org chart: Engineering (with Platform) partnered by HP, and Sales; the
    year-end appraisal's version carries its BPMN (which writes the final rating), objective
    setting's its own (which writes none)."""
    built = await build_org()
    for process, definition_id in built.definitions.items():
        row = await ProcessDefinition.get(id=definition_id)
        bpmn = (STANDARD / f"{process}.bpmn").read_text()
        await ProcessDefinition.filter(id=definition_id).update(
            sources={**row.sources, f"{process}.bpmn": bpmn}
        )
    return built


# Per cycle: (name, starts on, {person: (status, rating or None, steps done late?)}).
CYCLES = {
    "2023 year-end": (date(2023, 1, 9), {
        "EM": ("completed", 4, False), "D1": ("completed", 3, True),
        "D2": ("completed", 3, False), "SM": ("completed", 5, False),
        "R1": ("cancelled", None, False),
    }),
    "2024 year-end": (date(2024, 1, 8), {
        "EM": ("completed", 3, False), "D1": ("completed", 3, False),
        "D2": ("completed", 2, True), "SM": ("completed", 4, True),
        "R1": ("completed", 3, False),
    }),
    "2025 year-end": (date(2025, 1, 6), {
        "EM": ("completed", 4, False), "D1": ("completed", 4, False),
        "D2": ("running", None, False), "SM": ("running", None, False),
        "R1": ("running", None, False),
    }),
}


async def _done_step(org: Org, instance_id: int, late: bool) -> None:
    due = clock.now() - timedelta(days=30)
    await HumanTask.create(
        instance_id=instance_id, spiff_task_id=f"{instance_id}-self", bpmn_id="self_appraisal",
        process_id="year_end_appraisal", name="Self-appraisal", status="completed",
        due_at=due, completed_at=due + timedelta(days=3 if late else -1),
        created_at=due - timedelta(days=14),
    )


async def _three_cycles(org: Org) -> dict[str, int]:
    ids = {}
    # Created out of start order: the trend follows the start dates, not the ids.
    for name in ("2024 year-end", "2025 year-end", "2023 year-end"):
        starts_on, people = CYCLES[name]
        cycle = await Cycle.create(name=name, starts_on=starts_on, created_at=clock.now())
        ids[name] = cycle.id
        for key, (status, rating, late) in people.items():
            instance = await start(org, cycle.id, key, status=status)
            await _done_step(org, instance, late)
            if rating is not None:
                await record(org, cycle.id, key, "final_rating", {"rating": rating})
    return ids


def test_the_maths() -> None:
    assert rate(4, 5) == 80.0
    assert rate(2, 3) == 66.7
    assert rate(0, 0) is None
    assert mean_rating({4: 1, 3: 2, 5: 1}, [1, 2, 3, 4, 5]) == 3.75
    assert mean_rating({9: 3}, [1, 2, 3, 4, 5]) is None  # off the scale: nobody rated
    assert start_order([(3, None, date(2024, 5, 1)), (1, date(2025, 1, 1), date(2020, 1, 1)),
                        (2, date(2024, 5, 1), date(2024, 1, 1))]) == [2, 3, 1]
    assert cycle_count(None) == 4 and cycle_count(" ") == 4 and cycle_count("6") == 6


@pytest.mark.parametrize("bad", ["0", "-1", "two", "2.5", str(MAX_CYCLES + 1), "99999999999"])
def test_a_bad_number_of_cycles_is_refused_with_the_range(bad: str) -> None:
    with pytest.raises(BadTrendRequest, match=f"between 1 and {MAX_CYCLES}"):
        cycle_count(bad)


async def test_rates_and_distribution_over_three_cycles(org: Org) -> None:
    await _three_cycles(org)
    await Cycle.create(name="Nobody's cycle", starts_on=date(2025, 6, 1), created_at=clock.now())
    trends = await cycle_trends(org.viewer("HA"), "4")

    # The cycle nobody takes part in is not a cycle of this population: three are shown.
    assert [c.name for c in trends.cycles] == ["2023 year-end", "2024 year-end", "2025 year-end"]
    assert trends.scope == "organisation"
    first, second, third = (c.counts for c in trends.cycles)
    assert (first.people, first.started, first.completed) == (5, 5, 4)
    assert first.completion_rate == 80.0 and second.completion_rate == 100.0
    assert third.completion_rate == 40.0
    assert first.on_time_rate == 80.0 and second.on_time_rate == 60.0
    assert third.on_time_rate == 100.0
    assert first.ratings == {4: 1, 3: 2, 5: 1}
    assert trends.cycles[0].mean_rating == 3.75 and trends.cycles[2].mean_rating == 4.0

    dist = trends.cycles[1].distribution
    assert dist.rated == 5
    by_level = {lv.value: lv for lv in dist.levels}
    assert by_level[3].count == 3 and by_level[3].share == 60.0
    assert by_level[3].guideline_share > 0  # the standard pack's guideline is beside it
    assert [lv[0] for lv in trends.levels] == [5, 4, 3, 2, 1]

    # Per unit, sub-units rolled up: Engineering holds EM, D1 and Platform's D2.
    units = {u.code: u for u in trends.units}
    assert set(units) == {"ROOT", "ENG", "SALES"}  # the top two levels (Platform is third)
    eng = units["ENG"].cycles
    assert [c.counts.completion_rate for c in eng] == [100.0, 100.0, 66.7]
    assert [c.mean_rating for c in eng] == [3.33, 2.67, 4.0]
    assert [c.rated for c in units["SALES"].cycles] == [1, 2, 0]
    assert units["SALES"].cycles[2].mean_rating is None

    # The last two only.
    last_two = await cycle_trends(org.viewer("HA"), 2)
    assert [c.name for c in last_two.cycles] == ["2024 year-end", "2025 year-end"]


async def test_an_hr_partner_sees_only_their_units(org: Org) -> None:
    await _three_cycles(org)
    # A cycle for Sales alone does not concern the partner of Engineering.
    sales_only = await Cycle.create(name="Sales mid-year", starts_on=date(2025, 7, 1),
                                    created_at=clock.now())
    await start(org, sales_only.id, "R1")
    trends = await cycle_trends(org.viewer("HP"))
    assert trends.scope == "Engineering"
    assert [c.name for c in trends.cycles] == ["2023 year-end", "2024 year-end", "2025 year-end"]
    assert [c.counts.people for c in trends.cycles] == [3, 3, 3]
    assert [c.counts.completion_rate for c in trends.cycles] == [100.0, 100.0, 66.7]
    assert trends.cycles[0].counts.ratings == {4: 1, 3: 2}
    assert [u.code for u in trends.units] == ["ENG", "PLAT"]
    assert [code for _, code, _ in trends.unit_choices] == ["Engineering", "Platform"]
    with pytest.raises(NotFound):
        await cycle_trends(org.viewer("HP"), unit_id=org.units["SALES"])

    # The admin may narrow the trend to a unit: its cycles, its numbers.
    sales = await cycle_trends(org.viewer("HA"), unit_id=org.units["SALES"])
    assert sales.scope == "Sales"
    assert [c.name for c in sales.cycles][-1] == "Sales mid-year"
    assert [c.counts.people for c in sales.cycles] == [2, 2, 2, 1]


async def test_nobody_outside_hr_and_no_cycle_at_all(org: Org) -> None:
    with pytest.raises(NotAllowed):
        await cycle_trends(org.viewer("EM"))
    await Cycle.create(name="Empty", created_at=clock.now())
    trends = await cycle_trends(org.viewer("HA"))
    assert trends.cycles == [] and trends.asked == 4
    assert all(u.cycles == [] for u in trends.units)
    assert [lv[0] for lv in trends.levels] == [5, 4, 3, 2, 1]
    with pytest.raises(BadTrendRequest):
        await cycle_trends(org.viewer("HA"), "13")


async def test_the_tables_carry_the_page_numbers(org: Org) -> None:
    await _three_cycles(org)
    trends = await cycle_trends(org.viewer("HA"))
    cycles, ratings, units = trend_tables(trends)
    assert cycles.columns[:6] == ["Cycle", "Starts", "People", "Started", "Completed",
                                  "Completion %"]
    assert [row[0] for row in cycles.rows] == [c.name for c in trends.cycles]
    assert [row[5] for row in cycles.rows] == [80.0, 100.0, 40.0]
    assert [row[8] for row in cycles.rows] == [80.0, 60.0, 100.0]
    first = [row for row in ratings.rows if row[0] == "2023 year-end"]
    assert [(row[1], row[3]) for row in first] == [(5, 1), (4, 1), (3, 2), (2, 0), (1, 0)]
    eng = next(row for row in units.rows if row[1] == "Engineering" and row[2] == "2025 year-end")
    assert eng[3:] == [3, 3, 2, 66.7, 2, 4.0]


async def test_the_demo_history_gives_the_trend_a_past(org: Org) -> None:
    from engine.operations.demo_history import seed_history

    lines = await seed_history()
    assert len(lines) == 3
    assert await seed_history() == []  # seeding again adds nothing
    trends = await cycle_trends(org.viewer("HA"))
    year = clock.now().year
    assert [c.name for c in trends.cycles] == [f"{year - n} year-end" for n in (3, 2, 1)]
    for cycle in trends.cycles:
        counts = cycle.counts
        assert counts.people == 8 and counts.started == 8
        assert cycle.distribution.rated == counts.completed > 0
        assert counts.on_time_rate is not None and 0 < counts.on_time_rate <= 100


def test_a_process_writes_final_ratings_when_a_script_writes_that_record_kind() -> None:
    year_end = (STANDARD / "year_end_appraisal.bpmn").read_text()
    assert writes_record({"year_end_appraisal.bpmn": year_end}, "final_rating")
    assert not writes_record({"year_end_appraisal.bpmn": year_end}, "final_verdict")
    objectives = (STANDARD / "objective_setting.bpmn").read_text()
    assert not writes_record({"objective_setting.bpmn": objectives}, "final_rating")
    # As an editor may write it in XML; a form or a catalog mentioning it does not count.
    assert writes_record({"a.bpmn": "<script>write_record(&quot;final_rating&quot;, {})"},
                         "final_rating")
    assert not writes_record({"forms/a.json": 'write_record("final_rating", {})'},
                             "final_rating")


async def _newest_objectives(org: Org) -> int:
    """A 2026 objectives cycle, the newest, everyone done, with one stray rating."""
    cycle = await Cycle.create(name="2026 objectives", starts_on=date(2025, 12, 1),
                               due_on=date(2026, 1, 31), created_at=clock.now())
    for key in ("EM", "D1", "D2", "SM", "R1"):
        await start(org, cycle.id, key, process="objective_setting", status="completed")
    await record(org, cycle.id, "EM", "final_rating", {"rating": 4})
    return cycle.id


async def test_cycles_are_compared_with_cycles_of_the_same_kind(org: Org) -> None:
    await _three_cycles(org)
    await _newest_objectives(org)

    # By default the year-end appraisals, though objective setting started last: the kind of
    # the newest cycle that rates people.
    trends = await cycle_trends(org.viewer("HA"))
    assert trends.process == "year_end_appraisal"
    assert [c.name for c in trends.cycles] == ["2023 year-end", "2024 year-end", "2025 year-end"]
    assert [(k.title, k.cycles, k.rates) for k in trends.kinds] == [
        ("Objective setting", 1, False), ("Year-end appraisal", 3, True)]
    assert trends.kind is not None and trends.kind.title == "Year-end appraisal"
    assert [c.name for c in trends.rating_cycles] == [c.name for c in trends.cycles]

    # HR chooses objective setting: its cycle alone, and no rating spread for it — the stray
    # rating recorded in it is no distribution of that cycle.
    objectives = await cycle_trends(org.viewer("HA"), process="objective_setting")
    assert [c.name for c in objectives.cycles] == ["2026 objectives"]
    only = objectives.cycles[0]
    assert only.counts.completion_rate == 100.0
    assert not only.rates and only.counts.ratings == {} and only.mean_rating is None
    assert objectives.rating_cycles == []
    cycles_table, ratings_table, units_table = trend_tables(objectives)
    assert cycles_table.rows[0][9:11] == [None, None] and ratings_table.rows == []
    assert all(row[7] is None for row in units_table.rows)

    with pytest.raises(BadTrendRequest, match="Objective setting, Year-end appraisal"):
        await cycle_trends(org.viewer("HA"), process="mid_year_review")


async def test_a_running_cycle_is_in_progress_until_done_and_due(org: Org) -> None:
    ids = await _three_cycles(org)
    trends = await cycle_trends(org.viewer("HA"))
    # 2025 still has three appraisals running; the earlier two are done and have no due date.
    assert [c.in_progress for c in trends.cycles] == [False, False, True]
    assert trends.cycles[2].open == 3
    cycles_table = trend_tables(trends)[0]
    assert [row[-1] for row in cycles_table.rows] == ["closed", "closed", "in progress"]

    # Every appraisal of 2024 done, but its due date is still ahead on the engine's clock: in
    # progress until that day has passed — years later, closed.
    await Cycle.filter(id=ids["2024 year-end"]).update(
        due_on=clock.now().date() + timedelta(days=10)
    )
    assert [c.in_progress for c in (await cycle_trends(org.viewer("HA"))).cycles] == [
        False, True, True]
    with clock.frozen_at(clock.now() + timedelta(days=3 * 365)):
        later = await cycle_trends(org.viewer("HA"))
    assert [c.in_progress for c in later.cycles] == [False, False, True]
