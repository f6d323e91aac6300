"""The Goals page's read model: every person's current objectives of a cycle as rows (the goal
each names, its weight, its achievement with the latest actual laid over), so a roll-up over
ten thousand people sums rows in the database instead of decoding ten thousand objectives
records on every request (that alone costs 150–330 ms).

The rows hold exactly what engine.performance.goals reads from the records (the same newest
record, the same overlay rule: an update counts only if newer than the record), and are kept
current in two ways:

- an in-year progress update rewrites its person's rows in the transaction that records it
  (engine.performance.progress), so the Goals page moves at once;
- objectives records are written by the workflow layer, which may not call this one. Rather
  than a hook every process (web, worker, CLI) would have to remember to register, each read
  of a cycle's tree first compares, per person, the newest objectives-bearing record id with
  the one their rows were built from (ObjectiveIndexSource) and rebuilds whoever differs: a
  new record, a removed one, or — on the first read of a cycle — everyone. The check reads
  two narrow integer columns, never the records' JSON; and once it has found a cycle's rows
  current, later reads only compare the count and the sum of the ids of the cycle's
  objectives-kind records with what they were then (one aggregate over an index): record ids
  are never reused, so any record added or removed changes that pair.

A rebuild reads its sources in the transaction that writes the rows, and a cycle's rebuilds
take turns with each other and with progress updates (`_hold_cycle`), so an update committed
during a rebuild is never overwritten with the achievement before it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.db import Params, clears_on_connect, is_postgres
from engine.base.models import ObjectiveIndex, ObjectiveIndexSource, Record
from engine.packs.loading import RecordsFeature
from engine.performance.deployed_pack import cycle_pack
from engine.performance.latest_progress import MANY_PEOPLE, with_latest_progress
from engine.scripts.context import ScriptError
from engine.scripts.scoring import kpi_achievement

GOAL_REF = "goal:"
# Record kinds that carry a person's objectives; the newest of them in the cycle is current
# (a mid-year check-in adds actuals, the year-end KPI results — the pack's
# [features.records] kpi_results — have the final ones).
OBJECTIVE_KINDS = ("objectives", "midyear_checkin")
ALIGNED_MAX = 300  # ObjectiveIndex.aligned's column
TITLE_MAX = 255
BATCH = 2000


def objective_kinds(records: RecordsFeature) -> tuple[str, ...]:
    """The record kinds that carry objectives in a pack with these record kinds."""
    return (*OBJECTIVE_KINDS, records.kpi_results)


def number(value: Any) -> float | None:
    """A finite number from a value a form or pack wrote, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        found = float(value)
    except (TypeError, ValueError):
        return None
    return found if found == found and abs(found) != float("inf") else None


def objective_achievement(objective: Mapping[str, Any]) -> float | None:
    """An objective's achievement in percent (capped), None without an actual or target."""
    try:
        value = kpi_achievement(objective)
    except ScriptError:
        value = None  # an unknown measure type scores nothing rather than failing a page
    if value is None and number(objective.get("actual")) is not None:
        value = number(objective.get("achievement"))
    return value


def aligned_text(aligned: Any) -> str:
    """An objective's `aligned_goal` as the index keeps it: trimmed text that names the same
    goal (engine.performance.goals.linked_goal_id), or "" for one that can name none."""
    if isinstance(aligned, int) and not isinstance(aligned, bool):
        return f"{GOAL_REF}{aligned}"
    if not isinstance(aligned, str):
        return ""
    text = aligned.strip()
    if text.lower().startswith(GOAL_REF):
        text = GOAL_REF + text[len(GOAL_REF):].strip()
    # Longer than any goal's title (255) and its "goal:" prefix: it names no goal.
    return text if len(text) <= ALIGNED_MAX else ""


# --- reading the records ----------------------------------------------------------------------


@dataclass
class CurrentRecords:
    """Per person, the objectives of their newest objectives-bearing record, when it was
    written, and the newest objectives-kind record id seen (with or without objectives)."""

    objectives: dict[int, list[dict[str, Any]]]
    written: dict[int, datetime]
    newest: dict[int, int]


async def current_records(cycle_id: int, person_ids: Iterable[int] | None) -> CurrentRecords:
    """The cycle's objectives records for the people (None: everyone), newest wins."""
    kinds = objective_kinds((await cycle_pack(cycle_id)).features.records)
    query = Record.filter(cycle_id=cycle_id, kind__in=kinds)
    wanted = None if person_ids is None else set(person_ids)
    if wanted is not None and len(wanted) <= MANY_PEOPLE:
        query = query.filter(person_id__in=list(wanted))
    found = CurrentRecords({}, {}, {})
    rows = await query.order_by("id").values_list("id", "person_id", "data", "created_at")
    for record_id, person_id, data, created_at in rows:
        if wanted is not None and person_id not in wanted:
            continue
        found.newest[person_id] = record_id
        objectives = data.get("objectives") if isinstance(data, dict) else None
        if isinstance(objectives, list):
            found.objectives[person_id] = [o for o in objectives if isinstance(o, dict)]
            found.written[person_id] = created_at
    return found


# --- keeping the rows current -----------------------------------------------------------------


# The first key of the PostgreSQL advisory lock that orders a cycle's rebuilds (the second is
# the cycle id). SQLite needs none: its transactions begin IMMEDIATE, one writer at a time.
CYCLE_LOCK = 0x51D1


async def _hold_cycle(connection: Any, cycle_id: int) -> None:
    """Wait for, then hold until the transaction ends, the cycle's rebuild turn."""
    if is_postgres():
        await connection.execute_query("SELECT pg_advisory_xact_lock($1, $2)",
                                       [CYCLE_LOCK, cycle_id])


async def reindex(cycle_id: int, person_ids: Iterable[int] | None = None) -> dict[int, int | None]:
    """Rewrite the rows of the people (None: the whole cycle) from their current objectives
    and latest actuals; per person rebuilt, how many objectives they hold (None: no record
    holds a list). Runs in the caller's transaction when there is one."""
    wanted = None if person_ids is None else set(person_ids)
    if wanted is not None and not wanted:
        return {}
    # What the rows are built from is read inside the transaction that writes them, once no
    # other rebuild or progress update of the cycle is under way: an update committed between
    # the read and the write would otherwise be overwritten with the achievement before it.
    async with in_transaction() as connection:
        await _hold_cycle(connection, cycle_id)
        records = await current_records(cycle_id, wanted)
        overlaid = await with_latest_progress(
            cycle_id, records.objectives, records.written, actuals_only=True
        )
        now = clock.now()
        rows: list[ObjectiveIndex] = []
        sources: list[ObjectiveIndexSource] = []
        counts: dict[int, int | None] = {}
        for pid, record_id in records.newest.items():
            objectives = overlaid.get(pid)
            counts[pid] = None if objectives is None else len(objectives)
            sources.append(ObjectiveIndexSource(
                person_id=pid, cycle_id=cycle_id, record_id=record_id, objectives=counts[pid],
                updated_at=now,
            ))
            for o in objectives or []:
                rows.append(ObjectiveIndex(
                    person_id=pid, cycle_id=cycle_id, objective_key=o["key"],
                    aligned=aligned_text(o.get("aligned_goal")), weight=number(o.get("weight")),
                    achievement=objective_achievement(o),
                    title=str(o.get("title") or "")[:TITLE_MAX], updated_at=now,
                ))
        if wanted is None:
            await ObjectiveIndex.filter(cycle_id=cycle_id).delete()
            await ObjectiveIndexSource.filter(cycle_id=cycle_id).delete()
        else:
            ids = sorted(wanted)
            for first in range(0, len(ids), BATCH):
                chunk = ids[first:first + BATCH]
                await ObjectiveIndex.filter(cycle_id=cycle_id, person_id__in=chunk).delete()
                await ObjectiveIndexSource.filter(cycle_id=cycle_id, person_id__in=chunk).delete()
        await ObjectiveIndex.bulk_create(rows, batch_size=BATCH)
        await ObjectiveIndexSource.bulk_create(sources, batch_size=BATCH)
    return counts


async def reindex_person(person_id: int, cycle_id: int) -> None:
    """Rewrite one person's rows (after an in-year update of their progress)."""
    await reindex(cycle_id, [person_id])


async def rebuild_cycle(cycle_id: int) -> int:
    """Rewrite the whole cycle's rows; how many people hold objectives in it."""
    counts = await reindex(cycle_id, None)
    return sum(1 for n in counts.values() if n is not None)


# The count and the sum of the ids of a cycle's objectives-kind records.
Fingerprint = tuple[int, int]

# Per cycle, its objectives kinds and the fingerprint of those records when its rows were last
# found current by the full check; forgotten on every new connection (another database may
# hold the same cycle id).
_found_current: dict[int, tuple[tuple[str, ...], Fingerprint]] = {}
clears_on_connect(_found_current.clear)


async def _cycle_kinds(cycle_id: int) -> tuple[str, ...]:
    return objective_kinds((await cycle_pack(cycle_id)).features.records)


def _fingerprint_sql(p: Params, cycle_id: int, kinds: Iterable[str]) -> str:
    # Read from the (cycle_id, kind) index alone: it holds each record's id.
    return (
        'SELECT NULL AS "person_id", COUNT(*) AS "records", COALESCE(SUM("id"), 0) AS "ids" '
        f'FROM "record" WHERE "cycle_id" = {p(cycle_id)} AND "kind" IN ({p.many(kinds)})'
    )


async def records_fingerprint(cycle_id: int, kinds: Iterable[str] | None = None) -> Fingerprint:
    """How many objectives-kind records the cycle has and the sum of their ids. Ids are never
    reused (AUTOINCREMENT, sequences): records added and records removed cannot leave both
    numbers as they were, since every added id is larger than every removed one."""
    p = Params()
    sql = _fingerprint_sql(p, cycle_id, kinds or await _cycle_kinds(cycle_id))
    (row,) = await p.rows(sql)
    return int(row["records"]), int(row["ids"])


async def _stale_and_fingerprint(
    cycle_id: int, kinds: Iterable[str] | None = None
) -> tuple[set[int], Fingerprint]:
    """The stale people (see stale_people) and the records' fingerprint, read by one statement,
    so the fingerprint is that of the very records the check compared."""
    kinds = tuple(kinds or await _cycle_kinds(cycle_id))
    p = Params()
    newest = (
        'SELECT "person_id", MAX("id") AS "newest" FROM "record" '
        f'WHERE "cycle_id" = {p(cycle_id)} AND "kind" IN ({p.many(kinds)}) GROUP BY "person_id"'
    )
    # Both ways at once: a person with a newer (or no longer any) record, or without rows.
    # The source table joined as a table, not a subquery: SQLite then looks each person up by
    # its unique index instead of scanning 10,000 rows per person.
    stale = (
        'SELECT COALESCE(r."person_id", s."person_id") AS "person_id", NULL AS "records", '
        f'NULL AS "ids" FROM ({newest}) AS r '
        'FULL OUTER JOIN "objective_index_source" AS s ON s."person_id" = r."person_id" '
        f'AND s."cycle_id" = {p(cycle_id)} '
        f'WHERE (s."cycle_id" = {p(cycle_id)} OR s."cycle_id" IS NULL) '
        'AND r."newest" IS DISTINCT FROM s."record_id"'
    )
    rows = await p.rows(f"{stale} UNION ALL {_fingerprint_sql(p, cycle_id, kinds)}")
    found: Fingerprint = (0, 0)
    people: set[int] = set()
    for row in rows:
        if row["person_id"] is None:
            found = (int(row["records"]), int(row["ids"]))
        else:
            people.add(int(row["person_id"]))
    return people, found


async def stale_people(cycle_id: int) -> set[int]:
    """The people whose rows do not match their records: the newest objectives-kind record id
    differs from the one the rows were built from, or they have rows but no record any more.
    One query that returns nothing when all is current."""
    return (await _stale_and_fingerprint(cycle_id))[0]


async def refresh(cycle_id: int) -> None:
    """Bring the cycle's rows up to date with its records (see the module's docstring): one
    aggregate when the records have not changed since the rows were last found current, the
    full per-person check otherwise."""
    kinds = await _cycle_kinds(cycle_id)
    if _found_current.get(cycle_id) == (kinds, await records_fingerprint(cycle_id, kinds)):
        return
    stale, fingerprint = await _stale_and_fingerprint(cycle_id, kinds)
    if not stale:
        _found_current[cycle_id] = (kinds, fingerprint)
        return
    # Rebuilt now; the next read checks again before it trusts the fingerprint.
    _found_current.pop(cycle_id, None)
    whole = not await ObjectiveIndexSource.filter(cycle_id=cycle_id).exists()
    try:
        await reindex(cycle_id, None if whole else stale)
    except IntegrityError:
        # Another process rebuilt the same people at the same moment, from the same records.
        await reindex(cycle_id, stale)


async def without_objectives(cycle_id: int, people: set[int] | None) -> set[int]:
    """The people (of the set) whose current record holds an empty list of objectives: they
    have no rows but count as people with a plan of none."""
    rows = await ObjectiveIndexSource.filter(cycle_id=cycle_id, objectives=0).values("person_id")
    found = {int(row["person_id"]) for row in rows}
    return found if people is None else found & people


# --- reading the rows -------------------------------------------------------------------------


@dataclass
class Sums:
    """What the weighted-progress rule needs of a set of objectives, summed in the database."""

    objectives: int = 0
    scored: int = 0  # with an achievement
    weighted: int = 0  # with an achievement and a weight
    total_weight: float = 0.0  # of the scored, negative weights counted as 0
    weighted_sum: float = 0.0  # achievement × weight (≥ 0) of the scored
    plain_sum: float = 0.0  # achievement of the scored

    def add(self, other: Sums) -> None:
        self.objectives += other.objectives
        self.scored += other.scored
        self.weighted += other.weighted
        self.total_weight += other.total_weight
        self.weighted_sum += other.weighted_sum
        self.plain_sum += other.plain_sum


_SUMS = (
    'COUNT(*) AS "objectives", COUNT("achievement") AS "scored", '
    'COUNT(CASE WHEN "achievement" IS NOT NULL THEN "weight" END) AS "weighted", '
    'SUM(CASE WHEN "achievement" IS NOT NULL AND "weight" > 0 THEN "weight" ELSE 0 END) '
    'AS "total_weight", '
    'SUM(CASE WHEN "achievement" IS NOT NULL AND "weight" > 0 THEN "achievement" * "weight" '
    'ELSE 0 END) AS "weighted_sum", SUM("achievement") AS "plain_sum"'
)


def _sums(row: Mapping[str, Any]) -> Sums:
    return Sums(
        objectives=int(row["objectives"]), scored=int(row["scored"] or 0),
        weighted=int(row["weighted"] or 0), total_weight=float(row["total_weight"] or 0),
        weighted_sum=float(row["weighted_sum"] or 0), plain_sum=float(row["plain_sum"] or 0),
    )


def _people(p: Params, people: set[int] | None, column: str = '"person_id"') -> str:
    """` AND person in the set` as one parameter (no IN list of thousands), or nothing."""
    if people is None:
        return ""
    if p.postgres:
        return f" AND {column} = ANY({p(sorted(people))}::int[])"
    return f" AND {column} IN (SELECT value FROM json_each({p(json.dumps(sorted(people)))}))"


def weighted_rule(
    scored: int, weighted: int, total_weight: float, weighted_sum: float, plain_sum: float
) -> float | None:
    """engine.performance.goals.weighted_progress from sums: unscored objectives left out,
    equal weights when none of the scored has one, None when nothing is left or the weights
    add up to 0."""
    if not scored:
        return None
    if not weighted:
        return round(plain_sum / scored, 2)
    if total_weight == 0:
        return None
    return round(weighted_sum / total_weight, 2)


async def person_figures(
    cycle_id: int, people: set[int] | None
) -> dict[int, tuple[int, int, float | None]]:
    """Per person (of the set; None: everyone): objectives, those with an achievement, and
    progress. Plain tuples: at 10,000 people every object per row shows on the page's time."""
    p = Params()
    sql = (
        f'SELECT "person_id", {_SUMS} FROM "objective_index" WHERE "cycle_id" = {p(cycle_id)}'
        f'{_people(p, people)} GROUP BY "person_id"'
    )
    _, rows = await connections.get("default").execute_query(sql, p.values)
    return {
        row[0]: (row[1], row[2] or 0, weighted_rule(
            row[2] or 0, row[3] or 0, row[4] or 0.0, row[5] or 0.0, row[6] or 0.0))
        for row in rows
    }


async def aligned_sums(cycle_id: int, people: set[int] | None) -> dict[str, Sums]:
    """Per `aligned` value the sums of the objectives (of the people) that name it."""
    p = Params()
    rows = await p.rows(
        f'SELECT "aligned", {_SUMS} FROM "objective_index" WHERE "cycle_id" = {p(cycle_id)}'
        f'{_people(p, people)} GROUP BY "aligned"'
    )
    return {str(row["aligned"]): _sums(row) for row in rows}


def _scope(p: Params, people: set[int] | None) -> tuple[str, str]:
    """For a statement that filters on the people in several places: a `"seen"` CTE holding
    the set (one parameter, whatever its size) and the `IN` test to append after a column;
    ("", "") for everyone."""
    if people is None:
        return "", ""
    if p.postgres:
        cte = f'"seen"("id") AS (SELECT unnest({p(sorted(people))}::int[]))'
    else:
        cte = f'"seen"("id") AS (SELECT value FROM json_each({p(json.dumps(sorted(people)))}))'
    return cte, ' IN (SELECT "id" FROM "seen")'


def _with(*ctes: str) -> str:
    found = [c for c in ctes if c]
    return f"WITH {', '.join(found)} " if found else ""


@dataclass
class UnitFigures:
    """The people of one org unit (its own, not its sub-units'; None: no unit) as the Goals
    page sums them up: how many, their objectives and those with an achievement, how many
    have progress and the sum of their progress in hundredths of a percent (exact)."""

    unit_id: int | None
    people: int = 0
    objectives: int = 0
    with_actuals: int = 0
    with_progress: int = 0
    hundredths: int = 0

    def add(self, other: UnitFigures) -> None:
        self.people += other.people
        self.objectives += other.objectives
        self.with_actuals += other.with_actuals
        self.with_progress += other.with_progress
        self.hundredths += other.hundredths


# The sums of _SUMS over a person's rows joined as `o` (none: counts 0, sums NULL).
_JOINED = {
    "scored": 'COUNT(o."achievement")',
    "weighted": 'COUNT(CASE WHEN o."achievement" IS NOT NULL THEN o."weight" END)',
    "total_weight": 'SUM(CASE WHEN o."achievement" IS NOT NULL AND o."weight" > 0 '
                    'THEN o."weight" ELSE 0 END)',
    "weighted_sum": 'SUM(CASE WHEN o."achievement" IS NOT NULL AND o."weight" > 0 '
                    'THEN o."achievement" * o."weight" ELSE 0 END)',
    "plain_sum": 'SUM(o."achievement")',
}
# A person's progress before rounding: weighted_rule in SQL, over their rows' sums.
_RAW_PROGRESS = (
    f'(CASE WHEN {_JOINED["scored"]} = 0 THEN NULL '
    f'WHEN {_JOINED["weighted"]} = 0 '
    f'THEN CAST({_JOINED["plain_sum"]} AS DOUBLE PRECISION) / {_JOINED["scored"]} '
    f'WHEN {_JOINED["total_weight"]} = 0 THEN NULL '
    f'ELSE {_JOINED["weighted_sum"]} / {_JOINED["total_weight"]} END)'
)
# A progress SQL cannot round exactly as Python does: within a millionth of a tie (x.xx5) —
# Python's round() works on the exact binary value, half to even — or too large for that
# margin. Such a person comes back alone and is rounded by Python, as weighted_rule rounds.
_ROUNDS_IN_PYTHON = (
    '("raw" IS NOT NULL AND (ABS("raw") >= 1000000 OR ABS("raw" * 100 - "cents") > 0.499999))'
)


def _goal_of_value(p: Params, goal_of: Mapping[str, int]) -> str:
    """An expression giving the goal an objective's `aligned` value names (NULL: none): a tree
    of comparisons over the sorted values (byte order, as Python sorts text), so each row
    costs a handful of comparisons however many goals there are."""
    items = sorted(goal_of.items())
    collate = ' COLLATE "C"' if p.postgres else ""

    def node(part: list[tuple[str, int]]) -> str:
        if len(part) <= 3:
            cases = " ".join(f"WHEN {p(value)} THEN {int(goal)}" for value, goal in part)
            return f'CASE o."aligned" {cases} END'
        middle = len(part) // 2
        pivot = p(part[middle][0])
        return (f'CASE WHEN o."aligned"{collate} < {pivot} THEN {node(part[:middle])} '
                f'ELSE {node(part[middle:])} END')

    return node(items)


@dataclass
class Rollup:
    """What the Goals page sums up of a scope's people in one statement (rollup)."""

    # Per org unit as the person table has it (None: no unit), its own people's figures.
    units: dict[int | None, UnitFigures]
    # Per set of goals named by someone's objectives, how many people name exactly that set.
    goal_sets: dict[frozenset[int], int]


async def rollup(
    cycle_id: int, people: set[int] | None, goal_of: Mapping[str, int] | None = None
) -> Rollup:
    """The people of the scope (None: everyone) whom the tree counts — those with objectives
    in the cycle (rows, or a record holding none) and every active person — summed in the
    database per org unit: each person's progress is worked out and rounded to hundredths
    there (weighted_rule), only sums come back, a few hundred rows for 10,000 people. With
    `goal_of` (`aligned` value → goal id), the same pass gives how many people name each set
    of goals, from which the people naming any group of goals are counted exactly (each
    person once)."""
    # Built in the order the placeholders appear (SQLite's are positional).
    p = Params()
    seen, within = _scope(p, people)
    goals = "NULL"
    if goal_of:
        # Not DISTINCT (a sort per person): a goal named twice comes twice, read as a set.
        named = _goal_of_value(p, goal_of)
        goals = (f"STRING_AGG(CAST({named} AS TEXT), ',')" if p.postgres
                 else f"GROUP_CONCAT({named})")
    # Driven by the person table: each person's rows come by the (person, cycle) index, in
    # person order, so the per-person sums need no sort. Everything per person is worked out
    # in this aggregate, once per person.
    per_person = (
        '"people" AS (SELECT pe."id" AS "person_id", pe."org_unit_id" AS "unit", '
        'pe."active" AS "active", COUNT(o."id") AS "objectives", '
        f'{_JOINED["scored"]} AS "scored", {_RAW_PROGRESS} AS "raw", '
        f'ROUND({_RAW_PROGRESS} * 100) AS "cents", {goals} AS "goals" FROM "person" pe '
        'LEFT JOIN "objective_index" o ON o."person_id" = pe."id" '
        f'AND o."cycle_id" = {p(cycle_id)}'
        + (f' WHERE pe."id"{within}' if within else "")
        + ' GROUP BY pe."id", pe."org_unit_id", pe."active")'
    )
    alone = f'CASE WHEN {_ROUNDS_IN_PYTHON} THEN "person_id" END'
    rows = await p.rows(
        f'{_with(seen, per_person)}SELECT "unit", {alone} AS "alone", "goals", '
        'COUNT(*) AS "people", SUM("objectives") AS "objectives", SUM("scored") AS "scored", '
        f'COUNT(CASE WHEN NOT {_ROUNDS_IN_PYTHON} THEN "raw" END) AS "with_progress", '
        f'SUM(CASE WHEN NOT {_ROUNDS_IN_PYTHON} THEN "cents" END) AS "hundredths", '
        'MAX("raw") AS "raw" FROM "people" '
        # The inactive count only with objectives (or a record holding none).
        'WHERE "objectives" > 0 OR "active" OR EXISTS (SELECT 1 FROM "objective_index_source" s '
        f'WHERE s."person_id" = "people"."person_id" AND s."cycle_id" = {p(cycle_id)} '
        f'AND s."objectives" = 0) GROUP BY "unit", {alone}, "goals"'
    )
    found = Rollup({}, {})
    for row in rows:
        unit = None if row["unit"] is None else int(row["unit"])
        figures = found.units.setdefault(unit, UnitFigures(unit))
        figures.add(UnitFigures(
            unit, people=int(row["people"]), objectives=int(row["objectives"] or 0),
            with_actuals=int(row["scored"] or 0), with_progress=int(row["with_progress"] or 0),
            hundredths=round(float(row["hundredths"] or 0)),
        ))
        if row["alone"] is not None:
            # The division weighted_rule makes, rounded as it rounds (a progress too large
            # to be a number, from absurd achievements, counts as none).
            progress = round(float(row["raw"]), 2)
            if math.isfinite(progress):
                figures.with_progress += 1
                figures.hundredths += round(progress * 100)
        if row["goals"] is not None:
            key = frozenset(int(goal) for goal in str(row["goals"]).split(","))
            found.goal_sets[key] = found.goal_sets.get(key, 0) + int(row["people"])
    return found


@dataclass(frozen=True)
class ContributorRow:
    """An objective naming a goal: whose, its title, how far."""

    group: int
    person_id: int
    title: str
    achievement: float | None


# A goal named by more objectives than this has its first contributors looked for among the
# first people by name (FIRST_PEOPLE of them) before all its objectives are read.
MANY_CONTRIBUTORS = 200
FIRST_PEOPLE = 200


async def first_contributors(
    cycle_id: int, groups: Mapping[int, Iterable[str]], people: set[int] | None, limit: int,
    sizes: Mapping[int, int] | None = None,
) -> list[ContributorRow]:
    """Per group (a goal and the values that name it), the first `limit` objectives naming it,
    ordered by their person's name (LOWER, the database's collation), person id and title.

    A group of at most MANY_CONTRIBUTORS objectives (`sizes`: how many name each group) is
    read with its own `ORDER BY … LIMIT`. A larger one first looks among the objectives of the
    first FIRST_PEOPLE people of the scope in that same order: once `limit` of them name the
    group, they are its first — everyone else comes after them — and its thousands of other
    objectives are never read. Only a group not found there is read whole."""
    if limit <= 0:
        return []
    wanted = {group: sorted(set(values)) for group, values in groups.items() if values}
    found: list[ContributorRow] = []
    large = {g for g in wanted if sizes is not None and sizes.get(g, 0) > MANY_CONTRIBUTORS}
    if large:
        among_first = await _contributors_among_first(cycle_id, {g: wanted[g] for g in large},
                                                      people, limit)
        for group, rows in among_first.items():
            if len(rows) >= limit:
                found += rows[:limit]
                del wanted[group]
    if wanted:
        found += await _contributors_of(cycle_id, wanted, people, limit)
    return found


async def _contributors_among_first(
    cycle_id: int, groups: Mapping[int, list[str]], people: set[int] | None, limit: int
) -> dict[int, list[ContributorRow]]:
    """Per group, the objectives naming it of the first FIRST_PEOPLE people of the scope by
    name, in contributor order."""
    p = Params()
    seen, within = _scope(p, people)
    group_of = {value: group for group, values in groups.items() for value in values}
    first = (
        '"first_people" AS (SELECT pe."id", pe."name" FROM "person" pe'
        + (f' WHERE pe."id"{within}' if within else "")
        + f' ORDER BY LOWER(pe."name"), pe."id" LIMIT {FIRST_PEOPLE})'
    )
    rows = await p.rows(
        f'{_with(seen, first)}SELECT o."aligned", o."person_id", o."title", o."achievement" '
        'FROM "first_people" fp JOIN "objective_index" o ON o."person_id" = fp."id" '
        f'WHERE o."cycle_id" = {p(cycle_id)} AND o."aligned" IN ({p.many(sorted(group_of))}) '
        'ORDER BY LOWER(fp."name"), o."person_id", o."title"'
    )
    found: dict[int, list[ContributorRow]] = {group: [] for group in groups}
    for r in rows:
        group = group_of[str(r["aligned"])]
        found[group].append(ContributorRow(group, int(r["person_id"]), str(r["title"]),
                                           r["achievement"]))
    return found


async def _contributors_of(
    cycle_id: int, groups: Mapping[int, list[str]], people: set[int] | None, limit: int
) -> list[ContributorRow]:
    """Per group, its first `limit` objectives: one `ORDER BY … LIMIT` each, so each keeps
    `limit` rows as it reads instead of ranking every objective of the cycle."""
    p = Params()
    seen, within = _scope(p, people)
    parts: list[str] = []
    for group, values in groups.items():
        parts.append(
            f'SELECT * FROM (SELECT {int(group)} AS "g", o."person_id", o."title", '
            'o."achievement" FROM "objective_index" o JOIN "person" pe ON pe."id" = o."person_id" '
            f'WHERE o."cycle_id" = {p(cycle_id)} AND o."aligned" IN ({p.many(values)})'
            + (f' AND o."person_id"{within}' if within else "")
            + f' ORDER BY LOWER(pe."name"), o."person_id", o."title" LIMIT {int(limit)}) '
            f'AS "first{len(parts)}"'
        )
    rows = await p.rows(_with(seen) + " UNION ALL ".join(parts))
    return [
        ContributorRow(int(r["g"]), int(r["person_id"]), str(r["title"]), r["achievement"])
        for r in rows
    ]
