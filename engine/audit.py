"""The audit trail: append-only events chained by hash, so an edited or deleted row shows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections

from engine import clock
from engine.db import is_postgres
from engine.models import AuditEvent

GENESIS = "0" * 64
# One fixed key for the advisory lock that orders writers of the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 7_412_019


def event_hash(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    instance_id: int | None,
    task_id: int | None,
    detail: dict[str, Any],
) -> str:
    """The hash that seals one event to the one before it."""
    body = json.dumps(
        [prev_hash, at.isoformat(), actor, action, instance_id, task_id, detail],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def record_event(
    actor: str,
    action: str,
    *,
    instance_id: int | None = None,
    task_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the chain (call inside the action's transaction)."""
    if is_postgres():
        # Concurrent transactions must not both extend the same head; the lock is released at
        # commit, so the chain stays linear without a table-wide lock.
        await connections.get("default").execute_query(
            "SELECT pg_advisory_xact_lock($1)", [_CHAIN_LOCK_KEY]
        )
    last = await AuditEvent.all().order_by("-id").only("hash").first()
    prev = last.hash if last else GENESIS
    at = clock.now()
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    detail = json.loads(json.dumps(detail or {}, default=str))
    digest = event_hash(prev, at, actor, action, instance_id, task_id, detail)
    return await AuditEvent.create(
        at=at,
        actor=actor,
        action=action,
        instance_id=instance_id,
        task_id=task_id,
        detail=detail,
        prev_hash=prev,
        hash=digest,
    )


@dataclass
class ChainReport:
    """What `audit verify` found."""

    checked: int
    first_bad_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} events"
        return f"audit chain broken at event {self.first_bad_id}: {self.reason}"


async def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the chain in order and report the first row that does not fit."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = await AuditEvent.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            return ChainReport(checked)
        for row in rows:
            if row.prev_hash != prev:
                return ChainReport(checked, row.id, "previous hash does not match (row removed?)")
            expected = event_hash(
                row.prev_hash,
                row.at,
                row.actor,
                row.action,
                row.instance_id,
                row.task_id,
                row.detail,
            )
            if expected != row.hash:
                return ChainReport(checked, row.id, "content does not match its hash (edited)")
            prev = row.hash
            checked += 1
            last_id = row.id
