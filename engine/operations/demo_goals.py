"""The demo's goal tree: two organisation goals, unit goals below them and team goals below
those, each with an owner, a measure, a target and the year as its period; the demo objectives
support the most specific goal of their owner's unit chain, so `make run` shows a goal tree with
contributors, and a few in-year KPI actuals so progress rolls up.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.base import clock
from engine.base.models import OrgGoal, OrgUnit, Person

# (title, unit code or "" for the organisation, parent title, owner, measure, unit, target,
#  weight, theme): the theme says which demo objective supports the goal ("delivery" the
#  first, "quality" the second).
DEMO_GOALS = [
    ("Grow recurring revenue", "", "", "E1001", "Annual recurring revenue growth", "%", 20, 2,
     "delivery"),
    ("Delight our customers", "", "", "E1001", "Net promoter score", "points", 45, 1, "quality"),
    ("Ship the customer portal", "ENG", "Grow recurring revenue", "E1007",
     "Portal milestones delivered", "milestones", 4, 1, "delivery"),
    ("Halve escaped defects", "ENG", "Delight our customers", "E1007", "Defects per release",
     "defects", 4, 1, "quality"),
    ("Self-service billing in the portal", "ENG-PROD", "Ship the customer portal", "E1009",
     "Billing flows live", "flows", 3, 1, "delivery"),
    ("Portal uptime", "ENG-PLAT", "Ship the customer portal", "E1008", "Monthly uptime", "%",
     99.9, 1, "delivery"),
    ("Win new accounts", "SALES", "Grow recurring revenue", "", "New accounts signed",
     "accounts", 40, 1, "delivery"),
    ("Keep churn low", "OPS-CS", "Delight our customers", "E1056", "Annual logo churn", "%", 5,
     1, "quality"),
]
# In-year actuals recorded for the demo (employee ID: actuals of the two demo objectives).
DEMO_ACTUALS = {
    "E1011": (1, 6), "E1012": (1, 5), "E1013": (0, 8), "E1014": (1, 4),
    "E1020": (1, 7), "E1021": (0, 9), "E1023": (1, 5), "E1024": (1, 3),
    "E1010": (1, 6), "E1030": (1, 10), "E1031": (0, 6),
}


@dataclass(frozen=True)
class _Seeder:
    """Who sets the demo goals and records the demo actuals (HR's administrator)."""

    person_id: int
    groups: tuple[str, ...] = ("hr",)


async def seed_goal_tree(cycle_id: int, hr_key: str = "E1003") -> int:
    """Create the demo goal tree in the cycle (once); the number of goals created."""
    from engine.performance.goals import create_goal

    if await OrgGoal.exists(cycle_id=cycle_id):
        return 0
    hr = await Person.get(key=hr_key)
    seeder = _Seeder(hr.id)
    units = {u.code: u.id for u in await OrgUnit.all()}
    people = {p.key: p.id for p in await Person.all()}
    year = clock.now().year  # each goal runs for the demo's year
    ids: dict[str, int] = {}
    for title, unit, parent, owner, measure, what, target, weight, _ in DEMO_GOALS:
        goal = await create_goal(
            cycle_id, title, seeder, org_unit_id=units.get(unit) if unit else None,
            owner_id=people.get(owner), parent_id=ids.get(parent), measure=measure, unit=what,
            target=target, weight=weight, period_start=date(year, 1, 1),
            period_end=date(year, 12, 31),
        )
        ids[title] = goal.id
    return len(ids)


async def objectives_for(key: str, objectives: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The demo objectives, each pointing ("goal:<id>") at the nearest goal of its theme in
    the person's unit chain (their unit, the units above, then the organisation)."""
    person = await Person.get_or_none(key=key)
    goals = await OrgGoal.filter(retired_at=None).order_by("-cycle_id", "id")
    if person is None or not goals:
        return copy.deepcopy(objectives)
    cycle_id = goals[0].cycle_id
    units = {u.id: u for u in await OrgUnit.all()}
    chain: list[int | None] = []
    unit_id = person.org_unit_id
    while unit_id is not None and unit_id in units and unit_id not in chain:
        chain.append(unit_id)
        unit_id = units[unit_id].parent_id
    chain.append(None)
    themes = {title: theme for title, *_, theme in DEMO_GOALS}
    out = copy.deepcopy(objectives)
    for objective, theme in zip(out, ("delivery", "quality"), strict=False):
        for unit in chain:
            found = next((g for g in goals if g.cycle_id == cycle_id and g.org_unit_id == unit
                          and themes.get(g.title) == theme), None)
            if found is not None:
                objective["aligned_goal"] = f"goal:{found.id}"
                break
    return out


async def record_demo_actuals(cycle_id: int) -> int:
    """Some in-year actuals against the demo objectives, each recorded by its owner, so goal
    progress rolls up."""
    from engine.base.errors import EngineError
    from engine.performance.progress import record_update

    people = {p.key: p.id for p in await Person.filter(key__in=list(DEMO_ACTUALS))}
    done = 0
    for key, actuals in DEMO_ACTUALS.items():
        if key not in people:
            continue
        for title, actual in zip(("Ship the customer portal", "Cut escaped defects"), actuals,
                                 strict=True):
            try:
                await record_update(_Seeder(people[key], ()), people[key], cycle_id, title,
                                    actual=actual,
                                    status="on_track" if actual else "at_risk",
                                    source="demo")
            except EngineError:
                continue  # not agreed yet, or not theirs to update: the demo goes on
            done += 1
    return done
