"""Events told to other systems: signed webhooks and Slack / Microsoft Teams messages.

Every batch an action writes is looked at before it is written (store.before_apply): a task
it creates or completes, an instance it finishes, a record it writes, a cycle launch it closes
become HttpDelivery rows in the SAME transaction — nothing is lost when the app dies after the
commit, and a rolled-back action sends nothing. The worker POSTs them (`send_due`), retrying
with exponential backoff and jitter, and the rows are the delivery log HR reads.

Payloads carry ids, the process, the task's name, person keys and a record's kind — never
what anyone typed into a form: a receiver that wants more asks the API with its own token.

A launch stages its tasks; they are told of when the launch publishes them
(`announce_published`), one query per published chunk and only when someone listens.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from tortoise import connections

from engine.base import clock
from engine.base.db import Params
from engine.base.models import HttpDelivery, HumanTask, ProcessInstance, Record
from engine.people.directory import DirectorySnapshot, current_directory
from engine.workflow.store import Batch, Computed, Ref, before_apply

log = logging.getLogger(__name__)

EVENTS = ("task.created", "task.completed", "instance.finished", "record.written")
TEST_EVENT = "sightline.test"
# Attempts before a delivery is marked failed; waits of 30 s, 1, 2, 4, 8 … minutes between
# them, each stretched by up to a quarter so receivers that were down are not hit at once.
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
JITTER = 0.25
# A worker holds a delivery it sends for this long: a worker killed between taking it and
# sending it leaves it to be taken again after the lease.
LEASE = timedelta(minutes=2)
TIMEOUT = 10.0
BASE_URL_PLACEHOLDER = "{base_url}"
USER_AGENT = "Sightline-Webhooks/1"


# --- signatures --------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: str) -> str:
    """The `Sightline-Signature` header: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: str, tolerance: int = 300,
           at: int | None = None) -> bool:
    """Whether `header` signs `body` with `secret` within `tolerance` seconds of `at`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = at if at is not None else int(clock.now().timestamp())
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- who listens -------------------------------------------------------------------------------


@dataclass
class Listeners:
    """The active webhooks (id, url, events) and chat channels (id, kind, url, person)."""

    webhooks: list[tuple[int, str, list[str]]] = field(default_factory=list)
    org_channels: list[tuple[int, str, str]] = field(default_factory=list)
    person_channels: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict)

    def hooks_for(self, event: str) -> list[tuple[int, str]]:
        return [(wid, url) for wid, url, events in self.webhooks if event in events]

    def __bool__(self) -> bool:
        return bool(self.webhooks or self.org_channels or self.person_channels)


async def listeners() -> Listeners:
    """Everyone listening, in one query — on the connection the action already holds: asking
    the pool for a second one while holding the first would let a few concurrent actions wait
    on each other for ever."""
    sql = (
        'SELECT \'w\' AS t, "id", "url", CAST("events" AS TEXT) AS extra, NULL AS person_id '
        'FROM "webhook" '
        'WHERE "active" = TRUE UNION ALL SELECT \'c\', "id", "url", "kind", "person_id" '
        'FROM "chat_channel" WHERE "active" = TRUE'
    )
    rows = await Params().rows(sql)
    found = Listeners()
    for row in rows:
        if row["t"] == "w":
            events = row["extra"]
            events = json.loads(events) if isinstance(events, str) else events
            found.webhooks.append((row["id"], row["url"], list(events or [])))
        elif row["person_id"] is None:
            found.org_channels.append((row["id"], row["extra"], row["url"]))
        else:
            found.person_channels.setdefault(row["person_id"], []).append(
                (row["id"], row["extra"], row["url"]))
    return found


# --- payloads ----------------------------------------------------------------------------------


def _resolved(value: Any) -> Any:
    if isinstance(value, Ref):
        return value.value
    if isinstance(value, dict):
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"), sort_keys=True)


def webhook_body(event_id: str, event: str, data: dict[str, Any], at: datetime) -> str:
    """The JSON a webhook receives (ids in `data` resolved when it is written)."""
    return _json({"id": event_id, "event": event, "occurred_at": at.isoformat(),
                  "data": _resolved(data)})


def slack_body(text: str, link: str | None, button: str = "Open in Sightline") -> str:
    """A Slack incoming-webhook message: the text, and a button to the link."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": button}, "url": link}]})
    return _json({"text": text, "blocks": blocks})


def teams_body(text: str, link: str | None, button: str = "Open in Sightline") -> str:
    """A Microsoft Teams incoming-webhook message (a MessageCard) with a link button."""
    card: dict[str, Any] = {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                            "summary": text[:80], "themeColor": "2f6fdf", "text": text}
    if link:
        card["potentialAction"] = [{"@type": "OpenUri", "name": button,
                                    "targets": [{"os": "default", "uri": link}]}]
    return _json(card)


def chat_body(kind: str, text: str, link: str | None) -> str:
    return slack_body(text, link) if kind == "slack" else teams_body(text, link)


# --- enqueueing (before the batch is written, into the batch) ----------------------------------


class _Enqueue:
    """The deliveries one batch's writes call for, added to that batch."""

    def __init__(self, batch: Batch, found: Listeners, directory: DirectorySnapshot) -> None:
        self.batch, self.found, self.directory = batch, found, directory
        self.now = clock.now()

    def key(self, person_id: int | None) -> str | None:
        person = self.directory.person(person_id) if person_id is not None else None
        return person.key if person else None

    def webhooks(self, event: str, data: dict[str, Any]) -> None:
        event_id, now = uuid.uuid4().hex, self.now

        def body() -> str:
            return webhook_body(event_id, event, data, now)

        for webhook_id, url in self.found.hooks_for(event):
            self.batch.insert(HttpDelivery, self.row("webhook", url, event, Computed(body),
                                                     webhook_id=webhook_id))

    def chat(self, channels: list[tuple[int, str, str]], event: str,
             text: str, link: Callable[[], str] | None) -> None:
        def body(kind: str) -> Computed:
            return Computed(lambda: chat_body(kind, text, link() if link else None))

        for channel_id, kind, url in channels:
            self.batch.insert(HttpDelivery, self.row(kind, url, event, body(kind),
                                                     channel_id=channel_id))

    def row(self, kind: str, url: str, event: str, body: Any, **ids: int) -> dict[str, Any]:
        return {"kind": kind, "url": url, "event": event, "body": body,
                "headers": {"Sightline-Event": event} if kind == "webhook" else {},
                "status": "queued", "next_attempt_at": self.now, "created_at": self.now, **ids}

    def task_created(self, values: dict[str, Any], task: int | Ref) -> None:
        subject = self.directory.person(values.get("subject_id_cache"))
        self.webhooks("task.created", {
            "task_id": task, "instance_id": values.get("instance_id"),
            "process": values.get("process_id"), "task": values.get("name"),
            "step": values.get("bpmn_id"), "assignee": self.key(values.get("assignee_id")),
            "candidate_group": values.get("candidate_group"),
            "subject": subject.key if subject else None, "due_at": values.get("due_at"),
        })
        assignee = values.get("assignee_id")
        channels = self.found.person_channels.get(assignee) if assignee is not None else None
        if channels:
            about = f" — {subject.name}" if subject and subject.id != assignee else ""
            self.chat(channels, "task.created", f"*New task:* {values.get('name')}{about}",
                      lambda: f"{BASE_URL_PLACEHOLDER}/tasks/{_resolved(task)}")


async def _enqueue(batch: Batch) -> None:
    """Add to `batch` the deliveries its writes call for (store.before_apply)."""
    if batch.inserts_of(HttpDelivery):
        return  # already looked at (an action applied again after a conflict)
    created = [(v, ref) for v, ref in batch.inserts_of(HumanTask) if v.get("status") == "ready"]
    completed = [(w, v) for w, v in batch.updates_of(HumanTask)
                 if v.get("status") == "completed" and "id" in w]
    records = batch.inserts_of(Record)
    finished_new = [(v, ref) for v, ref in batch.inserts_of(ProcessInstance)
                    if v.get("status") == "completed"]
    finished = [w["id"] for w, v in batch.updates_of(ProcessInstance)
                if v.get("status") == "completed" and isinstance(w.get("id"), int)]
    launched = [d for action, d in batch.audited() if action == "cycle_launched"]
    if not (created or completed or records or finished_new or finished or launched):
        return
    found = await listeners()
    if not found:
        return
    out = _Enqueue(batch, found, await current_directory())
    for values, ref in created:
        out.task_created(values, ref)
    if completed and found.hooks_for("task.completed"):
        ids = [w["id"] for w, _ in completed]
        tasks = {t.id: t for t in await HumanTask.filter(id__in=ids).only(
            "id", "instance_id", "process_id", "name", "bpmn_id", "subject_id_cache")}
        for where, values in completed:
            t = tasks.get(where["id"])
            if t is not None:
                out.webhooks("task.completed", {
                    "task_id": t.id, "instance_id": t.instance_id, "process": t.process_id,
                    "task": t.name, "step": t.bpmn_id, "subject": out.key(t.subject_id_cache),
                    "completed_by": out.key(values.get("completed_by_id")),
                })
    if found.hooks_for("instance.finished"):
        for values, ref in finished_new:
            out.webhooks("instance.finished", {
                "instance_id": ref, "process": values.get("process_id"),
                "subject": out.key(values.get("subject_id")), "status": "completed"})
        for row in await ProcessInstance.filter(id__in=finished).only(
                "id", "process_id", "subject_id"):
            out.webhooks("instance.finished", {
                "instance_id": row.id, "process": row.process_id,
                "subject": out.key(row.subject_id), "status": "completed"})
    if found.hooks_for("record.written"):
        for values, ref in records:
            out.webhooks("record.written", {
                "record_id": ref, "kind": values.get("kind"),
                "person": out.key(values.get("person_id")),
                "instance_id": values.get("instance_id"), "cycle_id": values.get("cycle_id")})
    for detail in launched:
        out.chat(found.org_channels, "cycle.launched",
                 f"*Cycle launched:* {detail.get('process')} — {detail.get('started', 0)} "
                 "started", lambda: f"{BASE_URL_PLACEHOLDER}/")


before_apply(_enqueue)


async def announce_published(conn: Any, job_id: int, last_id: int) -> int:
    """Deliveries for the tasks a launch publishes (instances of `job_id` up to `last_id`),
    written with `conn`, the publishing transaction; returns how many."""
    found = await listeners()
    if not (found.hooks_for("task.created") or found.person_channels):
        return 0
    p = Params()
    rows = await conn.execute_query_dict(
        'SELECT t."id", t."instance_id", t."process_id", t."name", t."bpmn_id", '
        't."assignee_id", t."candidate_group", t."subject_id_cache", t."due_at" '
        'FROM "human_task" t JOIN "process_instance" i ON i."id" = t."instance_id" '
        f'WHERE i."launch_job_id" = {p(job_id)} AND i."status" = \'launching\' '
        f'AND i."id" <= {p(last_id)} AND t."status" = \'staged\' ORDER BY t."id"', p.values)
    batch = Batch()
    out = _Enqueue(batch, found, await current_directory())
    for row in rows:
        out.task_created(row, row["id"])
    deliveries = [HttpDelivery(**{k: v.make() if isinstance(v, Computed) else v
                                  for k, v in values.items()})
                  for values, _ in batch.inserts_of(HttpDelivery)]
    await HttpDelivery.bulk_create(deliveries, batch_size=500, using_db=conn)
    return len(deliveries)


# --- sending (the worker) ----------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt, with jitter."""
    wait: timedelta = BACKOFF_BASE * (2 ** min(attempts - 1, 12))
    return wait * (1 + random.uniform(0, JITTER))


async def claim_due(limit: int = 50) -> list[int]:
    """Take deliveries that are due (leased: a worker that dies leaves them to the next)."""
    now = clock.now()
    p = Params()
    sql = (
        f'UPDATE "http_delivery" SET "next_attempt_at" = {p(now + LEASE)} '
        'WHERE "id" IN (SELECT d."id" FROM "http_delivery" d '
        f'WHERE d."status" = \'queued\' AND d."next_attempt_at" <= {p(now)} '
        f'ORDER BY d."next_attempt_at", d."id" LIMIT {p(limit)}{p.lock()}) RETURNING "id"'
    )
    rows = await connections.get("default").execute_query_dict(sql, p.values)
    return sorted(int(row["id"]) for row in rows)


async def headers_for(delivery: HttpDelivery) -> dict[str, str] | None:
    """The headers the POST goes with (signed with the webhook's secret); None when its
    webhook is gone."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               **{str(k): str(v) for k, v in (delivery.headers or {}).items()}}
    if delivery.kind == "webhook":
        from engine.base.models import Webhook

        hook = await Webhook.get_or_none(id=delivery.webhook_id)
        if hook is None:
            return None
        headers["Sightline-Delivery"] = str(delivery.id)
        headers["Sightline-Signature"] = signature(
            hook.secret, int(clock.now().timestamp()), delivery.body)
    return headers


def _internal(address: str) -> bool:
    """Whether an IP address belongs to no public network (loopback, private, link-local …)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def internal_address(url: str) -> str | None:
    """Why the worker will not post to `url`: the internal address its host resolves to (or
    that it cannot be resolved); None when every address it resolves to is public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = await asyncio.get_running_loop().getaddrinfo(host, port)
    except (OSError, ValueError) as exc:
        return f"the address {host!r} cannot be resolved ({exc})"
    for *_, sockaddr in found:
        if _internal(str(sockaddr[0])):
            return (f"{host} resolves to {sockaddr[0]}, an internal network address; "
                    "set WEBHOOK_PRIVATE_NETWORKS=true to send there")
    return None


async def send_one(client: httpx.AsyncClient, delivery_id: int, base_url: str,
                   allow_private: bool = False) -> bool:
    """POST one claimed delivery and record what happened; True when it was accepted. Unless
    `allow_private`, an address resolving into an internal network fails at once, unsent."""
    delivery = await HttpDelivery.get_or_none(id=delivery_id)
    if delivery is None or delivery.status != "queued":
        return False
    body = delivery.body.replace(BASE_URL_PLACEHOLDER, base_url.rstrip("/"))
    headers = await headers_for(delivery)
    code: int | None = None
    error: str | None = None
    refused = None if headers is None or allow_private else await internal_address(delivery.url)
    if headers is None:
        error = "the webhook was deleted"
    elif refused is not None:
        error = refused
    else:
        started = time.perf_counter()
        try:
            response = await client.post(delivery.url, content=body.encode(), headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000] or type(exc).__name__
        log.debug("delivery %s took %.3fs", delivery.id, time.perf_counter() - started)
    now = clock.now()
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status_code": code,
                              "last_error": error}
    if error is None:
        values.update(status="sent", delivered_at=now, next_attempt_at=None)
    elif headers is None or refused is not None or attempts >= MAX_ATTEMPTS:
        values.update(status="failed", next_attempt_at=None)
        log.warning("delivery %s to %s failed for good: %s", delivery.id, delivery.url, error)
    else:
        values["next_attempt_at"] = now + backoff(attempts)
    await HttpDelivery.filter(id=delivery.id, status="queued").update(**values)
    return error is None


async def send_due(base_url: str, limit: int = 50, timeout: float = TIMEOUT,
                   allow_private: bool = False) -> int:
    """Send every delivery that is due; returns how many were accepted. `allow_private` lets
    deliveries go to addresses in internal networks (send_one)."""
    # A read first: most rounds find nothing, and a read takes no write lock (SQLite).
    if not await HttpDelivery.filter(status="queued", next_attempt_at__lte=clock.now()).exists():
        return 0
    sent = 0
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        while True:
            claimed = await claim_due(limit)
            for delivery_id in claimed:
                sent += await send_one(client, delivery_id, base_url, allow_private)
            if len(claimed) < limit:
                return sent
