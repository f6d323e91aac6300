"""Succession: the key positions (Position.is_key) with their incumbents, the incumbents' risk
of loss, successors and how ready each is, the bench strength per unit, and promotions.

A position's incumbents are the active people whose `position` is its code. A successor is
ready now, in one to two years, or later; nobody succeeds to their own position, nobody is
listed twice. A promotion is a record (`[features.talent] promotion_record`) that moves the
person to the new position in the same transaction and takes them off that position's
successors. All of it is HR's; an HR partner plans the key positions of their units and
promotes the people they look after. docs/talent.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.i18n import Said, said
from engine.base.models import Person, Position, Record, Successor
from engine.people.directory import (
    DirectorySnapshot,
    bump_directory_version,
    current_directory,
)
from engine.performance.deployed_pack import newest_pack
from engine.talent.talent_review import (
    TALENT_STREAM,
    RiskOfLoss,
    TalentInvalid,
    hr_covers,
    risks_of,
    talent_view,
)
from engine.workflow.access import HR_GROUP, SeesSubjects, hr_units
from engine.workflow.store import Batch, apply

READINESS = ("ready_now", "one_to_two_years", "later")
NOTES_MAX = 2000
# Coverage of a key position: someone ready now; successors, none ready now; nobody.
COVERED, NO_READY_SUCCESSOR, NO_SUCCESSOR = "ready_now", "no_ready_successor", "no_successor"


@dataclass(frozen=True)
class Holder:
    """Someone in (or lined up for) a position, with their latest risk of loss. Someone
    outside the people the viewer looks after (a successor from another unit, for an HR
    partner) shows with name, title and unit only: `covered` is False, `risk` None."""

    person_id: int
    key: str
    name: str
    title: str
    unit: str
    risk: RiskOfLoss | None
    covered: bool = True


@dataclass(frozen=True)
class SuccessorLine:
    """A successor of a key position: who, how ready, and what was said."""

    holder: Holder
    readiness: str
    notes: str
    added_by: str
    updated_at: datetime


@dataclass
class KeyPosition:
    """A key position's succession plan."""

    code: str
    title: str
    unit_id: int | None
    unit: str
    incumbents: list[Holder]
    successors: list[SuccessorLine]

    def count(self, readiness: str) -> int:
        """How many successors are at this readiness."""
        return sum(1 for s in self.successors if s.readiness == readiness)

    @property
    def coverage(self) -> str:
        """ready_now, no_ready_successor or no_successor."""
        if self.count("ready_now"):
            return COVERED
        return NO_READY_SUCCESSOR if self.successors else NO_SUCCESSOR

    @property
    def at_risk(self) -> bool:
        """An incumbent is at high risk of leaving and nobody is ready now."""
        return self.coverage != COVERED and any(
            h.risk is not None and h.risk.risk == "high" for h in self.incumbents)


@dataclass
class UnitBench:
    """The bench strength of one unit's key positions."""

    unit_id: int | None
    unit: str
    positions: int = 0
    covered: int = 0  # with someone ready now
    no_ready_successor: int = 0
    no_successor: int = 0
    at_risk: int = 0
    ready_now: int = 0
    one_to_two_years: int = 0
    later: int = 0

    @property
    def coverage_percent(self) -> int:
        """The share of key positions with someone ready now, in whole percent."""
        return round(100 * self.covered / self.positions) if self.positions else 0


@dataclass
class SuccessionPlan:
    """Every key position the viewer plans, and the bench strength per unit."""

    positions: list[KeyPosition]
    units: list[UnitBench]
    # Units the viewer may filter by: (id, name), in name order.
    unit_choices: list[tuple[int, str]] = field(default_factory=list)


def _scope(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """The units whose key positions the viewer plans (None: all); NotAllowed for non-HR."""
    if HR_GROUP not in viewer.groups:
        raise NotAllowed("succession plans are for HR")
    return hr_units(viewer.person_id, directory)


def _holder(directory: DirectorySnapshot, person_id: int, risks: dict[int, RiskOfLoss],
            scope: set[int] | None) -> Holder | None:
    person = directory.people.get(person_id)
    if person is None:
        return None
    unit = directory.unit(person.org_unit_id)
    covered = scope is None or person.org_unit_id in scope
    return Holder(person.id, person.key, person.name, person.title, unit.name if unit else "",
                  risks.get(person.id) if covered else None, covered)


async def _plans(rows: list[Position], directory: DirectorySnapshot,
                 scope: set[int] | None) -> list[KeyPosition]:
    codes = [row.code for row in rows]
    incumbents: dict[str, list[int]] = {}
    for pid, code in await Person.filter(position__in=codes, active=True).order_by(
        "name", "id"
    ).values_list("id", "position"):
        incumbents.setdefault(str(code), []).append(int(pid))
    lines = await Successor.filter(position_id__in=[row.id for row in rows]).order_by(
        "id").values("position_id", "person_id", "readiness", "notes", "added_by",
                     "updated_at")
    talent = (await newest_pack()).features.talent
    people = {pid for ids in incumbents.values() for pid in ids} | {
        line["person_id"] for line in lines}
    risks = await risks_of(people, talent.risk_record)
    plans = []
    for row in rows:
        unit = directory.unit(row.org_unit_id)
        plan = KeyPosition(
            code=row.code, title=row.title, unit_id=row.org_unit_id,
            unit=unit.name if unit else "",
            incumbents=[h for pid in incumbents.get(row.code, [])
                        if (h := _holder(directory, pid, risks, scope)) is not None],
            successors=[],
        )
        for line in lines:
            holder = _holder(directory, line["person_id"], risks, scope)
            if line["position_id"] == row.id and holder is not None:
                plan.successors.append(SuccessorLine(
                    holder, line["readiness"], line["notes"], line["added_by"],
                    line["updated_at"]))
        plan.successors.sort(key=lambda s: (READINESS.index(s.readiness)
                                            if s.readiness in READINESS else 9,
                                            s.holder.name.casefold()))
        plans.append(plan)
    return plans


async def succession_plan(viewer: SeesSubjects, unit_id: int | None = None) -> SuccessionPlan:
    """The key positions the HR viewer plans (in a unit and its sub-units, when given), each
    with incumbents, successors and coverage, and the bench strength per unit."""
    directory = await current_directory()
    scope = _scope(viewer, directory)
    rows = await Position.filter(is_key=True, active=True).order_by("title", "code")
    if scope is not None:
        rows = [row for row in rows if row.org_unit_id in scope]
    choices = sorted({(row.org_unit_id, directory.units[row.org_unit_id].name) for row in rows
                      if row.org_unit_id in directory.units}, key=lambda u: u[1].casefold())
    if unit_id is not None:
        if unit_id not in directory.units or (scope is not None and unit_id not in scope):
            raise NotFound(f"no unit {unit_id}")
        within = set(directory.unit_and_descendants(unit_id))
        rows = [row for row in rows if row.org_unit_id in within]
    plans = await _plans(rows, directory, scope)
    plans.sort(key=lambda p: (p.unit.casefold(), p.title.casefold(), p.code))
    units: dict[int | None, UnitBench] = {}
    for plan in plans:
        bench = units.setdefault(plan.unit_id, UnitBench(plan.unit_id, plan.unit))
        bench.positions += 1
        bench.covered += plan.coverage == COVERED
        bench.no_ready_successor += plan.coverage == NO_READY_SUCCESSOR
        bench.no_successor += plan.coverage == NO_SUCCESSOR
        bench.at_risk += plan.at_risk
        bench.ready_now += plan.count("ready_now")
        bench.one_to_two_years += plan.count("one_to_two_years")
        bench.later += plan.count("later")
    return SuccessionPlan(plans, list(units.values()), [(u, n) for u, n in choices if u])


async def _key_position(code: str, viewer: SeesSubjects,
                        directory: DirectorySnapshot) -> Position:
    scope = _scope(viewer, directory)
    row = await Position.get_or_none(code=code, active=True)
    if row is None or not row.is_key or (scope is not None and row.org_unit_id not in scope):
        raise NotFound(f"no key position {code!r}")
    return row


async def key_position(code: str, viewer: SeesSubjects) -> KeyPosition:
    """One key position's plan (HR covering its unit); NotFound otherwise."""
    directory = await current_directory()
    row = await _key_position(code, viewer, directory)
    return (await _plans([row], directory, _scope(viewer, directory)))[0]


def _checked(readiness: str, notes: str) -> tuple[str, dict[str, Said]]:
    problems: dict[str, Said] = {}
    if readiness not in READINESS:
        problems["readiness"] = said("Choose ready now, in one to two years, or later.")
    notes = notes.strip()
    if len(notes) > NOTES_MAX:
        problems["notes"] = said("Keep the notes under %(count)s characters.", count=NOTES_MAX)
    return notes, problems


async def add_successor(
    code: str, person_id: int, readiness: str, notes: str, viewer: SeesSubjects, actor: str
) -> None:
    """Name a successor for a key position. TalentInvalid when the person holds the position
    already, is a successor already, or the readiness is not one of READINESS."""
    directory = await current_directory()
    row = await _key_position(code, viewer, directory)
    person = directory.people.get(person_id)
    notes, problems = _checked(readiness, notes)
    if person is None or not person.active:
        problems["person"] = said("Choose someone in the directory.")
    else:
        current = [str(code) for code in
                   await Person.filter(id=person_id).values_list("position", flat=True)]
        if row.code in current:
            problems["person"] = said("%(name)s holds this position: nobody succeeds to their "
                                      "own position.", name=person.name)
        elif await Successor.filter(position_id=row.id, person_id=person_id).exists():
            problems["person"] = said("%(name)s is a successor for this position already: "
                                      "change their readiness instead.", name=person.name)
    if problems:
        raise TalentInvalid(problems)
    assert person is not None
    batch = Batch()
    batch.insert(Successor, {"position_id": row.id, "person_id": person_id,
                             "readiness": readiness, "notes": notes, "added_by": actor,
                             "updated_at": clock.now()})
    batch.audit(actor, "successor_added", stream=TALENT_STREAM, detail={
        "position": row.code, "person_id": person_id, "name": person.name,
        "readiness": readiness, "notes": notes})
    await apply(batch)


async def change_successor(
    code: str, person_id: int, readiness: str, notes: str, viewer: SeesSubjects, actor: str
) -> None:
    """Change a successor's readiness or notes (NotFound when they are not one)."""
    directory = await current_directory()
    row = await _key_position(code, viewer, directory)
    line = await Successor.get_or_none(position_id=row.id, person_id=person_id)
    if line is None:
        raise NotFound(f"person {person_id} is not a successor for {code!r}")
    notes, problems = _checked(readiness, notes)
    if problems:
        raise TalentInvalid(problems)
    batch = Batch()
    batch.update(Successor, {"id": line.id}, {"readiness": readiness, "notes": notes,
                                              "added_by": actor, "updated_at": clock.now()})
    person = directory.people.get(person_id)
    batch.audit(actor, "successor_changed", stream=TALENT_STREAM, detail={
        "position": row.code, "person_id": person_id, "name": person.name if person else "",
        "readiness": readiness, "was": line.readiness, "notes": notes})
    await apply(batch)


async def remove_successor(code: str, person_id: int, viewer: SeesSubjects, actor: str) -> None:
    """Take someone off a key position's successors (NotFound when they are not one)."""
    directory = await current_directory()
    row = await _key_position(code, viewer, directory)
    line = await Successor.get_or_none(position_id=row.id, person_id=person_id)
    if line is None:
        raise NotFound(f"person {person_id} is not a successor for {code!r}")
    person = directory.people.get(person_id)
    batch = Batch()
    batch.delete(Successor, {"id": line.id})
    batch.audit(actor, "successor_removed", stream=TALENT_STREAM, detail={
        "position": row.code, "person_id": person_id, "name": person.name if person else "",
        "readiness": line.readiness})
    await apply(batch)


# -- promotions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    """A promotion as recorded: who, from which position to which, from when, and why."""

    person_id: int
    key: str
    name: str
    unit: str
    from_position: str
    from_title: str
    to_position: str
    to_title: str
    effective_on: str
    note: str
    by: str
    at: datetime | None
    was_successor: str = ""  # the readiness they had as the position's successor, if any


def _iso_date(text: str) -> str | None:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        return None


async def record_promotion(
    person_id: int, to_code: str, effective_on: str, note: str, viewer: SeesSubjects,
    actor: str,
) -> Promotion:
    """Promote someone the HR viewer covers to another active position from a date: a
    promotion record, their new position, and — when they were a successor for it — their
    line taken off that position's successors, in one transaction, audited. TalentInvalid
    for a missing or unknown position, their own position, a date that is not one or a
    note that is too long; Conflict when their position changed meanwhile."""
    directory = await current_directory()
    hr_covers(viewer, person_id, directory)
    person = directory.people[person_id]
    rows = await Person.filter(id=person_id).values_list("position", flat=True)
    from_code = str(rows[0]) if rows else ""
    problems: dict[str, Said] = {}
    to_code = to_code.strip()
    target = await Position.get_or_none(code=to_code, active=True) if to_code else None
    if target is None:
        problems["to_position"] = said("Choose the position they are promoted to.")
    elif target.code == from_code:
        problems["to_position"] = said("%(name)s holds this position already.",
                                       name=person.name)
    day = _iso_date(effective_on)
    if day is None:
        problems["effective_on"] = said("Give the date the promotion takes effect.")
    note = note.strip()
    if len(note) > NOTES_MAX:
        problems["note"] = said("Keep the note under %(count)s characters.", count=NOTES_MAX)
    if problems:
        raise TalentInvalid(problems)
    assert target is not None and day is not None
    source = await Position.get_or_none(code=from_code) if from_code else None
    line = await Successor.get_or_none(position_id=target.id, person_id=person_id)
    talent = (await newest_pack()).features.talent
    by = directory.people.get(viewer.person_id)
    data = {
        "from_position": from_code, "from_title": source.title if source else "",
        "to_position": target.code, "to_title": target.title, "effective_on": day,
        "note": note, "by_id": viewer.person_id, "by_name": by.name if by else actor,
        "was_successor": line.readiness if line else "",
    }
    batch = Batch()
    batch.update(Person, {"id": person_id, "position": from_code}, {"position": target.code},
                 conflict=f"{person.name}'s position changed meanwhile; look again")
    batch.insert(Record, {"kind": talent.promotion_record, "person_id": person_id,
                          "cycle_id": None, "data": data, "created_by": actor,
                          "created_at": clock.now()})
    if line is not None:
        batch.delete(Successor, {"id": line.id})
    batch.audit(actor, "promotion_recorded", stream=TALENT_STREAM,
                detail={"person_id": person_id, "name": person.name,
                        **{k: v for k, v in data.items() if k != "by_id"}})
    await apply(batch)
    await bump_directory_version()
    unit = directory.unit(person.org_unit_id)
    return _promotion(person_id, person.key, person.name, unit.name if unit else "", data,
                      clock.now())


def _promotion(person_id: int, key: str, name: str, unit: str, data: dict[str, Any],
               at: datetime | None) -> Promotion:
    return Promotion(
        person_id=person_id, key=key, name=name, unit=unit,
        from_position=str(data.get("from_position") or ""),
        from_title=str(data.get("from_title") or ""),
        to_position=str(data.get("to_position") or ""), to_title=str(data.get("to_title") or ""),
        effective_on=str(data.get("effective_on") or ""), note=str(data.get("note") or ""),
        by=str(data.get("by_name") or ""), at=at,
        was_successor=str(data.get("was_successor") or ""),
    )


async def _promotions_of(people: Iterable[int], directory: DirectorySnapshot) -> list[Promotion]:
    talent = (await newest_pack()).features.talent
    found = []
    for pid, data, at in await Record.filter(
        kind=talent.promotion_record, person_id__in=list(people)
    ).order_by("-id").values_list("person_id", "data", "created_at"):
        person = directory.people.get(pid)
        if person is None or not isinstance(data, dict):
            continue
        unit = directory.unit(person.org_unit_id)
        found.append(_promotion(pid, person.key, person.name, unit.name if unit else "", data,
                                at))
    return found


async def promotions(viewer: SeesSubjects, unit_id: int | None = None) -> list[Promotion]:
    """Promotions of the people the HR viewer covers (in a unit and its sub-units, when
    given), newest first."""
    directory = await current_directory()
    scope = _scope(viewer, directory)
    if unit_id is not None and (unit_id not in directory.units
                                or (scope is not None and unit_id not in scope)):
        raise NotFound(f"no unit {unit_id}")
    units = set(directory.unit_and_descendants(unit_id)) if unit_id is not None else scope
    people = [p.id for p in directory.people.values()
              if units is None or p.org_unit_id in units]
    return await _promotions_of(people, directory)


@dataclass
class PersonSuccession:
    """A person's succession side for their talent profile: the key positions they are lined
    up for, and their promotions."""

    candidacies: list[tuple[str, str, str, str]]  # (code, title, readiness, notes)
    promotions: list[Promotion]


async def succession_of(person_id: int, viewer: SeesSubjects) -> PersonSuccession:
    """What the viewer may see of a person's candidacies and promotions: HR and the managers
    above them; NotFound for anyone else, the person included."""
    directory = await current_directory()
    talent_view(viewer, person_id, directory)
    rows = await Successor.filter(person_id=person_id).order_by("position__title").values_list(
        "position__code", "position__title", "readiness", "notes")
    return PersonSuccession(
        candidacies=[(str(c), str(t), str(r), str(n)) for c, t, r, n in rows],
        promotions=await _promotions_of([person_id], directory),
    )


async def position_choices() -> list[tuple[str, str]]:
    """Active positions as (code, title), by title: what a promotion may be to."""
    return [(str(c), str(t)) for c, t in await Position.filter(active=True).order_by(
        "title", "code").values_list("code", "title")]
