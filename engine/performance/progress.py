"""In-year progress: an objective's KPI actual and status (on track / at risk / off track),
updated whenever its owner likes, kept as history and rolled up at once.

Every update is a KpiUpdate row (the history behind a score card's sparkline) and an upsert of
the objective's ObjectiveStatus row (its latest state, what roll-ups and dashboards read —
engine.performance.latest_progress), written in one transaction. The web page, `sightline kpi
import` and the API all go through `check_updates` and `record_updates`: one validation.

Who may update: the objective's owner (the person) and any manager above them. Managers often
type what was said in a 1:1; each update records who made it, so the history says so.
An update needs the cycle open: no final rating recorded for the person in it yet (after the
year-end the actuals are the appraisal's).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.errors import EngineError, NotAllowed, NotFound
from engine.base.models import Cycle, HumanTask, KpiUpdate, ObjectiveStatus, Record
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance import objective_index
from engine.performance.deployed_pack import cycle_pack
from engine.performance.goals import current_objectives
from engine.performance.latest_progress import (
    COMMENT_FIELD,
    MANY_PEOPLE,
    STATUS_FIELD,
    LatestProgress,
    latest_progress,
)
from engine.performance.objectives import objective_key
from engine.workflow import runtime
from engine.workflow.access import SeesSubjects, visible_subject_ids

STATUSES = ("on_track", "at_risk", "off_track")
STATUS_LABELS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"}
SOURCES = ("web", "import", "api")
COMMENT_MAX = 1000
# A KPI actual beyond this is a typing slip, not a measurement (and beyond what every
# database stores exactly).
ACTUAL_LIMIT = 1e15
# The history a score card draws (a year of weekly updates, and then some).
HISTORY_LIMIT = 120


class ProgressError(EngineError):
    """An update that cannot be recorded as given (unknown objective, bad actual …)."""


@dataclass(frozen=True)
class UpdateRequest:
    """One update as someone typed or imported it: the objective by key (or exact title)."""

    person_id: int
    cycle_id: int
    objective: str
    actual: Any = None  # a number, text to read as one, or None/"" to keep the latest
    status: str = ""  # "" keeps the latest
    comment: str = ""


@dataclass(frozen=True)
class CheckedUpdate:
    """An update that passed every check, ready to write."""

    person_id: int
    cycle_id: int
    objective_key: str
    title: str
    actual: float | None
    status: str
    comment: str


@dataclass(frozen=True)
class HistoryPoint:
    """One update as it was made."""

    actual: float | None
    status: str
    comment: str
    source: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class AtRisk:
    """An objective of a visible person whose latest status is at risk or off track."""

    person_id: int
    person_name: str
    person_key: str
    objective_key: str
    title: str
    status: str
    actual: float | None
    comment: str
    updated_at: datetime
    updated_by: str


def status_label(status: str) -> str:
    """"At risk" for at_risk; "" when no status was set."""
    return STATUS_LABELS.get(status, "")


def parse_actual(value: Any) -> float | None:
    """The actual as a number (None for blank); ProgressError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ProgressError("the actual must be a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = "".join(str(value).split())
        # 1,234.5 has a thousands separator; 12,5 a decimal comma.
        text = text.replace(",", "") if "." in text else text.replace(",", ".")
        try:
            number = float(Decimal(text))
        except (InvalidOperation, ValueError):
            raise ProgressError(f"the actual must be a number, not “{value}”") from None
    if not math.isfinite(number):
        raise ProgressError("the actual must be a finite number")
    if abs(number) >= ACTUAL_LIMIT:
        raise ProgressError("the actual is too large to be a KPI value")
    return number


def may_update(viewer_id: int, person_id: int, directory: DirectorySnapshot) -> bool:
    """The owner of the objectives, or a manager above them."""
    return viewer_id == person_id or directory.is_manager_of(viewer_id, person_id, indirect=True)


async def _closed_people(cycle_id: int, person_ids: Iterable[int]) -> set[int]:
    """Those with a final rating recorded in the cycle: their actuals are the appraisal's."""
    kinds = (await cycle_pack(cycle_id)).features.records
    ids = list(person_ids)
    rows: list[int] = await Record.filter(  # type: ignore[assignment]
        cycle_id=cycle_id, kind=kinds.final_rating, person_id__in=ids
    ).values_list("person_id", flat=True)
    return set(rows)


def _match(objectives: list[dict[str, Any]], wanted: str) -> dict[str, Any] | str:
    """The objective a key or exact title names, or why none does."""
    text = wanted.strip()
    for row in objectives:
        if row["key"] == text:
            return row
    titled = [r for r in objectives if str(r.get("title") or "").strip().casefold()
              == text.casefold()]
    if len(titled) == 1:
        return titled[0]
    if len(titled) > 1:
        return f"several objectives are titled “{text}”: name it by its key"
    return f"no objective “{text}” among the person's objectives of this cycle"


async def check_updates(
    requests: Sequence[UpdateRequest],
) -> tuple[list[CheckedUpdate], list[tuple[int, str]]]:
    """Every request checked (objective among the person's current objectives of the cycle,
    actual a finite number, status known, comment bounded, cycle open): the checked updates,
    and (index, message) for each request that fails."""
    checked: list[CheckedUpdate] = []
    errors: list[tuple[int, str]] = []
    by_cycle: dict[int, set[int]] = {}
    for r in requests:
        by_cycle.setdefault(r.cycle_id, set()).add(r.person_id)
    objectives: dict[tuple[int, int], list[dict[str, Any]]] = {}
    closed: set[tuple[int, int]] = set()
    for cycle_id, people in by_cycle.items():
        for pid, rows in (await current_objectives(cycle_id, people)).items():
            objectives[(cycle_id, pid)] = rows
        closed |= {(cycle_id, pid) for pid in await _closed_people(cycle_id, people)}
    for n, r in enumerate(requests):
        try:
            checked.append(_check_one(r, objectives.get((r.cycle_id, r.person_id)), closed))
        except ProgressError as error:
            errors.append((n, str(error)))
    return checked, errors


def _check_one(
    r: UpdateRequest, objectives: list[dict[str, Any]] | None, closed: set[tuple[int, int]]
) -> CheckedUpdate:
    if objectives is None:
        raise ProgressError("the person has no objectives recorded in this cycle")
    if (r.cycle_id, r.person_id) in closed:
        raise ProgressError("the cycle is closed for this person: the final rating is recorded")
    found = _match(objectives, r.objective)
    if isinstance(found, str):
        raise ProgressError(found)
    actual = parse_actual(r.actual)
    status = (r.status or "").strip().lower().replace(" ", "_").replace("-", "_")
    if status and status not in STATUSES:
        raise ProgressError(
            f"the status must be on track, at risk or off track, not “{r.status}”"
        )
    comment = (r.comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ProgressError(f"keep the comment under {COMMENT_MAX} characters")
    if actual is None and not status:
        raise ProgressError("give an actual or a status (or both)")
    return CheckedUpdate(
        person_id=r.person_id,
        cycle_id=r.cycle_id,
        objective_key=objective_key(found),
        title=str(found.get("title") or "")[:255],
        actual=actual,
        status=status,
        comment=comment,
    )


async def record_updates(updates: Sequence[CheckedUpdate], by: str, source: str) -> int:
    """Write checked updates — history rows and latest states — in one transaction."""
    if source not in SOURCES:
        raise ProgressError(f"unknown source {source!r}")
    if not updates:
        return 0
    for attempt in range(2):
        try:
            async with in_transaction():
                now = clock.now()
                for n, u in enumerate(updates):
                    # Updates of one batch keep their order in the history.
                    await _write(u, by, source, now + timedelta(microseconds=n))
                await _reindex(updates)
            return len(updates)
        except IntegrityError:
            if attempt:  # two first updates of one objective at once: the second retries
                raise
    return len(updates)


async def _reindex(updates: Iterable[CheckedUpdate]) -> None:
    """Rewrite the goal roll-ups' rows of the people updated (in the caller's transaction), so
    the Goals page moves with the update."""
    people: dict[int, set[int]] = {}
    for u in updates:
        people.setdefault(u.cycle_id, set()).add(u.person_id)
    for cycle_id, ids in sorted(people.items()):  # cycles in one order: no two wait on each other
        await objective_index.reindex(cycle_id, ids)


async def _write(u: CheckedUpdate, by: str, source: str, now: datetime) -> None:
    row = await ObjectiveStatus.filter(
        person_id=u.person_id, cycle_id=u.cycle_id, objective_key=u.objective_key
    ).select_for_update().first()
    actual = u.actual if u.actual is not None else (row.actual if row else None)
    status = u.status or (row.status if row else "")
    await KpiUpdate.create(
        person_id=u.person_id, cycle_id=u.cycle_id, objective_key=u.objective_key,
        actual=actual, status=status, comment=u.comment, source=source,
        created_at=now, created_by=by,
    )
    if row is None:
        await ObjectiveStatus.create(
            person_id=u.person_id, cycle_id=u.cycle_id, objective_key=u.objective_key,
            title=u.title, actual=actual, status=status, comment=u.comment, updates=1,
            updated_at=now, updated_by=by,
        )
    else:
        row.title, row.actual, row.status, row.comment = u.title, actual, status, u.comment
        row.updates += 1
        row.updated_at, row.updated_by = now, by
        await row.save()


async def record_update(
    viewer: SeesSubjects,
    person_id: int,
    cycle_id: int,
    objective: str,
    *,
    actual: Any = None,
    status: str = "",
    comment: str = "",
    source: str = "web",
) -> LatestProgress:
    """One update by a person (the owner or a manager above them); the objective's new state."""
    directory = await current_directory()
    person = directory.people.get(person_id)
    if person is None:
        raise NotFound(f"no person {person_id}")
    if not may_update(viewer.person_id, person_id, directory):
        raise NotAllowed("only the objective's owner or their managers may update its progress")
    request = UpdateRequest(person_id, cycle_id, objective, actual, status, comment)
    checked, errors = await check_updates([request])
    if errors:
        raise ProgressError(errors[0][1])
    me = directory.people.get(viewer.person_id)
    await record_updates(checked, me.key if me else str(viewer.person_id), source)
    latest = await latest_progress(cycle_id, [person_id])
    return latest[(person_id, checked[0].objective_key)]


async def history(person_id: int, cycle_id: int, key: str) -> list[HistoryPoint]:
    """An objective's updates, oldest first (the newest HISTORY_LIMIT of them)."""
    rows = await KpiUpdate.filter(
        person_id=person_id, cycle_id=cycle_id, objective_key=key
    ).order_by("-created_at", "-id").limit(HISTORY_LIMIT).values_list(
        "actual", "status", "comment", "source", "created_at", "created_by"
    )
    return [HistoryPoint(*row) for row in reversed(rows)]


async def histories(
    person_id: int, cycle_id: int, keys: Iterable[str]
) -> dict[str, list[HistoryPoint]]:
    """The history of each of a person's objectives (one query)."""
    wanted = list(keys)
    found: dict[str, list[HistoryPoint]] = {k: [] for k in wanted}
    if not wanted:
        return found
    rows = await KpiUpdate.filter(
        person_id=person_id, cycle_id=cycle_id, objective_key__in=wanted
    ).order_by("created_at", "id").values_list(
        "objective_key", "actual", "status", "comment", "source", "created_at", "created_by"
    )
    for key, *rest in rows:
        found[key].append(HistoryPoint(*rest))
    return {k: v[-HISTORY_LIMIT:] for k, v in found.items()}


async def latest_actuals(
    cycle_id: int, person_ids: Iterable[int]
) -> dict[tuple[int, str], LatestProgress]:
    """The latest state of every objective of these people (one query)."""
    return await latest_progress(cycle_id, person_ids)


async def team_at_risk(
    viewer: SeesSubjects, cycle_id: int, person_ids: Iterable[int] | None = None
) -> list[AtRisk]:
    """Objectives at risk or off track of the people the viewer may see (optionally only
    these people): off track first, then the oldest update first."""
    directory = await current_directory()
    visible = visible_subject_ids(viewer, directory)
    query = ObjectiveStatus.filter(cycle_id=cycle_id, status__in=("at_risk", "off_track"))
    chosen = set(person_ids) if person_ids is not None else None
    if chosen is not None and len(chosen) <= MANY_PEOPLE:
        query = query.filter(person_id__in=list(chosen))
    rows = await query.values_list(
        "person_id", "objective_key", "title", "status", "actual", "comment", "updated_at",
        "updated_by",
    )
    found = []
    for pid, key, title, status, actual, comment, updated_at, updated_by in rows:
        if (visible is not None and pid not in visible) or (chosen is not None
                                                            and pid not in chosen):
            continue
        person = directory.people.get(pid)
        found.append(AtRisk(
            person_id=pid, person_name=person.name if person else f"#{pid}",
            person_key=person.key if person else "", objective_key=key, title=title,
            status=status, actual=actual, comment=comment, updated_at=updated_at,
            updated_by=updated_by,
        ))
    found.sort(key=lambda a: (a.status != "off_track", a.person_name, a.title))
    return found


def progress_by_key(
    person_id: int, latest: Mapping[tuple[int, str], LatestProgress]
) -> dict[str, LatestProgress]:
    """One person's latest states by objective key."""
    return {key: row for (pid, key), row in latest.items() if pid == person_id}


# --- what the score card shows -----------------------------------------------------------------


@dataclass
class ObjectiveProgress:
    """One objective with its latest in-year state and the updates behind it."""

    key: str
    title: str
    kpi: str
    target: Any
    actual: float | None
    status: str
    status_label: str
    comment: str
    updated_at: datetime | None
    updated_by: str
    history: list[HistoryPoint]


@dataclass
class ProgressCard:
    """A person's in-year progress in a cycle, and what the viewer may do with it."""

    person_id: int
    cycle_id: int
    may_update: bool
    closed: bool
    objectives: list[ObjectiveProgress]


async def progress_card(person_id: int, cycle_id: int, viewer: SeesSubjects) -> ProgressCard:
    """The person's objectives of the cycle with their progress (the caller has checked that
    the viewer may see the person)."""
    directory = await current_directory()
    rows = (await current_objectives(cycle_id, [person_id])).get(person_id, [])
    latest = progress_by_key(person_id, await latest_progress(cycle_id, [person_id]))
    keys = [objective_key(r) for r in rows]
    past = await histories(person_id, cycle_id, keys)
    closed = bool(await _closed_people(cycle_id, [person_id]))
    items = []
    for row, key in zip(rows, keys, strict=True):
        now = latest.get(key)
        items.append(ObjectiveProgress(
            key=key,
            title=str(row.get("title") or ""),
            kpi=str(row.get("kpi") or ""),
            target=row.get("target"),
            actual=parse_or_none(row.get("actual")),
            status=now.status if now else "",
            status_label=status_label(now.status) if now else "",
            comment=now.comment if now else "",
            updated_at=now.updated_at if now else None,
            updated_by=_name(directory, now.updated_by) if now else "",
            history=[replace(p, created_by=_name(directory, p.created_by))
                     for p in past.get(key, [])],
        ))
    return ProgressCard(
        person_id=person_id,
        cycle_id=cycle_id,
        may_update=bool(rows) and not closed and may_update(viewer.person_id, person_id,
                                                           directory),
        closed=closed,
        objectives=items,
    )


def _name(directory: DirectorySnapshot, key: str) -> str:
    """Who made an update, by name (their key when they left the directory)."""
    person = directory.person(key) if key else None
    return person.name if person else key


def parse_or_none(value: Any) -> float | None:
    """A stored actual as a number, None when it is none."""
    try:
        return parse_actual(value)
    except ProgressError:
        return None


# --- changing objectives during the year ------------------------------------------------------

# What an objective gains from its progress: not part of the objectives someone proposes.
_PROGRESS_FIELDS = ("actual", STATUS_FIELD, COMMENT_FIELD)


async def start_objective_change(actor: runtime.Actor, person_id: int, cycle_id: int) -> int:
    """Start the pack's objectives change process for the person (prefilled with their current
    objectives, keys kept) and return its first step — or the step of the proposal already
    open, rather than a second one."""
    features = (await cycle_pack(cycle_id)).features.progress
    if actor.person_id != person_id:
        raise NotAllowed("only the person may propose a change to their objectives")
    open_step = await HumanTask.filter(
        process_id=features.change_process, bpmn_id=features.propose_task,
        assignee_id=person_id, status="ready",
    ).order_by("-id").first()
    if open_step is not None:
        return open_step.id
    rows = (await current_objectives(cycle_id, [person_id])).get(person_id)
    if not rows:
        raise ProgressError("there are no objectives in this cycle to change yet")
    if await _closed_people(cycle_id, [person_id]):
        raise ProgressError("the cycle is closed: the final rating is recorded")
    proposal = [{k: v for k, v in row.items() if k not in _PROGRESS_FIELDS} for row in rows]
    instance = await runtime.start_process(
        features.change_process, subject=person_id, actor=actor, cycle_id=cycle_id,
        data={"objectives": proposal},
    )
    step = await HumanTask.get_or_none(
        instance_id=instance.id, bpmn_id=features.propose_task, status="ready"
    )
    if step is None:
        raise EngineError("the objectives change process did not start as expected")
    return step.id


# --- importing actuals from other systems -------------------------------------------------------

IMPORT_COLUMNS = ("employee", "objective", "actual", "status", "comment", "cycle")


@dataclass
class ImportReport:
    """What an import did: updates recorded (or that would be, on a dry run), errors by line."""

    recorded: int = 0
    dry_run: bool = False
    errors: list[tuple[int, str]] = field(default_factory=list)

    def __str__(self) -> str:
        if self.errors:
            lines = [f"line {n}: {message}" for n, message in self.errors]
            return "\n".join([*lines, f"{len(self.errors)} bad rows: nothing imported"])
        verb = "would record" if self.dry_run else "recorded"
        return f"{verb} {self.recorded} progress update{'s' if self.recorded != 1 else ''}"


async def _default_cycles(person_ids: set[int]) -> dict[int, int]:
    """Per person, the newest cycle in which they have objectives (the open one)."""
    kinds = ("objectives", "midyear_checkin", "kpi_results")
    rows = await Record.filter(
        person_id__in=list(person_ids), kind__in=kinds, cycle_id__not_isnull=True
    ).values_list("person_id", "cycle_id")
    found: dict[int, int] = {}
    for pid, cycle_id in rows:
        found[pid] = max(found.get(pid, 0), cycle_id)
    return found


async def import_actuals(text: str, *, dry_run: bool = False, by: str = "import") -> ImportReport:
    """Load KPI actuals from CSV (employee, objective, actual[, status, comment, cycle]):
    every row is checked as a web update is; any bad row and nothing is imported."""
    report = ImportReport(dry_run=dry_run)
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in ("employee", "objective", "actual") if c not in columns]
    if missing:
        report.errors.append((1, f"the header lacks {', '.join(missing)} (columns: "
                                 f"{', '.join(IMPORT_COLUMNS)})"))
        return report
    directory = await current_directory()
    cycles = {c.name.casefold(): c.id for c in await Cycle.all()}
    rows: list[tuple[int, dict[str, str]]] = []
    for n, raw in enumerate(reader, start=2):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        if any(row.values()):
            rows.append((n, row))
    people = {n: directory.person(row.get("employee", "")) for n, row in rows}
    defaults = await _default_cycles({p.id for p in people.values() if p is not None})
    requests: list[UpdateRequest] = []
    lines: list[int] = []
    for n, row in rows:
        person = people[n]
        if person is None:
            report.errors.append((n, f"no employee “{row.get('employee', '')}”"))
            continue
        named = row.get("cycle", "")
        cycle_id = (cycles.get(named.casefold()) or (int(named) if named.isdigit() else None)
                    if named else defaults.get(person.id))
        if cycle_id is None:
            report.errors.append((n, f"no cycle “{named}”" if named
                                  else f"{person.name} has no objectives in any cycle"))
            continue
        if not row.get("actual"):
            report.errors.append((n, "the actual is missing"))
            continue
        requests.append(UpdateRequest(person.id, cycle_id, row.get("objective", ""),
                                      row["actual"], row.get("status", ""),
                                      row.get("comment", "")))
        lines.append(n)
    checked, errors = await check_updates(requests)
    report.errors.extend((lines[i], message) for i, message in errors)
    report.errors.sort()
    if report.errors:
        return report
    report.recorded = len(checked)
    if not dry_run:
        await record_updates(checked, by, "import")
    return report


# --- the demo -----------------------------------------------------------------------------------


async def seed_demo_progress(
    cycle_id: int, manager_key: str, at_risk_key: str, weeks: int = 4
) -> int:
    """A few weeks of progress for the manager's reports (the demo): steady progress towards
    each target, and one person's second objective slipping to at risk. The newest update is
    now, so it is newer than the objectives it updates. Returns the updates written."""
    directory = await current_directory()
    manager = directory.person(manager_key)
    if manager is None:
        return 0
    reports = directory.reports_of(manager.id)
    objectives = await current_objectives(cycle_id, reports)
    now = clock.now()
    written = 0
    async with in_transaction():
        for pid, rows in objectives.items():
            person = directory.people[pid]
            for n, row in enumerate(rows):
                target = parse_or_none(row.get("target")) or 1.0
                baseline = parse_or_none(row.get("baseline")) or 0.0
                slipping = person.key == at_risk_key and n == 1
                for week in range(weeks):
                    share = (week + 1) / (weeks * 2) * (0.5 if slipping else 1.0)
                    late = slipping and week >= weeks - 2
                    update = CheckedUpdate(
                        person_id=pid, cycle_id=cycle_id, objective_key=objective_key(row),
                        title=str(row.get("title") or "")[:255],
                        actual=round(baseline + (target - baseline) * share, 2),
                        status="at_risk" if late else "on_track",
                        comment="Waiting on the vendor's API; asked for help in our 1:1."
                        if late and week == weeks - 1 else "",
                    )
                    when = now - timedelta(weeks=weeks - 1 - week) + timedelta(microseconds=n)
                    await _write(update, person.key, "web", when)
                    written += 1
        await objective_index.reindex(cycle_id, objectives.keys())
    return written
