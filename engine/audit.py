"""The audit trail: append-only events in hash chains, so an edited, removed or added row shows.

Each instance has its own chain (stream `instance:<id>`), whose length and last hash live on
the instance row and move with the instance's optimistic version check; events about no
instance go to named streams (`system`) whose heads live in `audit_stream`. Writers of
different instances therefore never wait on each other. A worker writes an **anchor** now and
then (stream `anchor`): the heads of every chain that moved since the previous anchor, so a
chain deleted whole, or rewritten from its start, no longer matches what was anchored.

`verify_chain` checks every stream: the sequence has no gap, each row holds its predecessor's
hash and the hash of its own content, the stored head is the last row, and every anchored head
is still there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections

from engine.models import GENESIS, AuditEvent, AuditStream, ProcessInstance

SYSTEM = "system"
ANCHOR = "anchor"
INSTANCE_PREFIX = "instance:"
# How far back (in event ids) an anchor looks before the previous anchor's last event.
ANCHOR_LOOKBACK = 50_000


def instance_stream(instance_id: int) -> str:
    """The name of an instance's own audit chain."""
    return f"{INSTANCE_PREFIX}{instance_id}"


def event_hash(
    prev_hash: str,
    stream: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    instance_id: int | None,
    task_id: int | None,
    detail: dict[str, Any],
) -> str:
    """The hash that seals one event to the one before it in its stream."""
    body = json.dumps(
        [prev_hash, stream, seq, at.isoformat(), actor, action, instance_id, task_id, detail],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


# --- anchors ---------------------------------------------------------------------------------


async def anchor_detail() -> dict[str, Any] | None:
    """What the next anchor holds: the heads of the chains that moved since the last anchor
    (None when none moved). The worker writes it as an event of the `anchor` stream.

    The scan reaches back ANCHOR_LOOKBACK event ids before the previous anchor's last one: on
    PostgreSQL an event can commit after events with higher ids, and the overlap catches it."""
    last = await AuditEvent.filter(stream=ANCHOR).order_by("-seq").first()
    previous: dict[str, list[Any]] = last.detail.get("heads", {}) if last else {}
    since = max(0, int(last.detail.get("to", 0)) - ANCHOR_LOOKBACK) if last else 0
    rows = await connections.get("default").execute_query_dict(
        'SELECT e."stream", e."seq", e."hash", m."top" FROM "audit_event" e JOIN ('
        '  SELECT "stream", MAX("seq") AS "seq", MAX("id") AS "top" FROM "audit_event"'
        f'  WHERE "id" > {since} AND "stream" <> \'{ANCHOR}\' GROUP BY "stream"'
        ') m ON e."stream" = m."stream" AND e."seq" = m."seq"'
    )
    heads = {
        row["stream"]: [row["seq"], row["hash"]]
        for row in rows
        if previous.get(row["stream"]) != [row["seq"], row["hash"]]
    }
    if not heads:
        return None
    return {"to": max(int(row["top"]) for row in rows), "heads": dict(sorted(heads.items()))}


# --- verification ----------------------------------------------------------------------------


@dataclass
class ChainReport:
    """What `audit verify` found."""

    checked: int
    streams: int = 0
    first_bad_id: int | None = None
    stream: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} events in {self.streams} chains"
        where = f"event {self.first_bad_id}" if self.first_bad_id else f"stream {self.stream}"
        return f"audit chain broken at {where} ({self.stream}): {self.reason}"


async def _stored_heads() -> dict[str, tuple[int, str]]:
    heads = {
        instance_stream(row["id"]): (row["audit_seq"], row["audit_head"])
        for row in await ProcessInstance.filter(audit_seq__gt=0).values(
            "id", "audit_seq", "audit_head"
        )
    }
    for stream in await AuditStream.all():
        heads[stream.name] = (stream.seq, stream.head)
    return heads


async def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk every chain in order and report the first row, head or anchor that does not fit."""
    heads = await _stored_heads()
    anchored: dict[tuple[str, int], tuple[str, int]] = {}
    for anchor in await AuditEvent.filter(stream=ANCHOR).order_by("seq"):
        for name, (seq, digest) in anchor.detail.get("heads", {}).items():
            anchored[(name, int(seq))] = (digest, anchor.id)
    report = ChainReport(0)
    ends: dict[str, tuple[int, str]] = {}
    stream, expected_seq, prev = "", 1, GENESIS
    after: tuple[str, int] | None = None
    while True:
        rows = await _page_after(after, batch)
        if not rows:
            break
        for row in rows:
            if row.stream != stream:
                stream, expected_seq, prev = row.stream, 1, GENESIS
                report.streams += 1
            if row.seq != expected_seq:
                missing = "removed" if row.seq > expected_seq else "repeated or moved"
                return _bad(report, row, f"event {expected_seq} of the chain is {missing}")
            if row.prev_hash != prev:
                return _bad(report, row, "previous hash does not match (row removed or moved?)")
            expected = event_hash(
                row.prev_hash, row.stream, row.seq, row.at, row.actor, row.action,
                row.instance_id, row.task_id, row.detail,
            )
            if expected != row.hash:
                return _bad(report, row, "content does not match its hash (edited)")
            if row.instance_id is not None and row.stream.startswith(INSTANCE_PREFIX) and (
                instance_stream(row.instance_id) != row.stream
            ):
                return _bad(report, row, "event names another instance than its chain (moved)")
            pin = anchored.pop((row.stream, row.seq), None)
            if pin is not None and pin[0] != row.hash:
                return _bad(report, row, f"does not match anchor {pin[1]} (chain rewritten)")
            prev, expected_seq = row.hash, expected_seq + 1
            ends[stream] = (row.seq, row.hash)
            report.checked += 1
        after = (rows[-1].stream, rows[-1].seq)
    for name, head in sorted(heads.items()):
        end = ends.get(name, (0, GENESIS))
        if end != head:
            if end[0] > head[0]:
                why = f"has {end[0] - head[0]} event(s) after its recorded head (appended)"
            elif end[0] < head[0]:
                why = f"ends at event {end[0]} but its head says {head[0]} (events removed)"
            else:
                why = "its last event does not match its recorded head (rewritten)"
            return _stream_bad(report, name, why)
    for name in sorted(set(ends) - set(heads)):
        return _stream_bad(report, name, "has events but no recorded head (appended)")
    for (name, seq), (_, anchor_id) in sorted(anchored.items()):
        return _stream_bad(report, name, f"event {seq}, anchored by {anchor_id}, is gone "
                           "(chain removed)")
    return report


async def _page_after(after: tuple[str, int] | None, batch: int) -> list[AuditEvent]:
    """The next rows in (stream, seq) order."""
    if after is None:
        return await AuditEvent.all().order_by("stream", "seq").limit(batch)
    stream, seq = after
    same = await AuditEvent.filter(stream=stream, seq__gt=seq).order_by("seq").limit(batch)
    if len(same) == batch:
        return same
    later = await AuditEvent.filter(stream__gt=stream).order_by("stream", "seq").limit(
        batch - len(same)
    )
    return [*same, *later]


def _bad(report: ChainReport, row: AuditEvent, reason: str) -> ChainReport:
    report.first_bad_id, report.stream, report.reason = row.id, row.stream, reason
    return report


def _stream_bad(report: ChainReport, stream: str, reason: str) -> ChainReport:
    report.stream, report.reason = stream, reason
    return report
