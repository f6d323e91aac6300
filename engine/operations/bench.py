"""`sightline bench`: the engine measured against a reference measured in the same run.

Machines here differ 1.5-2x in speed and other work may run beside a bench, so every figure
comes with a reference taken in the same run — bare SpiffWorkflow doing the same work, or the
same clients just before a launch — and the JSON carries the machine's load average.

Every measurement gets a database of its own, made for it and removed afterwards: a SQLite file
in a temporary folder, or, when DATABASE_URL (or `--database`) names a PostgreSQL server, a
throwaway database created on that server. The database the URL names is never opened.

Parts of the launch and conflicts benches run in child processes (`python -m engine.operations.bench
ROLE`, spoken to in JSON lines): a deployment launches cycles in a worker process while its
users work through web processes, and two people signing at the same moment come through two
processes.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"

# One objective-setting round with a rework loop: the data each user task receives, in order.
OBJECTIVES = {
    "objectives": [
        {"kra": "Delivery", "title": "Ship the billing service", "kpi": "Release date",
         "measure_type": "higher_is_better", "baseline": 0, "target": 1, "weight": 60},
        {"kra": "Quality", "title": "Cut escaped defects", "kpi": "Defects per release",
         "measure_type": "lower_is_better", "baseline": 12, "target": 4, "weight": 40},
    ],
    "comments": "First draft",
}
RETURNED = {"decision": "return", "manager_comments": "Sharpen the second one"}
ROUND: list[tuple[str, dict[str, Any]]] = [
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", RETURNED),
    ("draft_objectives", OBJECTIVES),
    ("review_objectives", {"decision": "approve", "manager_comments": ""}),
    ("acknowledge_objectives", {"acknowledgement": {
        "acknowledged": True, "name": "Bench Person", "signer_id": None,
        "signed_at": "2026-11-21T10:00:00+00:00", "comment": ""}}),
]

# -- databases ------------------------------------------------------------------------------

POSTGRESQL = "postgresql"
SQLITE_FILE = "sqlite (file)"
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "asyncpg", "psycopg"})
# Where CREATE DATABASE is sent from: the server's maintenance database, never the user's own.
_MAINTENANCE_DATABASES = ("postgres", "template1")


def database_kind(url: str | None) -> str:
    """What a bench runs on for this DATABASE_URL: "postgresql" or "sqlite (file)"."""
    return POSTGRESQL if urlsplit(url or "").scheme in _POSTGRES_SCHEMES else SQLITE_FILE


def _asyncpg_url(url: str, database: str) -> str:
    """`url`'s server and credentials, naming another database, as asyncpg reads it."""
    parts = urlsplit(url)
    # Tortoise's own URL options (minsize, maxsize …) mean nothing to asyncpg; sslmode does.
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k == "sslmode"])
    return urlunsplit(("postgresql", parts.netloc, f"/{database}", query, ""))


async def _on_server(url: str, statement: str) -> None:
    """Run one statement on the maintenance database of `url`'s PostgreSQL server."""
    import asyncpg

    missing: Exception | None = None
    for maintenance in _MAINTENANCE_DATABASES:
        try:
            admin = await asyncpg.connect(_asyncpg_url(url, maintenance))
        except asyncpg.InvalidCatalogNameError as exc:
            missing = exc
            continue
        try:
            await admin.execute(statement)
        finally:
            await admin.close()
        return
    raise RuntimeError("the PostgreSQL server has no maintenance database to create the "
                       f"bench's database from ({', '.join(_MAINTENANCE_DATABASES)})") from missing


@asynccontextmanager
async def bench_database(url: str | None, name: str = "bench") -> AsyncIterator[tuple[str, str]]:
    """A fresh, empty database for one measurement, removed afterwards: yields (url, label).

    With a PostgreSQL `url`: `CREATE DATABASE sightline_bench_<random>` on that server (sent
    from its maintenance database), dropped at the end. Otherwise (a SQLite URL, or none): a
    SQLite file in a temporary folder. The caller disconnects before the block ends."""
    if url and database_kind(url) == POSTGRESQL:
        database = f"sightline_bench_{uuid.uuid4().hex[:12]}"
        await _on_server(url, f'CREATE DATABASE "{database}"')
        try:
            yield urlunsplit(urlsplit(url)._replace(path=f"/{database}")), POSTGRESQL
        finally:
            # FORCE: a child process that died holding a connection must not keep it alive.
            await _on_server(url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory(prefix=f"sightline-{name}-") as tmp:
            yield f"sqlite://{Path(tmp) / f'{name}.db'}", SQLITE_FILE


async def _migrated(url: str) -> None:
    """Apply the migrations, as a deployment's database gets them, and connect."""
    from engine.base import db

    await db.upgrade(url)
    await db.disconnect()
    await db.connect(url)


# -- figures --------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was measured, never above the maximum."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _latencies(ms: list[float], prefix: str, suffix: str = "") -> dict[str, Any]:
    """p50, p95 and max of `ms` as `<prefix>_p50_ms<suffix>` …, and how many there were."""
    if not ms:
        return {f"{prefix}_p50_ms{suffix}": None, f"{prefix}_p95_ms{suffix}": None,
                f"{prefix}_max_ms{suffix}": None}
    return {
        f"{prefix}_p50_ms{suffix}": round(_percentile(ms, 0.50), 1),
        f"{prefix}_p95_ms{suffix}": round(_percentile(ms, 0.95), 1),
        f"{prefix}_max_ms{suffix}": round(max(ms), 1),
    }


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


# -- child processes ------------------------------------------------------------------------

_SAYS = b"BENCH "


class _Child:
    """A child process of the bench (`python -m engine.operations.bench ROLE`), spoken to in
    JSON lines; its lines to us start with BENCH, anything else it prints is left alone."""

    def __init__(self, role: str, process: asyncio.subprocess.Process) -> None:
        self.role = role
        self.process = process

    @classmethod
    async def start(cls, role: str, spec: dict[str, Any]) -> _Child:
        """Start the child and hand it its spec."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "engine.operations.bench", role,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )
        child = cls(role, process)
        child.send(spec)
        return child

    def send(self, message: dict[str, Any]) -> None:
        """Write a message now (the pipe takes it at once; see `flush`)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    async def flush(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.drain()

    async def hear(self) -> dict[str, Any]:
        """The child's next message; a RuntimeError when it failed or exited."""
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                code = await self.process.wait()
                raise RuntimeError(f"the bench's {self.role} process exited (code {code})")
            if line.startswith(_SAYS):
                message: dict[str, Any] = json.loads(line[len(_SAYS):])
                if "failed" in message:
                    raise RuntimeError(f"the bench's {self.role} process: {message['failed']}")
                return message

    async def close(self) -> None:
        """Tell the child to stop (end of its input) and wait for it."""
        assert self.process.stdin is not None and self.process.stdout is not None
        if not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.stdout.read(), 60)
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


class _Parent:
    """The child's side of the conversation: its stdin and stdout."""

    def say(self, message: dict[str, Any]) -> None:
        sys.stdout.buffer.write(_SAYS + json.dumps(message).encode() + b"\n")
        sys.stdout.buffer.flush()

    async def hear(self) -> dict[str, Any]:
        """The parent's next message; {} once the parent closed our input."""
        line = await asyncio.to_thread(sys.stdin.readline)
        return json.loads(line) if line.strip() else {}


# -- the engine against bare SpiffWorkflow: task completions --------------------------------


def _org_csv(employees: int) -> str:
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups"]
    lines.append("M1,Morgan Lead,morgan@example.com,Manager,people_manager,U1,Unit,,,hr")
    for i in range(employees):
        lines.append(f"B{i},Bench Person {i},b{i}@example.com,Engineer,engineering,U1,Unit,,M1,")
    return "\n".join(lines) + "\n"


class _BareSpiff:
    """The same process run by bare SpiffWorkflow in memory, JSON round-tripped every task."""

    def __init__(self, instances: int) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow

        from engine.base.serialization import full_serializer
        from engine.packs import specs
        from engine.packs.definitions import pack_sources
        from engine.packs.loading import load_pack
        from engine.scripts import sandbox

        standard = STANDARD
        pack = load_pack(standard, {"standard": standard})
        built = specs.build_spec(pack_sources(pack, "objective_setting"), "objective_setting")
        self.serializer = full_serializer
        self.script_engine = sandbox.make_script_engine()
        with sandbox.script_context(catalogs=pack.catalogs()):
            self.states = []
            for _ in range(instances):
                wf = BpmnWorkflow(
                    built.spec, built.subprocess_specs, script_engine=self.script_engine
                )
                wf.do_engine_steps()
                self.states.append(self.serializer.serialize_json(wf))

    def complete_one(self, i: int, bpmn_id: str, data: dict[str, Any]) -> float:
        """Complete `bpmn_id` in instance `i`: deserialise, run, serialise; seconds taken."""
        from SpiffWorkflow.util.task import TaskState

        from engine.scripts import sandbox

        started = time.perf_counter()
        with sandbox.script_context():
            wf = self.serializer.deserialize_json(self.states[i])
            wf.script_engine = self.script_engine
            task = next(
                t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                if t.task_spec.bpmn_id == bpmn_id
            )
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
            self.states[i] = self.serializer.serialize_json(wf)
        return time.perf_counter() - started


async def engine_bench(instances: int, database_url: str | None = None) -> dict[str, Any]:
    """Engine task completions vs bare SpiffWorkflow round-tripping its own JSON.

    Measured: objective-setting rounds (draft, review returned, draft, review approved,
    acknowledgement) completed through `runtime.complete_task` — each one action, one
    transaction on the bench's database — against the same rounds in bare SpiffWorkflow held in
    memory, deserialising and serialising its own JSON around every task.

    Fair because both run the same parsed spec with the same script engine and data, task by
    task, alternating, so whatever else the machine does weighs on both sides of the ratio alike;
    the engine side carries everything the bare side lacks (the database, task rows, audit).
    """
    from engine.base import db
    from engine.base.models import HumanTask, ProcessInstance
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    bare = _BareSpiff(instances)
    async with bench_database(database_url, "engine") as (db_url, label):
        await _migrated(db_url)
        try:
            await import_org(_org_csv(instances))
            standard = STANDARD
            await deploy_pack(standard, "bench", search=[standard.parent])
            manager = await runtime.actor_for("M1")
            employees = {}
            ids = []
            for i in range(instances):
                inst = await runtime.start_process(
                    "objective_setting", subject=f"B{i}", actor=manager
                )
                ids.append(inst.id)
                employees[inst.id] = await runtime.actor_for(f"B{i}")
            engine_n = bare_n = 0
            engine_s = bare_s = 0.0
            for bpmn_id, data in ROUND:
                rows = await HumanTask.filter(bpmn_id=bpmn_id, status="ready").order_by("id")
                # One engine completion, then the same task in bare SpiffWorkflow, and so on:
                # a burst of load from elsewhere lands on both sides alike.
                for i, row in enumerate(rows):
                    is_review = bpmn_id == "review_objectives"
                    actor = manager if is_review else employees[row.instance_id]
                    started = time.perf_counter()
                    await runtime.complete_task(row.id, actor, data)
                    engine_s += time.perf_counter() - started
                    bare_s += bare.complete_one(i, bpmn_id, data)
                engine_n += len(rows)
                bare_n += len(rows)
            states = await ProcessInstance.filter(id__in=ids).values_list("state", flat=True)
            state_bytes = int(sum(len(s) for s in states) / len(states))
        finally:
            await db.disconnect()
    engine_rate, bare_rate = engine_n / engine_s, bare_n / bare_s
    return {
        "engine_task_completions_per_s": round(engine_rate, 1),
        "bare_spiff_task_completions_per_s": round(bare_rate, 1),
        "ratio": round(engine_rate / bare_rate, 3),
        "serialized_bytes_per_instance": state_bytes,
        "bare_spiff_serialized_bytes_per_instance": int(
            sum(len(s) for s in bare.states) / len(bare.states)
        ),
        "task_completions": engine_n,
        "database": label,
    }


async def run(args: Any) -> dict[str, Any]:
    """Run the benchmarks the arguments ask for; returns one JSON-able dict.

    `args.database` is the DATABASE_URL to honour (PostgreSQL: a throwaway database on that
    server; anything else: a temporary SQLite file)."""
    from engine.workflow.instance import recent_workflows

    database = getattr(args, "database", None)
    load_at_start = _load_average()
    result: dict[str, Any] = {}
    if getattr(args, "launch", 0):
        clients = getattr(args, "clients", CLIENTS)
        result = await launch_bench(args.launch, database, clients=clients)
    elif getattr(args, "conflicts", 0):
        result = await conflicts_bench(args.conflicts, database)
    elif getattr(args, "dashboards", False):
        result = await dashboards_bench(database_url=database)
    else:
        instances = max(1, args.tasks // len(ROUND))
        result.update(await engine_bench(instances, database))
        # The same again with every action loading its workflow from the database.
        size, recent_workflows.size = recent_workflows.size, 0
        try:
            cold = await engine_bench(instances, database)
        finally:
            recent_workflows.size = size
        result["engine_task_completions_per_s_without_workflow_cache"] = cold[
            "engine_task_completions_per_s"
        ]
        result["ratio_without_workflow_cache"] = cold["ratio"]
    result["load_average_1min"] = {"start": load_at_start, "end": _load_average()}
    result["cpus"] = os.cpu_count()
    return result


# -- a cycle launch while people work ---------------------------------------------------------

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
        await _migrated(db_url)
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

            child = await _Child.start("launch", {
                "url": db_url, "process": process, "unit": LAUNCHED_UNIT,
                "cycle": LAUNCH_CYCLE, "actor": "L0", "launch_processes": launch_pool.processes,
            })
            try:
                await child.flush()
                await child.hear()  # connected, the version parsed, waiting for the word
                bare.start(sample[:len(sample) // 2])
                await asyncio.gather(*(c.work(warmup, None) for c in workers))
                await asyncio.gather(*(c.work(before, "before") for c in workers))
                load_at_launch = _load_average()
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
            load_after_launch = _load_average()
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
        **_latencies(before_ms, "submit", "_before_launch"),
        "concurrent_submissions": len(during_ms),
        **_latencies(during_ms, "concurrent_submit"),
        "submit_errors": dict(errors),
        "database": label,
        "load_average_1min_at_launch": {"start": load_at_launch, "end": load_after_launch},
    }
    if before_ms and during_ms:
        result["concurrent_submit_p95_vs_before"] = round(
            _percentile(during_ms, 0.95) / _percentile(before_ms, 0.95), 2)
    return result


async def _launch_child(spec: dict[str, Any], parent: _Parent) -> None:
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


# -- parallel sign-offs at the same moment ----------------------------------------------------

CONFLICT_PAIRS = 300
_MID_YEAR_CASE = ("tests", "test_mid_year_review.json")
_SIGN_OFFS = ("employee_signoff", "manager_signoff")


def _mid_year_steps() -> dict[str, dict[str, Any]]:
    """The data of each mid-year step in the standard pack's own scenario test (pack data)."""
    tasks = json.loads(STANDARD.joinpath(*_MID_YEAR_CASE).read_text())[
        "checkin_without_revision"]["tasks"]
    return {step: tasks[step]["data"][0] for step in tasks}


def _conflicts_org_csv(employees: int) -> str:
    """HR, and a manager for every ten employees."""
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups",
             "H1,Hana HR,hana@example.com,HR partner,individual_contributor,ORG,Org,,,hr"]
    for m in range((employees + 9) // 10):
        lines.append(f"M{m},Manager {m},m{m}@example.com,Team lead,people_manager,ORG,Org,,H1,")
    for i in range(employees):
        lines.append(f"E{i},Employee {i},e{i}@example.com,Engineer,engineering,ORG,Org,,"
                     f"M{i // 10},")
    return "\n".join(lines) + "\n"


async def conflicts_bench(pairs: int, database_url: str | None = None) -> dict[str, Any]:
    """Parallel sign-offs submitted at the same moment from two processes: false conflicts.

    Measured: `pairs` mid-year reviews (the standard pack), each run up to its two parallel
    sign-offs with the data of the pack's own scenario test; then, pair after pair, the
    employee's sign-off and the manager's are handed to two child processes at the same moment
    (one message written to each, back to back, the order alternating), each submitting its own
    through `runtime.complete_task` on the same database. The two tasks are different, so a
    Conflict for either is false: `false_conflicts` (the goal is 0). `reapplied` counts the
    sign-offs that found their instance changed under them and were applied again on the fresh
    state — the proof that the pairs really met; `pairs_completed` the reviews that ended.
    """
    from engine.base import db
    from engine.base.models import HumanTask, ProcessInstance
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    steps = _mid_year_steps()
    async with bench_database(database_url, "conflicts") as (db_url, label):
        await _migrated(db_url)
        try:
            report = await import_org(_conflicts_org_csv(pairs))
            if report.errors:
                raise RuntimeError("; ".join(report.errors))
            await deploy_pack(STANDARD, "bench", search=[STANDARD.parent])
            hr = await runtime.actor_for("H1")
            ids: list[int] = []
            signers: dict[str, list[tuple[int, int | None]]] = {step: [] for step in _SIGN_OFFS}
            for i in range(pairs):
                inst = await runtime.start_process(
                    "mid_year_review", subject=f"E{i}", actor=hr,
                    data={"objectives": steps["update_actuals"]["objectives"]},
                )
                ids.append(inst.id)
                for step in ("update_actuals", "manager_checkin", "development_plan"):
                    task = await HumanTask.get(instance_id=inst.id, bpmn_id=step,
                                               status="ready")
                    assert task.assignee_id is not None  # each step sits with one person
                    holder = await runtime.actor_for(task.assignee_id)
                    await runtime.complete_task(task.id, holder, steps[step])
                for task in await HumanTask.filter(instance_id=inst.id, status="ready"):
                    signers[task.bpmn_id].append((task.id, task.assignee_id))
            if any(len(signers[step]) != pairs for step in _SIGN_OFFS):
                raise RuntimeError("the mid-year reviews did not reach their two sign-offs")

            children = [
                await _Child.start("signoff", {"url": db_url, "tasks": signers[step],
                                               "data": steps[step]})
                for step in _SIGN_OFFS
            ]
            outcomes: list[dict[str, Any]] = []
            reapplied = 0
            try:
                for child in children:
                    await child.flush()
                    await child.hear()  # connected, the version parsed
                for i in range(pairs):
                    for child in (children if i % 2 == 0 else children[::-1]):
                        child.send({"go": i})
                    await asyncio.gather(*(child.flush() for child in children))
                    for child in children:
                        outcomes.append(await child.hear())
                for child in children:
                    child.send({"stop": True})
                    await child.flush()
                    reapplied += int((await child.hear())["reapplied"])
            finally:
                for child in children:
                    await child.close()
            completed = await ProcessInstance.filter(id__in=ids, status="completed").count()
        finally:
            await db.disconnect()
    ms = [o["ms"] for o in outcomes]
    examples = [o["detail"] for o in outcomes if o["outcome"] != "ok"][:3]
    return {
        "pairs": pairs,
        "false_conflicts": sum(1 for o in outcomes if o["outcome"] == "conflict"),
        "other_errors": sum(1 for o in outcomes if o["outcome"] == "error"),
        "pairs_completed": completed,
        "reapplied": reapplied,
        **_latencies(ms, "signoff"),
        "examples": examples,
        "database": label,
    }


async def _signoff_child(spec: dict[str, Any], parent: _Parent) -> None:
    """One signer's process: on each word, submit that pair's sign-off and say how it went."""
    from prometheus_client import REGISTRY

    from engine.base import db
    from engine.base.errors import Conflict
    from engine.packs import definitions
    from engine.people.directory import current_directory
    from engine.workflow import runtime

    await db.connect(spec["url"])
    try:
        await current_directory()
        await definitions.latest("mid_year_review")
        actors = {pid: await runtime.actor_for(pid) for _, pid in spec["tasks"]}
        parent.say({"ready": True})
        while "go" in (message := await parent.hear()):
            task_id, person_id = spec["tasks"][message["go"]]
            outcome, detail = "ok", ""
            started = time.perf_counter()
            try:
                await runtime.complete_task(task_id, actors[person_id], spec["data"])
            except Conflict as exc:
                outcome, detail = "conflict", str(exc)
            except Exception as exc:  # reported with the pair, not fatal to the bench
                outcome, detail = "error", f"{type(exc).__name__}: {exc}"
            parent.say({"outcome": outcome, "detail": detail,
                        "ms": (time.perf_counter() - started) * 1000})
        parent.say({"reapplied": REGISTRY.get_sample_value(
            "sightline_actions_reapplied_total") or 0})
    finally:
        await db.disconnect()


_CHILD_ROLES: dict[str, Callable[[dict[str, Any], _Parent], Awaitable[None]]] = {
    "launch": _launch_child,
    "signoff": _signoff_child,
}


def _child_main(argv: list[str]) -> int:
    """`python -m engine.operations.bench ROLE`: the spec comes as the first line of input."""
    if len(argv) != 1 or argv[0] not in _CHILD_ROLES:
        roles = ",".join(_CHILD_ROLES)
        print(f"usage: python -m engine.operations.bench {{{roles}}}", file=sys.stderr)
        return 2
    parent = _Parent()

    async def main() -> int:
        spec = await parent.hear()
        try:
            await _CHILD_ROLES[argv[0]](spec, parent)
        except Exception as exc:
            parent.say({"failed": f"{type(exc).__name__}: {exc}"})
            raise
        return 0

    return asyncio.run(main())


# Where the year-end appraisals of the dashboards bench stand, by employee number modulo 20:
# (step id, step name, who holds it, status of the instance).
_YEAR_END_STEPS = (
    [("self_appraisal", "Self-appraisal", "employee", "running")] * 4
    + [("manager_appraisal", "Manager appraisal", "manager", "running")] * 3
    + [("hr_mediation", "Mediate the appraisal", "group", "running")]
    + [(None, "", "", "waiting")] * 2
    + [("appraisal_discussion", "Hold the appraisal discussion", "manager", "running")] * 2
    + [("employee_signoff", "Sign off the appraisal", "employee", "running")] * 2
    + [("hr_final_approval", "Approve the final rating", "group", "running")]
    + [(None, "", "", "error")]
    + [(None, "", "", "completed")] * 4
)


def _dashboards_cycle(employees: int, departments: int, teams: int) -> Any:
    """A Batch writing one cycle: the org chart, two processes per employee at various steps,
    their task rows and final ratings (explicit ids, so rows can point at each other)."""
    import random
    from datetime import timedelta

    from engine.base import clock
    from engine.base.models import (
        Cycle,
        GroupMembership,
        HumanTask,
        OrgUnit,
        Person,
        ProcessDefinition,
        ProcessInstance,
        Record,
    )
    from engine.workflow.store import Batch

    rng = random.Random(2026)
    now = clock.now()
    batch = Batch()
    standard = STANDARD
    sources = {f"catalogs/{p.name}": p.read_text() for p in (standard / "catalogs").glob("*.toml")}
    for def_id, process in ((1, "objective_setting"), (2, "year_end_appraisal")):
        batch.insert(ProcessDefinition, {
            "id": def_id, "pack": "standard", "process_id": process, "version": 1,
            "content_hash": process, "title": process.replace("_", " ").capitalize(),
            "sources": sources,
        })
    batch.insert(Cycle, {"id": 1, "name": "bench"})
    batch.insert(OrgUnit, {"id": 1, "code": "ROOT", "name": "Company", "head_id": 1})
    batch.insert(Person, {"id": 1, "key": "P1", "name": "Chief", "org_unit_id": 1})
    batch.insert(GroupMembership, {"group": "hr", "person_id": 1})
    next_person = 2
    team_heads = []
    for d in range(departments):
        unit_id, head = 2 + d, next_person
        batch.insert(OrgUnit, {"id": unit_id, "code": f"D{d}", "name": f"Department {d}",
                               "parent_id": 1, "head_id": head})
        batch.insert(Person, {"id": head, "key": f"P{head}", "name": f"Director {d}",
                              "org_unit_id": unit_id, "manager_id": 1})
        next_person += 1
    for t in range(teams):
        unit_id, head = 2 + departments + t, next_person
        batch.insert(OrgUnit, {"id": unit_id, "code": f"T{t}", "name": f"Team {t}",
                               "parent_id": 2 + t % departments, "head_id": head})
        batch.insert(Person, {"id": head, "key": f"P{head}", "name": f"Lead {t}",
                              "job_family": "people_manager", "org_unit_id": unit_id,
                              "manager_id": 2 + t % departments})
        team_heads.append((unit_id, head))
        next_person += 1
    ratings = [5] * 10 + [4] * 20 + [3] * 40 + [2] * 20 + [1] * 10
    instance_id = task_id = 0
    for n in range(employees - next_person + 1):
        pid = next_person + n
        unit_id, manager = team_heads[n % teams]
        batch.insert(Person, {"id": pid, "key": f"P{pid}", "name": f"Employee {pid}",
                              "job_family": "engineering" if n % 3 else "sales",
                              "org_unit_id": unit_id, "manager_id": manager})
        instance_id += 1
        batch.insert(ProcessInstance, {
            "id": instance_id, "definition_id": 1, "process_id": "objective_setting",
            "subject_id": pid, "cycle_id": 1, "status": "completed", "state": b"",
            "completed_at": now})
        for bpmn_id, holder in (("draft_objectives", pid), ("review_objectives", manager),
                                ("acknowledge_objectives", pid)):
            task_id += 1
            batch.insert(HumanTask, {
                "id": task_id, "instance_id": instance_id, "spiff_task_id": str(task_id),
                "bpmn_id": bpmn_id, "process_id": "objective_setting", "name": bpmn_id,
                "assignee_id": holder, "subject_id_cache": pid, "status": "completed",
                "completed_by_id": holder, "completed_at": now})
        step, name, holder_kind, status = _YEAR_END_STEPS[n % len(_YEAR_END_STEPS)]
        instance_id += 1
        batch.insert(ProcessInstance, {
            "id": instance_id, "definition_id": 2, "process_id": "year_end_appraisal",
            "subject_id": pid, "cycle_id": 1, "status": status, "state": b"",
            "error": {"task": "score_kpis", "task_name": "Score the KPIs",
                      "message": "unknown measure_type"} if status == "error" else None})
        if step is not None:
            task_id += 1
            batch.insert(HumanTask, {
                "id": task_id, "instance_id": instance_id, "spiff_task_id": str(task_id),
                "bpmn_id": step, "process_id": "year_end_appraisal", "name": name,
                "assignee_id": {"employee": pid, "manager": manager}.get(holder_kind),
                "candidate_group": "hr" if holder_kind == "group" else None,
                "subject_id_cache": pid, "status": "ready",
                "due_at": now + timedelta(days=rng.randint(-10, 14))})
        batch.insert(Record, {"kind": "objectives", "person_id": pid, "cycle_id": 1,
                              "instance_id": instance_id - 1, "data": OBJECTIVES})
        if status == "completed":
            batch.insert(Record, {"kind": "final_rating", "person_id": pid, "cycle_id": 1,
                                  "instance_id": instance_id,
                                  "data": {"rating": rng.choice(ratings), "kpi_score": 3.1}})
    return batch


async def dashboards_bench(
    employees: int = 10_000, departments: int = 10, teams: int = 300, runs: int = 50,
    database_url: str | None = None,
) -> dict[str, Any]:
    """The HR dashboard over a generated cycle of N employees: p50/p95 of its wall time and of
    the CPU time it costs this process (the part a busy machine does not inflate)."""
    from engine.base import db
    from engine.base.models import HumanTask, ProcessInstance
    from engine.people.directory import bump_directory_version, current_directory
    from engine.performance.hr_dashboard import hr_dashboard
    from engine.workflow.store import apply

    class _Admin:
        person_id = 1
        groups = frozenset({"hr"})

    async with bench_database(database_url, "dashboards") as (db_url, label):
        await _migrated(db_url)
        try:
            started = time.perf_counter()
            await apply(_dashboards_cycle(employees, departments, teams))
            await bump_directory_version()
            generate_s = time.perf_counter() - started
            await current_directory()  # a running server has the snapshot loaded
            board = await hr_dashboard(1, _Admin())
            times, cpu = [], []
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                await hr_dashboard(1, _Admin())
                times.append((time.perf_counter() - started) * 1000)
                # CPU time of every thread (SQLite runs on aiosqlite's): the cost without the
                # waiting a busy machine adds to the wall clock.
                cpu.append((time.process_time() - started_cpu) * 1000)
            instances = await ProcessInstance.all().count()
            tasks = await HumanTask.all().count()
        finally:
            await db.disconnect()
    times.sort()
    cpu.sort()
    return {
        "hr_dashboard_p50_ms": round(times[len(times) // 2], 1),
        "hr_dashboard_p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
        "hr_dashboard_cpu_p50_ms": round(cpu[len(cpu) // 2], 1),
        "hr_dashboard_cpu_p95_ms": round(cpu[min(len(cpu) - 1, int(len(cpu) * 0.95))], 1),
        "runs": runs,
        "employees": employees,
        "units": 1 + departments + teams,
        "instances": instances,
        "human_tasks": tasks,
        "units_on_dashboard": len(board.units),
        "rated": board.calibration[0].rated,
        "generate_seconds": round(generate_s, 1),
        "database": label,
    }


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
