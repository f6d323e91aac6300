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
  two narrow integer columns, never the records' JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.db import Params
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


async def reindex(cycle_id: int, person_ids: Iterable[int] | None = None) -> dict[int, int | None]:
    """Rewrite the rows of the people (None: the whole cycle) from their current objectives
    and latest actuals; per person rebuilt, how many objectives they hold (None: no record
    holds a list). Runs in the caller's transaction when there is one."""
    wanted = None if person_ids is None else set(person_ids)
    if wanted is not None and not wanted:
        return {}
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
                achievement=objective_achievement(o), title=str(o.get("title") or "")[:TITLE_MAX],
                updated_at=now,
            ))
    async with in_transaction():
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


async def stale_people(cycle_id: int) -> set[int]:
    """The people whose rows do not match their records: the newest objectives-kind record id
    differs from the one the rows were built from, or they have rows but no record any more.
    One query that returns nothing when all is current."""
    kinds = objective_kinds((await cycle_pack(cycle_id)).features.records)
    p = Params()
    newest = (
        'SELECT "person_id", MAX("id") AS "newest" FROM "record" '
        f'WHERE "cycle_id" = {p(cycle_id)} AND "kind" IN ({p.many(kinds)}) GROUP BY "person_id"'
    )
    # Both ways at once: a person with a newer (or no longer any) record, or without rows.
    # The source table joined as a table, not a subquery: SQLite then looks each person up by
    # its unique index instead of scanning 10,000 rows per person.
    rows = await p.rows(
        f'SELECT COALESCE(r."person_id", s."person_id") AS "person_id" FROM ({newest}) AS r '
        'FULL OUTER JOIN "objective_index_source" AS s ON s."person_id" = r."person_id" '
        f'AND s."cycle_id" = {p(cycle_id)} '
        f'WHERE (s."cycle_id" = {p(cycle_id)} OR s."cycle_id" IS NULL) '
        'AND r."newest" IS DISTINCT FROM s."record_id"'
    )
    return {int(row["person_id"]) for row in rows}


async def refresh(cycle_id: int) -> None:
    """Bring the cycle's rows up to date with its records (see the module's docstring)."""
    stale = await stale_people(cycle_id)
    if not stale:
        return
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


async def people_naming(
    cycle_id: int, groups: Mapping[int, Iterable[str]], people: set[int] | None
) -> dict[int, int]:
    """Per group (a goal and the values naming it or its open sub-goals), how many distinct
    people (of the set) have an objective naming one of its values."""
    p = Params()
    parts = []
    for group, values in groups.items():
        wanted = sorted(set(values))
        if wanted:
            parts.append(
                f'SELECT {int(group)} AS "g", "person_id" FROM "objective_index" '
                f'WHERE "cycle_id" = {p(cycle_id)} AND "aligned" IN ({p.many(wanted)})'
                f'{_people(p, people)}'
            )
    if not parts:
        return {}
    rows = await p.rows(
        f'SELECT "g", COUNT(DISTINCT "person_id") AS "n" FROM ({" UNION ALL ".join(parts)}) '
        'AS "linked" GROUP BY "g"'
    )
    return {int(row["g"]): int(row["n"]) for row in rows}


@dataclass(frozen=True)
class ContributorRow:
    """An objective naming a goal: whose, its title, how far."""

    group: int
    person_id: int
    title: str
    achievement: float | None


async def first_contributors(
    cycle_id: int, groups: Mapping[int, Iterable[str]], people: set[int] | None, limit: int
) -> list[ContributorRow]:
    """Per group (a goal and the values that name it), the first `limit` objectives naming it,
    by their person's name (row_number() over each group)."""
    p = Params()
    cases = []
    wanted: set[str] = set()
    for group, values in groups.items():
        for value in sorted(set(values)):
            cases.append(f"WHEN {p(value)} THEN {int(group)}")
            wanted.add(value)
    if not cases:
        return []
    person = 'o."person_id"'
    rows = await p.rows(
        'SELECT "g", "person_id", "title", "achievement" FROM ('
        'SELECT "named".*, ROW_NUMBER() OVER (PARTITION BY "g" '
        'ORDER BY LOWER("name"), "person_id", "title") AS "n" FROM ('
        f'SELECT CASE o."aligned" {" ".join(cases)} END AS "g", o."person_id", o."title", '
        'o."achievement", pe."name" '
        'FROM "objective_index" o JOIN "person" pe ON pe."id" = o."person_id" '
        f'WHERE o."cycle_id" = {p(cycle_id)} AND o."aligned" IN ({p.many(sorted(wanted))})'
        f'{_people(p, people, person)}) AS "named"'
        f') AS "ranked" WHERE "n" <= {int(limit)}'
    )
    return [
        ContributorRow(int(r["g"]), int(r["person_id"]), str(r["title"]), r["achievement"])
        for r in rows
    ]
