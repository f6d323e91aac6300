"""Messages and signals between instances, delivered after the throwing action commits.

A thrown message is a row (PendingMessage) written with the action that threw it; a worker
delivers it to every instance waiting for its name, each delivery that instance's own action
with a receipt in the same transaction, so none receives it twice and none is lost when a
delivery is cut short. HR's signals to a chosen population (`send_signal`) go in one transaction
with HR's own audit event.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import (
    MessageEventDefinition,
    SignalEventDefinition,
)
from tortoise import connections

from engine.base import clock
from engine.base.db import Params
from engine.base.errors import Conflict
from engine.base.metrics import delivery_retries
from engine.base.models import EventWait, MessageReceipt, PendingMessage, ProcessInstance
from engine.people.directory import current_directory
from engine.workflow import jobs
from engine.workflow.instance import Actor, LiveInstance, before_reapply
from engine.workflow.store import Batch, apply

log = logging.getLogger(__name__)

# A worker holds a message it delivers for jobs.LEASE. A delivery that keeps meeting instances
# that changed meanwhile is tried again after 2, 4, 8 … seconds, MESSAGE_ATTEMPTS times.
MESSAGE_BACKOFF = timedelta(seconds=1)
MESSAGE_ATTEMPTS = 8
# How often HR's signal is sent again on fresh state when its instances changed under it.
REAPPLY_ATTEMPTS = 8


def _catch(workflow: BpmnWorkflow, event: BpmnEvent, caught: list[bool]) -> None:
    """Hand one event to a workflow; `caught` gets True when it was waiting for it."""
    try:
        workflow.send_event(event)
    except WorkflowException:
        return  # waiting for that name, but not with this correlation
    caught.append(True)


def _event_of(message: PendingMessage) -> BpmnEvent:
    """The event a stored message or signal stands for, as SpiffWorkflow catches it."""
    definition = SignalEventDefinition if message.kind == "signal" else MessageEventDefinition
    # A copy for each receiver: no two workflows share a value.
    return BpmnEvent(definition(message.name), copy.deepcopy(message.payload),
                     dict(message.correlations or {}))


async def _claim_due_messages(now: datetime, limit: int) -> list[int]:
    """Take messages due for delivery (not those of an instance still being launched)."""
    p = Params()
    sql = (
        f'UPDATE "pending_message" SET "next_attempt_at" = {p(now + jobs.LEASE)} '
        'WHERE "id" IN (SELECT m."id" FROM "pending_message" m '
        f'WHERE m."status" = \'pending\' AND m."next_attempt_at" <= {p(now)} '
        'AND NOT EXISTS (SELECT 1 FROM "process_instance" i '
        'WHERE i."id" = m."from_instance_id" AND i."status" = \'launching\') '
        f'ORDER BY m."id" LIMIT {p(limit)}{p.lock()}) RETURNING "id"'
    )
    rows = await connections.get("default").execute_query_dict(sql, p.values)
    return sorted(int(row["id"]) for row in rows)


async def deliver_due_messages(limit: int = 100) -> int:
    """Deliver every thrown message and signal that is due; returns how many instances got one.

    Each delivery to one instance is that instance's own action, with a receipt written in the
    same transaction: a delivery interrupted anywhere is taken up again after its lease, and
    no instance receives the same message twice."""
    received = 0
    while True:
        claimed = await _claim_due_messages(clock.now(), limit)
        for message_id in claimed:
            received += await deliver_message(message_id)
        if len(claimed) < limit:
            return received


async def deliver_message(message_id: int) -> int:
    """Hand one stored message to every instance waiting for it; returns how many caught it."""
    message = await PendingMessage.get_or_none(id=message_id)
    if message is None or message.status != "pending":
        return 0
    directory = await current_directory()
    waiting = set(await EventWait.filter(
        name=message.name, instance__status="running"
    ).values_list("instance_id", flat=True))
    waiting.discard(message.from_instance_id)
    done = set(await MessageReceipt.filter(message_id=message.id).values_list(
        "instance_id", flat=True))
    received, moved = 0, []
    for instance_id in sorted(waiting - done):
        row = await ProcessInstance.get_or_none(id=instance_id, status="running")
        if row is None:
            continue

        def catch(run: LiveInstance) -> bool:
            run.action = f"{message.kind} {message.name}"
            caught: list[bool] = []
            run.advance(partial(_catch, run.workflow, _event_of(message), caught))
            if not caught:
                return False  # waiting for that name, but not with this correlation
            run.batch.insert(MessageReceipt, {"message_id": message.id,
                                              "instance_id": run.row.id})
            run.batch.audit(
                "system:message", f"{message.kind}_received", instance=run.row.id,
                detail={"name": message.name, "from_instance": message.from_instance_id,
                        "message": message.id},
            )
            return True

        run = await LiveInstance.act(row, Actor.system("message"), directory, catch)
        if run is None:
            continue
        try:
            await apply(run.batch)
        except Conflict:
            moved.append(row.id)
            continue
        run.saved()
        received += 1
    await _settle(message, moved)
    return received


async def _settle(message: PendingMessage, moved: list[int]) -> None:
    """Mark a delivery done, or due again later for the instances that moved meanwhile."""
    now = clock.now()
    # Counted from the receipts: an attempt cut short counted nothing but wrote its receipts.
    values: dict[str, Any] = {
        "received": await MessageReceipt.filter(message_id=message.id).count()
    }
    if not moved:
        values.update(status="delivered", delivered_at=now, last_error=None)
    else:
        delivery_retries.inc()
        attempts = message.attempts + 1
        values.update(
            attempts=attempts,
            last_error=f"instance(s) {', '.join(map(str, moved))} changed while receiving it",
            next_attempt_at=now + MESSAGE_BACKOFF * 2 ** min(attempts, 10),
        )
        if attempts >= MESSAGE_ATTEMPTS:
            values["status"] = "failed"
            log.error("message %s (%s) failed after %s attempts: %s", message.id, message.name,
                      attempts, values["last_error"])
    await PendingMessage.filter(id=message.id).update(**values)


async def send_signal(
    name: str,
    instance_ids: Iterable[int],
    actor: Actor,
    payload: Any = None,
    *,
    audit: Callable[[list[int]], tuple[str, dict[str, Any]]] | None = None,
) -> list[int]:
    """Signal `name` to the given instances only (HR releasing one population's ratings), all
    in one transaction with the caller's own audit event (`audit(received ids)` gives its
    action and detail); returns the ids of those that were waiting for it."""
    directory = await current_directory()
    ids = list(instance_ids)
    for attempt in range(REAPPLY_ATTEMPTS):
        batch = Batch()
        runs: list[LiveInstance] = []

        def catch(run: LiveInstance) -> bool:
            run.action = f"signal {name}"
            # Each instance its own copy of the payload: no two workflows share a value.
            event = BpmnEvent(SignalEventDefinition(name), copy.deepcopy(payload))
            caught: list[bool] = []
            run.advance(partial(_catch, run.workflow, event, caught))
            if caught:
                run.batch.audit(actor.label, "signal_received", instance=run.row.id,
                                detail={"name": name})
            return bool(caught)

        for row in await ProcessInstance.filter(
            id__in=ids, status="running", waiting_for__contains=f"|{name}|"
        ).order_by("id"):
            run = await LiveInstance.act(row, actor, directory, catch, batch)
            if run is not None:
                runs.append(run)
        received = [run.row.id for run in runs]
        if audit is not None:
            action, detail = audit(received)
            batch.audit(actor.label, action, detail=detail)
        try:
            await apply(batch)
        except Conflict:
            await before_reapply(attempt)
            continue
        for run in runs:
            run.saved()
        return received
    raise Conflict("these processes kept changing while the signal was sent; send it again")
