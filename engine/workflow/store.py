"""Atomic write batches: everything one action writes, applied in one transaction.

An action reads what it needs, runs the workflow in memory, and collects its writes in a
`Batch`: conditional updates (the optimistic checks), inserts (whose new ids later rows may
refer to through `Ref`), deletes, and audit events. `apply` writes the batch in one
transaction, sealing the audit events into their chains as it goes (engine.workflow.audit):

- each instance's chain continues from the head the action read with the instance
  (`Batch.chain_from`); the head moves with a conditional update, so two writers of one
  instance conflict like any other lost race, and writers of different instances never wait on
  each other. A chain whose head the action did not read is read inside the transaction (and on
  PostgreSQL locked until commit: only writers of that one chain take turns).
- on SQLite the whole transaction runs as one call on the database thread: statements there
  take microseconds and the thread hop is the expensive part.
- on PostgreSQL the ids of new rows are drawn from their sequences first (one round trip), so
  every audit hash is known before anything is written; then the batch runs as a transaction
  with rows of a table inserted together (`executemany`).

Invariant: a batch never updates or deletes a row it inserts itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.fields import JSONField
from tortoise.models import Model

from engine.base import clock, internals
from engine.base.db import CONFLICT_SQLSTATE, is_postgres, sqlite_reader
from engine.base.errors import Conflict
from engine.base.models import GENESIS, AuditEvent, AuditStream, ProcessInstance
from engine.workflow.audit import SYSTEM, event_hash, instance_stream
from engine.workflow.audit import keyed as audit_keyed


@dataclass(eq=False)
class Ref:
    """The id of a row this batch inserts, known once the batch is applied."""

    value: int | None = None


@dataclass(eq=False)
class Computed:
    """A value worked out when its row is written, once the ids of the batch's new rows are
    known (a webhook payload naming the task the same batch creates)."""

    make: Callable[[], Any]


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
class _Delete:
    model: type[Model]
    where: dict[str, Any]


@dataclass
class _Audit:
    actor: str
    action: str
    instance: int | Ref | None
    task: int | Ref | None
    detail: dict[str, Any]
    at: datetime
    # A named stream for events about no instance (None: the instance's chain, or "system").
    stream: str | None = None


Step = _Update | _Insert | _Delete | _Audit


@dataclass
class Batch:
    """The writes of one action (or of several instances' actions applied together), in order."""

    steps: list[Step] = field(default_factory=list)
    # Instance chains whose head the action read: instance id (or Ref) -> (seq, head hash).
    heads: dict[int | Ref, tuple[int, str]] = field(default_factory=dict)

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

    def delete(self, model: type[Model], where: dict[str, Any]) -> None:
        """DELETE rows matching `where`."""
        self.steps.append(_Delete(model, where))

    def audit(
        self,
        actor: str,
        action: str,
        *,
        instance: int | Ref | None = None,
        task: int | Ref | None = None,
        detail: dict[str, Any] | None = None,
        stream: str | None = None,
    ) -> None:
        """Append an audit event to the instance's chain (or to `stream`, default "system");
        its hash is sealed when the batch is applied."""
        at = clock.now()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        detail = json.loads(json.dumps(detail or {}, default=str))
        self.steps.append(_Audit(actor, action, instance, task, detail, at, stream))

    def chain_from(self, instance: int | Ref, seq: int, head: str) -> None:
        """The instance's audit chain as the action read it: events continue from there, and
        the batch conflicts if another writer moved it meanwhile."""
        self.heads[instance] = (seq, head)

    def inserts_of(self, model: type[Model]) -> list[tuple[dict[str, Any], Ref]]:
        """(values, ref) of each row of `model` the batch inserts."""
        return [(s.values, s.ref) for s in self.steps
                if isinstance(s, _Insert) and s.model is model]

    def updates_of(self, model: type[Model]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(where, values) of each update of `model` rows in the batch."""
        return [(s.where, s.values) for s in self.steps
                if isinstance(s, _Update) and s.model is model]

    def audited(self) -> list[tuple[str, dict[str, Any]]]:
        """(action, detail) of each audit event of the batch."""
        return [(s.action, s.detail) for s in self.steps if isinstance(s, _Audit)]


# Run by `apply` before a batch is written, to add the writes its own writes imply (the
# deliveries of events to other systems: engine.workflow.deliveries registers itself).
BatchHook = Callable[[Batch], Awaitable[None]]
_before_apply: list[BatchHook] = []


def before_apply(hook: BatchHook) -> None:
    """Have `hook` look at every batch before it is written (once per hook)."""
    if hook not in _before_apply:
        _before_apply.append(hook)


async def record_event(
    actor: str,
    action: str,
    *,
    instance_id: int | None = None,
    task_id: int | None = None,
    detail: dict[str, Any] | None = None,
    stream: str | None = None,
) -> None:
    """Append one audit event on its own (actions add theirs to their batch instead)."""
    batch = Batch()
    batch.audit(actor, action, instance=instance_id, task=task_id, detail=detail, stream=stream)
    await apply(batch)


# --- tables ----------------------------------------------------------------------------------


class _Table:
    """What the batch needs of a model, worked out once: columns, converters, defaults."""

    def __init__(self, model: type[Model]) -> None:
        self.name = internals.table_name(model)
        self.model = model
        self.columns: dict[str, str] = {}
        self.converters: dict[str, Callable[[Any], Any]] = {}
        self.defaults: list[tuple[str, Callable[[], Any]]] = []
        self.required: list[str] = []
        for stored in internals.columns(model):
            name, column, fld = stored.name, stored.column, stored.field
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
        elif isinstance(value, Computed):
            value = value.make()
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

    def marks(self, count: int, first: int = 1) -> list[str]:
        if self.postgres:
            return [f"${i}" for i in range(first, first + count)]
        return ["?"] * count

    def _where(self, table: _Table, where: dict[str, Any], first: int) -> tuple[str, list[str]]:
        # A None in `where` means IS NULL (a placeholder would never match NULL).
        wheres = [k for k, v in where.items() if v is not None]
        nulls = [k for k, v in where.items() if v is None]
        marks = self.marks(len(wheres), first)
        conditions = [
            f'"{table.column(k)}" = {m}' for k, m in zip(wheres, marks, strict=True)
        ] + [f'"{table.column(k)}" IS NULL' for k in nulls]
        return " AND ".join(conditions) or "TRUE", wheres

    def update(self, step: _Update) -> tuple[str, list[Any]]:
        table = _table(step.model)
        sets = tuple(step.values)
        key = ("update", sets, tuple((k, v is None) for k, v in step.where.items()),
               self.postgres)
        sql = table.sql.get(key)
        where_sql, wheres = self._where(table, step.where, len(sets) + 1)
        if sql is None:
            marks = self.marks(len(sets))
            set_sql = ", ".join(f'"{table.column(k)}" = {m}' for k, m in zip(sets, marks,
                                                                              strict=True))
            sql = table.sql[key] = f'UPDATE "{table.name}" SET {set_sql} WHERE {where_sql}'
        params = [table.value(k, step.values[k]) for k in sets]
        params += [table.value(k, step.where[k]) for k in wheres]
        return sql, params

    def delete(self, step: _Delete) -> tuple[str, list[Any]]:
        table = _table(step.model)
        key = ("delete", tuple((k, v is None) for k, v in step.where.items()), self.postgres)
        where_sql, wheres = self._where(table, step.where, 1)
        sql = table.sql.get(key)
        if sql is None:
            sql = table.sql[key] = f'DELETE FROM "{table.name}" WHERE {where_sql}'
        return sql, [table.value(k, step.where[k]) for k in wheres]

    def insert_sql(self, table: _Table, names: tuple[str, ...]) -> str:
        key = ("insert", names, self.postgres)
        sql = table.sql.get(key)
        if sql is None:
            cols = ", ".join(f'"{table.column(k)}"' for k in names)
            marks = ", ".join(self.marks(len(names)))
            sql = table.sql[key] = f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})'
        return sql

    def insert(self, step: _Insert) -> tuple[str, list[Any]]:
        table = _table(step.model)
        values = table.with_defaults(step.values)
        names = tuple(values)
        return self.insert_sql(table, names), [table.value(k, values[k]) for k in names]


# --- audit chains ----------------------------------------------------------------------------


@dataclass
class _Chain:
    """One audit chain the batch appends to."""

    stream: str
    instance_id: int | None
    seq: int
    head: str
    # The head the batch started from, when the action read it (else read in the transaction).
    read_as: int | None

    def seal(self, step: _Audit, instance_id: int | None, task_id: int | None) -> dict[str, Any]:
        """The audit row for the next event of this chain."""
        self.seq += 1
        digest = event_hash(self.head, self.stream, self.seq, step.at, step.actor, step.action,
                            instance_id, task_id, step.detail)
        row = {
            "stream": self.stream,
            "seq": self.seq,
            "at": step.at,
            "actor": step.actor,
            "action": step.action,
            "instance_id": instance_id,
            "task_id": task_id,
            "detail": step.detail,
            "prev_hash": self.head,
            "hash": digest,
            "keyed": audit_keyed(),
        }
        self.head = digest
        return row


def _resolved(value: int | Ref | None) -> int | None:
    return value.value if isinstance(value, Ref) else value


def _stream_of(step: _Audit) -> str:
    if step.stream:
        return step.stream
    instance = _resolved(step.instance)
    return instance_stream(instance) if instance is not None else SYSTEM


def _known_head(batch: Batch, step: _Audit) -> tuple[int, str] | None:
    if step.stream or step.instance is None:
        return None
    found = batch.heads.get(step.instance)
    if found is None and isinstance(step.instance, Ref):
        return (0, GENESIS)  # an instance this batch inserts starts a new chain
    if found is None and not isinstance(step.instance, Ref):
        # The same instance may be known under its id only once it was inserted elsewhere.
        found = next((h for k, h in batch.heads.items() if _resolved(k) == step.instance), None)
    return found


def _head_updates(chains: dict[str, _Chain]) -> Iterator[_Update]:
    """The writes that move each chain's stored head to its new last event."""
    for chain in chains.values():
        if chain.instance_id is not None:
            where: dict[str, Any] = {"id": chain.instance_id}
            if chain.read_as is not None:
                where["audit_seq"] = chain.read_as
            yield _Update(ProcessInstance, where, {"audit_seq": chain.seq,
                                                   "audit_head": chain.head},
                          conflict="instance changed meanwhile")
        else:
            yield _Update(AuditStream, {"name": chain.stream},
                          {"seq": chain.seq, "head": chain.head})


# --- SQLite ----------------------------------------------------------------------------------


class _Rollback(Exception):
    def __init__(self, conflict: Conflict) -> None:
        self.conflict = conflict


def _sqlite_head(raw: Any, chain_stream: str, instance_id: int | None) -> tuple[int, str]:
    if instance_id is not None:
        row = raw.execute('SELECT "audit_seq", "audit_head" FROM "process_instance" '
                          'WHERE "id" = ?', [instance_id]).fetchone()
    else:
        raw.execute('INSERT INTO "audit_stream" ("name", "seq", "head") VALUES (?, 0, ?) '
                    'ON CONFLICT ("name") DO NOTHING', [chain_stream, GENESIS])
        row = raw.execute('SELECT "seq", "head" FROM "audit_stream" WHERE "name" = ?',
                          [chain_stream]).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def _apply_sqlite(raw: Any, batch: Batch, own_transaction: bool) -> None:
    """Run the batch on the SQLite connection's own thread, as one transaction."""
    import sqlite3

    sql = _Statements(postgres=False)
    steps = _sealed_ahead(batch)
    if own_transaction:
        raw.execute("BEGIN IMMEDIATE")
    try:
        # Events of chains whose heads the action did not read (a new instance's, whose id
        # comes with its insert; a named stream's) are sealed as they come.
        chains: dict[str, _Chain] = {}
        for step in steps:
            if isinstance(step, _Update):
                text, params = sql.update(step)
                if raw.execute(text, params).rowcount == 0 and step.conflict:
                    raise _Rollback(Conflict(step.conflict))
            elif isinstance(step, _Insert):
                text, params = sql.insert(step)
                step.ref.value = raw.execute(text, params).lastrowid
            elif isinstance(step, _Delete):
                raw.execute(*sql.delete(step))
            else:
                chain = _chain_for(chains, batch, step, lambda s, i: _sqlite_head(raw, s, i))
                row = chain.seal(step, _resolved(step.instance), _resolved(step.task))
                raw.execute(*sql.insert(_Insert(AuditEvent, row, Ref())))
        for head in _head_updates(chains):
            text, params = sql.update(head)
            if raw.execute(text, params).rowcount == 0 and head.conflict:
                raise _Rollback(Conflict(head.conflict))
    except sqlite3.IntegrityError as exc:
        if own_transaction:
            raw.execute("ROLLBACK")
        if "audit_event" in str(exc):
            # Another action appended to a chain this one continues: a lost race.
            raise _Rollback(Conflict("instance changed meanwhile")) from None
        raise
    except BaseException:
        if own_transaction:
            raw.execute("ROLLBACK")
        raise
    if own_transaction:
        raw.execute("COMMIT")


def _read_ahead(batch: Batch, step: _Audit) -> bool:
    """Whether an event's chain head was read with its instance (so it can be sealed before
    anything is written)."""
    return (not step.stream and isinstance(step.instance, int)
            and not isinstance(step.task, Ref) and _known_head(batch, step) is not None)


def _sealed_ahead(batch: Batch) -> list[Step]:
    """The batch's steps with every event whose chain head the action read sealed already,
    and each such chain's new head folded into the update of its instance row (one write of
    the row, the version and the head checked together)."""
    chains: dict[str, _Chain] = {}
    steps: list[Step] = []
    for step in batch.steps:
        if isinstance(step, _Audit) and _read_ahead(batch, step):
            chain = _chain_for(chains, batch, step, _unread)
            step = _Insert(AuditEvent, chain.seal(step, _resolved(step.instance),
                                                  _resolved(step.task)), Ref())
        steps.append(step)
    return _merged(steps, _head_updates(chains))


def _chain_for(
    chains: dict[str, _Chain],
    batch: Batch,
    step: _Audit,
    read_head: Callable[[str, int | None], tuple[int, str]],
) -> _Chain:
    stream = _stream_of(step)
    chain = chains.get(stream)
    if chain is None:
        instance_id = _resolved(step.instance) if not step.stream else None
        known = _known_head(batch, step)
        if known is not None:
            chain = _Chain(stream, instance_id, known[0], known[1], known[0])
        else:
            seq, head = read_head(stream, instance_id)
            chain = _Chain(stream, instance_id, seq, head, None)
        chains[stream] = chain
    return chain


# --- PostgreSQL ------------------------------------------------------------------------------


async def _draw_ids(con: Any, batch: Batch) -> None:
    """Give every row the batch inserts its id from the table's sequence (one round trip)."""
    wanted: dict[str, list[_Insert]] = {}
    for step in batch.steps:
        if isinstance(step, _Insert) and step.ref.value is None:
            wanted.setdefault(_table(step.model).name, []).append(step)
    if not wanted:
        return
    parts, params = [], []
    for i, (name, steps) in enumerate(wanted.items()):
        parts.append(
            f"SELECT {i} AS t, nextval(pg_get_serial_sequence('\"{name}\"', 'id')) AS id "
            f"FROM generate_series(1, ${i + 1})"
        )
        params.append(len(steps))
    rows = await con.fetch(" UNION ALL ".join(parts), *params)
    drawn: dict[int, list[int]] = {}
    for row in rows:
        drawn.setdefault(row["t"], []).append(row["id"])
    for i, steps in enumerate(wanted.values()):
        for step, new_id in zip(steps, sorted(drawn[i]), strict=True):
            step.ref.value = new_id


async def _pg_heads(con: Any, batch: Batch) -> dict[str, _Chain]:
    """The chains the batch appends to; heads the action did not read are read and locked."""
    chains, unknown_instances, unknown_streams = _unread_chains(batch)
    if unknown_instances:
        for row in await con.fetch(
            'SELECT "id", "audit_seq", "audit_head" FROM "process_instance" '
            'WHERE "id" = ANY($1::int[]) ORDER BY "id" FOR UPDATE', unknown_instances
        ):
            chain = chains[instance_stream(row["id"])]
            chain.seq, chain.head = row["audit_seq"], row["audit_head"]
    if unknown_streams:
        await con.execute(
            'INSERT INTO "audit_stream" ("name", "seq", "head") '
            'SELECT unnest($1::text[]), 0, $2 ON CONFLICT ("name") DO NOTHING',
            sorted(unknown_streams), GENESIS,
        )
        for row in await con.fetch(
            'SELECT "name", "seq", "head" FROM "audit_stream" WHERE "name" = ANY($1::text[]) '
            'ORDER BY "name" FOR UPDATE', sorted(unknown_streams)
        ):
            chains[row["name"]].seq, chains[row["name"]].head = row["seq"], row["head"]
    return chains


Inserts = dict[tuple[str, tuple[str, ...]], tuple[_Table, list[list[Any]]]]


def _plan(batch: Batch, chains: dict[str, _Chain]) -> tuple[list[_Update | _Delete], Inserts]:
    """A batch whose new rows all have their ids, as changes to run in order and rows to insert
    table by table. Every event is sealed first, so a new instance's row carries its chain's
    head; other chains' heads move with conditional updates."""
    steps: list[_Update | _Insert | _Delete] = []
    for step in batch.steps:
        if isinstance(step, _Audit):
            chain = chains[_stream_of(step)]
            row = chain.seal(step, _resolved(step.instance), _resolved(step.task))
            step = _Insert(AuditEvent, row, Ref())
        steps.append(step)
    new_instances = {
        step.ref.value: step for step in steps
        if isinstance(step, _Insert) and step.model is ProcessInstance
    }
    changes: list[_Update | _Delete] = [s for s in steps if not isinstance(s, _Insert)]
    for head in _head_updates(chains):
        inserted = new_instances.get(head.where["id"]) if head.model is ProcessInstance else None
        if inserted is not None:
            inserted.values = {**inserted.values, **head.values}
        else:
            changes.append(head)
    # Rows of a table go in together, tables in the order the batch first names them (a parent
    # row's table before its children's).
    inserts: Inserts = {}
    for step in steps:
        if isinstance(step, _Insert):
            table = _table(step.model)
            values = table.with_defaults(step.values)
            if step.ref.value is not None:
                values["id"] = step.ref.value
            names = tuple(values)
            group = inserts.setdefault((table.name, names), (table, []))
            group[1].append([table.value(k, values[k]) for k in names])
    return changes, inserts


def _unread_chains(batch: Batch) -> tuple[dict[str, _Chain], list[int], list[str]]:
    """The chains the batch appends to, and those whose heads must be read first: instance
    chains (by instance id) and named streams."""
    chains: dict[str, _Chain] = {}
    instances: list[int] = []
    streams: list[str] = []
    for step in batch.steps:
        if not isinstance(step, _Audit):
            continue
        stream = _stream_of(step)
        if stream in chains:
            continue
        instance_id = _resolved(step.instance) if not step.stream else None
        known = _known_head(batch, step)
        if known is not None:
            chains[stream] = _Chain(stream, instance_id, known[0], known[1], known[0])
        else:
            chains[stream] = _Chain(stream, instance_id, 0, GENESIS, None)
            if instance_id is not None:
                instances.append(instance_id)
            else:
                streams.append(stream)
    return chains, instances, streams


def _apply_sqlite_grouped(raw: Any, batch: Batch, own_transaction: bool) -> None:
    """A big batch (a launch chunk) on SQLite: ids given out first — the transaction holds the
    write lock, so nobody else takes any meanwhile — every hash sealed, then the rows of each
    table inserted together."""
    import sqlite3

    sql = _Statements(postgres=False)
    if own_transaction:
        raw.execute("BEGIN IMMEDIATE")
    try:
        wanted: dict[str, list[_Insert]] = {}
        for step in batch.steps:
            if isinstance(step, _Insert) and step.ref.value is None:
                wanted.setdefault(_table(step.model).name, []).append(step)
        for name, steps in wanted.items():
            # Above every id the table ever gave out (AUTOINCREMENT never reuses one).
            top = raw.execute(
                f'SELECT MAX(m) FROM (SELECT MAX("id") AS m FROM "{name}" UNION ALL '
                'SELECT "seq" FROM "sqlite_sequence" WHERE "name" = ?)', [name],
            ).fetchone()[0] or 0
            for offset, step in enumerate(steps, start=1):
                step.ref.value = top + offset
        chains, instances, streams = _unread_chains(batch)
        for stream in [*(instance_stream(i) for i in instances), *streams]:
            chain = chains[stream]
            chain.seq, chain.head = _sqlite_head(raw, stream, chain.instance_id)
        changes, inserts = _plan(batch, chains)
        for change in changes:
            if isinstance(change, _Delete):
                raw.execute(*sql.delete(change))
                continue
            text, params = sql.update(change)
            if raw.execute(text, params).rowcount == 0 and change.conflict:
                raise _Rollback(Conflict(change.conflict))
        for (_, names), (table, rows) in inserts.items():
            raw.executemany(sql.insert_sql(table, names), rows)
    except sqlite3.IntegrityError as exc:
        if own_transaction:
            raw.execute("ROLLBACK")
        if "audit_event" in str(exc):
            raise _Rollback(Conflict("instance changed meanwhile")) from None
        raise
    except BaseException:
        if own_transaction:
            raw.execute("ROLLBACK")
        raise
    if own_transaction:
        raw.execute("COMMIT")


async def _apply_postgres(batch: Batch) -> None:
    sql = _Statements(postgres=True)
    async with internals.raw_connection() as con, con.transaction():
        await _draw_ids(con, batch)
        chains = await _pg_heads(con, batch)
        changes, inserts = _plan(batch, chains)
        for change in changes:
            if isinstance(change, _Delete):
                text, params = sql.delete(change)
                await con.execute(text, *params)
                continue
            text, params = sql.update(change)
            status = await con.execute(text, *params)
            if change.conflict and status.endswith(" 0"):
                raise Conflict(change.conflict)
        for (_, names), (table, rows) in inserts.items():
            text = sql.insert_sql(table, names)
            if len(rows) == 1:
                await con.execute(text, *rows[0])
            else:
                await con.executemany(text, rows)


# The most steps a batch may have to go to PostgreSQL as one statement; bigger ones (a launch
# chunk, a calibration release) go as a transaction with rows inserted together.
ONE_STATEMENT_STEPS = 48
UNIQUE_VIOLATION = "23505"


def _fits_one_statement(batch: Batch) -> bool:
    """Whether every hash of the batch is known before it is written: its events all go to
    chains of existing instances whose heads the action read."""
    if len(batch.steps) > ONE_STATEMENT_STEPS or internals.in_transaction():
        return False
    # A computed value needs the new rows' ids before the statement is written.
    if any(isinstance(step, _Insert) and any(isinstance(v, Computed) for v in step.values.values())
           for step in batch.steps):
        return False
    return all(_read_ahead(batch, step) for step in batch.steps if isinstance(step, _Audit))


def _merged(steps: list[Step], heads: Iterator[_Update]) -> list[Step]:
    """The steps with each chain's head update folded into the update of the same instance
    row, if the batch has one: a statement may change a row once."""
    out = list(steps)
    for head in heads:
        for i, step in enumerate(out):
            if isinstance(step, _Update) and step.model is head.model and (
                step.where.get("id") == head.where["id"]
            ):
                out[i] = _Update(step.model, {**step.where, **head.where},
                                 {**step.values, **head.values}, step.conflict or head.conflict)
                break
        else:
            out.append(head)
    return out


async def _apply_postgres_at_once(batch: Batch) -> None:
    """The batch as ONE statement — data-modifying CTEs, one per step — so an action costs one
    round trip. A conditional update that changes no row makes the statement call
    sightline_conflict(), which fails it whole."""
    steps = _sealed_ahead(batch)
    params: list[Any] = []

    def p(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    ctes: list[str] = []
    inserted: dict[Ref, str] = {}
    checks: list[str] = []
    for i, step in enumerate(steps):
        assert not isinstance(step, _Audit), "every event is sealed before the statement"
        name = f"s{i}"
        table = _table(step.model)
        if isinstance(step, _Insert):
            values = table.with_defaults(step.values)
            marks = [
                f'(SELECT "id" FROM {inserted[v]})' if isinstance(v, Ref) and v in inserted
                else p(table.value(k, v))
                for k, v in values.items()
            ]
            cols = ", ".join(f'"{table.column(k)}"' for k in values)
            ctes.append(f'{name} AS (INSERT INTO "{table.name}" ({cols}) '
                        f'VALUES ({", ".join(marks)}) RETURNING "id")')
            inserted[step.ref] = name
            continue
        where = " AND ".join(
            f'"{table.column(k)}" IS NULL' if v is None
            else f'"{table.column(k)}" = {p(table.value(k, v))}'
            for k, v in step.where.items()
        ) or "TRUE"
        if isinstance(step, _Delete):
            ctes.append(f'{name} AS (DELETE FROM "{table.name}" WHERE {where})')
            continue
        sets = ", ".join(f'"{table.column(k)}" = {p(table.value(k, v))}'
                         for k, v in step.values.items())
        ctes.append(f'{name} AS (UPDATE "{table.name}" SET {sets} WHERE {where} RETURNING 1)')
        if step.conflict:
            checks.append(f"(SELECT sightline_conflict({p(step.conflict)}) "
                          f"WHERE NOT EXISTS (SELECT 1 FROM {name}))")
    outputs = [f'(SELECT "id" FROM {name}) AS "{name}"' for name in inserted.values()]
    outputs += checks
    statement = f"WITH {', '.join(ctes)} SELECT {', '.join(outputs) or '1'}"
    async with internals.raw_connection() as con:
        try:
            row = await con.fetchrow(statement, *params)
        except internals.postgres_error() as exc:
            if getattr(exc, "sqlstate", None) == CONFLICT_SQLSTATE:
                raise Conflict(str(getattr(exc, "message", exc))) from None
            if _chain_taken(exc):
                raise Conflict("instance changed meanwhile") from None
            raise
    for ref, name in inserted.items():
        ref.value = row[name]


def _chain_taken(exc: Exception) -> bool:
    """Whether a statement failed because another action appended the same event number to an
    audit chain first: a lost race like any other (the sub-statements of one statement run
    together, so the key can trip before the conditional update does)."""
    return getattr(exc, "sqlstate", None) == UNIQUE_VIOLATION and getattr(
        exc, "table_name", None) == _table(AuditEvent).name


def _unread(stream: str, instance_id: int | None) -> tuple[int, str]:
    raise AssertionError(f"the head of {stream} was not read with its instance")


async def apply(batch: Batch) -> None:
    """Write the batch atomically; a failed conditional update raises Conflict, writing nothing."""
    if not batch.steps:
        return
    for hook in _before_apply:
        await hook(batch)
    if is_postgres():
        if _fits_one_statement(batch):
            await _apply_postgres_at_once(batch)
        else:
            await _apply_postgres(batch)
        return
    write = _apply_sqlite_grouped if len(batch.steps) > ONE_STATEMENT_STEPS else _apply_sqlite
    try:
        await internals.on_sqlite_thread(write, batch)
    except _Rollback as rollback:
        raise rollback.conflict from None


_joined_sql: dict[tuple[str, str, bool], str] = {}


async def fetch_with(model: type[Model], pk: int, relation: str) -> Model | None:
    """A row by id with one foreign-key relation loaded, in one plain query.

    The hot path of every action reads a task and its instance; the ORM's select_related
    builds the same SQL anew each time, which costs more than the query itself.
    """
    table = _table(model)
    related = internals.related_model(model, relation)
    postgres = is_postgres()
    key = (model.__name__, relation, postgres)
    sql = _joined_sql.get(key)
    if sql is None:
        other = _table(related)
        base_cols = [f'b."{c}" AS "b.{c}"' for c in table.columns.values()]
        rel_cols = [f'r."{c}" AS "r.{c}"' for c in other.columns.values()]
        mark = "$1" if postgres else "?"
        sql = _joined_sql[key] = (
            f"SELECT {', '.join(base_cols + rel_cols)} "
            f'FROM "{table.name}" b JOIN "{other.name}" r '
            f'ON r."id" = b."{table.columns[f"{relation}_id"]}" WHERE b."id" = {mark}'
        )
    if postgres:
        # Straight to the driver: the ORM's wrapper costs as much as the query on this path.
        async with internals.raw_connection() as con:
            found = await con.fetchrow(sql, pk)
        if found is None:
            return None
        row = dict(found)
    else:
        found_row = sqlite_reader().execute(sql, [pk]).fetchone()
        if found_row is None:
            return None
        row = dict(found_row)
    base = internals.model_from_row(model, {k[2:]: v for k, v in row.items()
                                            if k.startswith("b.")})
    setattr(base, relation, internals.model_from_row(
        related, {k[2:]: v for k, v in row.items() if k.startswith("r.")}
    ))
    return base
