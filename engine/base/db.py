"""Database connection: one place for the Tortoise config and the SQLite pragmas."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url

from engine.base import internals

MODELS = ["engine.base.models"]

# In-memory caches keyed by database ids register here; a new connection empties them.
_caches_to_clear: list[Callable[[], None]] = []


def clears_on_connect(clear: Callable[[], None]) -> Callable[[], None]:
    """Register a cache's clear function, called whenever the engine connects."""
    _caches_to_clear.append(clear)
    return clear


# Tortoise caches executors by connection name, not by database kind: a SQLite statement would
# otherwise be reused on PostgreSQL when one process (the test suite) talks to both.
clears_on_connect(internals.forget_cached_executors)
MIGRATIONS = "engine.base.migrations"


async def _keep_session(connection: Any) -> None:
    """What a PostgreSQL connection needs when it returns to the pool: nothing more."""


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config for a DATABASE_URL (sqlite:// or postgres://)."""
    connection = expand_db_url(database_url)
    if connection["engine"].endswith("sqlite"):
        path = connection["credentials"]["file_path"]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets the inbox read while a task completes; NORMAL is durable enough with WAL;
        # busy_timeout waits for the writer instead of failing at once. The WAL is kept at up
        # to 64 MB after checkpoints: truncated small (Tortoise's default), every commit would
        # grow the file again, and appending costs several times overwriting.
        connection["credentials"].update(
            journal_mode="WAL",
            synchronous="NORMAL",
            foreign_keys="ON",
            busy_timeout=5000,
            journal_size_limit=64 * 1024 * 1024,
        )
    elif connection["engine"].endswith("asyncpg"):
        # A pooled connection is reset when it goes back to the pool: by default with a query
        # (RESET ALL, UNLISTEN *, advisory locks released), a round trip on every release —
        # as much as the query an action came for. Sightline changes no session state, so the
        # reset only ends whatever transaction is still open (asyncpg does that regardless).
        connection["credentials"]["reset"] = _keep_session
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODELS,
                "default_connection": "default",
                "migrations": MIGRATIONS,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def models_without_connection() -> None:
    """Set the models up (relations, columns) in a process that never connects, such as a
    launch pool process that only builds rows for its parent to write."""
    Tortoise.init_models(MODELS, "models")


# PostgreSQL: a batch written as one statement (engine.workflow.store) calls this to fail whole
# when one of its conditional updates finds its row changed; the error carries the conflict's words.
CONFLICT_SQLSTATE = "SL409"
POSTGRES_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION sightline_conflict(reason text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '{CONFLICT_SQLSTATE}', MESSAGE = reason;
END
$$;
"""


async def connect(database_url: str) -> None:
    """Open the connection (schema must already be migrated)."""
    for clear in _caches_to_clear:
        clear()
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def create_schema(database_url: str) -> None:
    """Connect and create every table directly (tests only; deployments migrate)."""
    await connect(database_url)
    await Tortoise.generate_schemas(safe=True)
    if is_postgres():
        await connections.get("default").execute_script(POSTGRES_FUNCTIONS)


async def upgrade(database_url: str) -> list[str]:
    """Apply pending migrations; returns what was applied."""
    from tortoise.migrations.api import migrate

    applied: list[str] = []

    def progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app}.{name}")

    await migrate(config=tortoise_config(database_url), progress=progress)
    return applied


async def disconnect() -> None:
    """Close every connection and forget the context, so a later connect starts clean."""
    await Tortoise.close_connections()


# SQLite: a connection for the hot path's one-row reads, used on the thread that reads (the
# event loop's). A read by primary key takes microseconds there; the hop to the ORM
# connection's own thread and back costs a hundred times more. In WAL mode a reader never
# waits for a writer, so the event loop is never held.
_readers = threading.local()


def sqlite_reader() -> sqlite3.Connection:
    """This thread's read-only connection to the SQLite database (opened on first use)."""
    path = internals.sqlite_file()
    found: tuple[str, int, sqlite3.Connection] | None = getattr(_readers, "connection", None)
    if found is None or found[0] != path or found[1] != _generation[0]:
        if found is not None:
            found[2].close()
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("PRAGMA query_only = ON")
        reader.execute("PRAGMA busy_timeout = 5000")
        reader.row_factory = sqlite3.Row
        _readers.connection = found = (path, _generation[0], reader)
    return found[2]


# Bumped by every connect: a reader opened before belongs to an older database.
_generation = [0]
clears_on_connect(lambda: _generation.__setitem__(0, _generation[0] + 1))


def is_postgres() -> bool:
    """Whether the default connection is PostgreSQL (for FOR UPDATE SKIP LOCKED and friends)."""
    dialect: str = connections.get("default").capabilities.dialect
    return dialect == "postgres"


class Params:
    """The values of a hand-written statement and their placeholders: `$1, $2 …` on
    PostgreSQL, `?` on SQLite. `sql = f'… WHERE "id" = {p(7)}'`, then run it with `p.values`."""

    def __init__(self) -> None:
        self.postgres = is_postgres()
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.postgres else "?"

    def many(self, values: Iterable[Any]) -> str:
        """Placeholders for a list of values, comma-separated (for `IN (…)`); an empty list
        gives `NULL`, which matches nothing."""
        marks = [self(value) for value in values]
        return ", ".join(marks) if marks else "NULL"

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        """Run a read statement built with this object's placeholders; its rows as dicts.
        The statement's text is passed as written: a `?` in a literal or PostgreSQL's jsonb
        `?` operator is never taken for a placeholder."""
        if self.postgres:
            # On the connection the action holds, if it holds one: taking a second from the
            # pool inside an action lets a few concurrent actions wait on each other for ever.
            async with internals.raw_connection() as con:
                return [dict(row) for row in await con.fetch(sql, *self.values)]
        found: list[dict[str, Any]] = await connections.get("default").execute_query_dict(
            sql, self.values
        )
        return found

    def lock(self) -> str:
        """` FOR UPDATE SKIP LOCKED` on PostgreSQL (rows another worker holds are skipped);
        nothing on SQLite, where the one writer at a time already gives that."""
        return " FOR UPDATE SKIP LOCKED" if self.postgres else ""
