"""The Goals page's read model keeps in step with the records and the in-year updates: an
objectives record shows in the tree, an update moves it at once, a later check-in wins, a
revised set keeps its keys, and a rebuild gives back the same rows."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import timedelta

import pytest

from engine.base import clock
from engine.base.models import ObjectiveIndex, Record
from engine.performance import objective_index, progress
from engine.performance.goals import create_goal, goal_tree
from tests.engine.test_dashboards import Org, build_org, new_cycle
from tests.engine.test_progress import JAN, OBJECTIVES, record


@pytest.fixture
async def org(db: str) -> Org:
    return await build_org()


@pytest.fixture
async def cycle(org: Org) -> int:
    return await new_cycle()


async def rows(cycle: int, person: int) -> dict[str, tuple[str, float | None, float | None]]:
    """The person's rows: key → (aligned goal, weight, achievement)."""
    found = await ObjectiveIndex.filter(cycle_id=cycle, person_id=person).values_list(
        "objective_key", "aligned", "weight", "achievement")
    return {key: (aligned, weight, achievement) for key, aligned, weight, achievement in found}


async def test_an_objectives_record_shows_in_the_tree_on_the_next_read(org, cycle):
    await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    with clock.frozen_at(JAN):
        await record(org, cycle, "D1", "objectives", {"objectives": [
            {**OBJECTIVES[0], "actual": 5}, OBJECTIVES[1]]})
    tree = await goal_tree(cycle, org.viewer("HA"))
    assert tree.goals[0].progress == 50.0 and tree.goals[0].people == 1
    assert await rows(cycle, org.ids["D1"]) == {
        "ship-api": ("Grow revenue", 60.0, 50.0), "cut-defects": ("", 40.0, None)}


async def test_an_update_moves_the_index_at_once_and_a_later_check_in_wins(org, cycle):
    await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    with clock.frozen_at(JAN - timedelta(days=10)):
        await record(org, cycle, "D1", "objectives", {"objectives": OBJECTIVES})
    await goal_tree(cycle, org.viewer("HA"))
    with clock.frozen_at(JAN):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=8)
    # Written by the update itself, before anyone reads the tree.
    assert (await rows(cycle, org.ids["D1"]))["ship-api"][2] == 80.0
    with clock.frozen_at(JAN + timedelta(days=30)):
        await record(org, cycle, "D1", "midyear_checkin", {"objectives": [
            {**OBJECTIVES[0], "actual": 6}, OBJECTIVES[1]]})
    assert (await goal_tree(cycle, org.viewer("HA"))).goals[0].progress == 60.0
    assert (await rows(cycle, org.ids["D1"]))["ship-api"][2] == 60.0


async def test_a_revised_set_keeps_its_keys_and_its_progress(org, cycle):
    """An objective change (objective_change) writes a new objectives record whose rows keep
    their keys: a re-titled objective stays the same row, and updates after it count."""
    await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    with clock.frozen_at(JAN - timedelta(days=10)):
        await record(org, cycle, "D1", "objectives", {"objectives": OBJECTIVES})
    revised = [{**OBJECTIVES[0], "title": "Ship the public API", "target": 20}, OBJECTIVES[1]]
    with clock.frozen_at(JAN):
        await record(org, cycle, "D1", "objectives", {"objectives": revised})
    with clock.frozen_at(JAN + timedelta(days=1)):
        await progress.record_update(org.viewer("D1"), org.ids["D1"], cycle, "ship-api",
                                     actual=10)
    tree = await goal_tree(cycle, org.viewer("HA"))
    assert set(await rows(cycle, org.ids["D1"])) == {"ship-api", "cut-defects"}
    assert tree.goals[0].progress == 50.0
    assert [c.objective for c in tree.goals[0].contributors] == ["Ship the public API"]


async def test_a_rebuild_gives_back_the_same_rows_and_drops_removed_records(org, cycle):
    for key in ("D1", "D2"):
        await record(org, cycle, key, "objectives", {"objectives": [
            {**OBJECTIVES[0], "actual": 5}]})
    first = await goal_tree(cycle, org.viewer("HA"))
    before = await ObjectiveIndex.filter(cycle_id=cycle).count()
    assert await objective_index.rebuild_cycle(cycle) == 2
    assert await ObjectiveIndex.filter(cycle_id=cycle).count() == before == 2
    await Record.filter(person_id=org.ids["D2"]).delete()
    again = await goal_tree(cycle, org.viewer("HA"))
    assert await rows(cycle, org.ids["D2"]) == {}
    assert again.organisation.objectives == first.organisation.objectives - 1


async def test_who_contributes_names_the_first_people_and_counts_the_rest(org, cycle):
    await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    for key in ("D1", "D2", "R1"):
        await record(org, cycle, key, "objectives", {"objectives": [OBJECTIVES[0]]})
    (node,) = (await goal_tree(cycle, org.viewer("HA"), contributors=2)).goals
    names = [c.name for c in node.contributors]
    assert len(names) == 2 and names == sorted(names, key=str.casefold)
    assert node.contributors_count == 3 and node.contributors_more == 1
    assert node.people == 3


async def test_an_update_made_while_the_cycle_is_rebuilt_is_not_lost(org, cycle, monkeypatch):
    """A rebuild reads the records and actuals; if a progress update commits before the
    rebuild writes, the rebuild must not put back the achievement from before the update."""
    await create_goal(cycle, "Grow revenue", org.viewer("HA"))
    with clock.frozen_at(JAN - timedelta(days=10)):
        await record(org, cycle, "D1", "objectives", {"objectives": OBJECTIVES})
    await goal_tree(cycle, org.viewer("HA"))
    read = objective_index.with_latest_progress
    racing: list[asyncio.Task[object]] = []
    # The update comes from another request: outside the rebuild's transaction.
    elsewhere = contextvars.copy_context()

    async def read_then_let_an_update_in(*args, **kwargs):
        found = await read(*args, **kwargs)
        if not racing:  # the rebuild's read: Dora updates her progress right after it
            racing.append(asyncio.create_task(progress.record_update(
                org.viewer("D1"), org.ids["D1"], cycle, "ship-api", actual=8),
                context=elsewhere))
            # Give the update every chance to commit before the rebuild writes; it has to
            # wait for the rebuild instead.
            await asyncio.wait(racing, timeout=2)
        return found

    monkeypatch.setattr(objective_index, "with_latest_progress", read_then_let_an_update_in)
    with clock.frozen_at(JAN):
        await objective_index.rebuild_cycle(cycle)
        await racing[0]
    assert (await rows(cycle, org.ids["D1"]))["ship-api"][2] == 80.0
    assert (await goal_tree(cycle, org.viewer("HA"))).goals[0].progress == 80.0
