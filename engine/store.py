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
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.fields import JSONField
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
    # When set, the update must touch a row, else the batch fails with Conflict(conflict).
    conflict: str | None = None


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
        conflict: str | None = None,
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


class _Table:
    """What the batch needs of a model, worked out once: columns, converters, defaults."""

    def __init__(self, model: type[Model]) -> None:
        meta = model._meta
        self.name = meta.db_table
        self.model = model
        self.columns: dict[str, str] = {}
        self.converters: dict[str, Callable[[Any], Any]] = {}
        self.defaults: list[tuple[str, Callable[[], Any]]] = []
        self.required: list[str] = []
        for name, column in meta.fields_db_projection.items():
            fld = meta.fields_map[name]
            self.columns[name] = column
            if isinstance(fld, JSONField):
                self.converters[name] = fld.encoder
            if fld.pk:
                continue
            if fld.default is not None:
                self.defaults.append((name, _default_of(fld.default)))
            elif getattr(fld, "auto_now", False) or getattr(fld, "auto_now_add", False):
                self.defaults.append((name, clock.now))
            elif not fld.null:
                self.required.append(name)
        self.sql: dict[tuple[Any, ...], str] = {}

    def column(self, name: str) -> str:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"{self.model.__name__} has no field {name}") from None

    def value(self, name: str, value: Any) -> Any:
        if isinstance(value, Ref):
            value = value.value
        if value is None:
            return None
        convert = self.converters.get(name)
        return convert(value) if convert else value

    def with_defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for name, default in self.defaults:
            if name not in out:
                out[name] = default()
        for name in self.required:
            if name not in out:
                raise ValueError(f"{self.model.__name__}.{name} needs a value")
        return out


def _default_of(default: Any) -> Callable[[], Any]:
    """A field's default as a function (a callable default is one already)."""
    return default if callable(default) else (lambda: default)


_tables: dict[type[Model], _Table] = {}


def _table(model: type[Model]) -> _Table:
    found = _tables.get(model)
    if found is None:
        found = _tables[model] = _Table(model)
    return found


class _Statements:
    """SQL text for a dialect (cached per shape); placeholders `?` (SQLite) or `$n` (PostgreSQL)."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def marks(self, count: int) -> list[str]:
        return [f"${i}" for i in range(1, count + 1)] if self.postgres else ["?"] * count

    def update(self, step: _Update) -> tuple[str, list[Any]]:
        table = _table(step.model)
        sets = tuple(step.values)
        # A None in `where` means IS NULL (a placeholder would never match NULL).
        wheres = tuple(k for k, v in step.where.items() if v is not None)
        nulls = tuple(k for k, v in step.where.items() if v is None)
        key = ("update", sets, wheres, nulls, self.postgres)
        sql = table.sql.get(key)
        if sql is None:
            marks = self.marks(len(sets) + len(wheres))
            set_sql = ", ".join(
                f'"{table.column(k)}" = {m}' for k, m in zip(sets, marks, strict=False)
            )
            conditions = [
                f'"{table.column(k)}" = {m}'
                for k, m in zip(wheres, marks[len(sets):], strict=False)
            ] + [f'"{table.column(k)}" IS NULL' for k in nulls]
            sql = table.sql[key] = (
                f'UPDATE "{table.name}" SET {set_sql} WHERE {" AND ".join(conditions)}'
            )
        params = [table.value(k, step.values[k]) for k in sets]
        params += [table.value(k, step.where[k]) for k in wheres]
        return sql, params

    def insert(self, step: _Insert) -> tuple[str, list[Any]]:
        table = _table(step.model)
        values = table.with_defaults(step.values)
        names = tuple(values)
        key = ("insert", names, self.postgres)
        sql = table.sql.get(key)
        if sql is None:
            cols = ", ".join(f'"{table.column(k)}"' for k in names)
            marks = ", ".join(self.marks(len(names)))
            sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})'
            if self.postgres:
                sql += ' RETURNING "id"'
            table.sql[key] = sql
        return sql, [table.value(k, values[k]) for k in names]

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


def _apply_sqlite(raw: Any, batch: Batch, own_transaction: bool) -> None:
    """Run the batch on the SQLite connection's own thread, as one transaction."""
    sql = _Statements(postgres=False)
    if own_transaction:
        raw.execute("BEGIN IMMEDIATE")
    try:
        head: str | None = None
        for step in batch.steps:
            if isinstance(step, _Update):
                text, params = sql.update(step)
                if raw.execute(text, params).rowcount == 0 and step.conflict:
                    raise _Rollback(Conflict(step.conflict))
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
        if own_transaction:
            raw.execute("ROLLBACK")
        raise
    if own_transaction:
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
                    raise Conflict(step.conflict)
            elif isinstance(step, _Insert):
                text, params = sql.insert(step)
                rows = await conn.execute_query_dict(text, params)
                step.ref.value = rows[0]["id"]
            else:
                if head is None:
                    # Writers of the chain take turns until commit, so it stays linear.
                    await conn.execute_query(chain_lock_statement())
                    heads = await conn.execute_query_dict(HEAD_SQL)
                    head = heads[0]["hash"] if heads else GENESIS
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
    try:
        if isinstance(client, TransactionalDBClient):
            # Inside a caller's transaction (a cycle launch): its lock is held, its
            # commit or rollback decides.
            connection = client._connection
            await connection._execute(_apply_sqlite, connection._conn, batch, False)
            return
        async with client.acquire_connection() as connection:
            # aiosqlite runs callables on its connection thread; `_conn` is the sqlite3 one.
            await connection._execute(_apply_sqlite, connection._conn, batch, True)
    except _Rollback as rollback:
        raise rollback.conflict from None


_joined_sql: dict[tuple[str, str, bool], str] = {}


async def fetch_with(model: type[Model], pk: int, relation: str) -> Model | None:
    """A row by id with one foreign-key relation loaded, in one plain query.

    The hot path of every action reads a task and its instance; the ORM's select_related
    builds the same SQL anew each time, which costs more than the query itself.
    """
    related: type[Model] = model._meta.fields_map[relation].related_model  # type: ignore[attr-defined]
    postgres = is_postgres()
    key = (model.__name__, relation, postgres)
    sql = _joined_sql.get(key)
    if sql is None:
        base_cols = [f'b."{c}" AS "b.{c}"' for c in model._meta.fields_db_projection.values()]
        rel_cols = [f'r."{c}" AS "r.{c}"' for c in related._meta.fields_db_projection.values()]
        fk_column = model._meta.fields_db_projection[f"{relation}_id"]
        mark = "$1" if postgres else "?"
        sql = _joined_sql[key] = (
            f"SELECT {', '.join(base_cols + rel_cols)} "
            f'FROM "{model._meta.db_table}" b JOIN "{related._meta.db_table}" r '
            f'ON r."id" = b."{fk_column}" WHERE b."id" = {mark}'
        )
    rows = await connections.get("default").execute_query_dict(sql, [pk])
    if not rows:
        return None
    row = rows[0]
    base = model._init_from_db(**{k[2:]: v for k, v in row.items() if k.startswith("b.")})
    setattr(base, relation, related._init_from_db(
        **{k[2:]: v for k, v in row.items() if k.startswith("r.")}
    ))
    return base
