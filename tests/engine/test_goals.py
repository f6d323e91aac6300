"""Organisational goals: who may set them, how objectives link, and the roll-up maths."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.base.errors import NotAllowed, NotFound
from engine.packs.loading import load_pack
from engine.people.directory import current_directory
from engine.performance.goals import (
    Goal,
    GoalError,
    create_goal,
    delete_goal,
    goal_tree,
    linked_goal_id,
    list_goals,
    objective_chains,
    person_node,
    restore_goal,
    retire_goal,
    update_goal,
    weighted_progress,
)
from engine.workflow.goal_catalog import goals_catalog, with_typed_goals
from tests.engine.test_dashboards import Org, build_org, new_cycle, record


@pytest.fixture
async def org(db: str) -> Org:
    """The shared org chart (tests/engine/test_dashboards.py)."""
    return await build_org()


def objective(title: str, weight: float | None, actual: float | None, target: float = 100,
              goal: str = "", **extra: object) -> dict[str, object]:
    return {"title": title, "weight": weight, "actual": actual, "target": target,
            "measure_type": "higher_is_better", "aligned_goal": goal, **extra}


# --- maths -----------------------------------------------------------------------------------


def test_progress_is_the_weighted_average_of_achievements():
    assert weighted_progress([(100.0, 60), (50.0, 40)]) == 80.0


def test_objectives_without_actuals_are_left_out_and_weights_renormalised():
    # 60 % of the plan has no actual yet: the 40 % that has one is the whole picture.
    assert weighted_progress([(None, 60), (50.0, 40)]) == 50.0
    assert weighted_progress([(None, 60), (None, 40)]) is None


def test_equal_weights_when_none_is_given_and_no_progress_from_zero_weights():
    assert weighted_progress([(90.0, None), (70.0, None)]) == 80.0
    assert weighted_progress([(90.0, 0), (70.0, 0)]) is None


def test_a_persons_progress_caps_runaway_kpis_and_handles_lower_is_better():
    node = person_node(1, "Dora", [
        # 5x the target would be 500 %; capped at 150.
        objective("Ship features", 50, 500),
        # Defects from 20 down to 10 targeted, 15 reached: half way = 50 %.
        objective("Cut defects", 50, 15, target=10, baseline=20, measure_type="lower_is_better"),
        objective("Write docs", 0, None),
    ], goals=[])
    assert [i.achievement for i in node.items] == [150.0, 50.0, None]
    assert node.progress == 100.0
    assert (node.objectives, node.with_actuals) == (3, 2)


def test_an_objective_links_by_goal_id_or_by_title():
    goals = [Goal(3, 1, None, None, "Grow revenue", "", None, 1.0, "", None),
             Goal(4, 1, None, None, "Delight customers", "", None, 1.0, "", None)]
    assert linked_goal_id("goal:4", goals) == 4
    assert linked_goal_id("  grow REVENUE ", goals) == 3
    assert linked_goal_id("goal:Delight customers", goals) == 4
    assert linked_goal_id("goal:99", goals) is None
    assert linked_goal_id("Something else", goals) is None
    assert linked_goal_id(None, goals) is None


# --- who may set goals -----------------------------------------------------------------------


async def test_hr_admin_sets_organisation_goals_and_managers_their_units(org):
    cycle = await new_cycle()
    company = await create_goal(cycle, "Grow revenue", org.viewer("HA"), weight=2)
    assert (company.org_unit_id, company.weight) == (None, 2.0)
    eng = await create_goal(cycle, "Ship the platform", org.viewer("EM"),
                            org_unit_id=org.units["ENG"], parent_id=company.id)
    assert eng.parent_id == company.id
    # A manager's units include the units below the one they head.
    await create_goal(cycle, "Faster builds", org.viewer("EM"), org_unit_id=org.units["PLAT"])
    with pytest.raises(NotAllowed):
        await create_goal(cycle, "Sell more", org.viewer("EM"), org_unit_id=org.units["SALES"])
    with pytest.raises(NotAllowed):
        await create_goal(cycle, "Everything", org.viewer("EM"))


async def test_an_hr_partner_sets_goals_for_their_units_only_and_employees_for_none(org):
    cycle = await new_cycle()
    await create_goal(cycle, "Hire well", org.viewer("HP"), org_unit_id=org.units["PLAT"])
    for key, unit in (("HP", org.units["SALES"]), ("HP", None), ("D1", org.units["ENG"])):
        with pytest.raises(NotAllowed):
            await create_goal(cycle, "Not yours", org.viewer(key), org_unit_id=unit)


async def test_goals_need_a_title_a_known_cycle_and_a_parent_in_the_same_cycle(org):
    cycle, other = await new_cycle("2026"), await new_cycle("2027")
    admin = org.viewer("HA")
    with pytest.raises(GoalError):
        await create_goal(cycle, "   ", admin)
    with pytest.raises(NotFound):
        await create_goal(cycle + 10, "Lost", admin)
    elsewhere = await create_goal(other, "Next year", admin)
    with pytest.raises(GoalError):
        await create_goal(cycle, "Child", admin, parent_id=elsewhere.id)
    with pytest.raises(GoalError):
        await create_goal(cycle, "Negative", admin, weight=-1)


async def test_editing_a_goal_checks_the_unit_and_refuses_loops(org):
    cycle = await new_cycle()
    parent = await create_goal(cycle, "Grow", org.viewer("HA"))
    child = await create_goal(cycle, "Grow ENG", org.viewer("EM"), org_unit_id=org.units["ENG"],
                              parent_id=parent.id)
    renamed = await update_goal(child.id, org.viewer("EM"), title="Grow engineering", weight=3)
    assert (renamed.title, renamed.weight) == ("Grow engineering", 3.0)
    with pytest.raises(GoalError):
        await update_goal(parent.id, org.viewer("HA"), parent_id=child.id)
    with pytest.raises(NotAllowed):
        await update_goal(child.id, org.viewer("EM"), org_unit_id=org.units["SALES"])
    with pytest.raises(NotAllowed):
        await update_goal(parent.id, org.viewer("EM"), title="Mine now")
    with pytest.raises(GoalError):
        await update_goal(child.id, org.viewer("EM"), cycle_id=99)
    with pytest.raises(NotFound):  # Sales cannot even see Engineering's goals
        await delete_goal(child.id, org.viewer("SM"))
    with pytest.raises(NotAllowed):  # an engineer sees them, but may not change them
        await delete_goal(child.id, org.viewer("D1"))
    await delete_goal(child.id, org.viewer("EM"))
    assert [g.title for g in await list_goals(cycle, org.viewer("HA"))] == ["Grow"]


async def test_people_see_the_goals_above_them_not_other_units_goals(org):
    cycle = await new_cycle()
    admin = org.viewer("HA")
    await create_goal(cycle, "Company goal", admin)
    await create_goal(cycle, "Engineering goal", admin, org_unit_id=org.units["ENG"])
    await create_goal(cycle, "Sales goal", admin, org_unit_id=org.units["SALES"])
    seen = [g.title for g in await list_goals(cycle, org.viewer("D1"))]
    assert seen == ["Company goal", "Engineering goal"]
    assert len(await list_goals(cycle, org.viewer("CEO"))) == 3  # heads the root unit
    rep_sees = [g.title for g in await list_goals(cycle, org.viewer("R1"))]
    assert rep_sees == ["Company goal", "Sales goal"]
    sales_goal = next(g for g in await list_goals(cycle, admin) if g.title == "Sales goal")
    with pytest.raises(NotFound):
        await update_goal(sales_goal.id, org.viewer("D1"), title="Hidden")


# --- the tree --------------------------------------------------------------------------------


async def test_goal_progress_weighs_each_linked_objective_across_people(org):
    cycle = await new_cycle()
    admin = org.viewer("HA")
    revenue = await create_goal(cycle, "Grow revenue", admin)
    platform = await create_goal(cycle, "Ship the platform", admin,
                                 org_unit_id=org.units["ENG"], parent_id=revenue.id)
    await record(org, cycle, "D1", "objectives", {"objectives": [
        objective("Launch API", 60, 100, goal=f"goal:{platform.id}"),
        objective("Mentor", 40, 50),
    ]})
    await record(org, cycle, "D2", "midyear_checkin", {"objectives": [
        objective("Scale DB", 20, 50, goal="ship the platform"),
        objective("Docs", 80, None, goal=f"goal:{platform.id}"),
    ]})
    await record(org, cycle, "R1", "kpi_results", {"objectives": [
        objective("Bookings", 100, 120, goal="Grow revenue"),
    ], "weighted_score": 4})

    tree = await goal_tree(cycle, admin)

    (root,) = tree.goals
    (child,) = root.children
    # Platform: Dora's 100 % at weight 60 and Dan's 50 % at weight 20; Dan's docs have no actual.
    assert child.progress == pytest.approx((100 * 60 + 50 * 20) / 80, abs=0.01)
    assert (child.objectives_linked, child.with_actuals, child.people) == (3, 2, 2)
    # Revenue pools its own objective (120 % at 100) with the platform's.
    assert root.progress == pytest.approx((100 * 60 + 50 * 20 + 120 * 100) / 180, abs=0.01)
    assert tree.goals_progress == root.progress
    assert tree.objectives_unlinked == 1

    organisation = tree.organisation
    assert organisation.goals == [root]
    eng = next(u for u in organisation.children[0].children if u.name == "Engineering")
    assert eng.goals == [child]
    # Engineering's people: Dora 80 % (100 at 60, 50 at 40), Dan 50 %, Emil without objectives.
    assert (eng.people_count, eng.people_with_progress) == (3, 2)
    assert eng.progress == 65.0
    assert (eng.objectives, eng.with_actuals) == (4, 3)


async def test_the_newest_objectives_record_of_the_cycle_is_the_one_that_counts(org):
    cycle, earlier = await new_cycle("2026"), await new_cycle("2025")
    await record(org, earlier, "D1", "kpi_results", {"objectives": [objective("Old", 100, 10)]})
    await record(org, cycle, "D1", "objectives", {"objectives": [objective("Plan", 100, None)]})
    await record(org, cycle, "D1", "midyear_checkin",
                 {"objectives": [objective("Plan", 100, 70)]})
    tree = await goal_tree(cycle, org.viewer("D1"))
    (company,) = tree.organisation.children
    (eng,) = company.children
    (dora,) = eng.people
    assert (dora.name, dora.progress) == ("Dora Dev", 70.0)


async def test_an_employee_sees_only_their_own_numbers_in_the_tree(org):
    cycle = await new_cycle()
    goal = await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    await record(org, cycle, "D1", "objectives", {"objectives": [
        objective("Mine", 100, 80, goal="Grow revenue")]})
    await record(org, cycle, "R1", "objectives", {"objectives": [
        objective("Theirs", 100, 20, goal="Grow revenue")]})
    tree = await goal_tree(cycle, org.viewer("D1"))
    assert tree.organisation.people_count == 1
    (node,) = tree.goals
    assert (node.goal.id, node.progress, node.people) == (goal.id, 80.0, 1)
    admin_tree = await goal_tree(cycle, org.viewer("HA"))
    assert admin_tree.goals[0].progress == 50.0
    with pytest.raises(NotFound):
        await goal_tree(cycle + 5, org.viewer("HA"))


# --- measure, target, period, retirement ------------------------------------------------------


async def test_a_goal_has_an_owner_a_measure_a_target_and_a_period(org):
    cycle = await new_cycle()
    goal = await create_goal(
        cycle, "  Grow   revenue ", org.viewer("HA"), owner_id=org.ids["CEO"],
        measure=" Net revenue growth ", unit="%", target="12.5",
        period_start="2026-01-01", period_end=date(2026, 12, 31),
    )
    assert (goal.title, goal.measure, goal.unit, goal.target) == (
        "Grow revenue", "Net revenue growth", "%", 12.5)
    assert (goal.period_start, goal.period_end, goal.owner_id) == (
        date(2026, 1, 1), date(2026, 12, 31), org.ids["CEO"])
    moved = await update_goal(goal.id, org.viewer("HA"), target=15, period_end="2027-03-31")
    assert (moved.target, moved.period_end) == (15.0, date(2027, 3, 31))
    (stored,) = await list_goals(cycle, org.viewer("D1"))
    assert (stored.target, stored.measure) == (15.0, "Net revenue growth")


@pytest.mark.parametrize(("changes", "message"), [
    ({"target": "a lot"}, "target must be a number"),
    ({"target": float("nan")}, "target must be a number"),
    ({"period_start": "2026-06-01", "period_end": "2026-05-31"}, "cannot end"),
    ({"period_end": "31/12/2026"}, "must be a date"),
    ({"weight": -0.5}, "weight must be a number of 0 or more"),
    ({"title": " "}, "needs a title"),
    ({"unit": "x" * 40}, "under 32 characters"),
])
async def test_bad_goal_values_are_refused_with_the_reason_and_change_nothing(
    org, changes, message
):
    cycle = await new_cycle()
    goal = await create_goal(cycle, "Grow", org.viewer("HA"), target=10, weight=1)
    with pytest.raises(GoalError, match=message):
        await update_goal(goal.id, org.viewer("HA"), **changes)
    (kept,) = await list_goals(cycle, org.viewer("HA"))
    assert (kept.title, kept.target, kept.weight, kept.period_end) == ("Grow", 10.0, 1.0, None)


async def test_a_retired_goal_stays_for_history_but_leaves_its_parents_roll_up(org):
    cycle = await new_cycle()
    admin = org.viewer("HA")
    top = await create_goal(cycle, "Grow revenue", admin)
    kept = await create_goal(cycle, "Sell more", admin, org_unit_id=org.units["SALES"],
                             parent_id=top.id)
    dropped = await create_goal(cycle, "Old platform", admin, org_unit_id=org.units["ENG"],
                                parent_id=top.id)
    await record(org, cycle, "R1", "objectives", {"objectives": [
        objective("Bookings", 100, 80, goal=f"goal:{kept.id}")]})
    await record(org, cycle, "D1", "objectives", {"objectives": [
        objective("Migrate", 100, 20, goal=f"goal:{dropped.id}")]})
    assert (await goal_tree(cycle, admin)).goals[0].progress == 50.0

    retired = await retire_goal(dropped.id, org.viewer("EM"))
    assert retired.retired and retired.retired_by == "EM"
    tree = await goal_tree(cycle, admin)
    (root,) = tree.goals
    assert root.progress == 80.0 and root.people == 1
    old = next(c for c in root.children if c.goal.id == dropped.id)
    # Still listed, with its own figures and contributors, marked retired.
    assert old.goal.retired and old.progress == 20.0
    assert [(c.name, c.objective) for c in old.contributors] == [("Dora Dev", "Migrate")]
    with pytest.raises(GoalError, match="retired"):
        await create_goal(cycle, "Below the old one", admin, parent_id=dropped.id)
    with pytest.raises(NotFound):  # Sales' goal is not the engineering manager's to see
        await retire_goal(kept.id, org.viewer("EM"))
    with pytest.raises(NotAllowed):  # an engineer sees it, but may not retire it
        await restore_goal(dropped.id, org.viewer("D1"))

    await restore_goal(dropped.id, org.viewer("EM"))
    assert (await goal_tree(cycle, admin)).goals[0].progress == 50.0


async def test_who_contributes_names_the_people_and_objectives_the_viewer_may_see(org):
    cycle = await new_cycle()
    goal = await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    await record(org, cycle, "D1", "objectives", {"objectives": [
        objective("Launch API", 100, 90, goal=f"goal:{goal.id}")]})
    await record(org, cycle, "R1", "objectives", {"objectives": [
        objective("Bookings", 100, None, goal="grow revenue")]})
    (node,) = (await goal_tree(cycle, org.viewer("HA"))).goals
    assert [(c.name, c.objective, c.achievement) for c in node.contributors] == [
        ("Dora Dev", "Launch API", 90.0), ("Rita Rep", "Bookings", None)]
    (mine,) = (await goal_tree(cycle, org.viewer("D1"))).goals
    assert [c.name for c in mine.contributors] == ["Dora Dev"]


async def test_the_chain_runs_from_an_objective_up_to_the_organisations_goal(org):
    cycle = await new_cycle()
    admin = org.viewer("HA")
    top = await create_goal(cycle, "Grow revenue", admin)
    unit = await create_goal(cycle, "Ship the platform", admin, org_unit_id=org.units["ENG"],
                             parent_id=top.id)
    team = await create_goal(cycle, "Faster builds", admin, org_unit_id=org.units["PLAT"],
                             parent_id=unit.id)
    chains = await objective_chains(cycle, [f"goal:{team.id}", "ship the platform", "", "Nope"])
    assert [[(link.level, link.goal.title) for link in chain] for chain in chains] == [
        [("Platform", "Faster builds"), ("Engineering", "Ship the platform"),
         ("Organisation", "Grow revenue")],
        [("Engineering", "Ship the platform"), ("Organisation", "Grow revenue")],
        [], [],
    ]


async def test_the_goal_picker_offers_the_open_goals_of_the_subjects_unit_chain(org):
    cycle = await new_cycle()
    admin = org.viewer("HA")
    top = await create_goal(cycle, "Grow revenue", admin)
    await create_goal(cycle, "Ship the platform", admin, org_unit_id=org.units["ENG"],
                      parent_id=top.id)
    team = await create_goal(cycle, "Faster builds", admin, org_unit_id=org.units["PLAT"])
    await create_goal(cycle, "Sell more", admin, org_unit_id=org.units["SALES"])
    old = await create_goal(cycle, "Old goal", admin)
    await retire_goal(old.id, admin)
    directory = await current_directory()
    dan = directory.people[org.ids["D2"]]
    catalog = await goals_catalog(cycle, dan, directory)
    assert [(e["value"], e["label"]) for e in catalog["open"]] == [
        (f"goal:{top.id}", "Grow revenue (Organisation)"),
        (f"goal:{top.id + 1}", "Ship the platform (Engineering)"),
        (f"goal:{team.id}", "Faster builds (Platform)"),
    ]
    # An objective typed before the picker keeps its text as a choice of its own.
    kept = with_typed_goals(catalog, {"objectives": [{"aligned_goal": "Grow revenue"},
                                                     {"aligned_goal": f"goal:{team.id}"}]})
    assert kept["open"][-1] == {"value": "Grow revenue", "label": "Grow revenue (as set before)"}
    assert len(kept["open"]) == 4
    assert await goals_catalog(None, dan, directory) == {"open": []}


async def test_the_objective_form_picks_goals_and_kras_from_their_catalogs():
    """The standard pack's objective forms compile with the goals and KRA pickers."""
    from forms import form_spec, render_schema_template

    root = Path(__file__).resolve().parents[2] / "processes" / "standard"
    pack = load_pack(root)
    catalogs = {**pack.catalogs(), "goals": {"open": [
        {"value": "goal:7", "label": "Grow revenue (Organisation)"}]}}
    for name in ("objectives", "midyear-revise", "midyear-actuals"):
        data = {"subject": {"job_family": "engineering"}}
        schema = render_schema_template((root / "forms" / f"{name}-schema.json").read_text(), data)
        uischema = render_schema_template(
            (root / "forms" / f"{name}-uischema.json").read_text(), data)
        spec = form_spec(schema, uischema, catalogs)
        row = next(n for n in spec.root.children if n.name == "objectives")
        goal = next(n for n in row.children if n.name == "aligned_goal")
        kra = next(n for n in row.children if n.name == "kra")
        assert [(c.value, c.label) for c in goal.choices] == [
            ("goal:7", "Grow revenue (Organisation)")], name
        assert len(kra.suggestions) >= 3, name
