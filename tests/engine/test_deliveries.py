"""Webhooks and chat messages end to end: the real runtime queues them in the action's
transaction, a real HTTP receiver on 127.0.0.1 takes them (or refuses them, to be retried)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.models import ChatChannel, HttpDelivery, HumanTask
from engine.workflow import deliveries, integrations, runtime
from tests.support.app import free_port

BASE_URL = "https://perf.example.com"
OBJECTIVES = [{"kra": "Delivery", "title": "Ship billing", "kpi": "Release",
               "measure_type": "higher_is_better", "baseline": 0, "target": 1, "weight": 100}]


class Receiver:
    """A real HTTP server that answers each POST with the next scripted status (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"try later")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


async def send(base_url: str) -> int:
    """The worker's round, allowed to post into internal networks: the receivers in these
    tests listen on this machine (WEBHOOK_PRIVATE_NETWORKS)."""
    return await deliveries.send_due(base_url, allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


async def webhook_for(receiver: Receiver, *events: str) -> integrations.NewWebhook:
    return await integrations.create_webhook(
        "HRIS", receiver.url, list(events), "H1", allow_local_http=True)


async def start_for_eve() -> int:
    hr = await runtime.actor_for("H1")
    return (await runtime.start_process("objective_setting", subject="E1", actor=hr)).id


async def test_a_new_task_is_told_to_the_webhook_signed(
    standard: None, receiver: Receiver
) -> None:
    hook = await webhook_for(receiver, "task.created")
    inst = await start_for_eve()
    draft = await HumanTask.get(instance_id=inst, bpmn_id="draft_objectives")
    [row] = await HttpDelivery.all()
    assert (row.kind, row.event, row.status, row.webhook_id) == (
        "webhook", "task.created", "queued", hook.webhook.id)

    assert await send(BASE_URL) == 1

    [(headers, body)] = receiver.received
    payload = json.loads(body)
    assert payload["event"] == "task.created"
    assert payload["data"] == {
        "task_id": draft.id, "instance_id": inst, "process": "objective_setting",
        "task": "Draft objectives", "step": "draft_objectives", "assignee": "E1",
        "candidate_group": None, "subject": "E1", "due_at": payload["data"]["due_at"]}
    assert headers["Sightline-Event"] == "task.created"
    assert headers["Sightline-Delivery"] == str(row.id)
    assert deliveries.verify(hook.secret, headers["Sightline-Signature"], body)
    assert not deliveries.verify("whsec_other", headers["Sightline-Signature"], body)
    assert not deliveries.verify(hook.secret, headers["Sightline-Signature"], body + " ")
    sent = await HttpDelivery.get(id=row.id)
    assert (sent.status, sent.attempts, sent.last_status_code, sent.last_error) == (
        "sent", 1, 200, None)
    assert await send(BASE_URL) == 0  # sent once


async def test_a_completed_task_and_its_record_free_data_stay_private(
    standard: None, receiver: Receiver
) -> None:
    await webhook_for(receiver, "task.completed")
    inst = await start_for_eve()
    draft = await HumanTask.get(instance_id=inst, bpmn_id="draft_objectives")
    await runtime.complete_task(draft.id, await runtime.actor_for("E1"),
                                {"objectives": OBJECTIVES, "comments": "secret words"})
    await send(BASE_URL)
    [payload] = receiver.bodies()
    assert payload["event"] == "task.completed"
    assert payload["data"]["task_id"] == draft.id
    assert payload["data"]["completed_by"] == "E1"
    assert "Ship billing" not in json.dumps(payload) and "secret words" not in json.dumps(payload)


async def test_a_rolled_back_action_queues_no_delivery(
    standard: None, receiver: Receiver
) -> None:
    await webhook_for(receiver, "task.created")

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with in_transaction():
            await start_for_eve()
            assert await HttpDelivery.all().count() == 1  # queued inside the transaction ...
            raise Abandoned
    assert await HttpDelivery.all().count() == 0  # ... and gone with it
    assert await send(BASE_URL) == 0
    assert receiver.received == []


async def test_a_refused_delivery_is_retried_with_backoff_until_accepted(
    standard: None, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    await webhook_for(receiver, "task.created")
    await start_for_eve()
    [row] = await HttpDelivery.all()
    start = clock.now()
    with clock.frozen_at(start):
        assert await send(BASE_URL) == 0
    first = await HttpDelivery.get(id=row.id)
    assert (first.status, first.attempts, first.last_status_code) == ("queued", 1, 500)
    assert first.last_error and first.last_error.startswith("HTTP 500")
    assert first.next_attempt_at is not None
    wait = first.next_attempt_at - start
    assert timedelta(seconds=30) <= wait <= timedelta(seconds=38)
    with clock.frozen_at(start + timedelta(seconds=20)):
        assert await send(BASE_URL) == 0  # not due yet
    assert len(receiver.received) == 1
    with clock.frozen_at(start + wait):
        await send(BASE_URL)
    second = await HttpDelivery.get(id=row.id)
    assert (second.attempts, second.last_status_code) == (2, 503)
    assert second.next_attempt_at is not None
    assert second.next_attempt_at - (start + wait) >= timedelta(minutes=1)  # doubled
    with clock.frozen_at(second.next_attempt_at):
        assert await send(BASE_URL) == 1
    done = await HttpDelivery.get(id=row.id)
    assert (done.status, done.attempts, done.last_status_code, done.last_error) == (
        "sent", 3, 200, None)
    # The same delivery each time: one id, one body, for the receiver to recognise.
    assert {h["Sightline-Delivery"] for h, _ in receiver.received} == {str(row.id)}
    assert len({body for _, body in receiver.received}) == 1


async def test_a_delivery_fails_after_its_last_attempt_and_can_be_retried(
    standard: None, receiver: Receiver
) -> None:
    receiver.statuses = [503] * deliveries.MAX_ATTEMPTS
    await webhook_for(receiver, "task.created")
    await start_for_eve()
    [row] = await HttpDelivery.all()
    moment = clock.now()
    for _ in range(deliveries.MAX_ATTEMPTS):
        moment += timedelta(days=1)
        with clock.frozen_at(moment):
            await send(BASE_URL)
    failed = await HttpDelivery.get(id=row.id)
    assert (failed.status, failed.attempts, failed.last_status_code) == (
        "failed", deliveries.MAX_ATTEMPTS, 503)
    assert failed.next_attempt_at is None
    with clock.frozen_at(moment + timedelta(days=1)):
        assert await send(BASE_URL) == 0  # failed stays failed
        await integrations.retry_now(row.id)
        assert await send(BASE_URL) == 1  # HR's "retry now"
    assert (await HttpDelivery.get(id=row.id)).status == "sent"


async def test_a_worker_killed_after_taking_a_delivery_leaves_it_to_the_next(
    standard: None, receiver: Receiver
) -> None:
    await webhook_for(receiver, "task.created")
    await start_for_eve()
    start = clock.now()
    with clock.frozen_at(start):
        taken = await deliveries.claim_due()  # ... and the worker dies before sending
        assert len(taken) == 1
        assert await send(BASE_URL) == 0  # leased: nobody else sends it
    with clock.frozen_at(start + deliveries.LEASE + timedelta(seconds=1)):
        assert await send(BASE_URL) == 1
    assert len(receiver.received) == 1


async def test_chat_messages_reach_the_assignees_own_slack_and_teams(
    standard: None, receiver: Receiver
) -> None:
    from engine.people.directory import current_directory

    directory = await current_directory()
    eve, morgan = directory.by_key["E1"], directory.by_key["M1"]
    await integrations.add_channel("slack", receiver.url, "E1", eve.id, allow_local_http=True)
    await integrations.add_channel("teams", receiver.url, "M1", morgan.id,
                                   allow_local_http=True)
    inst = await start_for_eve()
    draft = await HumanTask.get(instance_id=inst, bpmn_id="draft_objectives")
    await runtime.complete_task(draft.id, await runtime.actor_for("E1"),
                                {"objectives": OBJECTIVES, "comments": ""})
    review = await HumanTask.get(instance_id=inst, bpmn_id="review_objectives")
    assert await send(BASE_URL) == 2

    slack, teams = receiver.bodies()
    assert slack["text"] == "*New task:* Draft objectives"
    assert slack["blocks"][1]["elements"][0]["url"] == f"{BASE_URL}/tasks/{draft.id}"
    assert teams["@type"] == "MessageCard"
    assert teams["text"] == "*New task:* Review objectives — Eve Employee"
    assert teams["potentialAction"][0]["targets"][0]["uri"] == f"{BASE_URL}/tasks/{review.id}"
    assert await ChatChannel.all().count() == 2


@pytest.mark.postgres
async def test_two_workers_never_send_one_delivery_twice(
    pg_db: str, receiver: Receiver
) -> None:
    hook = await webhook_for(receiver, "task.created")
    now = clock.now()
    await HttpDelivery.bulk_create([
        HttpDelivery(kind="webhook", webhook_id=hook.webhook.id, event="task.created",
                     url=receiver.url, body=json.dumps({"n": n}), headers={},
                     status="queued", next_attempt_at=now, created_at=now)
        for n in range(40)])
    sent = await asyncio.gather(*[deliveries.send_due(BASE_URL, limit=5, allow_private=True)
                                   for _ in range(2)])
    assert sum(sent) == 40
    ids = [h["Sightline-Delivery"] for h, _ in receiver.received]
    assert len(ids) == len(set(ids)) == 40
    assert await HttpDelivery.filter(status="sent").count() == 40


def test_bad_addresses_are_refused_with_a_reason() -> None:
    with pytest.raises(integrations.BadSetting, match="https://"):
        integrations.check_url("http://hooks.example.com/x")
    with pytest.raises(integrations.BadSetting, match="not a web address"):
        integrations.check_url("ftp://example.com")
    with pytest.raises(integrations.BadSetting, match="only for localhost"):
        integrations.check_url("http://example.com/x", allow_local_http=True)
    assert integrations.check_url(" http://127.0.0.1:9/x ", allow_local_http=True) == (
        "http://127.0.0.1:9/x")
    assert integrations.check_url("https://hooks.example.com/x")


async def test_the_worker_refuses_to_post_into_the_servers_own_network(
    standard: None, receiver: Receiver
) -> None:
    await webhook_for(receiver, "task.created")
    await start_for_eve()

    # Without WEBHOOK_PRIVATE_NETWORKS, a receiver on 127.0.0.1 gets nothing, and the log says
    # why at once instead of retrying for hours.
    assert await deliveries.send_due(BASE_URL) == 0

    assert receiver.received == []
    [row] = await HttpDelivery.all()
    assert row.status == "failed" and row.attempts == 1 and row.last_status_code is None
    assert "127.0.0.1" in (row.last_error or "")
    assert "internal network address" in (row.last_error or "")


async def test_internal_addresses_are_told_apart_from_public_ones() -> None:
    for url in ("https://10.1.2.3/x", "https://192.168.0.9/x", "https://169.254.169.254/x",
                "https://[::1]/x", "https://[::ffff:127.0.0.1]/x", "https://0.0.0.0/x",
                "https://localhost/x"):
        assert await deliveries.internal_address(url) is not None, url
    assert await deliveries.internal_address("https://93.184.215.14/x") is None
    assert await deliveries.internal_address("https://[2606:4700::1111]/x") is None
    assert "cannot be resolved" in (
        await deliveries.internal_address("https://no-such-host.invalid/x") or "")


async def test_a_launch_tells_of_its_tasks_when_it_publishes_them(
    standard: None, receiver: Receiver
) -> None:
    from engine.people.directory import current_directory
    from engine.performance.cycles import Population, launch_cycle

    await webhook_for(receiver, "task.created")
    eve = (await current_directory()).by_key["E1"]
    await integrations.add_channel("teams", receiver.url, "E1", eve.id, allow_local_http=True)
    await integrations.add_channel("slack", receiver.url, "H1", allow_local_http=True)
    report = await launch_cycle("objective_setting", Population.of_people(["E1", "E2"]),
                                cycle_name="2026 objectives", due_on=None,
                                actor=await runtime.actor_for("H1"))
    assert report.started == 2
    assert await send(BASE_URL) == 4
    events = sorted(b.get("event", "chat") for b in receiver.bodies())
    assert events == ["chat", "chat", "task.created", "task.created"]
    subjects = sorted(b["data"]["subject"] for b in receiver.bodies() if "event" in b)
    assert subjects == ["E1", "E2"]
    teams = next(b for b in receiver.bodies() if b.get("@type") == "MessageCard")
    assert teams["text"] == "*New task:* Draft objectives"
    slack = next(b for b in receiver.bodies() if "blocks" in b)
    assert slack["text"].startswith("*Cycle launched:* objective_setting — 2 started")


async def test_a_finished_process_and_its_records_are_told_without_their_data(
    standard: None, receiver: Receiver
) -> None:
    await webhook_for(receiver, "instance.finished", "record.written")
    inst = await start_for_eve()
    eve, morgan = await runtime.actor_for("E1"), await runtime.actor_for("M1")

    async def do(step: str, actor: runtime.Actor, data: dict[str, Any]) -> None:
        task = await HumanTask.get(instance_id=inst, bpmn_id=step, status="ready")
        await runtime.complete_task(task.id, actor, data)

    await do("draft_objectives", eve, {"objectives": OBJECTIVES, "comments": ""})
    await do("review_objectives", morgan, {"decision": "approve", "manager_comments": "fine"})
    # Not finished yet: nothing but records may have been told so far.
    assert {d.event for d in await HttpDelivery.all()} <= {"record.written"}
    await do("acknowledge_objectives", eve, {"acknowledged": True, "comment": ""})
    await send(BASE_URL)

    told = {b["event"]: b["data"] for b in receiver.bodies()}
    assert told["instance.finished"] == {"instance_id": inst, "process": "objective_setting",
                                         "subject": "E1", "status": "completed"}
    record = told["record.written"]
    assert (record["kind"], record["person"], record["instance_id"]) == ("objectives", "E1", inst)
    assert "Ship billing" not in json.dumps(receiver.bodies())
