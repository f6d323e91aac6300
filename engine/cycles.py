"""Cycles: HR launches a process for a population, one instance per employee, all or nothing.

A launch prepares every instance in memory first (SpiffWorkflow runs each to its first wait;
that is nearly all of the work) and only then writes them, chunk by chunk, inside ONE
transaction: a failure anywhere leaves no instance, task, email or audit row behind. Preparing
outside the transaction matters on SQLite, where an open transaction holds the one connection
and every other request would wait for it.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from engine import runtime
from engine.definitions import Deployed, latest
from engine.directory import DirectorySnapshot, PersonInfo, current_directory
from engine.errors import Conflict, EngineError, NotAllowed, NotFound
from engine.models import Cycle, ProcessDefinition, ProcessInstance, Record
from engine.packs import parse_start_data
from engine.records import start_data_for
from engine.store import Batch, Ref, apply

# Instances written per database call: big enough that the thread hop is amortised, small
# enough that progress moves and one batch's memory stays modest.
CHUNK_SIZE = 500
RECORD_QUERY_SIZE = 5000
# Statuses of an instance that is finished: anything else counts as open for a relaunch.
CLOSED = ("completed", "cancelled")

Progress = Callable[[int, int], Any]


@dataclass(frozen=True)
class Population:
    """Who a launch is for: an org unit (with or without sub-units), a job family, or a list."""

    unit: str | None = None
    include_subunits: bool = True
    job_family: str | None = None
    keys: tuple[str, ...] = ()

    @classmethod
    def of_unit(cls, code: str, include_subunits: bool = True) -> Population:
        """Everyone in the org unit with this code (and below it, by default)."""
        return cls(unit=code, include_subunits=include_subunits)

    @classmethod
    def of_job_family(cls, job_family: str) -> Population:
        """Everyone in a job family."""
        return cls(job_family=job_family)

    @classmethod
    def of_people(cls, keys: Iterable[str]) -> Population:
        """An explicit list of employee ids (keys), in the order given, duplicates dropped."""
        return cls(keys=tuple(dict.fromkeys(k.strip() for k in keys if k.strip())))

    def describe(self, directory: DirectorySnapshot | None = None) -> str:
        """The population in words, e.g. "Engineering (ENG) and its sub-units"."""
        if self.unit is not None:
            unit = directory.unit_by_code(self.unit) if directory else None
            name = f"{unit.name} ({unit.code})" if unit else self.unit
            return f"{name} and its sub-units" if self.include_subunits else f"{name} only"
        if self.job_family is not None:
            return f"job family {self.job_family}"
        return f"{len(self.keys)} listed employee(s)"

    def resolve(self, directory: DirectorySnapshot) -> list[PersonInfo]:
        """The active people of the population; an unknown unit or key is an EngineError."""
        if self.unit is not None:
            unit = directory.unit_by_code(self.unit)
            if unit is None:
                raise NotFound(f"no org unit with code '{self.unit}'")
            return directory.people_in_unit(unit.id, include_subunits=self.include_subunits)
        if self.job_family is not None:
            return directory.people_with_job_family(self.job_family)
        if not self.keys:
            raise EngineError("the population is empty: give a unit, a job family or employee ids")
        unknown = [k for k in self.keys if directory.person(k) is None]
        if unknown:
            raise NotFound(f"unknown employee id(s): {', '.join(unknown)}")
        people = [directory.person(k) for k in self.keys]
        return [p for p in people if p is not None and p.active]


@dataclass
class LaunchReport:
    """What a launch did: the cycle, who got an instance and who was skipped (by name)."""

    cycle_id: int
    cycle_name: str
    process_id: str
    process_title: str
    population: str
    instance_ids: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Names of people whose new instance stopped on an error at once (HR retries them).
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def started(self) -> int:
        """How many instances the launch started."""
        return len(self.instance_ids)

    def summary_lines(self, names_shown: int = 10) -> list[str]:
        """The report for a terminal: counts, then the first names of those skipped."""
        lines = [
            f"cycle '{self.cycle_name}': {self.process_title} for {self.population}",
            f"started {self.started} instance(s) in {self.seconds:.1f}s",
        ]
        if self.skipped:
            lines.append(
                f"skipped {len(self.skipped)} with an open instance already: "
                + names_list(self.skipped, names_shown)
            )
        if self.errors:
            lines.append(
                f"{len(self.errors)} stopped on an error at once (retry them from the "
                "instance page): " + names_list(self.errors, names_shown)
            )
        return lines


def names_list(names: list[str], shown: int = 10) -> str:
    """"A, B, C and 12 more"."""
    text = ", ".join(names[:shown])
    if len(names) > shown:
        text += f" and {len(names) - shown} more"
    return text


async def _open_subjects(cycle_id: int, process_id: str) -> set[int]:
    """Subjects with an open instance of the process in the cycle (one query for everyone)."""
    rows = (
        await ProcessInstance.filter(cycle_id=cycle_id, process_id=process_id)
        .exclude(status__in=CLOSED)
        .values("subject_id")
    )
    return {r["subject_id"] for r in rows if r["subject_id"] is not None}


def _check_starter(dep: Deployed, actor: runtime.Actor, directory: DirectorySnapshot) -> None:
    settings = dep.process_settings
    if settings.get("start", "per-employee") != "per-employee":
        raise EngineError(f"{dep.title} is started by each person, not launched for a population")
    if actor.person_id is not None and not may_launch(settings, actor.person_id, directory):
        raise NotAllowed(f"{actor.label} may not launch {dep.title}")


def may_launch(process_settings: dict[str, Any], person_id: int, directory: DirectorySnapshot
               ) -> bool:
    """Whether the pack's `starters` let this person launch the process."""
    starters = process_settings.get("starters") or []
    if not starters:
        return True
    person = directory.person(person_id)
    if person is None:
        return False
    for starter in starters:
        if starter.startswith("group:") and starter.removeprefix("group:") in person.groups:
            return True
        named = directory.person(starter) if starter.startswith("person:") else None
        if named is not None and named.id == person.id:
            return True
    return False


async def launch_cycle(
    process_id: str,
    population: Population,
    *,
    cycle_name: str,
    due_on: date | None,
    actor: runtime.Actor,
    data: dict[str, Any] | None = None,
    progress: Progress | None = None,
    pack: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> LaunchReport:
    """Start the process for everyone in the population who has no open instance in the cycle.

    All or nothing: the instances are written in one transaction. `progress(done, total)` is
    called after each chunk is prepared (and may be async).
    """
    clock_started = time.perf_counter()
    cycle_name = cycle_name.strip()
    if not cycle_name:
        raise EngineError("a cycle needs a name")
    directory = await current_directory()
    dep = await latest(process_id, pack)
    _check_starter(dep, actor, directory)
    people = population.resolve(directory)
    cycle = await Cycle.get_or_none(name=cycle_name)
    already = await _open_subjects(cycle.id, dep.process_id) if cycle else set()
    todo = [p for p in people if p.id not in already]
    report = LaunchReport(
        cycle_id=cycle.id if cycle else 0,
        cycle_name=cycle_name,
        process_id=dep.process_id,
        process_title=dep.title,
        population=population.describe(directory),
        skipped=[p.name for p in people if p.id in already],
    )
    # The cycle is written in the launch's transaction, so a failed launch leaves none behind.
    cycle_batch = Batch()
    cycle_ref: int | Ref
    if cycle is None:
        cycle_ref = cycle_batch.insert(Cycle, {"name": cycle_name, "due_on": due_on})
    else:
        cycle_ref = cycle.id
        if due_on is not None and cycle.due_on != due_on:
            cycle_batch.update(Cycle, {"id": cycle.id}, {"due_on": due_on})
    start_data = {
        **(data or {}),
        "cycle": {"name": cycle_name, "due_on": due_on.isoformat() if due_on else None},
    }
    carried = await _carried_data(dep, todo)
    chunks: list[tuple[Batch, list[Any]]] = [(cycle_batch, [])]
    with _fewer_collections():
        for first in range(0, len(todo), chunk_size):
            batch = Batch()
            runs = [
                runtime.start_in_batch(
                    # Each instance its own copy: no two workflows may share a mutable value.
                    batch, dep, person.id, actor, directory,
                    {**carried.get(person.id, {}), **copy.deepcopy(start_data)},
                    cycle_ref if isinstance(cycle_ref, int) else None,
                )
                for person in todo[first:first + chunk_size]
            ]
            if isinstance(cycle_ref, Ref):
                _point_at_new_cycle(batch, cycle_ref)
            chunks.append((batch, runs))
            if progress is not None:
                answer = progress(first + len(runs), len(todo))
                if asyncio.iscoroutine(answer):
                    await answer
            # Preparing is CPU work: let the event loop serve other requests between chunks.
            await asyncio.sleep(0)
    await _write(chunks, cycle, dep.process_id, already)
    report.cycle_id = cycle_ref.value if isinstance(cycle_ref, Ref) else cycle_ref  # type: ignore[assignment]
    for _, runs in chunks:
        for run in runs:
            row = await runtime.finish_started(run)
            row.cycle_id = report.cycle_id  # type: ignore[attr-defined]
            report.instance_ids.append(row.id)
            if row.status == "error":
                subject = directory.person(row.subject_id)  # type: ignore[attr-defined]
                report.errors.append(subject.name if subject else f"instance {row.id}")
    report.seconds = time.perf_counter() - clock_started
    return report


async def _carried_data(dep: Deployed, people: list[PersonInfo]) -> dict[int, dict[str, Any]]:
    """What each person's instance starts with from earlier records (pack `start_data`)."""
    sources = parse_start_data(dep.process_settings.get("start_data"))
    carried: dict[int, dict[str, Any]] = {}
    if not sources:
        return carried
    # A query per few thousand people keeps under the databases' limits on parameters.
    for first in range(0, len(people), RECORD_QUERY_SIZE):
        ids = [p.id for p in people[first:first + RECORD_QUERY_SIZE]]
        carried.update(await start_data_for(ids, sources))
    return carried


@contextmanager
def _fewer_collections() -> Iterator[None]:
    # Preparing allocates thousands of task trees that all live until they are written; the
    # cyclic collector would scan them again and again (a sixth of the launch time).
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 100_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _point_at_new_cycle(batch: Batch, cycle: Ref) -> None:
    """Give the instances and records of the batch the cycle it inserts (id known on apply)."""
    for step in batch.steps:
        values = getattr(step, "values", None)
        if getattr(step, "model", None) in (ProcessInstance, Record) and values is not None:
            if values.get("cycle_id") is None:
                values["cycle_id"] = cycle


async def _write(
    chunks: list[tuple[Batch, list[Any]]], cycle: Cycle | None, process_id: str, already: set[int]
) -> None:
    """Every chunk in one transaction; a concurrent launch of the same cycle fails this one."""
    async with in_transaction():
        if cycle is not None and await _open_subjects(cycle.id, process_id) != already:
            raise Conflict(
                f"another launch of cycle '{cycle.name}' ran meanwhile; launch again to add "
                "whoever is still missing"
            )
        for batch, _ in chunks:
            await apply(batch)


# --- what the HR pages show ----------------------------------------------------------------


@dataclass
class ProcessProgress:
    """One process in a cycle: how many instances are open, completed, stopped on an error."""

    process_id: str
    title: str
    open: int = 0
    completed: int = 0
    error: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """Every instance of the process in the cycle."""
        return self.open + self.completed + self.error + self.cancelled

    @property
    def percent_done(self) -> int:
        """Completed (or cancelled) share, rounded down."""
        finished = self.completed + self.cancelled
        return finished * 100 // self.total if self.total else 0


@dataclass
class CycleProgress:
    """A cycle and its processes' completion."""

    id: int
    name: str
    due_on: date | None
    created_at: Any
    processes: list[ProcessProgress] = field(default_factory=list)

    @property
    def instances(self) -> int:
        """Every instance in the cycle."""
        return sum(p.total for p in self.processes)


async def cycle_progress() -> list[CycleProgress]:
    """Every cycle, newest first, with instance counts per process and status (two queries)."""
    cycles = {
        c.id: CycleProgress(c.id, c.name, c.due_on, c.created_at)
        for c in await Cycle.all().order_by("-created_at", "-id")
    }
    rows = (
        await ProcessInstance.filter(cycle_id__not_isnull=True)
        .annotate(count=Count("id"))
        .group_by("cycle_id", "process_id", "status")
        .values("cycle_id", "process_id", "status", "count")
    )
    titles = await process_titles()
    found: dict[tuple[int, str], ProcessProgress] = {}
    for row in sorted(rows, key=lambda r: r["process_id"]):
        cycle = cycles.get(row["cycle_id"])
        if cycle is None:
            continue
        key = (cycle.id, row["process_id"])
        item = found.get(key)
        if item is None:
            title = titles.get(row["process_id"], row["process_id"])
            item = found[key] = ProcessProgress(row["process_id"], title)
            cycle.processes.append(item)
        status = row["status"]
        if status in ("completed", "error", "cancelled"):
            setattr(item, status, getattr(item, status) + row["count"])
        else:
            item.open += row["count"]
    return list(cycles.values())


async def process_titles() -> dict[str, str]:
    """Process id -> title of its newest deployed version."""
    rows = await ProcessDefinition.all().order_by("deployed_at", "version").values(
        "process_id", "title"
    )
    return {r["process_id"]: r["title"] or r["process_id"] for r in rows}


@dataclass(frozen=True)
class Launchable:
    """A deployed process HR can launch for a population."""

    pack: str
    process_id: str
    title: str

    @property
    def choice(self) -> str:
        """The value a form posts for it: "pack:process_id"."""
        return f"{self.pack}:{self.process_id}"


async def launchable_processes(person_id: int | None = None) -> list[Launchable]:
    """The newest version of every per-employee process (that this person may launch)."""
    directory = await current_directory()
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in await ProcessDefinition.all().order_by("deployed_at", "version").values(
        "pack", "process_id", "title", "settings"
    ):
        newest[(row["pack"], row["process_id"])] = row
    out = []
    for row in newest.values():
        settings = (row["settings"] or {}).get("process", {})
        if settings.get("start") != "per-employee":
            continue
        if person_id is not None and not may_launch(settings, person_id, directory):
            continue
        out.append(Launchable(row["pack"], row["process_id"], row["title"] or row["process_id"]))
    return sorted(out, key=lambda p: (p.title.lower(), p.pack))
