"""The audit trail: append-only events chained by hash, so an edited or deleted row shows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def chain_lock_statement() -> str:
    """PostgreSQL: the lock writers of the chain take in turn until they commit."""
    return f"SELECT pg_advisory_xact_lock({_CHAIN_LOCK_KEY})"


async def record_event(
    actor: str,
    action: str,
    *,
    instance_id: int | None = None,
    task_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event on its own (actions add theirs to their batch instead)."""
    from engine.store import Batch, apply

    batch = Batch()
    batch.audit(actor, action, instance=instance_id, task=task_id, detail=detail)
    await apply(batch)


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
