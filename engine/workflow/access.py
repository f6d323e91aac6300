"""Who may see whose processes: the one rule every page that shows an instance applies.

A person sees their own processes; managers see those of everyone below them (direct and
indirect reports); HR members see their population. An HR member named as `hr_partner` of one
or more org units sees the people of those units and their sub-units; an HR member who partners
no unit is an HR administrator and sees everyone. Nobody else sees anything (the web app
answers 404, so a hidden instance is indistinguishable from a missing one).

The same units bound what an HR partner does as HR: launch a process for a population
(engine.performance.cycles refuses people outside them) and read the email outbox
(engine.workflow.notifications).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from engine.base.errors import NotFound
from engine.base.models import HumanTask, ProcessInstance
from engine.people.directory import DirectorySnapshot, PersonInfo

HR_GROUP = "hr"
PARTNER_ATTRIBUTE = "hr_partner"


class SeesSubjects(Protocol):
    """Anything that names a person and their groups (the web app's Viewer fits)."""

    @property
    def person_id(self) -> int: ...

    @property
    def groups(self) -> Collection[str]: ...


def partnered_units(person_id: int, directory: DirectorySnapshot) -> list[int]:
    """Ids of the org units whose `hr_partner` attribute names this person."""
    found = []
    for unit in directory.units.values():
        value = unit.attributes.get(PARTNER_ATTRIBUTE)
        refs = value if isinstance(value, list) else [value]
        for ref in refs:
            if not isinstance(ref, str | int) or isinstance(ref, bool) or ref == "":
                continue
            named = directory.person(ref)
            if named is not None and named.id == person_id:
                found.append(unit.id)
                break
    return found


def hr_units(person_id: int, directory: DirectorySnapshot) -> set[int] | None:
    """Ids of the org units an HR member looks after (those they partner and every unit below
    them); None when they partner no unit and so administer everyone."""
    units = partnered_units(person_id, directory)
    if not units:
        return None
    return {uid for root in units for uid in directory.unit_and_descendants(root)}


def _hr_population(person_id: int, directory: DirectorySnapshot) -> set[int] | None:
    """The people an HR member looks after; None when they administer everyone."""
    units = partnered_units(person_id, directory)
    if not units:
        return None
    return {
        person.id
        for unit_id in units
        for person in directory.people_in_unit(
            unit_id, include_subunits=True, include_inactive=True
        )
    }


def hr_population(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """The people an HR member may act for as HR (launch for, read the emails of): those of
    the units they partner; None when they administer everyone, or are not in HR at all (then
    HR's scope does not apply: the pack's `starters` alone decide who launches)."""
    if HR_GROUP not in viewer.groups:
        return None
    return _hr_population(viewer.person_id, directory)


def outside_hr_scope(
    viewer: SeesSubjects, people: Iterable[PersonInfo], directory: DirectorySnapshot
) -> list[PersonInfo]:
    """Those of `people` outside the units an HR partner looks after (none for an HR
    administrator), in the order given."""
    population = hr_population(viewer, directory)
    if population is None:
        return []
    return [person for person in people if person.id not in population]


def describe_hr_scope(person_id: int, directory: DirectorySnapshot) -> str:
    """The units an HR partner looks after, in words: "Sales (SALES) and North (NORTH)"."""
    units = [directory.units[uid] for uid in partnered_units(person_id, directory)]
    names = [f"{u.name} ({u.code})" for u in sorted(units, key=lambda u: u.name)]
    if len(names) <= 1:
        return "".join(names) or "no unit"
    return ", ".join(names[:-1]) + " and " + names[-1]


def can_view_subject(
    viewer_id: int,
    viewer_groups: Collection[str],
    subject_id: int,
    directory: DirectorySnapshot,
) -> bool:
    """Whether the viewer may see the processes whose subject is `subject_id`."""
    if viewer_id == subject_id:
        return True
    if directory.is_manager_of(viewer_id, subject_id, indirect=True):
        return True
    if HR_GROUP in viewer_groups:
        population = _hr_population(viewer_id, directory)
        return population is None or subject_id in population
    return False


def visible_subject_ids(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """Every subject id the viewer may see, for list queries; None means everyone."""
    visible = {viewer.person_id, *directory.reports_of(viewer.person_id, indirect=True)}
    if HR_GROUP in viewer.groups:
        population = _hr_population(viewer.person_id, directory)
        if population is None:
            return None
        visible |= population
    return visible


def can_view_instance(
    viewer_id: int,
    viewer_groups: Collection[str],
    instance: ProcessInstance,
    directory: DirectorySnapshot,
) -> bool:
    """Whether the viewer may see one instance (one without a subject: its starter, HR admins)."""
    subject_id = instance.subject_id
    if subject_id is not None:
        return can_view_subject(viewer_id, viewer_groups, subject_id, directory)
    if instance.starter_id == viewer_id:
        return True
    return HR_GROUP in viewer_groups and _hr_population(viewer_id, directory) is None


async def visible_instance(
    instance_id: int,
    viewer_id: int,
    viewer_groups: Collection[str],
    directory: DirectorySnapshot,
) -> ProcessInstance:
    """The instance if the viewer may see it; NotFound otherwise (also when it does not exist).

    Beyond the reporting line and HR, whoever holds or held a task of the instance sees it: a
    peer asked for feedback, or an HR member handling a group task outside their units.
    """
    row = await ProcessInstance.get_or_none(id=instance_id)
    if row is None:
        raise NotFound(f"no instance {instance_id}")
    if await participants_only(row):
        # Feedback, check-ins: between the people in them, not their managers or HR.
        if row.subject_id == viewer_id or row.starter_id == viewer_id:
            return row
    elif can_view_instance(viewer_id, viewer_groups, row, directory):
        return row
    if await _takes_part(row.id, viewer_id, viewer_groups, directory):
        return row
    raise NotFound(f"no instance {instance_id}")


async def participants_only(row: ProcessInstance) -> bool:
    """Whether the pack keeps this process between the people in it
    (`visible_to = "participants"` in its [processes] settings)."""
    from engine.packs.definitions import deployed

    dep = await deployed(row.definition_id)
    return dep.process_settings.get("visible_to") == "participants"


async def _takes_part(
    instance_id: int, viewer_id: int, viewer_groups: Collection[str], directory: DirectorySnapshot
) -> bool:
    from engine.people.assignment import may_act

    for task in await HumanTask.filter(instance_id=instance_id).only(
        "id", "status", "assignee_id", "candidate_group", "candidates", "completed_by_id"
    ):
        if task.completed_by_id == viewer_id:
            return True
        if task.status == "ready" and may_act(
            viewer_id, task.assignee_id, task.candidate_group, task.candidates, directory
        ):
            return True
    return False
