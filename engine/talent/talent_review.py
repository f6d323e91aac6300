"""Potential and the talent review: a population's 9-box in a calibration meeting, the moves HR
makes on it (each with a reason, recorded and audited), talent pools, and what a person's
talent profile says of their potential and risk of loss.

Performance comes from a cycle's final rating, else the newest proposed rating; potential
from the newer of the appraisal's answer and the latest talent review (team_status
`cycle_potentials`). A move in the meeting is a record (`[features.talent] placement_record`)
of the cycle: the newest one places the person for that cycle. Everything here is HR's (an
HR partner's within their units); a manager sees the potential and risk of loss of the people
below them on their talent profile, never the moves; nobody sees their own. docs/talent.md.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.base import clock
from engine.base.errors import EngineError, NotAllowed, NotFound
from engine.base.i18n import Said, said
from engine.base.models import Cycle, Record, TalentPool, TalentPoolMember
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.cycle_choice import find_cycle
from engine.performance.deployed_pack import cycle_pack, newest_pack
from engine.performance.distribution import rating_of
from engine.performance.populations import (
    hr_scope,
    job_family_name,
    population_people,
    scope_name,
    unit_order,
)
from engine.performance.team_status import (
    BANDS,
    PotentialSeen,
    cycle_potentials,
    performance_band,
)
from engine.workflow.access import HR_GROUP, SeesSubjects, hr_population
from engine.workflow.store import Batch, apply

# The audit stream of talent decisions (moves on the 9-box, pools, successors, promotions).
TALENT_STREAM = "talent"
REASON_MAX = 1000
POOL_NAME_MAX = 120
POOL_DESCRIPTION_MAX = 1000


class TalentInvalid(EngineError):
    """Input that cannot be saved: a message per field; nothing was stored."""

    def __init__(self, problems: Mapping[str, Said]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


# -- who sees what ------------------------------------------------------------------------------


def talent_view(viewer: SeesSubjects, person_id: int, directory: DirectorySnapshot) -> str:
    """How the viewer may see a person's talent data: "hr" (HR covering them: everything),
    "manager" (someone above them: potential and risk of loss, not the meeting's moves);
    NotFound for anyone else — the person themselves included."""
    if person_id not in directory.people or person_id == viewer.person_id:
        raise NotFound(f"no person {person_id}")
    if HR_GROUP in viewer.groups:
        population = hr_population(viewer, directory)
        if population is None or person_id in population:
            return "hr"
    if directory.is_manager_of(viewer.person_id, person_id, indirect=True):
        return "manager"
    raise NotFound(f"no person {person_id}")


def hr_covers(viewer: SeesSubjects, person_id: int, directory: DirectorySnapshot) -> None:
    """NotAllowed unless the viewer is HR covering the person (and is not the person)."""
    if HR_GROUP not in viewer.groups:
        raise NotAllowed("talent reviews are for HR")
    if person_id not in directory.people:
        raise NotFound(f"no person {person_id}")
    population = hr_population(viewer, directory)
    if person_id == viewer.person_id or (population is not None and person_id not in population):
        raise NotAllowed(said("%(name)s is outside the people you look after.",
                              name=directory.people[person_id].name))


# -- reading records ------------------------------------------------------------------------------


async def latest_records(
    kind: str, people: Iterable[int], cycle_id: int | None = None
) -> dict[int, tuple[dict[str, Any], datetime | None]]:
    """Each person's newest record of a kind (of one cycle, when given): (data, written at)."""
    query = Record.filter(kind=kind, person_id__in=list(people))
    if cycle_id is not None:
        query = query.filter(cycle_id=cycle_id)
    found: dict[int, tuple[dict[str, Any], datetime | None]] = {}
    for pid, data, created_at in await query.order_by("id").values_list(
        "person_id", "data", "created_at"
    ):
        found[pid] = (data if isinstance(data, dict) else {}, created_at)
    return found


@dataclass(frozen=True)
class RiskOfLoss:
    """A person's latest risk of loss: how likely they leave, how much it would hurt, why,
    and the retention plan when HR made one."""

    risk: str
    impact: str
    reasons: str
    at: datetime | None
    retention_action: str = ""
    retention_owner: str = ""
    retention_review_on: str = ""


def _risk(data: Mapping[str, Any], at: datetime | None) -> RiskOfLoss | None:
    risk = str(data.get("risk") or "")
    if risk not in BANDS:
        return None
    impact = str(data.get("impact") or "")
    return RiskOfLoss(
        risk=risk, impact=impact if impact in BANDS else "", reasons=str(data.get("reasons") or ""),
        at=at, retention_action=str(data.get("retention_action") or ""),
        retention_owner=str(data.get("retention_owner") or ""),
        retention_review_on=str(data.get("retention_review_on") or ""),
    )


async def risks_of(people: Iterable[int], kind: str) -> dict[int, RiskOfLoss]:
    """Each person's latest risk of loss (`[features.talent] risk_record`)."""
    found = {}
    for pid, (data, at) in (await latest_records(kind, people)).items():
        risk = _risk(data, at)
        if risk is not None:
            found[pid] = risk
    return found


# -- the 9-box of a population ----------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A move on the 9-box in a talent review meeting."""

    at: datetime | None
    by: str
    from_performance: str | None
    from_potential: str | None
    to_performance: str
    to_potential: str
    reason: str
    population: str = ""


@dataclass
class TalentCard:
    """One person on the 9-box: their evidence, where they sit and how they got there."""

    person_id: int
    key: str
    name: str
    title: str
    unit: str
    manager: str
    rating: int | None
    rating_source: str  # "final", "proposed" or ""
    assessed_performance: str | None
    assessed_potential: str | None
    potential_source: str  # "review", "appraisal" or ""
    performance: str | None  # where the person sits now (after any move)
    potential: str | None
    risk: RiskOfLoss | None
    moves: list[Move] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        """Whether the meeting moved the person away from where the assessments put them."""
        return bool(self.moves) and (self.performance, self.potential) != (
            self.assessed_performance, self.assessed_potential)


@dataclass
class Box:
    """One box of the 9-box and the people in it."""

    performance: str
    potential: str
    cards: list[TalentCard] = field(default_factory=list)


@dataclass
class TalentReview:
    """A population's 9-box in one cycle, as a talent review meeting calibrates it."""

    cycle_id: int
    cycle_name: str
    key: str
    population: str
    boxes: list[Box]  # 9 boxes, rows of potential high → low, columns performance low → high
    unplaced: list[TalentCard]  # no performance or no potential yet, never moved
    moved: int
    review_process: str


def _box_order() -> list[tuple[str, str]]:
    """(performance, potential) row by row as the grid draws them: high potential on top,
    performance rising from left to right."""
    return [(perf, pot) for pot in reversed(BANDS) for perf in BANDS]


def population_choices(viewer: SeesSubjects, directory: DirectorySnapshot) -> list[
    tuple[str, str, int]
]:
    """The populations a talent review may look at: (key, name, depth) — everyone in the HR
    viewer's scope, each unit in tree order, each job family (NotAllowed for non-HR)."""
    scope = hr_scope(viewer, directory)
    choices = [("all", scope_name(directory, scope), 0)]
    choices += [(f"unit:{uid}", directory.units[uid].name, depth)
                for uid, depth in unit_order(directory, scope)]
    families = {p.job_family for p in directory.people.values() if p.job_family and p.active
                and (scope is None or p.org_unit_id in scope)}
    choices += [(f"family:{f}", job_family_name(f), 0) for f in sorted(families)]
    return choices


async def review_cycle(viewer: SeesSubjects) -> int | None:
    """The cycle a talent review opens on: the newest with a final or proposed rating of
    someone the HR viewer covers, else the newest cycle (None: no cycle yet)."""
    directory = await current_directory()
    population = hr_population(viewer, directory)
    kinds = (await newest_pack()).features.records
    query = Record.filter(kind__in=[kinds.final_rating, kinds.proposed_rating],
                          cycle_id__not_isnull=True)
    if population is not None:
        query = query.filter(person_id__in=list(population))
    row = await query.order_by("-cycle_id").only("cycle_id").first()
    if row is not None:
        return row.cycle_id
    newest = await Cycle.all().order_by("-id").only("id").first()
    return newest.id if newest else None


async def talent_review(cycle_id: int, key: str, viewer: SeesSubjects) -> TalentReview:
    """The population's 9-box in the cycle (HR only; an HR partner within their units)."""
    directory = await current_directory()
    scope = hr_scope(viewer, directory)
    cycle = await find_cycle(cycle_id)
    name, members = population_people(key, scope, directory)
    members = {pid for pid in members if directory.people[pid].active
               and pid != viewer.person_id}
    pack = await cycle_pack(cycle_id)
    cards = await _cards(cycle_id, members, pack.features, directory)
    boxes = {box: Box(*box) for box in _box_order()}
    unplaced = []
    for card in cards:
        if card.performance in BANDS and card.potential in BANDS:
            boxes[(card.performance, card.potential)].cards.append(card)
        else:
            unplaced.append(card)
    return TalentReview(
        cycle_id=cycle_id, cycle_name=cycle.name, key=key, population=name,
        boxes=list(boxes.values()), unplaced=unplaced,
        moved=sum(1 for card in cards if card.moved),
        review_process=pack.features.talent.review_process,
    )


async def _cards(
    cycle_id: int, members: Collection[int], features: Any, directory: DirectorySnapshot
) -> list[TalentCard]:
    records = features.records
    ratings: dict[int, tuple[int | None, str]] = {}
    rows = await Record.filter(
        cycle_id=cycle_id, person_id__in=list(members),
        kind__in=[records.final_rating, records.proposed_rating],
    ).order_by("id").values_list("person_id", "kind", "data")
    for pid, kind, data in rows:
        rating = rating_of(data)
        if rating is None:
            continue
        source = "final" if kind == records.final_rating else "proposed"
        if source == "proposed" and ratings.get(pid, (None, ""))[1] == "final":
            continue  # a re-proposal after the release does not undo the final rating
        ratings[pid] = (rating, source)
    potentials: dict[int, PotentialSeen] = await cycle_potentials(cycle_id, members, features)
    risks = await risks_of(members, features.talent.risk_record)
    moves = await _moves(cycle_id, members, features.talent.placement_record)
    cards = []
    for pid in members:
        person = directory.people[pid]
        rating, source = ratings.get(pid, (None, ""))
        seen = potentials.get(pid)
        performance = performance_band(rating, None) if rating is not None else None
        potential = seen.band if seen else None
        history = moves.get(pid, [])
        unit = directory.unit(person.org_unit_id)
        manager = directory.manager_of(pid)
        cards.append(TalentCard(
            person_id=pid, key=person.key, name=person.name, title=person.title,
            unit=unit.name if unit else "", manager=manager.name if manager else "",
            rating=rating, rating_source=source,
            assessed_performance=performance, assessed_potential=potential,
            potential_source=seen.source if seen else "",
            performance=history[-1].to_performance if history else performance,
            potential=history[-1].to_potential if history else potential,
            risk=risks.get(pid), moves=history,
        ))
    cards.sort(key=lambda c: (c.name.casefold(), c.person_id))
    return cards


def _move(data: Mapping[str, Any], at: datetime | None) -> Move | None:
    to_perf, to_pot = data.get("performance"), data.get("potential")
    if to_perf not in BANDS or to_pot not in BANDS:
        return None
    from_perf, from_pot = data.get("from_performance"), data.get("from_potential")
    return Move(
        at=at, by=str(data.get("by_name") or ""),
        from_performance=from_perf if from_perf in BANDS else None,
        from_potential=from_pot if from_pot in BANDS else None,
        to_performance=str(to_perf), to_potential=str(to_pot),
        reason=str(data.get("reason") or ""), population=str(data.get("population") or ""),
    )


async def _moves(
    cycle_id: int | None, people: Iterable[int], kind: str
) -> dict[int, list[Move]]:
    query = Record.filter(kind=kind, person_id__in=list(people))
    if cycle_id is not None:
        query = query.filter(cycle_id=cycle_id)
    found: dict[int, list[Move]] = {}
    for pid, data, at in await query.order_by("id").values_list("person_id", "data",
                                                                   "created_at"):
        move = _move(data if isinstance(data, dict) else {}, at)
        if move is not None:
            found.setdefault(pid, []).append(move)
    return found


async def move_on_nine_box(
    cycle_id: int, person_id: int, performance: str, potential: str, reason: str,
    viewer: SeesSubjects, actor: str, *, population: str = "",
) -> Move:
    """Move a person to another box of the cycle's 9-box, with a reason: a placement record
    and an audit event in one transaction. TalentInvalid for a box that is not one, the box
    they are in, or a missing reason; NotAllowed outside the viewer's HR scope."""
    directory = await current_directory()
    hr_covers(viewer, person_id, directory)
    cycle = await find_cycle(cycle_id)
    pack = await cycle_pack(cycle_id)
    card = (await _cards(cycle_id, [person_id], pack.features, directory))[0]
    problems: dict[str, Said] = {}
    reason = reason.strip()
    if performance not in BANDS:
        problems["performance"] = said("Choose low, medium or high performance.")
    if potential not in BANDS:
        problems["potential"] = said("Choose low, medium or high potential.")
    if not problems and (performance, potential) == (card.performance, card.potential):
        problems["box"] = said("%(name)s is already in that box.", name=card.name)
    if not reason:
        problems["reason"] = said("Say why the person moves: the reason is kept with the move.")
    elif len(reason) > REASON_MAX:
        problems["reason"] = said("Keep the reason under %(count)s characters.",
                                  count=REASON_MAX)
    if problems:
        raise TalentInvalid(problems)
    by = directory.people.get(viewer.person_id)
    data = {
        "performance": performance, "potential": potential,
        "from_performance": card.performance, "from_potential": card.potential,
        "reason": reason, "population": population, "by_id": viewer.person_id,
        "by_name": by.name if by else actor,
    }
    by_name = by.name if by else actor
    batch = Batch()
    batch.insert(Record, {"kind": pack.features.talent.placement_record, "person_id": person_id,
                          "cycle_id": cycle.id, "data": data, "created_by": actor,
                          "created_at": clock.now()})
    batch.audit(actor, "talent_placement_moved", stream=TALENT_STREAM,
                detail={"cycle_id": cycle.id, "person_id": person_id, "name": card.name,
                        **{k: v for k, v in data.items() if k != "by_id"}})
    await apply(batch)
    return Move(clock.now(), by_name, card.performance, card.potential,
                performance, potential, reason, population)


# -- talent pools --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolMember:
    """Someone in a pool, why and since when."""

    person_id: int
    key: str
    name: str
    title: str
    unit: str
    reason: str
    added_by: str
    added_at: datetime


@dataclass
class Pool:
    """A talent pool and the members the viewer may see."""

    id: int
    name: str
    description: str
    created_by: str
    members: list[PoolMember]
    # Members in other HR partners' units, counted but not shown.
    hidden: int = 0


def _hr_only(viewer: SeesSubjects) -> None:
    if HR_GROUP not in viewer.groups:
        raise NotAllowed("talent pools are for HR")


async def talent_pools(viewer: SeesSubjects) -> list[Pool]:
    """Every pool with the members the HR viewer covers (HR only)."""
    _hr_only(viewer)
    directory = await current_directory()
    population = hr_population(viewer, directory)
    pools = {row.id: Pool(row.id, row.name, row.description, row.created_by, [])
             for row in await TalentPool.all().order_by("name")}
    for row in await TalentPoolMember.filter(pool_id__in=list(pools)).order_by("added_at", "id"):
        person = directory.people.get(row.person_id)
        pool = pools[row.pool_id]
        if person is None or (population is not None and row.person_id not in population):
            pool.hidden += 1
            continue
        unit = directory.unit(person.org_unit_id)
        pool.members.append(PoolMember(
            person.id, person.key, person.name, person.title, unit.name if unit else "",
            row.reason, row.added_by, row.added_at))
    return list(pools.values())


async def create_pool(name: str, description: str, viewer: SeesSubjects, actor: str) -> int:
    """A new talent pool (HR only); TalentInvalid for a missing, too long or taken name."""
    _hr_only(viewer)
    name, description = " ".join(name.split()), description.strip()
    problems: dict[str, Said] = {}
    if not name:
        problems["name"] = said("Give the pool a name, e.g. Future leaders.")
    elif len(name) > POOL_NAME_MAX:
        problems["name"] = said("Keep the name under %(count)s characters.", count=POOL_NAME_MAX)
    elif await TalentPool.filter(name=name).exists():
        problems["name"] = said("There is a pool called %(name)s already.", name=name)
    if len(description) > POOL_DESCRIPTION_MAX:
        problems["description"] = said("Keep the description under %(count)s characters.",
                                       count=POOL_DESCRIPTION_MAX)
    if problems:
        raise TalentInvalid(problems)
    batch = Batch()
    ref = batch.insert(TalentPool, {"name": name, "description": description,
                                    "created_by": actor, "created_at": clock.now()})
    batch.audit(actor, "talent_pool_created", stream=TALENT_STREAM,
                detail={"name": name, "description": description})
    await apply(batch)
    assert ref.value is not None
    return ref.value


async def _pool(pool_id: int) -> TalentPool:
    pool = await TalentPool.get_or_none(id=pool_id)
    if pool is None:
        raise NotFound(f"no talent pool {pool_id}")
    return pool


async def add_to_pool(
    pool_id: int, person_id: int, reason: str, viewer: SeesSubjects, actor: str
) -> None:
    """Add someone the HR viewer covers to a pool, with a reason; TalentInvalid for a missing
    reason or someone already in it."""
    _hr_only(viewer)
    pool = await _pool(pool_id)
    directory = await current_directory()
    hr_covers(viewer, person_id, directory)
    reason = reason.strip()
    problems: dict[str, Said] = {}
    person = directory.people[person_id]
    if await TalentPoolMember.filter(pool_id=pool.id, person_id=person_id).exists():
        problems["person"] = said("%(name)s is in %(pool)s already.", name=person.name,
                                  pool=pool.name)
    if not reason:
        problems["reason"] = said("Say why they join the pool.")
    elif len(reason) > REASON_MAX:
        problems["reason"] = said("Keep the reason under %(count)s characters.",
                                  count=REASON_MAX)
    if problems:
        raise TalentInvalid(problems)
    batch = Batch()
    batch.insert(TalentPoolMember, {"pool_id": pool.id, "person_id": person_id,
                                    "reason": reason, "added_by": actor,
                                    "added_at": clock.now()})
    batch.audit(actor, "talent_pool_member_added", stream=TALENT_STREAM,
                detail={"pool": pool.name, "pool_id": pool.id, "person_id": person_id,
                        "name": person.name, "reason": reason})
    await apply(batch)


async def remove_from_pool(
    pool_id: int, person_id: int, viewer: SeesSubjects, actor: str
) -> None:
    """Take someone the HR viewer covers out of a pool (NotFound when they are not in it)."""
    _hr_only(viewer)
    pool = await _pool(pool_id)
    directory = await current_directory()
    hr_covers(viewer, person_id, directory)
    if not await TalentPoolMember.filter(pool_id=pool.id, person_id=person_id).exists():
        raise NotFound(f"person {person_id} is not in pool {pool.id}")
    batch = Batch()
    batch.delete(TalentPoolMember, {"pool_id": pool.id, "person_id": person_id})
    batch.audit(actor, "talent_pool_member_removed", stream=TALENT_STREAM,
                detail={"pool": pool.name, "pool_id": pool.id, "person_id": person_id,
                        "name": directory.people[person_id].name})
    await apply(batch)


# -- a person's talent profile -------------------------------------------------------------


@dataclass
class TalentProfile:
    """What the viewer may see of a person's potential, risk of loss, moves and pools."""

    person_id: int
    key: str
    name: str
    title: str
    unit: str
    view: str  # "hr" or "manager"
    potential: PotentialSeen | None
    risk: RiskOfLoss | None
    # The potential criteria as the pack names them: key -> name (for the ratings shown).
    criteria: dict[str, str]
    moves: list[tuple[str, Move]]  # (cycle name, move), newest first; HR only
    pools: list[tuple[str, str, datetime]]  # (pool name, reason, since); HR only


async def talent_profile(person_id: int, viewer: SeesSubjects) -> TalentProfile:
    """A person's potential and risk of loss for HR and the managers above them; the moves on
    the 9-box and the pools for HR only. NotFound for anyone else, the person included."""
    directory = await current_directory()
    view = talent_view(viewer, person_id, directory)
    person = directory.people[person_id]
    pack = await newest_pack()
    talent = pack.features.talent
    reviews = await latest_records(talent.potential_record, [person_id])
    potential: PotentialSeen | None = None
    cycle = await Record.filter(
        person_id=person_id, cycle_id__not_isnull=True,
        kind__in=[pack.features.records.final_rating, pack.features.records.proposed_rating],
    ).order_by("-id").only("cycle_id").first()
    if cycle is not None and cycle.cycle_id is not None:
        potential = (await cycle_potentials(cycle.cycle_id, [person_id], pack.features)).get(
            person_id)
    elif person_id in reviews:
        data, at = reviews[person_id]
        band = data.get("potential")
        if band in BANDS:
            potential = PotentialSeen(str(band), "review", at, data)
    risk = (await risks_of([person_id], talent.risk_record)).get(person_id)
    criteria = {
        str(key): str(c.get("name") or key)
        for key, c in ((pack.catalogs.get("potential") or {}).get("criteria") or {}).items()
        if isinstance(c, Mapping)
    }
    moves: list[tuple[str, Move]] = []
    pools: list[tuple[str, str, datetime]] = []
    if view == "hr":
        rows = await Record.filter(kind=talent.placement_record, person_id=person_id).order_by(
            "-id").values_list("cycle_id", "data", "created_at")
        names = dict(await Cycle.filter(id__in=[r[0] for r in rows if r[0]]).values_list(
            "id", "name"))
        for cycle_id, data, at in rows:
            move = _move(data if isinstance(data, dict) else {}, at)
            if move is not None:
                moves.append((str(names.get(cycle_id, "")), move))
        for pool_name, reason, added_at in await TalentPoolMember.filter(
            person_id=person_id
        ).order_by("pool__name").values_list("pool__name", "reason", "added_at"):
            pools.append((str(pool_name), str(reason), added_at))
    unit = directory.unit(person.org_unit_id)
    return TalentProfile(
        person_id=person.id, key=person.key, name=person.name, title=person.title,
        unit=unit.name if unit else "", view=view, potential=potential, risk=risk,
        criteria=criteria, moves=moves, pools=pools,
    )
