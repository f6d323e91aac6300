"""The adoption dashboard: every figure on a small organisation with known data, the roll-up of
sub-units into their parents, the change since the previous cycle of the same kind, and who
may read it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.models import Cycle, ProcessInstance, Record
from engine.packs.loading import Features
from engine.talent.adoption import (
    Adoption,
    Figure,
    adoption_cycles,
    adoption_dashboard,
    band,
    percent,
    previous_cycle,
)
from tests.engine.test_dashboards import Org, Someone, build_org


@pytest.fixture
async def org(db: str) -> Org:
    return await build_org()


def days(n: float) -> Any:
    return clock.now() + timedelta(days=n)


async def instance(org: Org, cycle_id: int, key: str, process: str, status: str,
                   started: float, completed: float | None = None) -> None:
    await ProcessInstance.create(
        definition_id=org.definitions[process], process_id=process, subject_id=org.ids[key],
        cycle_id=cycle_id, status=status, state=b"", started_at=days(started),
        completed_at=days(completed) if completed is not None else None,
    )


async def record(org: Org, key: str, kind: str, at: float, data: dict[str, Any] | None = None,
                 cycle_id: int | None = None) -> None:
    await Record.create(kind=kind, person_id=org.ids[key], cycle_id=cycle_id,
                        data=data or {}, created_at=days(at))


OBJECTIVES = [
    {"title": "Ship the portal", "kpi": "Release date", "target": 1, "aligned_goal": "goal:3"},
    {"title": "Mentor", "kpi": "", "target": 4, "aligned_goal": ""},
    {"title": "Fewer defects", "kpi": "Defects per release", "target": "", "aligned_goal": " "},
]


async def known_year(org: Org) -> dict[str, int]:
    """Last year's year-end, this year's objectives and this year's year-end (CEO, HP and HA
    are in none of them), with check-ins, feedback, plans and objectives on record."""
    today = clock.now().date()
    last = await Cycle.create(name="last year-end", starts_on=today - timedelta(days=400),
                              due_on=today - timedelta(days=340), created_at=days(-400))
    goals = await Cycle.create(name="objectives", due_on=today - timedelta(days=20),
                               created_at=days(-60))
    # Begun 335 days ago: further in than last year's whole period, which counts as it ended.
    now = await Cycle.create(name="this year-end", starts_on=today - timedelta(days=335),
                             due_on=today + timedelta(days=30), created_at=days(-1))
    for key, status in (("EM", "completed"), ("D1", "completed"), ("D2", "completed"),
                        ("SM", "cancelled"), ("R1", "running")):
        await instance(org, last.id, key, "year_end_appraisal", status, -399,
                       -350 if status == "completed" else None)
    # Objectives due 20 days ago: EM and SM agreed in time, D1 late, D2 not yet, R1 left.
    for key, status, done in (("EM", "completed", -25), ("D1", "completed", -10),
                              ("D2", "running", None), ("SM", "completed", -21),
                              ("R1", "cancelled", None)):
        await instance(org, goals.id, key, "objective_setting", status, -60, done)
    for key, status in (("EM", "completed"), ("D1", "completed"), ("D2", "running"),
                        ("SM", "running"), ("R1", "running")):
        await instance(org, now.id, key, "year_end_appraisal", status, -2,
                       -1 if status == "completed" else None)
    await record(org, "D1", "checkin", -5)
    await record(org, "D2", "one_on_one", -3)
    await record(org, "CEO", "checkin", -3)  # not in the cycle
    await record(org, "SM", "checkin", -395)  # last year's period only
    await record(org, "D1", "feedback", -4)
    await record(org, "D1", "feedback", -2)
    await record(org, "R1", "feedback", -6)
    await record(org, "EM", "development_plan", -7)
    await record(org, "EM", "objectives", -50, {"objectives": [OBJECTIVES[1]]}, goals.id)
    await record(org, "EM", "midyear_checkin", -8, {"objectives": OBJECTIVES}, goals.id)
    await record(org, "R1", "objectives", -50, {"objectives": [
        {"title": "Grow revenue", "kpi": "Revenue", "target": 100000,
         "aligned_goal": "Grow revenue"}]}, goals.id)
    await record(org, "SM", "objectives", -50, {"objectives": "not a list"}, goals.id)
    return {"last": last.id, "objectives": goals.id, "now": now.id}


def figures(adoption: Adoption, unit: str | None = None) -> dict[str, Figure]:
    row = next(r for r in adoption.rows if (r.code or None) == unit)
    return {f.key: f for f in row.figures}


def counted(found: dict[str, Figure]) -> dict[str, tuple[int, int]]:
    return {key: (f.part, f.whole) for key, f in found.items()}


def test_percentages_bands_and_no_figure_without_a_whole() -> None:
    assert percent(2, 3) == 66.7
    assert percent(0, 0) is None
    assert [band(v) for v in (80.0, 79.9, 50.0, 49.9, None)] == [
        "good", "fair", "fair", "weak", "none"]


async def test_every_figure_of_the_organisation_from_known_data(org: Org) -> None:
    cycles = await known_year(org)
    adoption = await adoption_dashboard(cycles["now"], Someone(org.ids["HA"], frozenset({"hr"})))
    assert adoption.rows[0].unit_id is None and adoption.rows[0].people == 5
    assert counted(figures(adoption)) == {
        "objectives_on_time": (2, 4),  # EM and SM by the due day; D1 late; D2 open; R1 left
        "checkins": (2, 5),  # D1's check-in, D2's 1:1
        "feedback": (2, 5),  # D1 (twice counts once) and R1
        "appraisals": (2, 5),
        "measurable": (2, 4),  # EM's newest record: 1 of 3; R1's 1 of 1; SM's is no list
        "aligned": (2, 4),
        "plans": (1, 5),
    }
    total = adoption.totals["objectives_on_time"]
    assert (total.percent, total.band) == (50.0, "fair")
    assert adoption.totals["plans"].band == "weak"


async def test_units_roll_up_their_sub_units(org: Org) -> None:
    cycles = await known_year(org)
    adoption = await adoption_dashboard(cycles["now"], Someone(org.ids["HA"], frozenset({"hr"})))
    assert [(r.code, r.depth, r.people) for r in adoption.rows] == [
        ("", -1, 5), ("ROOT", 0, 5), ("ENG", 1, 3), ("PLAT", 2, 1), ("SALES", 1, 2)]
    engineering = counted(figures(adoption, "ENG"))
    assert engineering["objectives_on_time"] == (1, 3)
    assert engineering["checkins"] == (2, 3)  # Platform's 1:1 counts for Engineering too
    assert engineering["appraisals"] == (2, 3)
    assert counted(figures(adoption, "PLAT"))["checkins"] == (1, 1)
    sales = counted(figures(adoption, "SALES"))
    assert sales["objectives_on_time"] == (1, 1)
    assert sales["measurable"] == (1, 1) and sales["feedback"] == (1, 2)


async def test_each_figure_moves_against_the_previous_cycle_of_its_kind(org: Org) -> None:
    cycles = await known_year(org)
    viewer = Someone(org.ids["HA"], frozenset({"hr"}))
    adoption = await adoption_dashboard(cycles["now"], viewer)
    assert adoption.previous is not None and adoption.previous.id == cycles["last"]
    total = figures(adoption)
    assert total["appraisals"].previous == 75.0  # 3 of 4 (SM's was cancelled)
    assert total["appraisals"].change == -35.0
    assert total["checkins"].previous == 20.0  # SM's check-in in last year's period
    assert total["checkins"].change == 20.0
    # Last year nobody had objectives on record in its period: no figure, so no change.
    assert total["measurable"].previous is None and total["measurable"].change is None
    assert figures(adoption, "SALES")["appraisals"].change == 0.0
    # The objectives cycle is the first of its kind.
    assert await previous_cycle(cycles["objectives"], Features()) is None
    first = await adoption_dashboard(cycles["objectives"], viewer)
    assert first.previous is None and all(f.change is None for f in first.rows[0].figures)


async def test_a_cycle_under_way_is_compared_with_the_same_point_of_the_previous_one(
    org: Org,
) -> None:
    """Twenty days into this year's appraisals, last year's are read as they stood twenty
    days in — not as they ended, which would show every running cycle falling behind."""
    today = clock.now().date()
    last = await Cycle.create(name="last year", starts_on=today - timedelta(days=400),
                              due_on=today - timedelta(days=300), created_at=days(-400))
    now = await Cycle.create(name="this year", starts_on=today - timedelta(days=20),
                             due_on=today + timedelta(days=80), created_at=days(-20))
    # Last year EM finished in its first ten days, D1 and D2 only at the end.
    for key, done in (("EM", -390), ("D1", -310), ("D2", -305)):
        await instance(org, last.id, key, "year_end_appraisal", "completed", -399, done)
    # This year EM is done already, D1 and D2 not yet.
    for key, status in (("EM", "completed"), ("D1", "running"), ("D2", "running")):
        await instance(org, now.id, key, "year_end_appraisal", status, -19,
                       -5 if status == "completed" else None)
    viewer = Someone(org.ids["HA"], frozenset({"hr"}))
    adoption = await adoption_dashboard(now.id, viewer)
    assert adoption.previous is not None and adoption.previous.id == last.id
    assert adoption.previous_as_of == today - timedelta(days=380)
    appraisals = figures(adoption)["appraisals"]
    assert (appraisals.part, appraisals.whole) == (1, 3)
    assert appraisals.previous == 33.3 and appraisals.change == 0.0  # not 100 % and -66.7
    # Once this cycle's period is over, last year's counts as it ended.
    ended = await Cycle.create(name="ended", starts_on=today - timedelta(days=150),
                               due_on=today - timedelta(days=50), created_at=days(-150))
    for key in ("EM", "D1", "D2"):
        await instance(org, ended.id, key, "year_end_appraisal", "running", -149)
    over = await adoption_dashboard(ended.id, viewer)
    assert over.previous is not None and over.previous.id == last.id
    assert over.previous_as_of is None
    assert figures(over)["appraisals"].previous == 100.0
    # A cycle without a start day began when it was launched: launched today (its period a
    # year long, up to its due day), it is compared with the one before on the day that began.
    launched = await Cycle.create(name="launched", due_on=today + timedelta(days=60),
                                  created_at=days(0))
    await instance(org, launched.id, "EM", "year_end_appraisal", "running", 0)
    fresh = await adoption_dashboard(launched.id, viewer)
    assert fresh.previous is not None and fresh.previous.id == now.id
    assert fresh.previous_as_of == today - timedelta(days=20)
    # This year's appraisals started a day later: that day there was nothing to compare.
    assert figures(fresh)["appraisals"].previous is None


async def test_steering_members_see_the_organisation_hr_partners_their_units(org: Org) -> None:
    cycles = await known_year(org)
    steering = await adoption_dashboard(cycles["now"], Someone(org.ids["D1"],
                                                              frozenset({"steering"})))
    assert steering.rows[0].people == 5
    partner = await adoption_dashboard(cycles["now"], Someone(org.ids["HP"],
                                                             frozenset({"hr"})))
    assert [r.code for r in partner.rows] == ["", "ENG", "PLAT"]
    assert partner.rows[0].people == 3
    assert counted(figures(partner))["appraisals"] == (2, 3)
    with pytest.raises(NotAllowed):
        await adoption_dashboard(cycles["now"], Someone(org.ids["EM"]))
    with pytest.raises(NotAllowed):
        await adoption_cycles(Someone(org.ids["EM"]))
    assert [c.id for c in await adoption_cycles(Someone(org.ids["D1"], frozenset({"steering"})))
            ] == [cycles["now"], cycles["objectives"], cycles["last"]]
    with pytest.raises(NotFound):
        await adoption_dashboard(cycles["now"] + 100, Someone(org.ids["HA"], frozenset({"hr"})))


async def test_a_cycle_without_data_shows_no_figure_rather_than_zero(org: Org) -> None:
    empty = await Cycle.create(name="empty", due_on=clock.now().date())
    adoption = await adoption_dashboard(empty.id, Someone(org.ids["HA"], frozenset({"hr"})))
    assert adoption.rows[0].people == 0
    assert all(f.percent is None and f.band == "none" for f in adoption.rows[0].figures)
