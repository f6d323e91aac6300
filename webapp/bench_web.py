"""`sightline bench --web`: the web stack measured end to end, printed as JSON.

Two numbers, each on a throwaway database of its own (engine.operations.bench.bench_database: a new
database on the PostgreSQL server DATABASE_URL names, or a temporary SQLite file). Only the
app's own dependencies are used (httpx is one), never the test suite's:

- inbox_p50_ms / inbox_p95_ms: server time of a manager's GET /inbox with 100,000 human-task
  rows in the database (about 2,000 people; the manager holds a few dozen open tasks and their
  group some more), timed around the ASGI call of the real app with a logged-in session.
- http_task_submissions_per_s: complete-task POSTs through uvicorn (one process, a real
  port), from a few concurrent logged-in clients, on a one-field form in a tiny pack, so the
  number is about the web stack and the engine, not about a big form.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from config import settings

PASSWORD = "bench-password"
SESSION_COOKIE = "sightline_session"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

# -- the inbox on a big table ---------------------------------------------------------------

TASK_ROWS = 100_000
MANAGERS = 40
REPORTS_PER_MANAGER = 49  # 40 x 49 employees + 40 managers + the chief: 2,001 people
INBOX_REQUESTS = 300
INBOX_WARMUP = 20
BENCH_MANAGER = "M00"
BENCH_GROUP = "calibration"  # the bench manager's group, holding a few claimable tasks


def _org_csv() -> str:
    """A chief, 40 managers with 49 reports each; the bench manager is in BENCH_GROUP."""
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups"]
    lines.append("C0,Chief Person,c0@example.com,Chief,people_manager,ROOT,Company,,,hr")
    for m in range(MANAGERS):
        groups = BENCH_GROUP if m == 0 else ""
        lines.append(f"M{m:02},Manager {m},m{m}@example.com,Manager,people_manager,"
                     f"T{m},Team {m},ROOT,C0,{groups}")
        for e in range(REPORTS_PER_MANAGER):
            lines.append(f"E{m:02}{e:02},Employee {m}-{e},e{m}{e}@example.com,Engineer,"
                         f"engineering,T{m},Team {m},ROOT,M{m:02},")
    return "\n".join(lines) + "\n"


async def _login_user(username: str, person_id: int) -> None:
    from argon2 import PasswordHasher

    from engine.people.logins import create_login

    await create_login(username, person_id, PasswordHasher().hash(PASSWORD))


class _ServerClock:
    """ASGI wrapper that records how long each request spent inside the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seconds: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.seconds.append(time.perf_counter() - started)


async def _log_in(client: httpx.AsyncClient, username: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = await client.get("/login")
    token = _csrf(page.text)
    answer = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"bench login as {username} failed: HTTP {answer.status_code}")
    return token


def _csrf(html: str) -> str:
    match = CSRF_FIELD.search(html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    if not match:
        raise RuntimeError("the page carries no CSRF token")
    return match.group(1)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def inbox_bench(
    requests: int = INBOX_REQUESTS, path: str = "/inbox", database_url: str | None = None
) -> dict[str, Any]:
    """p50/p95 server milliseconds of the bench manager's inbox over a 100,000-row task table."""
    from engine.base import db
    from engine.operations.bench import bench_database
    from engine.operations.bench_fill import fill_task_table
    from engine.packs.definitions import deploy_pack
    from engine.people.directory import current_directory
    from engine.people.org_import import import_org
    from webapp.app import create_app

    async with bench_database(database_url, "webbench-inbox") as (db_url, _):
        await db.upgrade(db_url)
        await db.disconnect()
        await db.connect(db_url)
        try:
            report = await import_org(_org_csv())
            if report.errors:
                raise RuntimeError(f"bench organisation did not import: {report.errors[:3]}")
            standard = Path(settings.ROOT) / "processes" / "standard"
            await deploy_pack(standard, "bench", search=[standard.parent])
            manager = (await current_directory()).person(BENCH_MANAGER)
            assert manager is not None
            await _login_user("bench-manager", manager.id)
            filled = time.perf_counter()
            counts = await fill_task_table(TASK_ROWS, BENCH_GROUP)
            fill_seconds = time.perf_counter() - filled

            timed = _ServerClock(create_app(db_url, start_workers=False))
            transport = httpx.ASGITransport(app=timed)
            async with timed.app.router.lifespan_context(timed.app):
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench"
                ) as client:
                    await _log_in(client, "bench-manager")
                    shown = 0
                    for n in range(INBOX_WARMUP + requests):
                        if n == INBOX_WARMUP:
                            timed.seconds.clear()
                        page = await client.get(path)
                        if page.status_code != 200:
                            raise RuntimeError(f"GET {path} answered HTTP {page.status_code}")
                        shown = page.text.count('href="/tasks/')
            waiting = await _manager_waiting(manager.id)
        finally:
            await db.disconnect()
    ms = [s * 1000 for s in timed.seconds]
    return {
        "inbox_p50_ms": round(statistics.median(ms), 2),
        "inbox_p95_ms": round(_percentile(ms, 0.95), 2),
        "inbox_requests": len(ms),
        "inbox_task_rows": counts["task_rows"],
        "inbox_open_task_rows": counts["open_task_rows"],
        "inbox_manager_waiting": waiting,
        "inbox_task_links_on_page": shown,
        "inbox_fill_seconds": round(fill_seconds, 1),
    }


async def _manager_waiting(person_id: int) -> int:
    from engine.workflow.inbox import nav_counts

    return (await nav_counts(person_id, {BENCH_GROUP}))["inbox"]


def _server_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a bench's own server: its throwaway database, no timers or mail, and
    a key of its own (the server refuses the built-in one; the bench's sessions end with it)."""
    return {**os.environ, "DATABASE_URL": db_url, "TIMER_POLL_SECONDS": "0", "SMTP_HOST": "",
            "SECRET_KEY": secrets.token_urlsafe(48), **extra}


# -- task submissions through uvicorn -------------------------------------------------------

SUBMIT_CLIENTS = 4
SUBMIT_WARMUP = 10
NOTE_PACK = {
    "pack.toml": """[pack]
name = "webbench"
version = "1"
title = "Web bench"

[lanes]
"Employee" = "subject"

[processes.quick_note]
title = "Quick note"
start = "per-employee"
starters = ["group:hr"]
""",
    "quick_note.bpmn": """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_quick_note" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="quick_note" name="Quick note" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="Lane_employee" name="Employee">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>write_note</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="write_note" />
    <bpmn:userTask id="write_note" name="Write a note">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="note-schema.json" />
          <spiffworkflow:property name="formUiSchemaFilename" value="note-uischema.json" />
          <spiffworkflow:property name="dueIn" value="P3D" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="write_note" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""",
    "forms/note-schema.json": """{"type": "object", "required": ["note"],
 "properties": {"note": {"type": "string", "title": "Note", "minLength": 1, "maxLength": 200}}}
""",
    "forms/note-uischema.json": '{"ui:order": ["note"]}\n',
}


def _write_pack(folder: Path) -> Path:
    for relative, text in NOTE_PACK.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@dataclass
class _Submitter:
    """One person's browser: a session, its CSRF token, and the tasks waiting on them."""

    username: str
    task_ids: list[int]


async def _prepare_submissions(
    db_url: str, folder: Path, total: int, write_pack: Any = None
) -> list[_Submitter]:
    """A small org, the note pack, and `total` open note tasks spread over the submitters."""
    from engine.base import db
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime, worklist

    await db.upgrade(db_url)
    await db.disconnect()
    await db.connect(db_url)
    try:
        lines = ["employee_id,name,manager_id,groups", "H0,Bench HR,,hr"]
        lines += [f"S{n},Submitter {n},H0," for n in range(SUBMIT_CLIENTS)]
        report = await import_org("\n".join(lines) + "\n")
        if report.errors:
            raise RuntimeError(f"bench organisation did not import: {report.errors[:3]}")
        pack = (write_pack or _write_pack)(folder / "webbench")
        await deploy_pack(pack, "bench", search=[folder])
        hr = await runtime.actor_for("H0")
        submitters = []
        for n in range(SUBMIT_CLIENTS):
            person_id = (await runtime.actor_for(f"S{n}")).person_id
            assert person_id is not None  # an actor named by a person's key is that person
            await _login_user(f"s{n}", person_id)
            for _ in range(total // SUBMIT_CLIENTS):
                await runtime.start_process("quick_note", subject=f"S{n}", actor=hr)
            ids = await worklist.open_task_ids_of(person_id)
            submitters.append(_Submitter(f"s{n}", ids))
        return submitters
    finally:
        await db.disconnect()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_until_serving(base_url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(200):
            if server.poll() is not None:
                raise RuntimeError("the bench server exited while starting")
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the bench server did not answer /health within 10 s")


async def _submit_all(base_url: str, who: _Submitter, warmup: int) -> tuple[int, float, float]:
    """Complete every task of one person through the form; (timed count, start, end)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        await _log_in(client, who.username)
        # Logging in starts a new session, with its own token: read it off the task page.
        token = _csrf((await client.get(f"/tasks/{who.task_ids[0]}")).text)
        # The signed session cookie after login is what the browser sends with every submit;
        # the flash each submit adds is left behind (a person would read it on the inbox).
        session = client.cookies.get(SESSION_COOKIE)
        headers = {"Cookie": f"{SESSION_COOKIE}={session}"}
        client.cookies.clear()
        started = ended = time.perf_counter()
        for n, task_id in enumerate(who.task_ids):
            if n == warmup:
                started = time.perf_counter()
            answer = await client.post(
                f"/tasks/{task_id}",
                data={"note": f"Note {n}", "_submit": "submit", "csrf_token": token},
                headers=headers,
            )
            client.cookies.clear()
            if answer.status_code != 303:
                raise RuntimeError(
                    f"submitting task {task_id} answered HTTP {answer.status_code}"
                )
        ended = time.perf_counter()
    return len(who.task_ids) - warmup, started, ended


async def submission_bench(total: int, database_url: str | None = None) -> dict[str, Any]:
    """Task submissions per second through uvicorn with SUBMIT_CLIENTS concurrent people."""
    from engine.operations.bench import bench_database

    total = max(total, SUBMIT_CLIENTS * (SUBMIT_WARMUP + 5))
    with tempfile.TemporaryDirectory(prefix="sightline-webbench-") as tmp:
        async with bench_database(database_url, "webbench-submit") as (db_url, _):
            folder = Path(tmp)
            submitters = await _prepare_submissions(db_url, folder, total)
            port = _free_port()
            env = _server_env(db_url)
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "webapp.app:app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning", "--no-access-log"],
                cwd=settings.ROOT, env=env,
            )
            try:
                base_url = f"http://127.0.0.1:{port}"
                await _wait_until_serving(base_url, server)
                results = await asyncio.gather(
                    *(_submit_all(base_url, who, SUBMIT_WARMUP) for who in submitters)
                )
            finally:
                server.terminate()
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    done = sum(count for count, _, _ in results)
    # From the first timed submit of any client to the last answer of any client.
    seconds = max(end for _, _, end in results) - min(start for _, start, _ in results)
    return {
        "http_task_submissions_per_s": round(done / seconds, 1),
        "http_task_submissions": done,
        "http_clients": SUBMIT_CLIENTS,
    }


async def run(args: Any) -> dict[str, Any]:
    """Both web measurements; a JSON-able dict (`args.database`: the DATABASE_URL to honour)."""
    from engine.operations.bench import database_kind

    database = getattr(args, "database", None)
    # A line per bench request would bury the figures (and cost the clients time).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result: dict[str, Any] = {}
    if getattr(args, "runaway", 0):
        result.update(await runaway_bench(args.runaway, database))
        result["database"] = database_kind(database)
        return result
    result.update(await inbox_bench(database_url=database))
    result.update(await submission_bench(getattr(args, "tasks", 300), database))
    result["database"] = database_kind(database)
    result["server"] = "uvicorn, one process"
    return result


# -- runaway scripts ---------------------------------------------------------------------------

RUNAWAY_SCRIPT = "spin = 0\nwhile True:\n    spin += 1"
HEALTH_EVERY_S = 0.02


def _runaway_pack(folder: Path) -> Path:
    """The note pack with a script task after the note that never ends."""
    _write_pack(folder)
    bpmn = folder / "quick_note.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="write_note" targetRef="end" />',
        '<bpmn:sequenceFlow id="f2" sourceRef="write_note" targetRef="spin" />'
        '<bpmn:scriptTask id="spin" name="Spin"><bpmn:incoming>f2</bpmn:incoming>'
        '<bpmn:outgoing>f3</bpmn:outgoing>'
        f"<bpmn:script>{RUNAWAY_SCRIPT}</bpmn:script></bpmn:scriptTask>"
        '<bpmn:sequenceFlow id="f3" sourceRef="spin" targetRef="end" />',
    ).replace('<bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>',
              '<bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'), encoding="utf-8")
    return folder


async def runaway_bench(runaways: int, database_url: str | None = None) -> dict[str, Any]:
    """`/health` latency while `runaways` people at once submit a task followed by a script
    that never ends (`while True`), through uvicorn (one process, the limits as configured).

    Each submission must come back with its instance in error ("script 'Spin' ran longer
    than …"); meanwhile a probe asks /health every 20 ms. Before the submissions, the same
    probe measures /health on the idle server for the ratio."""
    from engine.operations.bench import bench_database

    global SUBMIT_CLIENTS
    clients, SUBMIT_CLIENTS = SUBMIT_CLIENTS, runaways
    try:
        with tempfile.TemporaryDirectory(prefix="sightline-runaway-") as tmp:
            async with bench_database(database_url, "webbench-runaway") as (db_url, _):
                folder = Path(tmp)
                submitters = await _prepare_submissions(db_url, folder, runaways,
                                                        _runaway_pack)
                return await _probe_during_runaways(db_url, submitters)
    finally:
        SUBMIT_CLIENTS = clients


async def _probe_during_runaways(db_url: str, submitters: list[_Submitter]) -> dict[str, Any]:
    port = _free_port()
    env = _server_env(db_url, WORKER_IN_WEB="false")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp.app:app", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning", "--no-access-log"],
        cwd=settings.ROOT, env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_serving(base_url, server)
        idle = await _probe_health(base_url, seconds=2.0)
        done = asyncio.Event()
        probing = asyncio.create_task(_probe_health(base_url, until=done))
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(_submit_one(base_url, who) for who in submitters))
        submit_seconds = time.perf_counter() - started
        done.set()
        during = await probing
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return {
        "runaway_scripts": len(submitters),
        "runaway_submissions_answered": sum(1 for status, _ in outcomes if status < 500),
        "runaway_answers": sorted({status for status, _ in outcomes}),
        "runaway_seconds": round(submit_seconds, 2),
        "health_probes_during": len(during),
        "health_p50_ms_during": round(_percentile(during, 0.5) * 1000, 1),
        "health_p95_ms_during": round(_percentile(during, 0.95) * 1000, 1),
        "health_max_ms_during": round(max(during) * 1000, 1),
        "health_p95_ms_idle": round(_percentile(idle, 0.95) * 1000, 1),
        "script_cpu_seconds": settings.SCRIPT_CPU_SECONDS,
    }


async def _submit_one(base_url: str, who: _Submitter) -> tuple[int, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        await _log_in(client, who.username)
        token = _csrf((await client.get(f"/tasks/{who.task_ids[0]}")).text)
        started = time.perf_counter()
        answer = await client.post(f"/tasks/{who.task_ids[0]}", data={
            "note": "Spin", "_submit": "submit", "csrf_token": token})
        if answer.status_code == 303 and answer.headers.get("location", "").startswith("/login"):
            raise RuntimeError(f"the bench's session for {who.username} was refused")
        return answer.status_code, time.perf_counter() - started


async def _probe_health(
    base_url: str, *, seconds: float | None = None, until: asyncio.Event | None = None
) -> list[float]:
    """/health latencies, one probe every HEALTH_EVERY_S, for `seconds` or until `until`."""
    latencies: list[float] = []
    ends = time.perf_counter() + (seconds or 0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        while (until is not None and not until.is_set()) or (
            seconds is not None and time.perf_counter() < ends
        ):
            started = time.perf_counter()
            await client.get("/health")
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(HEALTH_EVERY_S)
    return latencies
