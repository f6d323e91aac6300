"""The roll-out programme's adoption figures: how far each unit has taken up performance
management in a cycle, the organisation first and then every unit with its sub-units, each
figure against the previous cycle of the same kind — at the same point of that cycle while
this one runs (a cycle half done is not compared with a finished one).

The chosen cycle says *who* and *when*: its people (everyone with a process in it) and its
period (engine.performance.year_context.cycle_period: its start, else a year before its due
day, to its due day). For those people and that period:

- objectives agreed on time — instances of the pack's objectives process (`[features.adoption]
  objectives_process`) started in the period: completed by their own cycle's due day (any day
  when it has none), of those launched and not cancelled;
- check-ins held — people with a check-in or a 1:1 meeting on record in the period
  (`[features.records] checkin`, `[features.one_on_ones] record`);
- feedback given — people given feedback at least once in the period (`[features.records]
  feedback`);
- appraisal completion — instances of the appraisal process (`[features.adoption]
  appraisal_process`) started in the period: completed, of those launched and not cancelled;
- objectives with a measurable target — of the objectives in each person's newest
  objectives-bearing record of the period, those naming a KPI with a numeric target;
- objectives aligned to a goal — of the same objectives, those naming a goal;
- development plans agreed — people with a development plan on record in the period
  (`[features.records] development_plan`).

Every count is one GROUP BY over indexed columns (the objectives' quality unpacks each
newest record's list in SQL with json_each / jsonb_array_elements), so ten thousand people
return a few hundred rows; the roll-up to parent units and the percentages run in Python.
A roll-out programme's own instances are never counted: only the performance pack's
processes, records and cycles are read.

HR sees its scope (an HR partner the units they look after); members of the steering group
(`group:steering`, the roll-out pack's steering committee) see the whole organisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from engine.base import clock
from engine.base.db import Params, is_postgres
from engine.base.errors import NotAllowed, NotFound
from engine.base.i18n import said
from engine.base.models import Cycle
from engine.packs.loading import Features
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.cycle_choice import CycleSummary
from engine.performance.deployed_pack import cycle_pack
from engine.performance.objective_index import objective_kinds
from engine.performance.populations import hr_scope, scope_name, unit_order, unit_owners
from engine.performance.trends import cycle_kind, start_order
from engine.performance.year_context import cycle_period
from engine.workflow.access import HR_GROUP, SeesSubjects

# Who reads the dashboard besides HR: the steering committee of the roll-out programme.
STEERING_GROUP = "steering"

# Bands: a figure at or above GOOD reads "on track", at or above FAIR "needs attention".
GOOD = 80.0
FAIR = 50.0

# The figures, in the order the page shows them: (key, label, what it counts).
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("objectives_on_time", "Objectives agreed on time",
     "objective setting completed by its due day, of those launched"),
    ("checkins", "Check-ins held", "people with a check-in or 1:1 on record in the period"),
    ("feedback", "Feedback given", "people given feedback at least once in the period"),
    ("appraisals", "Appraisal completion", "year-end appraisals completed, of those launched"),
    ("measurable", "Objectives with a measurable target",
     "objectives naming a KPI with a numeric target"),
    ("aligned", "Objectives aligned to a goal", "objectives naming a goal they support"),
    ("plans", "Development plans agreed", "people with a development plan on record"),
)
FIGURE_KEYS = tuple(key for key, _, _ in FIGURES)


# -- the maths ----------------------------------------------------------------------------------


def percent(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent, one decimal; None when there is nothing to count."""
    return round(part * 100 / whole, 1) if whole else None


def band(value: float | None) -> str:
    """The colour band of a percentage: good, fair, weak, or none without a figure."""
    if value is None:
        return "none"
    if value >= GOOD:
        return "good"
    return "fair" if value >= FAIR else "weak"


BAND_TEXT = {
    "good": "On track",
    "fair": "Needs attention",
    "weak": "Behind",
    "none": "No data yet",
}


@dataclass
class Count:
    """One figure of one population: how many of how many."""

    part: int = 0
    whole: int = 0

    def add(self, other: Count) -> None:
        """Add a sub-unit's count into its parent's."""
        self.part += other.part
        self.whole += other.whole


@dataclass
class Figure:
    """One figure as the page shows it: the count, its percentage and band, and the change
    in percentage points against the previous cycle (None: no previous figure)."""

    key: str
    label: str
    explains: str
    part: int
    whole: int
    previous: float | None = None

    @property
    def percent(self) -> float | None:
        """The figure in percent (None: nothing to count)."""
        return percent(self.part, self.whole)

    @property
    def band(self) -> str:
        """good, fair, weak or none."""
        return band(self.percent)

    @property
    def band_text(self) -> str:
        """The band in words (the page never says it by colour alone)."""
        return said(BAND_TEXT[self.band])

    @property
    def change(self) -> float | None:
        """Percentage points since the previous cycle (None when either has no figure)."""
        now = self.percent
        if now is None or self.previous is None:
            return None
        return round(now - self.previous, 1)


@dataclass
class UnitAdoption:
    """The figures of the organisation (unit_id None, depth -1) or of a unit with its
    sub-units."""

    unit_id: int | None
    code: str
    name: str
    depth: int
    people: int
    figures: list[Figure]


@dataclass
class Adoption:
    """The adoption dashboard of one cycle for the viewer's scope."""

    cycle: CycleSummary
    since: date
    until: date
    scope: str
    previous: CycleSummary | None
    rows: list[UnitAdoption]  # the organisation (or the viewer's scope) first
    # Figures of the whole scope by key (the cards at the top).
    totals: dict[str, Figure] = field(default_factory=dict)
    # The previous cycle's figures are as they stood on this day (the same point of it as
    # today is of this cycle); None when it is compared as it ended.
    previous_as_of: date | None = None


# -- who may read it ----------------------------------------------------------------------------


def may_read_adoption(viewer: SeesSubjects) -> bool:
    """HR and members of the steering group read the adoption dashboard."""
    return HR_GROUP in viewer.groups or STEERING_GROUP in viewer.groups


def adoption_scope(viewer: SeesSubjects, directory: DirectorySnapshot) -> set[int] | None:
    """The units the viewer reads (None: the whole organisation); NotAllowed for others."""
    if STEERING_GROUP in viewer.groups:
        return None
    if HR_GROUP in viewer.groups:
        return hr_scope(viewer, directory)
    raise NotAllowed("the adoption dashboard is for HR and the steering committee")


# -- counting -----------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _completed_by_due_sql(completed: str) -> str:
    """SQL: 1 when the instance `i` was completed (`completed`: the condition) by its cycle
    `c`'s due day (any day when the cycle has none), else 0."""
    if is_postgres():
        day = "CAST(i.completed_at AT TIME ZONE 'UTC' AS DATE)"
    else:
        day = "date(i.completed_at)"
    return (f"CASE WHEN {completed} AND (c.due_on IS NULL OR {day} <= c.due_on) "
            "THEN 1 ELSE 0 END")


def _objective_rows_sql(p: Params, kinds: Iterable[str], since: datetime, until: datetime,
                        population: Callable[[Params], str]) -> str:
    """SQL over the objectives of each person's newest objectives-bearing record in the
    period: (unit, objectives, measurable, aligned). Placeholders are numbered in the order
    they are made, so the population's are made where they stand in the text."""
    newest = (f"SELECT MAX(id) FROM record WHERE kind IN ({p.many(list(kinds))}) "
              f"AND created_at >= {p(since)} AND created_at < {p(until)} "
              f"AND person_id IN ({population(p)}) GROUP BY person_id")
    if is_postgres():
        return (
            "SELECT pe.org_unit_id AS unit, COUNT(*) AS objectives, "
            "SUM(CASE WHEN btrim(COALESCE(o.value->>'kpi', '')) <> '' "
            "AND jsonb_typeof(o.value->'target') = 'number' THEN 1 ELSE 0 END) AS measurable, "
            "SUM(CASE WHEN btrim(COALESCE(o.value->>'aligned_goal', '')) <> '' "
            "THEN 1 ELSE 0 END) AS aligned "
            "FROM record r JOIN person pe ON pe.id = r.person_id "
            "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'objectives')"
            " = 'array' THEN r.data->'objectives' ELSE '[]'::jsonb END) AS o(value) "
            f"WHERE r.id IN ({newest}) AND jsonb_typeof(o.value) = 'object' "
            "GROUP BY pe.org_unit_id"
        )
    return (
        "SELECT pe.org_unit_id AS unit, COUNT(*) AS objectives, "
        "SUM(CASE WHEN trim(COALESCE(json_extract(o.value, '$.kpi'), '')) <> '' "
        "AND json_type(o.value, '$.target') IN ('integer', 'real') THEN 1 ELSE 0 END) "
        "AS measurable, "
        "SUM(CASE WHEN trim(COALESCE(json_extract(o.value, '$.aligned_goal'), '')) <> '' "
        "THEN 1 ELSE 0 END) AS aligned "
        "FROM record r JOIN person pe ON pe.id = r.person_id "
        "JOIN json_each(r.data, '$.objectives') o "
        f"WHERE r.id IN ({newest}) AND json_type(r.data, '$.objectives') = 'array' "
        "AND o.type = 'object' GROUP BY pe.org_unit_id"
    )


UnitCounts = dict[int | None, dict[str, Count]]


async def unit_counts(cycle_id: int, since: date, until: date, features: Features,
                      cut: bool = False) -> tuple[UnitCounts, dict[int | None, int]]:
    """Per org unit of the people (None: no unit), every figure's count for the cycle's
    people in the period, and how many of the cycle's people each unit has. `cut`: the
    figures as they stood at the end of `until` (an instance completed later counts as
    open), for comparing with a cycle still under way."""
    start, end = _day_start(since), _day_start(until + timedelta(days=1))
    adoption, records = features.adoption, features.records
    counts: UnitCounts = {}

    def count(unit: int | None, key: str) -> Count:
        return counts.setdefault(unit, {k: Count() for k in FIGURE_KEYS})[key]

    p = Params()
    people_rows = await p.rows(
        "SELECT pe.org_unit_id AS unit, COUNT(DISTINCT i.subject_id) AS n "
        "FROM process_instance i JOIN person pe ON pe.id = i.subject_id "
        f"WHERE i.cycle_id = {p(cycle_id)} GROUP BY pe.org_unit_id"
    )
    people = {row["unit"]: int(row["n"]) for row in people_rows}

    def population(p: Params) -> str:
        return f"SELECT subject_id FROM process_instance WHERE cycle_id = {p(cycle_id)}"

    # Objective setting and appraisals started in the period.
    # Placeholders are made in the order they stand in the text (SQLite's are positional).
    p = Params()

    def completed() -> str:
        return "i.status = 'completed'" + (f" AND i.completed_at < {p(end)}" if cut else "")

    counted = (f"COUNT(*) AS launched, SUM({_completed_by_due_sql(completed())}) AS on_time, "
               f"SUM(CASE WHEN {completed()} THEN 1 ELSE 0 END) AS completed ")
    processes = p.many([adoption.objectives_process, adoption.appraisal_process])
    instance_rows = await p.rows(
        "SELECT pe.org_unit_id AS unit, i.process_id AS process, " + counted +
        "FROM process_instance i JOIN person pe ON pe.id = i.subject_id "
        "LEFT JOIN cycle c ON c.id = i.cycle_id "
        f"WHERE i.process_id IN ({processes})"
        f" AND i.status <> 'cancelled' AND i.started_at >= {p(start)} AND i.started_at < {p(end)}"
        f" AND i.subject_id IN ({population(p)}) GROUP BY pe.org_unit_id, i.process_id"
    )
    for row in instance_rows:
        if row["process"] == adoption.objectives_process:
            count(row["unit"], "objectives_on_time").add(
                Count(int(row["on_time"] or 0), int(row["launched"])))
        if row["process"] == adoption.appraisal_process:
            count(row["unit"], "appraisals").add(
                Count(int(row["completed"] or 0), int(row["launched"])))

    # People with check-ins, feedback and development plans on record in the period.
    checkins = sorted({records.checkin, features.one_on_ones.record})
    p = Params()
    figure_of = (
        f"CASE WHEN r.kind IN ({p.many(checkins)}) THEN 'checkins' "
        f"WHEN r.kind = {p(records.feedback)} THEN 'feedback' "
        f"WHEN r.kind = {p(records.development_plan)} THEN 'plans' END"
    )
    kinds = [*checkins, records.feedback, records.development_plan]
    record_rows = await p.rows(
        f"SELECT pe.org_unit_id AS unit, {figure_of} AS figure, "
        "COUNT(DISTINCT r.person_id) AS n FROM record r JOIN person pe ON pe.id = r.person_id "
        f"WHERE r.kind IN ({p.many(kinds)}) AND r.created_at >= {p(start)} "
        f"AND r.created_at < {p(end)} AND r.person_id IN ({population(p)}) "
        "GROUP BY 1, 2"
    )
    for row in record_rows:
        if row["figure"] in FIGURE_KEYS:
            count(row["unit"], row["figure"]).part += int(row["n"])
    for unit, n in people.items():
        for key in ("checkins", "feedback", "plans"):
            count(unit, key).whole += n

    # The quality of the objectives.
    p = Params()
    objective_rows = await p.rows(_objective_rows_sql(
        p, objective_kinds(records), start, end, population))
    for row in objective_rows:
        whole = int(row["objectives"] or 0)
        count(row["unit"], "measurable").add(Count(int(row["measurable"] or 0), whole))
        count(row["unit"], "aligned").add(Count(int(row["aligned"] or 0), whole))
    return counts, people


def _in_scope(unit: int | None, scope: set[int] | None) -> bool:
    return scope is None or (unit is not None and unit in scope)


def roll_up(
    counts: UnitCounts, people: Mapping[int | None, int], directory: DirectorySnapshot,
    scope: set[int] | None,
) -> tuple[dict[str, Count], dict[int, dict[str, Count]], int, dict[int, int]]:
    """The scope's totals and every unit's counts with its sub-units' added: (totals, per
    unit, people in scope, people per unit)."""
    shown = {uid for uid, _ in unit_order(directory, scope)}
    owners = unit_owners(directory, shown)
    totals = {key: Count() for key in FIGURE_KEYS}
    per_unit: dict[int, dict[str, Count]] = {}
    heads: dict[int, int] = {}
    total_people = 0
    for unit in set(counts) | set(people):
        if not _in_scope(unit, scope):
            continue
        total_people += people.get(unit, 0)
        for owner in owners(unit):
            heads[owner] = heads.get(owner, 0) + people.get(unit, 0)
        for key, value in counts.get(unit, {}).items():
            totals[key].add(value)
            for owner in owners(unit):
                per_unit.setdefault(owner, {k: Count() for k in FIGURE_KEYS})[key].add(value)
    return totals, per_unit, total_people, heads


def _figures(counts: Mapping[str, Count], previous: Mapping[str, Count] | None) -> list[Figure]:
    figures = []
    for key, label, explains in FIGURES:
        now = counts.get(key, Count())
        before = previous.get(key) if previous is not None else None
        figures.append(Figure(
            key, said(label), said(explains), now.part, now.whole,
            percent(before.part, before.whole) if before is not None else None,
        ))
    return figures


# -- which cycles -------------------------------------------------------------------------------


async def previous_cycle(cycle_id: int, features: Features) -> CycleSummary | None:
    """The cycle of the same kind (running the same process) that started before this one,
    else None. A roll-out programme never makes a kind."""
    programme = features.rollout.process
    p = Params()
    rows = await p.rows(
        "SELECT cycle_id, process_id, COUNT(*) AS n FROM process_instance "
        f"WHERE cycle_id IS NOT NULL AND process_id <> {p(programme or '-')} "
        "GROUP BY cycle_id, process_id"
    )
    processes: dict[int, dict[str, int]] = {}
    for row in rows:
        processes.setdefault(int(row["cycle_id"]), {})[str(row["process_id"])] = int(row["n"])
    if cycle_id not in processes:
        return None
    kind = cycle_kind(processes[cycle_id])
    same = {cid for cid, found in processes.items() if cycle_kind(found) == kind}
    cycles = {c.id: c for c in await Cycle.filter(id__in=sorted(same))}
    ordered = start_order(
        (c.id, c.starts_on, c.created_at.date()) for c in cycles.values()
    )
    before = ordered[: ordered.index(cycle_id)] if cycle_id in ordered else []
    if not before:
        return None
    chosen = cycles[before[-1]]
    return CycleSummary(chosen.id, chosen.name, chosen.starts_on, chosen.due_on)


def begun(cycle: Cycle) -> date:
    """The day a cycle began: its start day, else the day it was launched."""
    return cycle.starts_on or cycle.created_at.date()


def same_point(
    cycle: tuple[date, date], previous: tuple[date, date, date], today: date
) -> date | None:
    """The day of the previous cycle (`previous`: the day it began, its period's first and
    last day) as long after it began as today is after this one began (`cycle`: the day it
    began and its period's last day), within its period; None when this cycle's period is
    over (the previous one is then compared as it ended)."""
    started, until = cycle
    if today >= until:
        return None
    p_begun, p_since, p_until = previous
    return max(p_since, min(p_until, p_begun + (today - started)))


async def adoption_dashboard(cycle_id: int, viewer: SeesSubjects) -> Adoption:
    """The adoption figures of the cycle for the viewer's scope: the whole scope first, then
    every unit with its sub-units in tree order, each figure with its change since the
    previous cycle of the same kind. NotAllowed for anyone but HR and the steering
    committee; NotFound for an unknown cycle."""
    directory = await current_directory()
    scope = adoption_scope(viewer, directory)
    row = await Cycle.get_or_none(id=cycle_id)
    if row is None:
        raise NotFound(f"no cycle {cycle_id}")
    cycle = CycleSummary(row.id, row.name, row.starts_on, row.due_on)
    features = (await cycle_pack(cycle_id)).features
    since, until = cycle_period(row, clock.now().date())
    counts, people = await unit_counts(cycle_id, since, until, features)
    totals, per_unit, total_people, heads = roll_up(counts, people, directory, scope)
    previous = await previous_cycle(cycle_id, features)
    before_totals: dict[str, Count] | None = None
    before_units: dict[int, dict[str, Count]] = {}
    as_of = None
    if previous is not None:
        before_row = await Cycle.get(id=previous.id)
        p_since, p_until = cycle_period(before_row, clock.now().date())
        as_of = same_point((begun(row), until), (begun(before_row), p_since, p_until),
                           clock.now().date())
        p_counts, p_people = await unit_counts(
            previous.id, p_since, as_of or p_until, (await cycle_pack(previous.id)).features,
            cut=as_of is not None)
        before_totals, before_units, _, _ = roll_up(p_counts, p_people, directory, scope)
    rows = [UnitAdoption(None, "", scope_name(directory, scope), -1, total_people,
                         _figures(totals, before_totals))]
    for uid, depth in unit_order(directory, scope):
        if uid not in per_unit and not heads.get(uid):
            continue
        unit = directory.units[uid]
        rows.append(UnitAdoption(
            uid, unit.code, unit.name, depth, heads.get(uid, 0),
            _figures(per_unit.get(uid, {}), before_units.get(uid) if previous else None),
        ))
    return Adoption(cycle, since, until, scope_name(directory, scope), previous, rows,
                    {f.key: f for f in rows[0].figures}, as_of)


async def adoption_cycles(viewer: SeesSubjects) -> list[CycleSummary]:
    """The cycles the dashboard offers, newest first (NotAllowed for others than HR and the
    steering committee)."""
    if not may_read_adoption(viewer):
        raise NotAllowed("the adoption dashboard is for HR and the steering committee")
    return [CycleSummary(c.id, c.name, c.starts_on, c.due_on)
            for c in await Cycle.all().order_by("-id")]


def default_cycle(cycles: list[CycleSummary], today: date | None = None) -> CycleSummary | None:
    """The cycle the page opens on: the newest whose period has begun, else the newest."""
    today = today or clock.now().date()
    for cycle in cycles:
        if cycle.starts_on is None or cycle.starts_on <= today:
            return cycle
    return cycles[0] if cycles else None
