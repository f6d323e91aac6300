"""Calibrating one population: the appraisals waiting for the release, what each manager
proposes, and the release itself.

An appraisal waits for the release on its pack's release signal ([features.calibration]);
HR reviews a population's proposed ratings against the guideline, may change some (with a
reason), and sends the signal with the changed ratings. docs/dashboards.md has the walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.base.models import ProcessInstance, Record
from engine.people.directory import current_directory
from engine.performance.cycle_choice import find_cycle
from engine.performance.deployed_pack import cycle_pack
from engine.performance.distribution import (
    Distribution,
    latest_by_person,
    number,
    rating_distribution,
    rating_of,
)
from engine.performance.populations import hr_scope, population_people
from engine.workflow import runtime
from engine.workflow.access import SeesSubjects


@dataclass
class AwaitingRelease:
    """An appraisal waiting for the release, with what its manager proposes."""

    instance_id: int
    person_id: int
    person_key: str
    name: str
    unit: str
    manager: str
    kpi_score: float | None
    self_average: float | None
    proposed_rating: int | None  # None: no proposal on record (the manager's rating stands)


@dataclass
class PopulationCalibration:
    """One population's appraisals waiting for the release, and their proposed ratings
    against the guideline."""

    cycle_id: int
    cycle_name: str
    key: str
    population: str
    people: list[AwaitingRelease]
    proposed: Distribution
    levels: list[tuple[int, str]]  # the cycle's rating scale, best first: (value, label)


async def population_calibration(
    cycle_id: int, key: str, viewer: SeesSubjects
) -> PopulationCalibration:
    """The people of one population whose appraisals wait for the release, by unit and name,
    with the manager's proposal (HR only; an HR partner within their units)."""
    directory = await current_directory()
    scope = hr_scope(viewer, directory)
    cycle = await find_cycle(cycle_id)
    name, members = population_people(key, scope, directory)
    pack = await cycle_pack(cycle_id)
    signal = pack.features.calibration.release_signal
    waiting = {
        subject_id: instance_id
        for instance_id, subject_id in await ProcessInstance.filter(
            cycle_id=cycle_id, status="running", waiting_for__contains=f"|{signal}|"
        ).order_by("id").values_list("id", "subject_id")
        if subject_id in members
    }
    proposals = latest_by_person(
        await Record.filter(
            cycle_id=cycle_id, kind=pack.features.records.proposed_rating,
            person_id__in=list(waiting),
        ).order_by("id").values_list("person_id", "data")
    )
    people = []
    for pid, instance_id in waiting.items():
        person = directory.people[pid]
        proposal = proposals.get(pid) or {}
        unit = directory.units.get(person.org_unit_id) if person.org_unit_id else None
        manager = directory.people.get(person.manager_id) if person.manager_id else None
        people.append(AwaitingRelease(
            instance_id=instance_id,
            person_id=pid,
            person_key=person.key,
            name=person.name,
            unit=unit.name if unit else "",
            manager=str(proposal.get("manager_name") or (manager.name if manager else "")),
            kpi_score=number(proposal.get("kpi_score")),
            self_average=number(proposal.get("self_competency_avg")),
            proposed_rating=rating_of(proposal),
        ))
    people.sort(key=lambda a: (a.unit.casefold(), a.name.casefold(), a.person_id))
    scale = pack.catalogs.get("rating_scale", {})
    counts: dict[int, int] = {}
    for entry in people:
        if entry.proposed_rating is not None:
            counts[entry.proposed_rating] = counts.get(entry.proposed_rating, 0) + 1
    return PopulationCalibration(
        cycle_id=cycle_id,
        cycle_name=cycle.name,
        key=key,
        population=name,
        people=people,
        proposed=rating_distribution(counts, scale, name, key),
        levels=[
            (int(lv["value"]), str(lv.get("label", lv["value"])))
            for lv in sorted(scale.get("levels", []), key=lambda lv: -int(lv["value"]))
        ],
    )


async def send_release(
    cycle_id: int,
    instance_ids: list[int],
    actor: Any,
    payload: Any = None,
    *,
    audit: Any = None,
) -> list[int]:
    """Send the cycle's release signal ([features.calibration] of its pack) to the given
    appraisals; returns the instances that caught it (runtime.send_signal)."""
    if not instance_ids:
        return []
    signal = (await cycle_pack(cycle_id)).features.calibration.release_signal
    return await runtime.send_signal(signal, instance_ids, actor, payload, audit=audit)
