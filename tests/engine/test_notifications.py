"""Notifications end to end: the real runtime queues emails, a real SMTP server receives them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.errors import Conflict, NotFound
from engine.base.models import HumanTask, OutboxEmail
from engine.workflow import notifications, runtime
from engine.workflow.notifications import MAX_ATTEMPTS, SmtpSettings, send_due
from tests.support.app import free_port

BASE_URL = "https://perf.example.com/"

OBJECTIVES = [
    {
        "kra": "Delivery",
        "title": "Ship billing",
        "kpi": "Release",
        "measure_type": "higher_is_better",
        "baseline": 0,
        "target": 1,
        "weight": 100,
    },
]


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Accept the message and keep it, parsed."""
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        return "250 OK"


def start_server(port: int) -> tuple[Controller, Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, mailbox


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 for the test."""
    controller, box = start_server(smtp_port)
    yield box
    controller.stop()


@pytest.fixture
def smtp(smtp_port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=smtp_port,
        sender="Sightline <noreply@example.com>",
        base_url=BASE_URL,
        timeout=5,
    )


async def start_for_eve() -> int:
    hr = await runtime.actor_for("H1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    return inst.id


async def open_task(instance_id: int, bpmn_id: str) -> HumanTask:
    return await HumanTask.get(instance_id=instance_id, bpmn_id=bpmn_id, status="ready")


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_a_new_task_emails_its_holder_with_a_link(
    standard: None, mailbox: Mailbox, smtp: SmtpSettings
) -> None:
    inst = await start_for_eve()
    draft = await open_task(inst, "draft_objectives")
    queued = await OutboxEmail.filter(status="queued")
    assert [e.to for e in queued] == ["Eve Employee <eve@example.com>"]

    assert await send_due(smtp) == (1, 0)

    [message] = mailbox.messages
    assert message["To"] == "Eve Employee <eve@example.com>"
    assert message["From"] == "Sightline <noreply@example.com>"
    # Her own task: the subject does not name her back to herself.
    assert message["Subject"] == "Task waiting for you: Draft objectives"
    body = body_of(message)
    assert body.startswith("Hello Eve,")
    assert f"Open it: https://perf.example.com/tasks/{draft.id}" in body
    assert "It is due on" in body and "in 14 days" in body
    email = await OutboxEmail.get(id=queued[0].id)
    assert (email.status, email.attempts, email.last_error) == ("sent", 1, None)
    assert email.sent_at is not None
    # Sent once: the next round has nothing to send.
    assert await send_due(smtp) == (0, 0)
    assert len(mailbox.messages) == 1


async def test_the_manager_hears_whose_objectives_wait_for_review(
    standard: None, mailbox: Mailbox, smtp: SmtpSettings
) -> None:
    inst = await start_for_eve()
    draft = await open_task(inst, "draft_objectives")
    await runtime.complete_task(
        draft.id, await runtime.actor_for("E1"), {"objectives": OBJECTIVES, "comments": ""}
    )
    review = await open_task(inst, "review_objectives")

    await send_due(smtp)

    to_morgan = [m for m in mailbox.messages if "morgan@example.com" in m["To"]]
    assert [m["Subject"] for m in to_morgan] == [
        "Task waiting for you: Review objectives — Eve Employee"
    ]
    assert f"/tasks/{review.id}" in body_of(to_morgan[0])


async def test_a_reminder_timer_emails_the_holder_and_leaves_the_task_open(
    standard: None, mailbox: Mailbox, smtp: SmtpSettings
) -> None:
    inst = await start_for_eve()
    draft = await open_task(inst, "draft_objectives")
    start = clock.now()
    await send_due(smtp)
    mailbox.messages.clear()

    with clock.frozen_at(start + timedelta(days=9)):
        assert await runtime.fire_due_timers() == 0
    with clock.frozen_at(start + timedelta(days=10, minutes=1)):
        assert await runtime.fire_due_timers() == 1
        assert await send_due(smtp) == (1, 0)

    [reminder] = mailbox.messages
    assert reminder["To"] == "Eve Employee <eve@example.com>"
    assert reminder["Subject"] == "Reminder: Draft objectives"
    body = body_of(reminder)
    assert "is still waiting for you" in body and "in 4 days" in body
    assert f"https://perf.example.com/tasks/{draft.id}" in body
    # A reminder, not an escalation: the same task is still Eve's to do.
    assert (await HumanTask.get(id=draft.id)).status == "ready"
    assert await HumanTask.filter(instance_id=inst, status="ready").count() == 1
    # It fires once: ten more days bring no second reminder.
    with clock.frozen_at(start + timedelta(days=20)):
        await runtime.fire_due_timers()
    assert await OutboxEmail.filter(subject__startswith="Reminder").count() == 1


async def test_the_review_reminder_comes_after_five_days_before_the_escalation(
    standard: None,
) -> None:
    inst = await start_for_eve()
    draft = await open_task(inst, "draft_objectives")
    await runtime.complete_task(
        draft.id, await runtime.actor_for("E1"), {"objectives": OBJECTIVES, "comments": ""}
    )
    review = await open_task(inst, "review_objectives")
    start = clock.now()

    with clock.frozen_at(start + timedelta(days=5, minutes=1)):
        assert await runtime.fire_due_timers() == 1
    [reminder] = await OutboxEmail.filter(subject__startswith="Reminder")
    assert reminder.to == "Morgan Manager <morgan@example.com>"
    assert reminder.subject == "Reminder: Review objectives — Eve Employee"
    assert (await HumanTask.get(id=review.id)).status == "ready"

    # Day 10 is the escalation: the review moves to Dana and nobody gets a reminder for it.
    with clock.frozen_at(start + timedelta(days=10, minutes=1)):
        assert await runtime.fire_due_timers() == 1
    assert (await HumanTask.get(id=review.id)).status == "cancelled"
    escalated = await OutboxEmail.filter(to="Dana Director <dana@example.com>")
    assert [e.subject for e in escalated] == [
        "Task waiting for you: Review objectives (escalated) — Eve Employee"
    ]


async def test_an_escalation_is_not_a_reminder(standard: None) -> None:
    inst = await start_for_eve()
    draft = await open_task(inst, "draft_objectives")
    await runtime.complete_task(
        draft.id, await runtime.actor_for("E1"), {"objectives": OBJECTIVES, "comments": ""}
    )
    start = clock.now()
    with clock.frozen_at(start + timedelta(days=5, minutes=1)):
        await runtime.fire_due_timers()
    with clock.frozen_at(start + timedelta(days=10, minutes=1)):
        await runtime.fire_due_timers()
    # Morgan was reminded after five days; the escalation takes the review away, no reminder.
    reminders = OutboxEmail.filter(to__contains="morgan", subject__startswith="Reminder")
    assert await reminders.count() == 1


async def test_an_unreachable_server_keeps_the_email_queued_with_backoff(
    standard: None, smtp_port: int, smtp: SmtpSettings
) -> None:
    # Nothing listens on smtp_port yet.
    await start_for_eve()
    [email] = await OutboxEmail.all()
    now = clock.now()

    with clock.frozen_at(now):
        assert await send_due(smtp) == (0, 1)
    email = await OutboxEmail.get(id=email.id)
    assert email.status == "queued"
    assert email.attempts == 1
    assert email.last_error and "Error" in email.last_error
    assert email.next_attempt_at is not None and email.next_attempt_at > now

    # Before the backoff is over, nothing is tried.
    with clock.frozen_at(now + timedelta(seconds=30)):
        assert await send_due(smtp) == (0, 0)
    assert (await OutboxEmail.get(id=email.id)).attempts == 1

    # The server comes back: the next due attempt delivers it.
    controller, mailbox = start_server(smtp_port)
    try:
        with clock.frozen_at(now + timedelta(minutes=2)):
            assert await send_due(smtp) == (1, 0)
    finally:
        controller.stop()
    assert [m["To"] for m in mailbox.messages] == ["Eve Employee <eve@example.com>"]
    email = await OutboxEmail.get(id=email.id)
    assert (email.status, email.attempts, email.last_error) == ("sent", 2, None)


async def test_an_email_that_keeps_failing_is_marked_failed_and_can_be_retried(
    standard: None, smtp_port: int, smtp: SmtpSettings
) -> None:
    await start_for_eve()
    [email] = await OutboxEmail.all()
    moment = clock.now()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        with clock.frozen_at(moment):
            assert await send_due(smtp) == (0, 1)
        email = await OutboxEmail.get(id=email.id)
        if email.next_attempt_at is not None:
            waits.append(email.next_attempt_at - moment)
            moment = email.next_attempt_at
    # Each wait doubles, and the last attempt gives up.
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert (email.status, email.attempts, email.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    with clock.frozen_at(moment + timedelta(days=1)):
        assert await send_due(smtp) == (0, 0)

    # Only a failed email goes back in the queue.
    other = await OutboxEmail.create(to="x <x@example.com>", subject="s", body="b")
    with pytest.raises(Conflict):
        await notifications.retry_email(other.id)
    with pytest.raises(NotFound):
        await notifications.retry_email(other.id + 1)
    await other.delete()
    retried = await notifications.retry_email(email.id)
    assert (retried.status, retried.attempts) == ("queued", 0)
    controller, mailbox = start_server(smtp_port)
    try:
        assert await send_due(smtp) == (1, 0)
    finally:
        controller.stop()
    assert len(mailbox.messages) == 1
    assert (await OutboxEmail.get(id=email.id)).status == "sent"


async def test_a_rolled_back_action_queues_nothing(standard: None) -> None:
    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with in_transaction():
            await start_for_eve()
            assert await OutboxEmail.all().count() == 1  # queued inside the transaction ...
            raise Abandoned
    assert await OutboxEmail.all().count() == 0  # ... and gone with it
    assert await HumanTask.all().count() == 0


async def test_a_task_for_a_group_emails_every_member(standard: None) -> None:
    from engine.people.directory import current_directory

    inst = await start_for_eve()
    draft = await open_task(inst, "draft_objectives")
    await HumanTask.filter(id=draft.id).update(assignee_id=None, candidate_group="hr")
    row = await HumanTask.get(id=draft.id)
    emails = notifications.task_created_emails(row, await current_directory())
    to_hr = [e for e in emails if e["to"] == "Hana HR <hana@example.com>"]
    assert len(to_hr) == 1
    assert to_hr[0]["subject"] == "Task waiting for you: Draft objectives — Eve Employee"
    assert "sent to the hr group: the first to claim it takes it" in to_hr[0]["body"]


async def test_the_outbox_lists_newest_first_by_status(standard: None) -> None:
    for n in range(3):
        await OutboxEmail.create(to=f"p{n} <p{n}@example.com>", subject=f"s{n}", body="b")
    await OutboxEmail.filter(subject="s0").update(status="failed")

    everything = await notifications.outbox_page(per_page=2)
    assert everything.total == 3 and everything.pages == 2
    assert [e.subject for e in everything.emails] == ["s2", "s1"]
    assert everything.counts == {"queued": 2, "sent": 0, "failed": 1}
    failed = await notifications.outbox_page("failed")
    assert [e.subject for e in failed.emails] == ["s0"]
    # A page past the end shows the last page rather than nothing.
    assert (await notifications.outbox_page(per_page=2, page=9)).page == 2
