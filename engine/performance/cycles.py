"""Cycles: HR launches a process for a population, one instance per employee.

A launch is a job (engine.workflow.jobs): queued by the HR page or run at once by the command
line, its progress and outcome are rows. It writes the population in short transactions of
CHUNK_SIZE instances, so everyone else keeps working while it runs, and **stages** them: a staged
instance is stored as `launching`, its tasks as `staged` and its emails as `held`, so nobody
sees any of them. When every instance is written the launch **publishes** them, and only then
do tasks reach inboxes and emails leave. A worker that dies mid-launch leaves its job to be
taken up again: the staged rows say who is done, and the launch goes on from there. A launch
that fails removes what it staged (and the cycle, when it created it and nothing else is in
it) and reports why: a population is never half launched.

Preparing an instance — SpiffWorkflow running it to its first wait — is nearly all the work;
it runs off the event loop, on as many processes as there are cores
(engine.performance.launch_pool).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from tortoise import connections
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from engine.base.db import Params
from engine.base.errors import Conflict, EngineError, NotAllowed, NotFound
from engine.base.i18n import Said, said, said_from
from engine.base.models import Cycle, Job, ProcessDefinition, ProcessInstance
from engine.packs.definitions import Deployed, deployed, latest
from engine.packs.loading import parse_start_data
from engine.people.directory import DirectorySnapshot, PersonInfo, current_directory
from engine.performance import launch_pool
from engine.performance.latest_progress import merge_for_start
from engine.performance.populations import job_family_name
from engine.workflow import deliveries, jobs, runtime
from engine.workflow.access import describe_hr_scope, outside_hr_scope
from engine.workflow.audit import instance_stream
from engine.workflow.inbox import process_titles
from engine.workflow.records import start_data_for
from engine.workflow.store import Batch, apply

# Instances written per transaction: each commit holds the database's write lock briefly (on
# SQLite, the only writer), so requests in between wait milliseconds, not the whole launch.
CHUNK_SIZE = 200
# Instances published per transaction once the whole population is written.
PUBLISH_SIZE = 1000
RECORD_QUERY_SIZE = 5000
# Statuses of an instance that is finished: anything else counts as open for a relaunch.
CLOSED = ("completed", "cancelled")
LAUNCH = "launch"

Progress = Callable[[int, int], Any]

log = logging.getLogger(__name__)


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
            if self.include_subunits:
                return said("%(unit)s and its sub-units", unit=name)
            return said("%(unit)s only", unit=name)
        if self.job_family is not None:
            return job_family_name(self.job_family)
        if len(self.keys) == 1:
            return said("%(num)s listed employee", num=len(self.keys))
        return said("%(num)s listed employees", num=len(self.keys))

    def resolve(self, directory: DirectorySnapshot) -> list[PersonInfo]:
        """The active people of the population; an unknown unit or key is an EngineError."""
        if self.unit is not None:
            unit = directory.unit_by_code(self.unit)
            if unit is None:
                raise NotFound(said("no org unit with code '%(code)s'", code=self.unit))
            return directory.people_in_unit(unit.id, include_subunits=self.include_subunits)
        if self.job_family is not None:
            return directory.people_with_job_family(self.job_family)
        if not self.keys:
            raise EngineError(said(
                "the population is empty: give a unit, a job family or employee ids"))
        unknown = [k for k in self.keys if directory.person(k) is None]
        if unknown:
            raise NotFound(said("unknown employee id(s): %(ids)s", ids=", ".join(unknown)))
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

    def as_result(self) -> dict[str, Any]:
        """The report as a launch job keeps it."""
        return asdict(self)

    @classmethod
    def from_result(cls, result: dict[str, Any] | None) -> LaunchReport:
        """The report a finished launch job keeps."""
        fields_ = {k: v for k, v in (result or {}).items() if k in cls.__dataclass_fields__}
        return cls(**fields_)

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


async def _open_subjects(cycle_id: int, process_id: str) -> dict[int, int | None]:
    """Subjects with an open instance of the process in the cycle -> the launch job that wrote
    it (one query for everyone)."""
    rows = (
        await ProcessInstance.filter(cycle_id=cycle_id, process_id=process_id)
        .exclude(status__in=CLOSED)
        .values("subject_id", "launch_job_id")
    )
    return {r["subject_id"]: r["launch_job_id"] for r in rows if r["subject_id"] is not None}


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


@dataclass(frozen=True)
class _Launcher:
    person_id: int
    groups: frozenset[str]


def check_launch_scope(
    actor: runtime.Actor, people: Iterable[PersonInfo], directory: DirectorySnapshot
) -> None:
    """NotAllowed, naming them, when some of `people` are outside the units the launching HR
    partner looks after (engine.workflow.access); an HR administrator launches for anyone."""
    launcher = directory.person(actor.person_id)
    if launcher is None:
        return
    outside = outside_hr_scope(_Launcher(launcher.id, launcher.groups), people, directory)
    if not outside:
        return
    slots = {"num": len(outside), "name": launcher.name,
             "units": describe_hr_scope(launcher.id, directory),
             "people": names_list([person.name for person in outside])}
    raise NotAllowed(
        said("%(num)s person is outside the units %(name)s looks after as HR partner "
             "(%(units)s and below): %(people)s", **slots) if len(outside) == 1 else
        said("%(num)s people are outside the units %(name)s looks after as HR partner "
             "(%(units)s and below): %(people)s", **slots)
    )


@dataclass(frozen=True)
class LaunchPreview:
    """What a launch would do, before anything starts: who gets an instance, who is skipped
    because they have an open one in the cycle already."""

    process_id: str
    process_title: str
    cycle_name: str
    population: str
    to_start: tuple[PersonInfo, ...]
    skipped: tuple[PersonInfo, ...]

    @property
    def count(self) -> int:
        """How many instances the launch would start."""
        return len(self.to_start)


async def preview_launch(
    process_id: str,
    population: Population,
    *,
    cycle_name: str,
    actor: runtime.Actor,
    pack: str | None = None,
) -> LaunchPreview:
    """Resolve a launch as `enqueue_launch` would, and start nothing: the people it would
    start the process for and those it would skip. Raises the same EngineErrors."""
    directory = await current_directory()
    dep = await latest(process_id, pack)
    _check_starter(dep, actor, directory)
    people = population.resolve(directory)
    check_launch_scope(actor, people, directory)
    cycle = await Cycle.get_or_none(name=cycle_name.strip())
    open_now = await _open_subjects(cycle.id, dep.process_id) if cycle is not None else {}
    return LaunchPreview(
        process_id=dep.process_id,
        process_title=dep.title,
        cycle_name=cycle_name.strip(),
        population=population.describe(directory),
        to_start=tuple(p for p in people if p.id not in open_now),
        skipped=tuple(p for p in people if p.id in open_now),
    )


async def enqueue_launch(
    process_id: str,
    population: Population,
    *,
    cycle_name: str,
    due_on: date | None,
    actor: runtime.Actor,
    data: dict[str, Any] | None = None,
    pack: str | None = None,
    claimed_by: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Job:
    """Check a launch and queue it as a job for a worker (or hand it to `claimed_by`).

    The population is resolved now, so the launch starts exactly the people HR was shown; an
    HR partner may launch only for the people of the units they look after (NotAllowed)."""
    cycle_name = cycle_name.strip()
    if not cycle_name:
        raise EngineError("a cycle needs a name")
    directory = await current_directory()
    dep = await latest(process_id, pack)
    _check_starter(dep, actor, directory)
    people = population.resolve(directory)
    check_launch_scope(actor, people, directory)
    described = population.describe(directory)
    payload = {
        "definition_id": dep.id,
        "people": [p.id for p in people],
        "population": described,
        "population_words": described.as_data() if isinstance(described, Said) else None,
        "process_title": dep.title,
        "cycle_name": cycle_name,
        "due_on": due_on.isoformat() if due_on else None,
        "data": data or {},
        "actor": {"person_id": actor.person_id, "label": actor.label},
        "chunk_size": chunk_size,
    }
    return await jobs.enqueue(
        LAUNCH, payload,
        title=f"{dep.title} for {described} in cycle {cycle_name}",
        key=f"launch:{dep.pack}:{dep.process_id}:{cycle_name}",
        total=len(people), created_by=actor.label, creator_id=actor.person_id,
        claimed_by=claimed_by,
    )


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
    """Launch now, in this process: start the process for everyone in the population who has
    no open instance of it in the cycle. Raises EngineError (nothing started) on failure.

    `progress(done, total)` is called as instances are written (and may be async)."""
    job = await enqueue_launch(
        process_id, population, cycle_name=cycle_name, due_on=due_on, actor=actor, data=data,
        pack=pack, claimed_by=jobs.worker_name("launch"), chunk_size=chunk_size,
    )
    await run_launch(job, progress)
    if job.status == "failed":
        raise EngineError(job.error or "the launch failed")
    return LaunchReport.from_result(job.result)


async def run_launch(job: Job, progress: Progress | None = None) -> None:
    """Run (or resume) a launch job to its end: done with its report, or failed with its
    reason and nothing of it left behind."""
    started = time.perf_counter()
    try:
        if job.attempts > jobs.MAX_ATTEMPTS:
            raise EngineError(f"the launch was interrupted {job.attempts - 1} times "
                              "(its worker stopped)")
        report = await _launch(job, progress)
    except jobs.JobLost:
        raise  # another worker carries on with it
    except Exception as exc:
        reason = str(exc) if isinstance(exc, EngineError) else (
            f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, EngineError):
            log.exception("launch job %s failed", job.id)
        await _abandon(job, reason)
        return
    await _publish(job, report, started)


async def _launch(job: Job, progress: Progress | None) -> LaunchReport:
    """Write the population's instances, staged, from where an earlier attempt stopped."""
    p = job.payload
    actor = runtime.Actor(p["actor"]["person_id"], p["actor"]["label"])
    directory = await current_directory()
    dep = await deployed(p["definition_id"])
    due_on = date.fromisoformat(p["due_on"]) if p["due_on"] else None
    cycle_id = await _cycle_of(job, p["cycle_name"], due_on)
    people = [directory.person(pid) for pid in p["people"]]
    population = [person for person in people if person is not None and person.active]
    open_now = await _open_subjects(cycle_id, dep.process_id)
    mine = {subject for subject, launched_by in open_now.items() if launched_by == job.id}
    todo = [person for person in population if person.id not in open_now]
    report = LaunchReport(
        cycle_id=cycle_id,
        cycle_name=p["cycle_name"],
        process_id=dep.process_id,
        process_title=dep.title,
        population=p["population"],
        skipped=[person.name for person in population
                 if person.id in open_now and person.id not in mine],
    )
    total = len(mine) + len(todo)
    await jobs.save_progress(job, len(mine), total=total)
    await _report_progress(progress, len(mine), total)
    start_data = {
        **p["data"],
        "cycle": {"name": p["cycle_name"], "due_on": p["due_on"]},
    }
    carried = await _carried_data(dep, todo)
    chunk = int(p.get("chunk_size") or CHUNK_SIZE)
    requests = [
        launch_pool.ChunkRequest(
            definition_id=dep.id,
            subjects=[person.id for person in todo[first:first + chunk]],
            data={
                person.id: {**carried.get(person.id, {}), **copy.deepcopy(start_data)}
                for person in todo[first:first + chunk]
            },
            actor=actor,
            cycle_id=cycle_id,
            launch_job_id=job.id,
        )
        for first in range(0, len(todo), chunk)
    ]
    done = len(mine)
    async for request, batch in launch_pool.prepare(dep, directory, requests):
        await _check_still_missing(cycle_id, dep.process_id, request.subjects, directory)
        done += len(request.subjects)
        jobs.advance(batch, job, done)
        try:
            await apply(batch)
        except Conflict:
            raise jobs.JobLost(f"job {job.id} was taken over by another worker") from None
        await _report_progress(progress, done, total)
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
        carried.update(await start_data_for(ids, sources, merge_for_start))
    return carried


async def _check_still_missing(
    cycle_id: int, process_id: str, subjects: list[int], directory: DirectorySnapshot
) -> None:
    """Refuse to write a chunk when one of its people got an open instance meanwhile (someone
    started it by hand, or another launch did)."""
    p = Params()
    found = await connections.get("default").execute_query_dict(
        f'SELECT "subject_id" FROM "process_instance" WHERE "cycle_id" = {p(cycle_id)} '
        f'AND "process_id" = {p(process_id)} AND "status" NOT IN ({p(CLOSED[0])}, '
        f'{p(CLOSED[1])}) AND "subject_id" IN ({", ".join(p(s) for s in subjects)})',
        p.values,
    )
    rows = [row["subject_id"] for row in found]
    if rows:
        cycle = await Cycle.get(id=cycle_id)
        names = names_list([_name_of(directory, s, "?") for s in rows])
        raise EngineError(
            f"another launch of cycle '{cycle.name}' ran meanwhile ({names} got an instance); "
            "launch again to add whoever is still missing."
        )


async def _report_progress(progress: Progress | None, done: int, total: int) -> None:
    if progress is None:
        return
    answer = progress(done, total)
    if asyncio.iscoroutine(answer):
        await answer


async def _cycle_of(job: Job, name: str, due_on: date | None) -> int:
    """The cycle the launch writes into, created if missing (noted on the job, so a failed
    launch removes a cycle it created)."""
    async with in_transaction():
        cycle = await Cycle.get_or_none(name=name)
        if cycle is None:
            cycle = await Cycle.create(name=name, due_on=due_on)
            job.result = {**(job.result or {}), "created_cycle": cycle.id}
            await jobs.save_progress(job, result=job.result)
        elif due_on is not None and cycle.due_on != due_on:
            cycle.due_on = due_on
            await cycle.save(update_fields=["due_on"])
    return cycle.id


async def _publish(job: Job, report: LaunchReport, started: float) -> None:
    """Make the staged population visible, PUBLISH_SIZE instances per transaction, then close
    the job with its report and an audit event in one last transaction."""
    while True:
        p = Params()
        chunk = (
            f'SELECT "id" FROM "process_instance" WHERE "launch_job_id" = {p(job.id)} '
            f'AND "status" = \'launching\' ORDER BY "id" LIMIT {p(PUBLISH_SIZE)}'
        )
        async with in_transaction() as conn:
            ids = [row["id"] for row in await conn.execute_query_dict(chunk, p.values)]
            if not ids:
                break
            # Webhooks and chat hear of the tasks as they go live, in the same transaction.
            await deliveries.announce_published(conn, job.id, ids[-1])
            for statement, values in _publish_statements(job.id, ids[-1]):
                await conn.execute_query(statement, values)
    rows = await ProcessInstance.filter(launch_job_id=job.id).order_by("id").values(
        "id", "status", "subject_id"
    )
    directory = await current_directory()
    report.instance_ids = [row["id"] for row in rows]
    report.errors = [_name_of(directory, row["subject_id"], row["id"])
                     for row in rows if row["status"] == "error"]
    batch = Batch()
    batch.audit(job.created_by or "system", "cycle_launched", detail={
        "job": job.id, "cycle_id": report.cycle_id, "process": report.process_id,
        "started": report.started, "skipped": len(report.skipped), "errors": len(report.errors),
    })
    report.seconds = time.perf_counter() - started
    await jobs.finish(job, {**(job.result or {}), **report.as_result()}, batch)


def _name_of(directory: DirectorySnapshot, subject_id: int | None, instance_id: Any) -> str:
    person = directory.person(subject_id)
    return person.name if person else f"instance {instance_id}"


def _publish_statements(job_id: int, last_id: int) -> list[tuple[str, list[Any]]]:
    """Emails, then tasks, then instances of the job up to `last_id` go from staged to live;
    an instance's own status comes from what its start left (an error, an end, or running)."""
    statements = []
    p = Params()
    mine = (f'SELECT "id" FROM "process_instance" WHERE "launch_job_id" = {p(job_id)} '
            f'AND "status" = \'launching\' AND "id" <= {p(last_id)}')
    statements.append((
        'UPDATE "outbox_email" SET "status" = \'queued\' WHERE "status" = \'held\' AND '
        f'"task_id" IN (SELECT "id" FROM "human_task" WHERE "instance_id" IN ({mine}))',
        p.values,
    ))
    p = Params()
    mine = (f'SELECT "id" FROM "process_instance" WHERE "launch_job_id" = {p(job_id)} '
            f'AND "status" = \'launching\' AND "id" <= {p(last_id)}')
    statements.append((
        f'UPDATE "human_task" SET "status" = \'ready\' WHERE "status" = \'staged\' AND '
        f'"instance_id" IN ({mine})',
        p.values,
    ))
    p = Params()
    statements.append((
        'UPDATE "process_instance" SET "status" = CASE WHEN "error" IS NOT NULL THEN \'error\' '
        'WHEN "completed_at" IS NOT NULL THEN \'completed\' ELSE \'running\' END '
        f'WHERE "launch_job_id" = {p(job_id)} AND "status" = \'launching\' '
        f'AND "id" <= {p(last_id)}',
        p.values,
    ))
    return statements


async def _abandon(job: Job, reason: str) -> None:
    """Remove whatever a failed launch staged, and the cycle it created if it is empty; the job
    fails with `reason` and the audit trail says what was removed."""
    removed = 0
    async with in_transaction() as conn:
        p = Params()
        staged = (f'SELECT "id" FROM "process_instance" WHERE "launch_job_id" = {p(job.id)} '
                  'AND "status" = \'launching\'')
        # The removed instances' audit chains stay; their heads move to audit_stream so
        # `audit verify` still checks them.
        await conn.execute_query(
            'INSERT INTO "audit_stream" ("name", "seq", "head") '
            f'SELECT \'{instance_stream(0)[:-1]}\' || CAST("id" AS VARCHAR(20)), '
            f'"audit_seq", "audit_head" FROM "process_instance" WHERE "id" IN ({staged}) '
            'AND "audit_seq" > 0', p.values,
        )
        for table, column in (("outbox_email", None), ("record", "instance_id"),
                              ("pending_message", "from_instance_id")):
            if column is None:
                where = ('"task_id" IN (SELECT "id" FROM "human_task" WHERE "instance_id" IN '
                         f'({staged}))')
            else:
                where = f'"{column}" IN ({staged})'
            await conn.execute_query(f'DELETE FROM "{table}" WHERE {where}', p.values)
        count, _ = await conn.execute_query(
            f'DELETE FROM "process_instance" WHERE "id" IN ({staged})', p.values
        )
        removed = count
        created = (job.result or {}).get("created_cycle")
        if created and not await ProcessInstance.filter(cycle_id=created).exists():
            await Cycle.filter(id=created).delete()
    batch = Batch()
    batch.audit(job.created_by or "system", "launch_failed",
                detail={"job": job.id, "reason": reason, "removed_instances": removed})
    await jobs.fail(job, f"{reason.rstrip('.')}. Nothing was started.", batch)


# --- what the HR pages show ----------------------------------------------------------------


@dataclass
class LaunchStatus:
    """A launch job as the HR pages show it, from any web process."""

    id: int
    status: str
    process_title: str
    cycle_name: str
    population: str
    started_by: int | None
    created_at: Any
    total: int
    done: int
    report: LaunchReport | None = None
    error: str | None = None

    @classmethod
    def of(cls, job: Job) -> LaunchStatus:
        """The status of a launch job row."""
        p = job.payload
        return cls(
            id=job.id, status=job.status, process_title=p.get("process_title", job.title),
            cycle_name=p.get("cycle_name", ""),
            population=said_from(p.get("population_words"), p.get("population", "")),
            started_by=job.creator_id, created_at=job.created_at, total=job.total,
            done=job.done,
            report=LaunchReport.from_result(job.result) if job.status == "done" else None,
            error=job.error if job.status == "failed" else None,
        )

    @property
    def finished(self) -> bool:
        """Whether the launch ended, well or not."""
        return self.status in ("done", "failed")

    @property
    def waiting(self) -> bool:
        """Whether no worker has taken the launch up yet."""
        return self.status == "queued"

    @property
    def percent(self) -> int:
        """Written share of the instances to start."""
        if self.finished:
            return 100
        return self.done * 100 // self.total if self.total else 0


async def launch_status(job_id: int) -> LaunchStatus | None:
    """A launch by its job id."""
    job = await Job.get_or_none(id=job_id, kind=LAUNCH)
    return LaunchStatus.of(job) if job else None


async def recent_launches(limit: int = 10) -> list[LaunchStatus]:
    """The latest launches, newest first."""
    return [LaunchStatus.of(job) for job in
            await Job.filter(kind=LAUNCH).order_by("-id").limit(limit)]


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
