"""HR's trends across cycles: completion, on-time steps and the rating distribution against the
guideline over the last N cycles, for the viewer's population and per org unit.

The one-cycle HR dashboard answers "where does this cycle stand"; this answers "are we getting
better": the same completion rate as the dashboard's (completed instances of started ones), the
share of steps done by their due date, and how final ratings spread against the rating
scale's guideline, cycle after cycle.

Cycles are compared like with like: the cycles of one kind, the ones running the same process
(year-end appraisals, objective setting …), named by the pack's process titles; final ratings
only for the cycles whose process writes them. A cycle still running is marked in progress.

Five GROUP BY queries cover every cycle at once — instances per (cycle, process) with the open
ones, to know each cycle's kind; then for the chosen cycles people per (cycle, unit), instances
per (cycle, unit, status), completed steps per (cycle, unit) with those done in time, newest
final ratings per (cycle, unit, kind, rating) — so the work does not grow with the number of
people times cycles, only the rows read; unit roll-ups and the maths run in Python on those
counts (pure functions below, tested directly). docs/dashboards.md has the definitions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.base import clock
from engine.base.db import Params, clears_on_connect
from engine.base.errors import EngineError, NotFound
from engine.base.i18n import said
from engine.base.models import Cycle, ProcessDefinition
from engine.packs.loading import Features
from engine.people.directory import current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.performance.distribution import Distribution, rating_distribution
from engine.performance.exports import Table
from engine.performance.hr_dashboard import rating_sql, sql_in
from engine.performance.populations import hr_scope, scope_name, unit_order, unit_owners
from engine.workflow.access import SeesSubjects
from engine.workflow.inbox import process_titles

DEFAULT_CYCLES = 4
MAX_CYCLES = 12
# Units listed in the by-unit table: the tops of the scope and one level below them.
UNIT_DEPTH = 1


class BadTrendRequest(EngineError):
    """A trend asked for something it cannot show (N out of range or not a number, a kind of
    cycle the population never had)."""


# -- the maths ----------------------------------------------------------------------------------


def rate(part: int, whole: int) -> float | None:
    """`part` as a percent of `whole`, one decimal; None when there is no whole to speak of."""
    return round(part * 100 / whole, 1) if whole else None


def mean_rating(counts: Mapping[int, int], levels: Iterable[int]) -> float | None:
    """The mean of the ratings on the scale's levels (two decimals); None when nobody is rated.
    Ratings off the scale are left out, as the distribution leaves them out."""
    on_scale = {level: counts.get(level, 0) for level in levels}
    rated = sum(on_scale.values())
    if not rated:
        return None
    return round(sum(level * n for level, n in on_scale.items()) / rated, 2)


def cycle_count(wanted: Any) -> int:
    """The N of "the last N cycles" from what a user typed (None or blank: the default);
    BadTrendRequest naming the allowed range for anything else."""
    if wanted is None or (isinstance(wanted, str) and not wanted.strip()):
        return DEFAULT_CYCLES
    text = str(wanted).strip()
    if isinstance(wanted, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_CYCLES:
        raise BadTrendRequest(said("choose between 1 and %(max)s cycles (got %(got)s)",
                                   max=MAX_CYCLES, got=repr(str(wanted)[:20])))
    return int(text)


def start_order(cycles: Iterable[tuple[int, date | None, date]]) -> list[int]:
    """Cycle ids in start order from (id, starts_on, created on) rows: a cycle without a start
    date starts the day it was created; equal days keep the order of creation (id)."""
    return [cid for cid, _, _ in sorted(
        cycles, key=lambda c: (c[1] if c[1] is not None else c[2], c[0])
    )]


# -- what the page shows ------------------------------------------------------------------------


@dataclass
class Counts:
    """One population (the whole scope, or a unit with its sub-units) in one cycle."""

    people: int = 0  # people with a process in the cycle
    started: int = 0  # process instances, whatever their status
    completed: int = 0
    steps_done: int = 0  # completed steps that had a due date
    steps_on_time: int = 0  # … completed by it
    ratings: dict[int, int] = field(default_factory=dict)  # final rating → people

    @property
    def completion_rate(self) -> float | None:
        """Completed instances as a percent of the started ones (the HR dashboard's rate)."""
        return rate(self.completed, self.started)

    @property
    def on_time_rate(self) -> float | None:
        """Steps completed by their due date as a percent of the completed steps with one."""
        return rate(self.steps_on_time, self.steps_done)

    def add(self, other: Counts) -> None:
        """Add another population's counts (a sub-unit into its parent)."""
        self.people += other.people
        self.started += other.started
        self.completed += other.completed
        self.steps_done += other.steps_done
        self.steps_on_time += other.steps_on_time
        for level, n in other.ratings.items():
            self.ratings[level] = self.ratings.get(level, 0) + n


@dataclass
class CycleTrend:
    """One cycle of the trend for the whole population shown."""

    cycle_id: int
    name: str
    starts_on: date
    counts: Counts
    distribution: Distribution  # final ratings against the guideline of the cycle's pack
    mean_rating: float | None  # None too when the cycle's process writes no final ratings
    due_on: date | None = None
    open: int = 0  # its process instances still running (or stopped on an error)
    # Still running: an open instance, or a due date not passed. Its completion so far is no
    # fall from the cycle before.
    in_progress: bool = False
    rates: bool = True  # its process writes final ratings: its distribution means something


@dataclass(frozen=True)
class CycleKind:
    """A kind of cycle HR compares: the cycles running one process, named by its title."""

    process: str
    title: str
    cycles: int  # how many cycles of this kind the population has had
    rates: bool  # its newest cycle's process writes final ratings


@dataclass
class UnitCycle:
    """One unit in one cycle (the by-unit table's cell)."""

    counts: Counts
    rated: int
    mean_rating: float | None


@dataclass
class UnitTrend:
    """One org unit (its sub-units included) across the cycles, oldest first."""

    unit_id: int
    code: str
    name: str
    depth: int
    cycles: list[UnitCycle]


@dataclass
class Trends:
    """HR's trend over the last cycles of the population shown."""

    scope: str  # "organisation", the partnered units' names, or the chosen unit's name
    unit_id: int | None  # the unit chosen, None: the viewer's whole scope
    asked: int  # the N asked for; `cycles` may hold fewer
    cycles: list[CycleTrend]  # oldest first
    units: list[UnitTrend]
    # The scale's levels best first as (value, label, short), from the newest cycle's pack.
    levels: list[tuple[int, str, str]]
    # Units the viewer may choose from, in tree order: (id, name, depth).
    unit_choices: list[tuple[int, str, int]]
    process: str | None = None  # the kind compared: the process its cycles run
    kinds: list[CycleKind] = field(default_factory=list)  # the kinds there are, by title

    @property
    def kind(self) -> CycleKind | None:
        """The kind of cycle compared."""
        return next((k for k in self.kinds if k.process == self.process), None)

    @property
    def rating_cycles(self) -> list[CycleTrend]:
        """The cycles shown whose process writes final ratings, oldest first."""
        return [c for c in self.cycles if c.rates]


# -- reading the database -----------------------------------------------------------------------


# A process instance still open: its cycle is in progress whatever its due date.
OPEN_STATUSES = ("running", "launching", "error")
# Definition rows never change: whether a version writes final ratings is kept per id.
_writes_ratings: dict[int, bool] = {}
clears_on_connect(_writes_ratings.clear)


def writes_record(sources: Mapping[str, Any], kind: str) -> bool:
    """Whether a process version's BPMN scripts call `write_record` with this record kind as
    a literal (quoted plainly or XML-escaped)."""
    quote = r"(?:[\"']|&quot;|&apos;|&#34;|&#39;)"
    call = re.compile(rf"write_record\(\s*{quote}{re.escape(kind)}{quote}")
    return any(
        isinstance(text, str) and call.search(text) is not None
        for name, text in sources.items() if str(name).endswith(".bpmn")
    )


async def rating_definitions(definition_ids: Iterable[int]) -> set[int]:
    """Of these deployed versions, those whose process writes final ratings: the record kind
    their pack names in `[features.records] final_rating`. One query for the versions not
    seen yet."""
    wanted = set(definition_ids)
    unseen = sorted(wanted - set(_writes_ratings))
    if unseen:
        for row in await ProcessDefinition.filter(id__in=unseen).values(
            "id", "settings", "sources"
        ):
            settings = row["settings"] if isinstance(row["settings"], dict) else {}
            features, _ = Features.from_table(settings.get("features"))
            sources = row["sources"] if isinstance(row["sources"], dict) else {}
            _writes_ratings[int(row["id"])] = writes_record(
                sources, features.records.final_rating
            )
    return {d for d in wanted if _writes_ratings.get(d, False)}


def cycle_kind(processes: Mapping[str, int]) -> str:
    """The process a cycle runs, from its instances per process: the one most of them run
    (a cycle launches one process; ties go to the first id)."""
    return min(processes, key=lambda process: (-processes[process], process))


async def cycle_trends(
    viewer: SeesSubjects, cycles: Any = None, unit_id: int | None = None,
    process: str | None = None,
) -> Trends:
    """The last `cycles` cycles (default 4, at most 12) of one kind — cycles running the same
    `process` — that concern the viewer's population, or the chosen unit's within it, in start
    order, with their numbers for the population and for each unit of the top two levels.

    Without a process, the kind of the newest cycle whose process writes final ratings (the
    year-end appraisal), else of the newest cycle. A cycle is in progress while any of its
    processes is open or its due date has not passed (the engine's clock).

    NotAllowed for anyone outside HR, NotFound for a unit outside the viewer's scope,
    BadTrendRequest for an N that is not a whole number from 1 to 12 or a process no cycle of
    the population runs.
    """
    wanted = cycle_count(cycles)
    directory = await current_directory()
    scope = hr_scope(viewer, directory)
    order = unit_order(directory, scope)
    unit_choices = [(uid, directory.units[uid].name, depth) for uid, depth in order]
    if unit_id is not None:
        if unit_id not in directory.units or (scope is not None and unit_id not in scope):
            raise NotFound(f"no unit {unit_id}")
        shown: set[int] | None = set(directory.unit_and_descendants(unit_id))
        name = directory.units[unit_id].name
    else:
        shown = scope
        name = scope_name(directory, scope)
    shown_order = unit_order(directory, shown)
    owners = unit_owners(directory, {uid for uid, _ in shown_order})

    # Every cycle of the population with its instances per process: its kind, and whether
    # any is still open.
    p = Params()
    kind_rows = await p.rows(
        "SELECT i.cycle_id AS cycle, i.process_id AS process, "
        "MAX(i.definition_id) AS definition, COUNT(*) AS n, "
        f"SUM(CASE WHEN i.status IN ({p.many(OPEN_STATUSES)}) THEN 1 ELSE 0 END) AS open "
        "FROM process_instance i JOIN person p ON p.id = i.subject_id "
        f"WHERE i.cycle_id IS NOT NULL{sql_in('p.org_unit_id', shown, p)} "
        "GROUP BY i.cycle_id, i.process_id"
    )
    per_process: dict[int, dict[str, int]] = {}
    definition: dict[tuple[int, str], int] = {}
    still_open: dict[int, int] = {}
    for row in kind_rows:
        cid, proc = int(row["cycle"]), str(row["process"])
        per_process.setdefault(cid, {})[proc] = int(row["n"])
        definition[cid, proc] = int(row["definition"])
        still_open[cid] = still_open.get(cid, 0) + int(row["open"] or 0)
    kind_of = {cid: cycle_kind(procs) for cid, procs in per_process.items()}
    cycle_rows = await Cycle.filter(id__in=sorted(kind_of)).values_list(
        "id", "name", "starts_on", "due_on", "created_at"
    )
    named = {int(cid): (str(cname), starts or created.date(), due)
             for cid, cname, starts, due, created in cycle_rows}
    in_order = start_order(
        (int(cid), starts, created.date()) for cid, _, starts, _, created in cycle_rows
    )
    rating_versions = await rating_definitions(definition.values())
    rates = {cid: definition[cid, kind_of[cid]] in rating_versions for cid in in_order}
    titles = await process_titles(set(kind_of.values()))
    kinds = _kinds(in_order, kind_of, rates, titles)

    if process is None or not process.strip():
        rating_cycles = [cid for cid in in_order if rates[cid]]
        newest = (rating_cycles or in_order)[-1:]
        chosen_kind = kind_of[newest[0]] if newest else None
    elif process.strip() in titles:
        chosen_kind = process.strip()
    else:
        raise BadTrendRequest(said(
            "no cycle runs the process %(process)s here (kinds of cycle: %(kinds)s)",
            process=repr(process.strip()[:40]),
            kinds=", ".join(k.title for k in kinds) or said("none yet")))
    chosen = [cid for cid in in_order if kind_of[cid] == chosen_kind][-wanted:]
    today = clock.now().date()

    totals: dict[int, Counts] = {cid: Counts() for cid in chosen}
    per_unit: dict[tuple[int, int], Counts] = {}

    def add(cycle_id: int, unit: int | None, apply: Callable[[Counts], None]) -> None:
        if cycle_id not in totals:
            return
        apply(totals[cycle_id])
        for owner in owners(unit):
            apply(per_unit.setdefault((cycle_id, owner), Counts()))

    def adder(attribute: str, n: int) -> Callable[[Counts], None]:
        return lambda c: setattr(c, attribute, getattr(c, attribute) + n)

    if chosen:
        # The chosen cycles' instances of the chosen process only: like with like.
        p = Params()
        for row in await p.rows(
            "SELECT i.cycle_id AS cycle, p.org_unit_id AS unit, "
            "COUNT(DISTINCT i.subject_id) AS n FROM process_instance i "
            "JOIN person p ON p.id = i.subject_id "
            f"WHERE i.cycle_id IN ({p.many(chosen)}) AND i.process_id = {p(chosen_kind)}"
            f"{sql_in('p.org_unit_id', shown, p)} GROUP BY i.cycle_id, p.org_unit_id"
        ):
            add(int(row["cycle"]), row["unit"], adder("people", int(row["n"])))
        p = Params()
        for row in await p.rows(
            "SELECT i.cycle_id AS cycle, p.org_unit_id AS unit, i.status AS status, "
            "COUNT(*) AS n FROM process_instance i JOIN person p ON p.id = i.subject_id "
            f"WHERE i.cycle_id IN ({p.many(chosen)}) AND i.process_id = {p(chosen_kind)}"
            f"{sql_in('p.org_unit_id', shown, p)} "
            "GROUP BY i.cycle_id, p.org_unit_id, i.status"
        ):
            add(int(row["cycle"]), row["unit"], adder("started", int(row["n"])))
            if row["status"] == "completed":
                add(int(row["cycle"]), row["unit"], adder("completed", int(row["n"])))
        p = Params()
        for row in await p.rows(
            "SELECT i.cycle_id AS cycle, p.org_unit_id AS unit, COUNT(*) AS done, "
            "SUM(CASE WHEN t.completed_at <= t.due_at THEN 1 ELSE 0 END) AS on_time "
            "FROM process_instance i JOIN human_task t ON t.instance_id = i.id "
            "JOIN person p ON p.id = i.subject_id "
            f"WHERE i.cycle_id IN ({p.many(chosen)}) AND i.process_id = {p(chosen_kind)} "
            "AND t.status = 'completed' AND t.due_at IS NOT NULL AND t.completed_at IS NOT NULL"
            f"{sql_in('p.org_unit_id', shown, p)} GROUP BY i.cycle_id, p.org_unit_id"
        ):
            add(int(row["cycle"]), row["unit"], adder("steps_done", int(row["done"])))
            add(int(row["cycle"]), row["unit"], adder("steps_on_time", int(row["on_time"] or 0)))

    packs = {cid: await cycle_pack(cid) for cid in chosen}
    # Final ratings only of the cycles whose process writes them: a rating recorded in an
    # objective-setting cycle says nothing about how that cycle rated people.
    rated_cycles = [cid for cid in chosen if rates[cid]]
    if rated_cycles:
        record_kinds = {cid: packs[cid].features.records.final_rating for cid in rated_cycles}
        p = Params()
        cycle_marks = p.many(rated_cycles)
        kind_marks = p.many(sorted(set(record_kinds.values())))
        for row in await p.rows(
            f"SELECT r.cycle_id AS cycle, r.kind AS kind, p.org_unit_id AS unit, "
            f"{rating_sql()} AS rating, COUNT(*) AS n FROM record r "
            "JOIN person p ON p.id = r.person_id WHERE r.id IN (SELECT MAX(id) FROM record "
            f"WHERE cycle_id IN ({cycle_marks}) AND kind IN ({kind_marks}) "
            f"GROUP BY cycle_id, kind, person_id){sql_in('p.org_unit_id', shown, p)} "
            "GROUP BY r.cycle_id, r.kind, p.org_unit_id, rating"
        ):
            cycle_id, level = int(row["cycle"]), row["rating"]
            if level is None or record_kinds.get(cycle_id) != row["kind"]:
                continue

            def rated(c: Counts, level: int = int(level), n: int = int(row["n"])) -> None:
                c.ratings[level] = c.ratings.get(level, 0) + n

            add(cycle_id, row["unit"], rated)

    trend: list[CycleTrend] = []
    scales: dict[int, Mapping[str, Any]] = {}
    for cid in chosen:
        scale = scales[cid] = packs[cid].catalogs.get("rating_scale", {})
        counts = totals[cid]
        due = named[cid][2]
        trend.append(CycleTrend(
            cycle_id=cid,
            name=named[cid][0],
            starts_on=named[cid][1],
            counts=counts,
            distribution=rating_distribution(counts.ratings, scale, name, "all"),
            mean_rating=mean_rating(counts.ratings, _levels(scale)) if rates[cid] else None,
            due_on=due,
            open=still_open.get(cid, 0),
            in_progress=still_open.get(cid, 0) > 0 or (due is not None and due >= today),
            rates=rates[cid],
        ))

    units: list[UnitTrend] = []
    for uid, depth in shown_order:
        if depth > UNIT_DEPTH:
            continue
        cells = []
        for cid in chosen:
            counts = per_unit.get((cid, uid), Counts())
            levels = _levels(scales[cid])
            cells.append(UnitCycle(
                counts=counts,
                rated=sum(counts.ratings.get(level, 0) for level in levels),
                mean_rating=mean_rating(counts.ratings, levels) if rates[cid] else None,
            ))
        unit = directory.units[uid]
        units.append(UnitTrend(uid, unit.code, unit.name, depth, cells))

    newest_scale = (
        scales[rated_cycles[-1]] if rated_cycles else scales[chosen[-1]] if chosen
        else (await cycle_pack(None)).catalogs.get("rating_scale", {})
    )
    scale_levels = [
        (int(lv["value"]), str(lv.get("label", lv["value"])), str(lv.get("short", lv["value"])))
        for lv in sorted(newest_scale.get("levels", []), key=lambda lv: -int(lv["value"]))
    ]
    return Trends(
        scope=name,
        unit_id=unit_id,
        asked=wanted,
        cycles=trend,
        units=units,
        levels=scale_levels,
        unit_choices=unit_choices,
        process=chosen_kind,
        kinds=kinds,
    )


def _kinds(
    in_order: list[int], kind_of: Mapping[int, str], rates: Mapping[int, bool],
    titles: Mapping[str, str],
) -> list[CycleKind]:
    """The kinds of cycle the population has had, by title: how many cycles each, and whether
    its newest cycle writes final ratings."""
    found: dict[str, CycleKind] = {}
    for cid in in_order:
        process = kind_of[cid]
        before = found.get(process)
        found[process] = CycleKind(
            process=process, title=titles.get(process, process),
            cycles=(before.cycles if before else 0) + 1, rates=rates[cid],
        )
    return sorted(found.values(), key=lambda k: k.title.casefold())


def _levels(scale: Mapping[str, Any]) -> list[int]:
    return [int(level["value"]) for level in scale.get("levels", [])]


# -- exports ------------------------------------------------------------------------------------


def trend_tables(trends: Trends) -> list[Table]:
    """The trend as the tables the page shows, for CSV and XLSX (engine.performance.exports
    writes them): the cycles with their rates, the rating distribution per cycle against the
    guideline (the cycles whose process writes final ratings), and the units per cycle. A cycle
    still running says "in progress" in its Status; rated and mean stay empty for a cycle that
    rates nobody."""
    cycles = Table("Cycles", ["Cycle", "Starts", "People", "Started", "Completed",
                              "Completion %", "Steps done", "Steps on time", "On-time %",
                              "Rated", "Mean rating", "Status"])
    ratings = Table("Ratings", ["Cycle", "Level", "Label", "Count", "Share %", "Guideline %",
                                "Gap (pts)"])
    for cycle in trends.cycles:
        c = cycle.counts
        cycles.rows.append([cycle.name, cycle.starts_on.isoformat(), c.people, c.started,
                            c.completed, c.completion_rate, c.steps_done, c.steps_on_time,
                            c.on_time_rate, cycle.distribution.rated if cycle.rates else None,
                            cycle.mean_rating, _status(cycle)])
        if not cycle.rates:
            continue
        for level in cycle.distribution.levels:
            ratings.rows.append([cycle.name, level.value, level.label, level.count, level.share,
                                 level.guideline_share,
                                 round(level.share - level.guideline_share, 1)])
    units = Table("Units", ["Unit code", "Unit", "Cycle", "People", "Started", "Completed",
                            "Completion %", "Rated", "Mean rating"])
    for unit in trends.units:
        for cycle, cell in zip(trends.cycles, unit.cycles, strict=True):
            c = cell.counts
            units.rows.append([unit.code, unit.name, cycle.name, c.people, c.started,
                               c.completed, c.completion_rate,
                               cell.rated if cycle.rates else None, cell.mean_rating])
    return [cycles, ratings, units]


def _status(cycle: CycleTrend) -> str:
    return "in progress" if cycle.in_progress else "closed"
