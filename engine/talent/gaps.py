"""Gap analysis: the proficiency a person's profile requires against what was assessed, for a
person, a manager's team and an org unit (with the units below it).

Sources of assessed proficiency, each per competency:

- **self**: the employee's own rating in their newest year-end competency ratings (the
  record kind `[features.records] competency_ratings`, field `self_ratings`);
- **manager**: the manager's rating in that record (`ratings`);
- **360**: the mean of the ratings colleagues gave in feedback about the person (the feedback
  record's optional `competency_ratings`) over the last twelve months; private notes never
  count, and a person looking at their own gaps counts only feedback they may read;
- **calibrated**: the proficiency of record after calibration. Calibration changes the
  overall rating; the competency record is written only once the calibrated ratings are
  released and the appraisal approved, so the calibrated proficiency is the manager's
  rating as released with a calibrated overall rating (the cycle's final rating records a
  `calibrated_rating`), or `calibrated_ratings` when a pack's calibration adjusts
  competencies themselves. An appraisal that never went through calibration has none.

The gap is the required level minus the best evidence: calibrated, else manager, else the
360 mean, else self (the employee's own view is the weakest evidence). A positive gap is
"gap", zero or less "meets"; without any evidence the status is "no evidence".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tortoise.functions import Max

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.i18n import said
from engine.base.models import Record
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.performance.deployed_pack import DeployedPack
from engine.performance.populations import hr_scope, unit_order
from engine.talent.positions import (
    Profile,
    by_code,
    list_positions,
    pack_words,
    profile_for,
    talent_pack,
)
from engine.workflow.access import HR_GROUP, SeesSubjects, can_view_subject

SOURCES = ("self", "manager", "peers", "calibrated")
# Best evidence first.
EVIDENCE_ORDER = ("calibrated", "manager", "peers", "self")
PEER_WINDOW = timedelta(days=365)
CHUNK = 500
# Colour bands of a gap (and of a mean gap): upper bounds, exclusive.
BANDS = ((0.0, "none"), (1.0, "small"), (2.0, "medium"))


def band(gap: float | None) -> str:
    """The colour band of a gap: none, small, medium, large, or unknown (no evidence)."""
    if gap is None:
        return "unknown"
    if gap <= 0:
        return "none"
    for limit, name in BANDS[1:]:
        if gap < limit:
            return name
    return "large"


@dataclass(frozen=True)
class CompetencyGap:
    """One required competency of a person: required and assessed levels, and the gap."""

    key: str
    name: str
    required: int
    assessed: dict[str, float | None]  # source -> level (peers: the mean)
    peer_count: int
    evidence: str  # the source the gap is measured from, "" without evidence
    gap: float | None
    anchors: tuple[str, ...]  # the behaviours of the required level

    @property
    def status(self) -> str:
        """meets, gap or no_evidence."""
        if self.gap is None:
            return "no_evidence"
        return "gap" if self.gap > 0 else "meets"

    @property
    def band(self) -> str:
        """The colour band of the gap."""
        return band(self.gap)


@dataclass
class PersonGaps:
    """A person's required competencies against what was assessed."""

    person: PersonInfo
    profile: Profile | None
    lines: list[CompetencyGap] = field(default_factory=list)

    @property
    def gaps(self) -> list[CompetencyGap]:
        """The competencies below the required level, largest gap first."""
        return sorted((g for g in self.lines if g.status == "gap"),
                      key=lambda g: (-(g.gap or 0), g.name))


@dataclass(frozen=True)
class Cell:
    """One cell of a heat map: a competency across a group of people (or one person)."""

    required: int  # people whose profile requires the competency
    assessed: int  # of them, people with evidence
    with_gap: int
    mean_gap: float | None  # over the assessed, a met requirement counting as 0

    @property
    def band(self) -> str:
        """The colour band of the mean gap."""
        return band(self.mean_gap) if self.required else "absent"


@dataclass
class HeatRow:
    """A row of a heat map: a unit or a person, a cell per column competency."""

    label: str
    kind: str  # total (a unit with everyone below) | own (its own members) | unit | person
    ref: str  # the unit's code or the person's key
    people: int
    cells: dict[str, Cell]
    depth: int = 0


@dataclass
class HeatMap:
    """Rows (units or people) by the competencies any of them requires."""

    title: str
    columns: list[tuple[str, str]]  # (competency key, name)
    rows: list[HeatRow]
    people: int

    @property
    def empty(self) -> bool:
        """Whether nobody in it has a requirement."""
        return not self.columns


# --- evidence -------------------------------------------------------------------------------


@dataclass
class Evidence:
    """What was assessed of one person, per source and competency."""

    self_ratings: dict[str, int] = field(default_factory=dict)
    manager: dict[str, int] = field(default_factory=dict)
    calibrated: dict[str, int] = field(default_factory=dict)
    peers: dict[str, list[int]] = field(default_factory=dict)


def _levels(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): int(v) for k, v in value.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


async def evidence_of(
    person_ids: Iterable[int], pack: DeployedPack, *, own_view: int | None = None
) -> dict[int, Evidence]:
    """Each person's assessed proficiency; `own_view` is the person looking at their own
    gaps (only feedback they may read counts for them)."""
    kinds = pack.features.records
    ids = sorted(set(person_ids))
    found: dict[int, Evidence] = {pid: Evidence() for pid in ids}
    newest: dict[int, dict[str, Any]] = {}
    calibrated_cycles: set[tuple[int, int | None]] = set()
    since = clock.now() - PEER_WINDOW
    # Per chunk three reads, each only what counts: each person's newest competency ratings
    # (the highest id), the final ratings of those ratings' cycles, the feedback of the window.
    for chunk in _chunks(ids):
        newest_ids = [row["newest"] for row in await Record.filter(
            person_id__in=chunk, kind=kinds.competency_ratings,
        ).annotate(newest=Max("id")).group_by("person_id").values("newest")]
        for row in await Record.filter(id__in=newest_ids).values("person_id", "cycle_id",
                                                                  "data"):
            data = row["data"] if isinstance(row["data"], Mapping) else {}
            newest[row["person_id"]] = {**data, "_cycle": row["cycle_id"]}
        cycles = {newest[pid]["_cycle"] for pid in chunk if pid in newest} - {None}
        for row in await Record.filter(
            person_id__in=chunk, kind=kinds.final_rating, cycle_id__in=sorted(cycles),
        ).values("person_id", "cycle_id", "data"):
            data = row["data"] if isinstance(row["data"], Mapping) else {}
            if data.get("calibrated_rating") is not None:
                calibrated_cycles.add((row["person_id"], row["cycle_id"]))
        for row in await Record.filter(
            person_id__in=chunk, kind=kinds.feedback, created_at__gte=since,
        ).order_by("id").values("person_id", "data"):
            data = row["data"] if isinstance(row["data"], Mapping) else {}
            pid = row["person_id"]
            if _counts_as_peer(data, pid, own_view):
                for key, level in _levels(data.get("competency_ratings")).items():
                    found[pid].peers.setdefault(key, []).append(level)
    for pid, data in newest.items():
        evidence = found[pid]
        evidence.self_ratings = _levels(data.get("self_ratings"))
        evidence.manager = _levels(data.get("ratings"))
        if "calibrated_ratings" in data:
            evidence.calibrated = _levels(data.get("calibrated_ratings"))
        elif (pid, data["_cycle"]) in calibrated_cycles:
            evidence.calibrated = dict(evidence.manager)
    return found


def _counts_as_peer(data: Mapping[str, Any], person_id: int, own_view: int | None) -> bool:
    """Whether a piece of feedback's ratings count: never a private note, and for the person
    themselves only feedback shared with them."""
    visibility = data.get("visibility")
    if visibility == "private":
        return False
    return own_view != person_id or visibility == "shared"


def _assessed(evidence: Evidence, key: str) -> tuple[dict[str, float | None], int]:
    peers = evidence.peers.get(key, [])
    return {
        "self": evidence.self_ratings.get(key),
        "manager": evidence.manager.get(key),
        "peers": round(sum(peers) / len(peers), 2) if peers else None,
        "calibrated": evidence.calibrated.get(key),
    }, len(peers)


def anchors_of(catalogs: Mapping[str, Any], key: str, level: int) -> tuple[str, ...]:
    """The behavioural anchors of one level of a competency."""
    competency = ((catalogs.get("competencies") or {}).get("competencies") or {}).get(key) or {}
    levels = competency.get("levels") or {}
    found = levels.get(str(level), levels.get(level, ())) if isinstance(levels, Mapping) else ()
    return tuple(str(a) for a in found) if isinstance(found, list) else ()


def competency_names(catalogs: Mapping[str, Any]) -> dict[str, str]:
    """Competency key -> name, in the framework's order."""
    competencies = (catalogs.get("competencies") or {}).get("competencies") or {}
    return {str(k): str(c.get("name") or k) for k, c in competencies.items()
            if isinstance(c, Mapping)}


# A requirement of a profile, ready to measure: competency key, name, required level and the
# behaviours of that level.
Requirement = tuple[str, str, int, tuple[str, ...]]


def requirements_of(profile: Profile, catalogs: Mapping[str, Any]) -> list[Requirement]:
    """A profile's required competencies in the framework's order, with names and anchors."""
    names = competency_names(catalogs)
    order = {key: n for n, key in enumerate(names)}
    return [(key, names.get(key, key), required, anchors_of(catalogs, key, required))
            for key, required in sorted(profile.requirements.items(),
                                        key=lambda kv: order.get(kv[0], 99))]


def gaps_of(
    person: PersonInfo, profile: Profile | None, evidence: Evidence,
    requirements: list[Requirement],
) -> PersonGaps:
    """A person's gaps against their profile's requirements (`requirements_of`, prepared once
    for everyone sharing the profile), from their evidence."""
    result = PersonGaps(person, profile)
    for key, name, required, anchors in requirements:
        assessed, peer_count = _assessed(evidence, key)
        source = next((s for s in EVIDENCE_ORDER if assessed[s] is not None), "")
        gap = round(required - float(assessed[source] or 0), 2) if source else None
        result.lines.append(CompetencyGap(
            key=key, name=name, required=required, assessed=assessed,
            peer_count=peer_count, evidence=source, gap=gap, anchors=anchors,
        ))
    return result


async def analyse_people(
    people: list[PersonInfo], language: str | None, *, own_view: int | None = None
) -> tuple[dict[int, PersonGaps], dict[str, Any]]:
    """Each person's gaps, and the pack's catalogs in `language` (names and anchors)."""
    pack = await talent_pack()
    catalogs = (await pack_words(language)).catalogs or pack.catalogs
    profiles = by_code(await list_positions(retired=True))
    default_family = str((pack.catalogs.get("competencies") or {}).get("default_family") or "")
    evidence = await evidence_of([p.id for p in people], pack, own_view=own_view)
    prepared: dict[str, list[Requirement]] = {}  # many people share a profile
    analysed = {}
    for person in people:
        profile = profile_for(person, profiles, default_family)
        if profile is not None and profile.code not in prepared:
            prepared[profile.code] = requirements_of(profile, catalogs)
        analysed[person.id] = gaps_of(person, profile, evidence[person.id],
                                      prepared[profile.code] if profile else [])
    return analysed, catalogs


# --- who sees what --------------------------------------------------------------------------


def may_see_person(viewer: SeesSubjects, person_id: int, directory: DirectorySnapshot) -> bool:
    """The person themselves, anyone above them, and HR covering them."""
    return can_view_subject(viewer.person_id, viewer.groups, person_id, directory)


async def person_gaps(
    person_id: int, viewer: SeesSubjects, directory: DirectorySnapshot,
    language: str | None = None,
) -> PersonGaps:
    """One person's gaps, for whoever may see them (NotFound for anyone else)."""
    person = directory.person(person_id)
    if person is None or not may_see_person(viewer, person_id, directory):
        raise NotFound(f"no person {person_id}")
    own = viewer.person_id if viewer.person_id == person_id else None
    found, _ = await analyse_people([person], language, own_view=own)
    return found[person_id]


def _cell(lines: Iterable[CompetencyGap | None]) -> Cell:
    required = assessed = with_gap = 0
    total = 0.0
    for line in lines:
        if line is None:
            continue
        required += 1
        if line.gap is None:
            continue
        assessed += 1
        total += max(line.gap, 0.0)
        with_gap += line.gap > 0
    return Cell(required, assessed, with_gap, round(total / assessed, 2) if assessed else None)


def _columns(analysed: Iterable[PersonGaps], catalogs: Mapping[str, Any]) -> list[tuple[str, str]]:
    wanted = {line.key for gaps in analysed for line in gaps.lines}
    names = competency_names(catalogs)
    known = [(k, n) for k, n in names.items() if k in wanted]
    return known + [(k, k) for k in sorted(wanted - names.keys())]


def _by_key(gaps: PersonGaps) -> dict[str, CompetencyGap]:
    return {line.key: line for line in gaps.lines}


async def team_heat_map(
    manager_id: int, viewer: SeesSubjects, directory: DirectorySnapshot,
    language: str | None = None,
) -> HeatMap:
    """A manager's direct reports × the competencies their profiles require: for the manager,
    anyone above them, and HR covering them."""
    manager = directory.person(manager_id)
    if manager is None or not may_see_person(viewer, manager_id, directory):
        raise NotFound(f"no person {manager_id}")
    team = sorted((p for pid in directory.reports_of(manager_id)
                   if (p := directory.person(pid)) is not None and p.active),
                  key=lambda p: (p.name, p.id))
    analysed, catalogs = await analyse_people(team, language)
    columns = _columns(analysed.values(), catalogs)
    rows = []
    for person in team:
        lines = _by_key(analysed[person.id])
        rows.append(HeatRow(person.name, "person", person.key, 1,
                            {key: _cell([lines.get(key)]) for key, _ in columns}))
    return HeatMap(manager.name, columns, rows, len(team))


def units_for(viewer: SeesSubjects, directory: DirectorySnapshot) -> list[tuple[int, int]]:
    """The units an HR viewer may pick, in tree order with their depth (NotAllowed for
    anyone not in HR)."""
    return unit_order(directory, hr_scope(viewer, directory))


async def unit_heat_map(
    unit_id: int, viewer: SeesSubjects, directory: DirectorySnapshot,
    language: str | None = None,
) -> tuple[HeatMap, HeatMap]:
    """A unit's heat map — a row for its own members and one per unit directly below it,
    each with everyone below — and its own members person by person. For HR covering the
    unit; NotFound for a unit outside their scope, NotAllowed for anyone not in HR."""
    if HR_GROUP not in viewer.groups:
        raise NotAllowed("the unit heat map is for HR")
    scope = hr_scope(viewer, directory)
    unit = directory.unit(unit_id)
    if unit is None or (scope is not None and unit_id not in scope):
        raise NotFound(f"no unit {unit_id}")
    everyone = directory.people_in_unit(unit_id, include_subunits=True)
    analysed, catalogs = await analyse_people(everyone, language)
    columns = _columns(analysed.values(), catalogs)

    keyed = {pid: _by_key(gaps) for pid, gaps in analysed.items()}

    def row(label: str, kind: str, ref: str, people: list[PersonInfo], depth: int) -> HeatRow:
        lines = [keyed[p.id] for p in people]
        return HeatRow(label, kind, ref, len(people),
                       {key: _cell(line.get(key) for line in lines) for key, _ in columns},
                       depth)

    own = directory.people_in_unit(unit_id)
    children = sorted((directory.units[c] for c in directory.unit_children.get(unit_id, [])),
                      key=lambda u: u.name)
    rows = [row(said("All of %(unit)s", unit=unit.name), "total", unit.code, everyone, 0)]
    if own and children:
        rows.append(row(said("%(unit)s, its own members", unit=unit.name), "own", unit.code,
                        own, 1))
    for child in children:
        rows.append(row(child.name, "unit", child.code,
                        directory.people_in_unit(child.id, include_subunits=True), 1))
    units = HeatMap(unit.name, columns, rows, len(everyone))
    people_rows = [row(p.name, "person", p.key, [p], 0) for p in own]
    return units, HeatMap(unit.name, columns, people_rows, len(own))
