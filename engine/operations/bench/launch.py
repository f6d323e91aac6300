"""A cycle launch for N people in a worker process while clients submit tasks, against bare
SpiffWorkflow starting the same workflows (`sightline bench --launch`)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from engine.operations.bench.common import (
    STANDARD,
    Child,
    Parent,
    bench_database,
    latencies,
    load_average,
    migrated,
    percentile,
)
from engine.operations.bench.engine_bench import OBJECTIVES, RETURNED

# The clients submitting tasks while the launch runs: each is one web process's worth of people
# working through objective settings of people outside the launched population.
CLIENTS = 4


CLIENT_INSTANCES = 200


# Per client: submissions before anything is timed (first loads of versions, the directory).
CLIENT_WARMUP = 5


# Per client: submissions timed just before the launch, the reference for those during it.
SUBMITS_BEFORE = 50


# A client's pause between two submissions, drawn uniformly (ms): people read and type, and
# four clients hammering one event loop would measure their own queue, not the launch.
THINK_MS = (25.0, 75.0)


# A client reviews a draft once this many more drafts wait, so drafts and reviews alternate.
REVIEW_LAG = 10


# Instances bare SpiffWorkflow starts for the launch's reference (at most N).
BARE_SAMPLE = 2000


LAUNCH_CYCLE = "bench"


LAUNCHED_UNIT = "ROOT"


def _launch_org_csv(employees: int, clients: int = 0, per_client: int = 0) -> str:
    """N employees in ten teams under two departments, each team with its own manager (all
    under ROOT, the launched unit); and, apart from them, one unit per client: a lead with
    `per_client` reports."""
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups,unit_head"]
    lines.append(
        f"L0,Lee Chief,lee@example.com,Chief Executive,people_manager,{LAUNCHED_UNIT},"
        "Company,,,hr,yes"
    )
    for d in range(2):
        lines.append(f"L{d + 1},Dept Head {d},dh{d}@example.com,Director,people_manager,"
                     f"D{d},Department {d},{LAUNCHED_UNIT},L0,,yes")
    teams = 10
    for t in range(teams):
        dept = t % 2
        lines.append(f"T{t},Team Lead {t},tl{t}@example.com,Team lead,people_manager,"
                     f"T{t},Team {t},D{dept},L{dept + 1},,yes")
    for i in range(max(0, employees - teams - 3)):
        t = i % teams
        lines.append(f"P{i},Person {i},p{i}@example.com,Engineer,engineering,"
                     f"T{t},Team {t},D{t % 2},T{t},,")
    for c in range(clients):
        lines.append(f"K{c},Client Lead {c},k{c}@example.com,Team lead,people_manager,"
                     f"OPS{c},Operations {c},,L0,,yes")
        for j in range(per_client):
            lines.append(f"K{c}E{j},Client Person {c}-{j},k{c}e{j}@example.com,Engineer,"
                         f"engineering,OPS{c},Operations {c},,K{c},,")
    return "\n".join(lines) + "\n"


@dataclass
class _Client:
    """One web process's worth of people, each submission the next step of one of its
    objective settings: the employee's draft, or the lead's review — returned for rework, so
    an instance always has a next step and the client never runs out of work."""

    lead: Any  # runtime.Actor
    subjects: dict[int, Any]  # instance id -> its employee (runtime.Actor)
    rng: random.Random
    think_ms: tuple[float, float]
    to_draft: deque[int] = field(default_factory=deque)
    to_review: deque[int] = field(default_factory=deque)
    timed: dict[str, list[float]] = field(default_factory=lambda: {"before": [], "during": []})
    errors: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.to_draft.extend(self.subjects)

    async def submit(self, phase: str | None) -> None:
        """Submit the next step; its latency is kept under `phase` (None: not kept)."""
        from engine.base.models import HumanTask
        from engine.workflow import runtime

        if not self.to_draft and not self.to_review:
            return  # every instance of this client stopped on an error (counted)
        review = bool(self.to_review) and (len(self.to_review) >= REVIEW_LAG
                                           or not self.to_draft)
        instance_id = (self.to_review if review else self.to_draft).popleft()
        # What the task's page read before the person typed: not part of the submission.
        task = await HumanTask.filter(instance_id=instance_id, status="ready").first()
        if task is None or task.bpmn_id not in ("draft_objectives", "review_objectives"):
            self.errors["no open draft or review"] += 1
            return
        drafting = task.bpmn_id == "draft_objectives"
        actor = self.subjects[instance_id] if drafting else self.lead
        started = time.perf_counter()
        try:
            await runtime.complete_task(task.id, actor, OBJECTIVES if drafting else RETURNED)
            (self.to_review if drafting else self.to_draft).append(instance_id)
        except Exception as exc:  # counted and reported; the person would see an error page
            self.errors[type(exc).__name__] += 1
            (self.to_draft if drafting else self.to_review).append(instance_id)
        if phase is not None:
            self.timed[phase].append((time.perf_counter() - started) * 1000)

    async def work(self, submissions: int, phase: str | None) -> None:
        """`submissions` submissions, a think time after each."""
        for _ in range(submissions):
            await self.submit(phase)
            await asyncio.sleep(self.rng.uniform(*self.think_ms) / 1000)

    async def work_until(self, done: asyncio.Event) -> None:
        """Submit (and think) until `done`: every submission started before it is timed."""
        while not done.is_set():
            await self.submit("during")
            try:
                await asyncio.wait_for(done.wait(), self.rng.uniform(*self.think_ms) / 1000)
            except TimeoutError:
                pass


async def _clients(count: int, per_client: int, hr: Any, think_ms: tuple[float, float]
                   ) -> list[_Client]:
    """Each client's objective settings, started beforehand (and published) by a launch."""
    from engine.base.models import ProcessInstance
    from engine.people.directory import current_directory
    from engine.performance import cycles
    from engine.workflow import runtime

    if count == 0:
        return []
    keys = [f"K{c}E{j}" for c in range(count) for j in range(per_client)]
    report = await cycles.launch_cycle(
        "objective_setting", cycles.Population.of_people(keys), cycle_name="clients",
        due_on=None, actor=hr,
    )
    directory = await current_directory()
    rows = await ProcessInstance.filter(cycle_id=report.cycle_id).order_by("id").values_list(
        "id", "subject_id")
    subjects: list[dict[int, Any]] = [{} for _ in range(count)]
    for instance_id, subject_id in rows:
        person = directory.person(subject_id)
        assert person is not None
        client = int(person.key[1:].split("E")[0])
        subjects[client][instance_id] = runtime.Actor(person.id, f"person:{person.key}")
    return [
        _Client(lead=await runtime.actor_for(f"K{c}"), subjects=subjects[c],
                rng=random.Random(2026 + c), think_ms=think_ms)
        for c in range(count)
    ]


class _BareStarts:
    """Bare SpiffWorkflow starting the launched process: the version's parsed spec, the same
    script engine, start data and script context as the engine's launch, run to its first
    wait (`do_engine_steps`) and serialised with SpiffWorkflow's own serializer; one process."""

    def __init__(self, dep: Any, directory: Any, start_data: dict[str, Any]) -> None:
        self.dep = dep
        self.directory = directory
        self.start_data = start_data
        self.started = 0
        self.seconds = 0.0
        self.state_bytes = 0

    def start(self, people: list[Any]) -> None:
        """Start one instance per person, timed."""
        import copy

        from SpiffWorkflow.bpmn import BpmnWorkflow

        from engine.base import clock
        from engine.base.serialization import full_serializer
        from engine.scripts import sandbox
        from engine.workflow import instance

        spec, subprocess_specs = self.dep.built.spec, self.dep.built.subprocess_specs
        began = time.perf_counter()
        for person in people:
            with sandbox.script_context(directory=self.directory, catalogs=self.dep.catalogs,
                                          now=clock.now()):
                workflow = BpmnWorkflow(spec, subprocess_specs,
                                        script_engine=instance.script_engine())
                initial = {"subject": person.as_data(), **copy.deepcopy(self.start_data)}
                workflow.task_tree.data.update(initial)
                workflow.data.update(initial)
                workflow.do_engine_steps()
                state = full_serializer.serialize_json(workflow)
            self.state_bytes += len(state)
        self.seconds += time.perf_counter() - began
        self.started += len(people)


async def launch_bench(
    n: int,
    database_url: str | None = None,
    *,
    clients: int = CLIENTS,
    client_instances: int = CLIENT_INSTANCES,
    warmup: int = CLIENT_WARMUP,
    before: int = SUBMITS_BEFORE,
    think_ms: tuple[float, float] = THINK_MS,
    bare_sample: int = BARE_SAMPLE,
) -> dict[str, Any]:
    """A cycle launch for N employees, in a worker process, while people submit tasks.

    Measured, in one run on one fresh database:

    - `launch_instances_per_s`: `cycles.launch_cycle` of the year-end appraisal for everyone
      under ROOT, in a child process of its own (as `sightline worker` runs it), its instances
      prepared by the launch pool as LAUNCH_PROCESSES configures it; timed inside the child
      from the call to the last instance published, with the version already parsed (a worker
      has it cached).
    - `bare_spiff_starts_per_s`: bare SpiffWorkflow creating the same workflow (the version's
      parsed spec, the same script engine and start data), running it to its first wait and
      serialising it with its own serializer, for min(N, BARE_SAMPLE) of the same people, in
      this process alone — half before the launch, half after, so a change in the machine's
      load weighs on both sides. `launch_ratio` = launch / bare: what the engine gets out of
      this machine (every core, the database, staged writes, task rows, audit) against what
      one process of SpiffWorkflow gets without any of it.
    - `concurrent_submit_*_ms`: the latency of every task submission of `clients` concurrent
      clients in this process — `runtime.complete_task`, one action and one transaction each,
      as a web process serves it (without HTTP, so the figure is the engine and the database,
      not the web stack) — started while the launch ran; `submit_*_ms_before_launch`: the same
      clients just before, with the launch's process already connected and waiting. Each
      client pauses 25-75 ms between submissions, as people do; on SQLite the launch's
      chunks hold the one write lock for a moment each, and that is what the difference shows.

    The clients' objective settings belong to people outside the launched population, started
    (and published) before anything is timed; failed submissions are counted and timed too.
    """
    from engine.base import db
    from engine.base.errors import NotFound
    from engine.base.models import ProcessInstance
    from engine.packs import definitions
    from engine.packs.definitions import deploy_pack
    from engine.people.directory import current_directory
    from engine.people.org_import import import_org
    from engine.performance import cycles, launch_pool
    from engine.workflow import runtime

    async with bench_database(database_url, "launch") as (db_url, label):
        await migrated(db_url)
        try:
            report = await import_org(_launch_org_csv(n, clients, client_instances))
            if report.errors:
                raise RuntimeError("; ".join(report.errors))
            standard = STANDARD
            await deploy_pack(standard, "bench", search=[standard.parent])
            process = "year_end_appraisal"
            try:
                dep = await definitions.latest(process)
            except NotFound:
                process = "objective_setting"
                dep = await definitions.latest(process)
            hr = await runtime.actor_for("L0")
            workers = await _clients(clients, client_instances, hr, think_ms)
            directory = await current_directory()
            population = cycles.Population.of_unit(LAUNCHED_UNIT).resolve(directory)
            sample = population[:max(1, min(len(population), bare_sample))]
            bare = _BareStarts(dep, directory, {"cycle": {"name": LAUNCH_CYCLE, "due_on": None}})

            child = await Child.start("launch", {
                "url": db_url, "process": process, "unit": LAUNCHED_UNIT,
                "cycle": LAUNCH_CYCLE, "actor": "L0", "launch_processes": launch_pool.processes,
            })
            try:
                await child.flush()
                await child.hear()  # connected, the version parsed, waiting for the word
                bare.start(sample[:len(sample) // 2])
                await asyncio.gather(*(c.work(warmup, None) for c in workers))
                await asyncio.gather(*(c.work(before, "before") for c in workers))
                load_at_launch = load_average()
                done = asyncio.Event()
                child.send({"go": True})
                working = [asyncio.create_task(c.work_until(done)) for c in workers]
                try:
                    await child.flush()
                    launched = await child.hear()
                finally:
                    done.set()
                    await asyncio.gather(*working)
            finally:
                await child.close()
            load_after_launch = load_average()
            bare.start(sample[len(sample) // 2:])
            stored = await ProcessInstance.filter(cycle_id=launched["cycle_id"]).count()
        finally:
            await db.disconnect()

    launch_rate = stored / launched["seconds"]
    bare_rate = bare.started / bare.seconds
    before_ms = [ms for c in workers for ms in c.timed["before"]]
    during_ms = [ms for c in workers for ms in c.timed["during"]]
    errors: Counter[str] = Counter()
    for c in workers:
        errors.update(c.errors)
    result: dict[str, Any] = {
        "process": process,
        "instances": stored,
        "seconds": round(launched["seconds"], 2),
        "launch_instances_per_s": round(launch_rate, 1),
        "instances_in_error": launched["errors"],
        "launch_processes": launch_pool.processes,
        "bare_spiff_starts_per_s": round(bare_rate, 1),
        "bare_spiff_starts": bare.started,
        "bare_spiff_serialized_bytes_per_instance": bare.state_bytes // max(1, bare.started),
        "launch_ratio": round(launch_rate / bare_rate, 2),
        "submit_clients": clients,
        "submissions_before_launch": len(before_ms),
        **latencies(before_ms, "submit", "_before_launch"),
        "concurrent_submissions": len(during_ms),
        **latencies(during_ms, "concurrent_submit"),
        "submit_errors": dict(errors),
        "database": label,
        "load_average_1min_at_launch": {"start": load_at_launch, "end": load_after_launch},
    }
    if before_ms and during_ms:
        result["concurrent_submit_p95_vs_before"] = round(
            percentile(during_ms, 0.95) / percentile(before_ms, 0.95), 2)
    return result


async def launch_child(spec: dict[str, Any], parent: Parent) -> None:
    """The launch's worker process: connect, parse the version, and on the word launch the
    cycle; says how long the launch took (and stays connected until told to stop)."""
    from engine.base import db
    from engine.packs import definitions
    from engine.people.directory import current_directory
    from engine.performance import cycles, launch_pool
    from engine.workflow import runtime

    launch_pool.configure(spec["launch_processes"])
    await db.connect(spec["url"])
    try:
        await definitions.latest(spec["process"])
        await current_directory()
        hr = await runtime.actor_for(spec["actor"])
        parent.say({"ready": True})
        if not (await parent.hear()).get("go"):
            return
        started = time.perf_counter()
        report = await cycles.launch_cycle(
            spec["process"], cycles.Population.of_unit(spec["unit"]),
            cycle_name=spec["cycle"], due_on=None, actor=hr,
        )
        seconds = time.perf_counter() - started
        parent.say({"seconds": seconds, "cycle_id": report.cycle_id,
                    "errors": len(report.errors)})
    finally:
        await db.disconnect()
