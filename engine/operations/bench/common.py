"""What every bench shares: a throwaway database per measurement, percentiles and the load
average, the JSON-lines talk with child processes, and a generated organisation."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[3]


STANDARD = ROOT / "processes" / "standard"


POSTGRESQL = "postgresql"


SQLITE_FILE = "sqlite (file)"


_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "asyncpg", "psycopg"})


# Where CREATE DATABASE is sent from: the server's maintenance database, never the user's own.
_MAINTENANCE_DATABASES = ("postgres", "template1")


def database_kind(url: str | None) -> str:
    """What a bench runs on for this DATABASE_URL: "postgresql" or "sqlite (file)"."""
    return POSTGRESQL if urlsplit(url or "").scheme in _POSTGRES_SCHEMES else SQLITE_FILE


def asyncpg_url(url: str, database: str) -> str:
    """`url`'s server and credentials, naming another database, as asyncpg reads it."""
    parts = urlsplit(url)
    # Tortoise's own URL options (minsize, maxsize …) mean nothing to asyncpg; sslmode does.
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k == "sslmode"])
    return urlunsplit(("postgresql", parts.netloc, f"/{database}", query, ""))


async def on_server(url: str, statement: str) -> None:
    """Run one statement on the maintenance database of `url`'s PostgreSQL server."""
    import asyncpg

    missing: Exception | None = None
    for maintenance in _MAINTENANCE_DATABASES:
        try:
            admin = await asyncpg.connect(asyncpg_url(url, maintenance))
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
        await on_server(url, f'CREATE DATABASE "{database}"')
        try:
            yield urlunsplit(urlsplit(url)._replace(path=f"/{database}")), POSTGRESQL
        finally:
            # FORCE: a child process that died holding a connection must not keep it alive.
            await on_server(url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory(prefix=f"sightline-{name}-") as tmp:
            yield f"sqlite://{Path(tmp) / f'{name}.db'}", SQLITE_FILE


async def migrated(url: str) -> None:
    """Apply the migrations, as a deployment's database gets them, and connect."""
    from engine.base import db

    await db.upgrade(url)
    await db.disconnect()
    await db.connect(url)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was measured, never above the maximum."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latencies(ms: list[float], prefix: str, suffix: str = "") -> dict[str, Any]:
    """p50, p95 and max of `ms` as `<prefix>_p50_ms<suffix>` …, and how many there were."""
    if not ms:
        return {f"{prefix}_p50_ms{suffix}": None, f"{prefix}_p95_ms{suffix}": None,
                f"{prefix}_max_ms{suffix}": None}
    return {
        f"{prefix}_p50_ms{suffix}": round(percentile(ms, 0.50), 1),
        f"{prefix}_p95_ms{suffix}": round(percentile(ms, 0.95), 1),
        f"{prefix}_max_ms{suffix}": round(max(ms), 1),
    }


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


_SAYS = b"BENCH "


class Child:
    """A child process of the bench (`python -m engine.operations.bench ROLE`), spoken to in
    JSON lines; its lines to us start with BENCH, anything else it prints is left alone."""

    def __init__(self, role: str, process: asyncio.subprocess.Process) -> None:
        self.role = role
        self.process = process

    @classmethod
    async def start(cls, role: str, spec: dict[str, Any]) -> Child:
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


class Parent:
    """The child's side of the conversation: its stdin and stdout."""

    def say(self, message: dict[str, Any]) -> None:
        sys.stdout.buffer.write(_SAYS + json.dumps(message).encode() + b"\n")
        sys.stdout.buffer.flush()

    async def hear(self) -> dict[str, Any]:
        """The parent's next message; {} once the parent closed our input."""
        line = await asyncio.to_thread(sys.stdin.readline)
        return json.loads(line) if line.strip() else {}


def org_csv(employees: int) -> str:
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups"]
    lines.append("M1,Morgan Lead,morgan@example.com,Manager,people_manager,U1,Unit,,,hr")
    for i in range(employees):
        lines.append(f"B{i},Bench Person {i},b{i}@example.com,Engineer,engineering,U1,Unit,,M1,")
    return "\n".join(lines) + "\n"
