"""Atomic write batches: everything one action writes, applied in one transaction.

An action reads what it needs, runs the workflow in memory, and collects its writes in a
`Batch`: conditional updates (the optimistic checks), inserts (whose new ids later rows may
refer to through `Ref`), and audit events (hash-chained when applied). `apply` writes the batch
in one transaction. On SQLite the whole transaction runs as one call on the database thread —
statements there take microseconds and the thread hop is the expensive part; on PostgreSQL it is
an ordinary transaction on the pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.models import Model
from tortoise.transactions import in_transaction

from engine import clock
from engine.audit import GENESIS, chain_lock_statement, event_hash
from engine.db import is_postgres
from engine.errors import Conflict
from engine.models import AuditEvent


@dataclass
class Ref:
    """The id of a row this batch inserts, known once the batch is applied."""

    value: int | None = None


@dataclass
class _Update:
    model: type[Model]
    where: dict[str, Any]
    values: dict[str, Any]
    # When set, the update must touch a row, else the batch fails with Conflict(message()).
    conflict: Callable[[], str] | None = None


@dataclass
class _Insert:
    model: type[Model]
    values: dict[str, Any]
    ref: Ref


@dataclass
class _Audit:
    actor: str
    action: str
    instance: int | Ref | None
    task: int | Ref | None
    detail: dict[str, Any]
    at: datetime


@dataclass
class Batch:
    """The writes of one action, in order."""

    steps: list[_Update | _Insert | _Audit] = field(default_factory=list)

    def update(
        self,
        model: type[Model],
        where: dict[str, Any],
        values: dict[str, Any],
        *,
        conflict: Callable[[], str] | None = None,
    ) -> None:
        """UPDATE rows matching `where`; with `conflict`, no matching row fails the batch."""
        self.steps.append(_Update(model, where, values, conflict))

    def insert(self, model: type[Model], values: dict[str, Any]) -> Ref:
        """INSERT a row; the returned Ref gets its id (values may hold Refs of earlier rows)."""
        ref = Ref()
        self.steps.append(_Insert(model, values, ref))
        return ref

    def audit(
        self,
        actor: str,
        action: str,
        *,
        instance: int | Ref | None = None,
        task: int | Ref | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event; its hash is chained when the batch is applied."""
        at = clock.now()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        detail = json.loads(json.dumps(detail or {}, default=str))
        self.steps.append(_Audit(actor, action, instance, task, detail, at))


def _column(model: type[Model], name: str) -> tuple[str, Any]:
    """(column name, field) for a model attribute or its `<fk>_id` form."""
    meta = model._meta
    fld = meta.fields_map.get(name)
    if fld is None:
        raise KeyError(f"{model.__name__} has no field {name}")
    return (fld.source_field or name), fld


def _db_value(model: type[Model], name: str, value: Any) -> Any:
    if isinstance(value, Ref):
        value = value.value
    _, fld = _column(model, name)
    return fld.to_db_value(value, model)


class _Statements:
    """SQL text for a dialect; placeholders are `?` (SQLite) or `$n` (PostgreSQL)."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def marks(self, count: int, start: int = 1) -> list[str]:
        return [f"${i}" for i in range(start, start + count)] if self.postgres else ["?"] * count

    def update(self, step: _Update) -> tuple[str, list[Any]]:
        sets = list(step.values.items())
        wheres = list(step.where.items())
        marks = self.marks(len(sets) + len(wheres))
        set_sql = ", ".join(
            f'"{_column(step.model, k)[0]}" = {m}' for (k, _), m in zip(sets, marks, strict=False)
        )
        where_sql = " AND ".join(
            f'"{_column(step.model, k)[0]}" = {m}'
            for (k, _), m in zip(wheres, marks[len(sets):], strict=False)
        )
        params = [_db_value(step.model, k, v) for k, v in sets]
        params += [_db_value(step.model, k, v) for k, v in wheres]
        return f'UPDATE "{step.model._meta.db_table}" SET {set_sql} WHERE {where_sql}', params

    def insert(self, step: _Insert) -> tuple[str, list[Any]]:
        items = list(step.values.items())
        cols = ", ".join(f'"{_column(step.model, k)[0]}"' for k, _ in items)
        marks = ", ".join(self.marks(len(items)))
        sql = f'INSERT INTO "{step.model._meta.db_table}" ({cols}) VALUES ({marks})'
        if self.postgres:
            sql += ' RETURNING "id"'
        return sql, [_db_value(step.model, k, v) for k, v in items]

    def audit(self, step: _Audit, prev: str) -> tuple[str, list[Any], str]:
        instance = step.instance.value if isinstance(step.instance, Ref) else step.instance
        task = step.task.value if isinstance(step.task, Ref) else step.task
        digest = event_hash(prev, step.at, step.actor, step.action, instance, task, step.detail)
        sql, params = self.insert(
            _Insert(
                AuditEvent,
                {
                    "at": step.at,
                    "actor": step.actor,
                    "action": step.action,
                    "instance_id": instance,
                    "task_id": task,
                    "detail": step.detail,
                    "prev_hash": prev,
                    "hash": digest,
                },
                Ref(),
            )
        )
        return sql, params, digest


HEAD_SQL = 'SELECT "hash" FROM "audit_event" ORDER BY "id" DESC LIMIT 1'


class _Rollback(Exception):
    def __init__(self, conflict: Conflict) -> None:
        self.conflict = conflict


def _apply_sqlite(raw: Any, batch: Batch) -> None:
    """Run the batch on the SQLite connection's own thread, as one transaction."""
    sql = _Statements(postgres=False)
    raw.execute("BEGIN IMMEDIATE")
    try:
        head: str | None = None
        for step in batch.steps:
            if isinstance(step, _Update):
                text, params = sql.update(step)
                if raw.execute(text, params).rowcount == 0 and step.conflict:
                    raise _Rollback(Conflict(step.conflict()))
            elif isinstance(step, _Insert):
                text, params = sql.insert(step)
                step.ref.value = raw.execute(text, params).lastrowid
            else:
                if head is None:
                    row = raw.execute(HEAD_SQL).fetchone()
                    head = row[0] if row else GENESIS
                text, params, head = sql.audit(step, head)
                raw.execute(text, params)
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")


async def _apply_postgres(batch: Batch) -> None:
    sql = _Statements(postgres=True)
    async with in_transaction() as conn:
        head: str | None = None
        for step in batch.steps:
            if isinstance(step, _Update):
                text, params = sql.update(step)
                count, _ = await conn.execute_query(text, params)
                if count == 0 and step.conflict:
                    raise Conflict(step.conflict())
            elif isinstance(step, _Insert):
                text, params = sql.insert(step)
                _, rows = await conn.execute_query(text, params)
                step.ref.value = rows[0]["id"]
            else:
                if head is None:
                    # Writers of the chain take turns until commit, so it stays linear.
                    await conn.execute_query(chain_lock_statement())
                    _, rows = await conn.execute_query(HEAD_SQL)
                    head = rows[0]["hash"] if rows else GENESIS
                text, params, head = sql.audit(step, head)
                await conn.execute_query(text, params)


async def apply(batch: Batch) -> None:
    """Write the batch atomically; a failed conditional update raises Conflict, writing nothing."""
    if not batch.steps:
        return
    if is_postgres():
        await _apply_postgres(batch)
        return
    client = connections.get("default")
    async with client.acquire_connection() as connection:
        # aiosqlite runs callables on its connection thread; `_conn` is the sqlite3 connection.
        try:
            await connection._execute(_apply_sqlite, connection._conn, batch)
        except _Rollback as rollback:
            raise rollback.conflict from None
