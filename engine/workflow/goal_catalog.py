"""The `goals` catalog a task's form picks an objective's `aligned_goal` from.

A pack's uischema points a picker at `goals.open` (and declares an empty `goals` catalog so the
form compiles where no cycle is at hand: pack tests, the designer's preview). For a task, the
entries are the cycle's open goals that the subject's objectives may support: the
organisation's, and those of the subject's unit and every unit above it, organisation first.
Each entry's value is "goal:<id>" (engine.performance.goals.linked_goal_id reads it) and its
label the goal's title and whose goal it is. Retired goals take no new objectives: not listed.
"""

from __future__ import annotations

from typing import Any

from engine.base.models import OrgGoal
from engine.people.directory import DirectorySnapshot, PersonInfo

CATALOG = "goals"
GOAL_REF = "goal:"


def _unit_chain(unit_id: int | None, directory: DirectorySnapshot) -> list[int]:
    """The unit and those above it, nearest first (a loop in bad data stops the walk)."""
    chain: list[int] = []
    while unit_id is not None and unit_id not in chain:
        chain.append(unit_id)
        unit = directory.unit(unit_id)
        unit_id = unit.parent_id if unit else None
    return chain


async def goals_catalog(
    cycle_id: int | None, subject: PersonInfo | None, directory: DirectorySnapshot
) -> dict[str, Any]:
    """`{"open": [{"value": "goal:<id>", "label": "<title> (<unit>)", "description": …}]}`."""
    if cycle_id is None:
        return {"open": []}
    chain = _unit_chain(subject.org_unit_id if subject else None, directory)
    # The organisation first, then from the top unit down to the subject's own.
    rank = {uid: len(chain) - i for i, uid in enumerate(chain)}
    rows = await OrgGoal.filter(cycle_id=cycle_id, retired_at=None).order_by("id")
    found = [r for r in rows if r.org_unit_id is None or r.org_unit_id in rank]
    found.sort(key=lambda r: (rank.get(r.org_unit_id, 0) if r.org_unit_id else 0,
                              r.title.casefold(), r.id))
    entries = [
        {"value": f"{GOAL_REF}{row.id}", "label": _label(row, directory),
         "description": row.measure}
        for row in found
    ]
    return {"open": entries}


def _label(row: OrgGoal, directory: DirectorySnapshot) -> str:
    """The goal's title and whose goal it is."""
    unit = directory.unit(row.org_unit_id) if row.org_unit_id is not None else None
    return f"{row.title} ({unit.name if unit else 'Organisation'})"


async def goal_labels(cycle_id: int | None, directory: DirectorySnapshot) -> dict[str, str]:
    """Every goal of the cycle, retired ones too, as "goal:<id>" -> "<title> (<unit>)": how a
    submitted objective's goal is named when the step is read back."""
    if cycle_id is None:
        return {}
    rows = await OrgGoal.filter(cycle_id=cycle_id).order_by("id")
    return {f"{GOAL_REF}{row.id}": _label(row, directory) for row in rows}


def with_typed_goals(catalog: dict[str, Any], data: Any) -> dict[str, Any]:
    """The catalog plus the goals the task data's objectives name that it does not list — an
    old objective's typed title, or a goal retired since — so editing the objectives keeps
    what they said rather than blanking it (the picker shows it as chosen)."""
    objectives = data.get("objectives") if isinstance(data, dict) else None
    listed = {entry["value"] for entry in catalog.get("open", [])}
    extra = []
    for objective in objectives if isinstance(objectives, list) else ():
        aligned = objective.get("aligned_goal") if isinstance(objective, dict) else None
        if isinstance(aligned, str) and aligned.strip() and aligned not in listed:
            listed.add(aligned)
            label = "an earlier goal" if aligned.startswith(GOAL_REF) else aligned
            extra.append({"value": aligned, "label": f"{label} (as set before)"})
    return {**catalog, "open": [*catalog.get("open", []), *extra]} if extra else catalog
