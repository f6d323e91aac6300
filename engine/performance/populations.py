"""The people HR covers and the populations it calibrates.

An HR admin covers everyone, an HR partner the units they partner and everything below them
(engine.workflow.access). The HR dashboard lists units in tree order within that scope, and
both the dashboard and calibration speak of populations by key: "all", "unit:<id>" (a unit
with its sub-units) or "family:<job family>".
"""

from __future__ import annotations

from collections.abc import Callable

from engine.base.errors import NotAllowed, NotFound
from engine.base.i18n import said
from engine.people.directory import DirectorySnapshot
from engine.workflow.access import HR_GROUP, SeesSubjects, partnered_units


def hr_scope(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """Org units whose people the HR viewer covers (None: everyone); NotAllowed for others."""
    if HR_GROUP not in viewer.groups:
        raise NotAllowed("the HR dashboard is for HR")
    units = partnered_units(viewer.person_id, directory)
    if not units:
        return None
    return {uid for root in units for uid in directory.unit_and_descendants(root)}


def unit_order(
    directory: DirectorySnapshot, scope: set[int] | None
) -> list[tuple[int, int]]:
    """(unit id, depth) in tree order, for the units in scope (their tops at depth 0)."""
    tops = sorted(
        (u for u in directory.units.values()
         if (scope is None or u.id in scope)
         and (u.parent_id is None or u.parent_id not in directory.units
              or (scope is not None and u.parent_id not in scope))),
        key=lambda u: u.name, reverse=True,
    )
    out: list[tuple[int, int]] = []
    stack = [(u.id, 0) for u in tops]
    while stack:
        uid, depth = stack.pop()
        out.append((uid, depth))
        children = sorted(directory.unit_children.get(uid, []),
                          key=lambda c: directory.units[c].name, reverse=True)
        stack.extend((c, depth + 1) for c in children)
    return out


def unit_owners(
    directory: DirectorySnapshot, shown: set[int]
) -> Callable[[int | None], list[int]]:
    """A unit id → the unit and every ancestor of it among `shown` (what a person or a row of
    that unit counts for when figures roll up to parent units); worked out once per unit."""
    chains: dict[int | None, list[int]] = {}

    def owners(unit_id: int | None) -> list[int]:
        found = chains.get(unit_id)
        if found is None:
            found = []
            current = unit_id
            while current is not None and current in shown and current not in found:
                found.append(current)
                current = directory.units[current].parent_id
            chains[unit_id] = found
        return found

    return owners


def scope_name(directory: DirectorySnapshot, scope: set[int] | None) -> str:
    """What an HR scope is called on a page: the organisation, or the partnered units."""
    if scope is None:
        return said("organisation")
    return ", ".join(directory.units[u].name for u, depth in unit_order(directory, scope)
                     if depth == 0)


def job_family_name(family: str) -> str:
    """A job family as a population: "job family Sales"."""
    return said("job family %(family)s", family=family or "—")


def population_people(
    key: str, scope: set[int] | None, directory: DirectorySnapshot
) -> tuple[str, set[int]]:
    """The name and person ids of a population key (all, unit:<id>, family:<name>) within an
    HR scope; NotFound for an unknown key or a unit outside the scope."""
    kind, _, value = key.partition(":")
    if key == "all":
        name = scope_name(directory, scope)
        people = set(directory.people)
    elif kind == "family":
        name = job_family_name(value)
        people = {p.id for p in directory.people.values() if p.job_family == value}
    elif kind == "unit" and value.isdigit() and int(value) in directory.units and (
        scope is None or int(value) in scope
    ):
        name = directory.units[int(value)].name
        people = {
            p.id for p in directory.people_in_unit(
                int(value), include_subunits=True, include_inactive=True
            )
        }
    else:
        raise NotFound(f"no population {key!r}")
    if scope is not None:
        people = {pid for pid in people if directory.people[pid].org_unit_id in scope}
    return name, people
