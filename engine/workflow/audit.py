"""The audit trail: append-only events in hash chains, so an edited, removed or added row shows.

Each instance has its own chain (stream `instance:<id>`), whose length and last hash live on
the instance row and move with the instance's optimistic version check; events about no
instance go to named streams (`system`) whose heads live in `audit_stream`. Writers of
different instances therefore never wait on each other. A worker writes an **anchor** now and
then (stream `anchor`): the heads of every chain that moved since the previous anchor, so a
chain deleted whole, or rewritten from its start, no longer matches what was anchored.

Someone with access to the database could still rewrite a chain and compute its hashes again,
append a row of their own, or cut the newest rows off. Two things outside the database stop
that:

- the **audit key** (AUDIT_KEY, kept in the environment, never in the database): each event is
  sealed with an HMAC under it, so a row written or rewritten without the key does not verify;
- the **anchor file** (AUDIT_ANCHOR_FILE): each anchor's number and hash is appended to a file
  as it is written, so anchors removed or rewritten in the database show, and with them the
  chains they anchored — rows cut off before the last anchor included.

`verify_chain` checks every stream: the sequence has no gap, each row holds its predecessor's
hash and the hash of its own content (keyed, when a key is set: then every row must be), the
stored head is the last row, every anchored head is still there, and every anchor in the file
is in the database, unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tortoise import connections

from engine.base.models import GENESIS, AuditEvent, AuditStream, ProcessInstance

SYSTEM = "system"
ANCHOR = "anchor"
INSTANCE_PREFIX = "instance:"
# How far back (in event ids) an anchor looks before the previous anchor's last event.
ANCHOR_LOOKBACK = 50_000

# The key events are sealed with, and the file anchors are written to; the app and the command
# line set them from AUDIT_KEY and AUDIT_ANCHOR_FILE.
_key: bytes = b""
anchor_file: Path | None = None


def configure(key: str, anchors: Path | str | None = None) -> None:
    """Seal events with HMAC under `key` (empty: plain SHA-256, for development), and write
    anchors to the file `anchors` as well as to the database."""
    global _key, anchor_file
    _key = key.encode()
    anchor_file = Path(anchors) if anchors else None


def keyed() -> bool:
    """Whether events are sealed with a key."""
    return bool(_key)


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
    *,
    key: bytes | None = None,
) -> str:
    """The hash that seals one event to the one before it in its stream: an HMAC under the
    audit key when there is one (`key`, default the configured one), else plain SHA-256."""
    body = json.dumps(
        [prev_hash, stream, seq, at.isoformat(), actor, action, instance_id, task_id, detail],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()
    key = _key if key is None else key
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def _row_hash(row: AuditEvent, key: bytes) -> str:
    return event_hash(row.prev_hash, row.stream, row.seq, row.at, row.actor, row.action,
                      row.instance_id, row.task_id, row.detail, key=key)


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
    # Anchors the anchor file recorded, all found unchanged.
    anchors_outside: int = 0

    @property
    def ok(self) -> bool:
        return not self.reason

    def __str__(self) -> str:
        if self.ok:
            sealed = "sealed with the audit key" if _key else "not keyed (no AUDIT_KEY)"
            outside = (f", {self.anchors_outside} anchors matched outside the database"
                       if self.anchors_outside else "")
            return (f"audit chain intact: {self.checked} events in {self.streams} chains, "
                    f"{sealed}{outside}")
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


async def verify_chain(batch: int = 5000, *, keyed_only: bool = True) -> ChainReport:
    """Walk every chain in order and report the first row, head or anchor that does not fit.
    With a key set, every row must be sealed with it (unless `keyed_only` is off: the check
    `audit seal` makes of the rows written before the key)."""
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
            if _key and keyed_only and not row.keyed:
                return _bad(report, row, "not sealed with the audit key (written without it, "
                            "or before it was set: `sightline audit seal`)")
            if _row_hash(row, _key if row.keyed else b"") != row.hash:
                why = "content does not match its hash (edited)"
                if row.keyed and not _key:
                    why = "sealed with the audit key, which is not set here (AUDIT_KEY)"
                return _bad(report, row, why)
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
    return await _check_anchor_file(report)


async def _check_anchor_file(report: ChainReport) -> ChainReport:
    """Every anchor the file recorded is in the database, unchanged."""
    if anchor_file is None or not anchor_file.exists():
        return report
    recorded = [json.loads(line) for line in anchor_file.read_text().splitlines() if line]
    stored = {
        seq: digest for seq, digest in await AuditEvent.filter(stream=ANCHOR).values_list(
            "seq", "hash")
    }
    for line in recorded:
        if stored.get(line["seq"]) != line["hash"]:
            state = "gone" if line["seq"] not in stored else "changed"
            return _stream_bad(report, ANCHOR, f"anchor {line['seq']} of {line['at']}, "
                               f"recorded in {anchor_file.name}, is {state} in the database")
    report.anchors_outside = len(recorded)
    return report


def record_anchor(seq: int, digest: str, at: datetime) -> None:
    """Append an anchor's number and hash to the anchor file (when one is set)."""
    if anchor_file is None:
        return
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"seq": seq, "hash": digest, "at": at.isoformat()})
    with anchor_file.open("a", encoding="utf-8") as file:
        file.write(line + "\n")


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


# --- sealing an existing trail with the key ---------------------------------------------------


async def seal_with_key() -> tuple[int, str]:
    """Seal every event written without the audit key with it (once, after AUDIT_KEY is first
    set on an installation that ran without one); returns how many and what happened to the
    anchor file. The trail must verify as it is first: tampering is never sealed over."""
    if not _key:
        raise ValueError("set AUDIT_KEY first: there is no key to seal with")
    found = await _verify_unkeyed()
    if not found.ok:
        raise ValueError(f"the trail does not verify, nothing was sealed: {found}")
    renamed: dict[str, str] = {}
    sealed = 0
    rows = await AuditEvent.all().order_by("stream", "seq")
    by_stream: dict[str, list[AuditEvent]] = {}
    for row in rows:
        by_stream.setdefault(row.stream, []).append(row)
    # Anchors hold other chains' hashes: those chains are sealed first, the anchors after.
    streams = sorted(by_stream, key=lambda name: (name == ANCHOR, name))
    async with _transaction() as conn:
        for name in streams:
            prev = GENESIS
            for row in by_stream[name]:
                if name == ANCHOR:
                    row.detail = {**row.detail, "heads": {
                        stream: [seq, renamed.get(digest, digest)]
                        for stream, (seq, digest) in row.detail.get("heads", {}).items()
                    }}
                digest = event_hash(prev, row.stream, row.seq, row.at, row.actor, row.action,
                                    row.instance_id, row.task_id, row.detail)
                renamed[row.hash] = digest
                row.prev_hash, row.hash, row.keyed = prev, digest, True
                await row.save(using_db=conn, update_fields=["prev_hash", "hash", "keyed",
                                                             "detail"])
                prev = digest
                sealed += 1
            if name.startswith(INSTANCE_PREFIX):
                await ProcessInstance.filter(id=int(name.removeprefix(INSTANCE_PREFIX))).using_db(
                    conn).update(audit_head=prev)
            await AuditStream.filter(name=name).using_db(conn).update(head=prev)
    moved = ""
    if anchor_file is not None and anchor_file.exists():
        # The anchors it recorded were sealed again: it starts anew, the old one kept aside.
        aside = anchor_file.with_suffix(anchor_file.suffix + ".before-seal")
        anchor_file.rename(aside)
        for row in by_stream.get(ANCHOR, []):
            record_anchor(row.seq, row.hash, row.at)
        moved = f"the anchor file was rewritten; the old one is {aside.name}"
    return sealed, moved


async def _verify_unkeyed() -> ChainReport:
    """The trail verified as written: rows sealed before the key was set may lack it."""
    return await verify_chain(keyed_only=False)


def _transaction() -> Any:
    from tortoise.transactions import in_transaction

    return in_transaction()
