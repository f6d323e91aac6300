"""Where Sightline relies on its dependencies' internals: SpiffWorkflow, Tortoise, aiosqlite.

Everything here uses something a dependency does not promise to keep: a private attribute, a
module-level name, a method meant to be overridden only by the library itself. Each use states
the assumption it rests on, and tests/engine/test_internals.py checks every one of them against
the installed versions, which are pinned exactly (requirements.lock): an upgrade that breaks an
assumption fails that test first, with the assumption's name, instead of somewhere deep in a
process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import SqliteTransactionWrapper
from tortoise.exceptions import TransactionManagementError

from engine import clock

# --- SpiffWorkflow's timers read the engine clock ----------------------------------------------
#
# Assumption: SpiffWorkflow's timer event definitions (start, due, cycle) read the current time
# only as `datetime.now(timezone.utc)` through the name `datetime` of the module
# SpiffWorkflow.bpmn.specs.event_definitions.timer, and interpret a timestamp without a zone in
# the module's `LOCALTZ`. Replacing those two names makes every timer read `engine.clock` —
# simulated time in tests and rehearsals, real time otherwise — and makes a zoneless timestamp
# in a pack mean UTC on every server, whatever the machine's zone.


class _EngineDatetimeType(type):
    """Stands in for `datetime` as a class: every attribute and isinstance check is datetime's,
    so what SpiffWorkflow builds from it (fromisoformat, combine …) stays a plain datetime."""

    def __getattr__(cls, name: str) -> Any:
        return getattr(datetime, name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, datetime)


class _EngineDatetime(metaclass=_EngineDatetimeType):
    """`datetime` whose `now()` is the engine's clock."""

    @staticmethod
    def now(tz: tzinfo | None = None) -> datetime:
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


def timers_read_engine_clock() -> None:
    """Make SpiffWorkflow's timer definitions read `engine.clock` (done once, at import)."""
    _spiff_timer.datetime = _EngineDatetime  # type: ignore[misc]
    _spiff_timer.LOCALTZ = UTC


timers_read_engine_clock()


# --- Tortoise and aiosqlite: the raw connections under the ORM ---------------------------------
#
# Assumptions: Tortoise's client for the "default" connection has `acquire_connection()`, an
# async context manager yielding the driver's own connection (asyncpg's, or aiosqlite's); inside
# `in_transaction()` the client is a TransactionalDBClient holding that connection as
# `_connection`. aiosqlite's connection runs a callable on its own thread with `_execute(fn,
# *args)` and keeps the sqlite3 connection as `_conn`.


@asynccontextmanager
async def raw_connection() -> AsyncIterator[Any]:
    """The driver's connection under the ORM (the transaction's own inside in_transaction)."""
    async with connections.get("default").acquire_connection() as connection:
        yield connection


async def on_sqlite_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(sqlite3_connection, *args, own_transaction)` on the SQLite connection's thread:
    a whole batch of statements for one thread hop. `own_transaction` is False inside a
    caller's in_transaction(), whose commit or rollback then decides."""
    client = connections.get("default")
    if isinstance(client, TransactionalDBClient):
        connection = client._connection
        return await connection._execute(fn, connection._conn, *args, False)
    async with client.acquire_connection() as connection:
        return await connection._execute(fn, connection._conn, *args, True)


# --- SQLite transactions take the write lock when they begin ------------------------------------
#
# Assumption: Tortoise opens an explicit SQLite transaction (in_transaction) in
# SqliteTransactionWrapper.begin, by committing whatever is pending and executing "BEGIN".
# A deferred BEGIN takes no lock until the first write; a transaction that read first cannot
# then upgrade to writing once another process has written meanwhile, and SQLite fails it at
# once with "database is locked" instead of waiting busy_timeout. Sightline's explicit
# transactions all write, so they begin IMMEDIATE: they wait their turn for the write lock up
# front, as the batch writer does (engine.store).


async def _begin_immediate(self: SqliteTransactionWrapper) -> None:
    try:
        await self._connection.commit()
        await self._connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise TransactionManagementError(exc) from exc


def sqlite_transactions_begin_immediate() -> None:
    """Make Tortoise's SQLite transactions take the write lock when they begin (at import)."""
    SqliteTransactionWrapper.begin = _begin_immediate  # type: ignore[method-assign]


sqlite_transactions_begin_immediate()
