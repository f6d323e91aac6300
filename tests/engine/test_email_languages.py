"""Task emails in their reader's language, end to end on a real SMTP server: a German reader's
task email, its HTML part and her digest are German; an English reader's are as they were."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engine.base import clock
from engine.base.models import HumanTask, OutboxEmail, Person, User
from engine.operations.worker import Worker, WorkerSettings
from engine.people import logins
from engine.workflow import notifications, runtime
from engine.workflow.notifications import SmtpSettings, send_due
from tests.engine.test_html_email import part
from tests.engine.test_notifications import OBJECTIVES, Mailbox, start_server
from tests.support.app import free_port

BASE_URL = "https://perf.example.com"
MORNING = datetime(2099, 5, 4, 6, 0, tzinfo=UTC)  # a Monday, before the digest hour


@pytest.fixture
def mailbox_and_smtp() -> Iterator[tuple[Mailbox, SmtpSettings]]:
    port = free_port()
    controller, box = start_server(port)
    yield box, SmtpSettings(host="127.0.0.1", port=port, sender="Sightline <noreply@example.com>",
                            base_url=BASE_URL + "/", timeout=5)
    controller.stop()


async def login_in(key: str, language: str, digest: bool = False) -> None:
    person = await Person.get(key=key)
    user = await User.create(username=key.lower(), person_id=person.id, password_hash="x")
    await logins.set_language(user.id, language)
    await notifications.set_daily_digest(user.id, digest)


async def test_a_german_reader_gets_her_task_email_in_german(
    standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    await login_in("E1", "de")
    hr = await runtime.actor_for("H1")
    with clock.frozen_at(MORNING):
        inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
        await send_due(smtp)
    [message] = mailbox.messages
    assert message["Subject"].startswith("Aufgabe für Sie: ")
    text, html = part(message, "plain"), part(message, "html")
    assert text.startswith("Guten Tag Eve,")
    assert "wartet auf Sie." in text
    # The date as German writes it, in 14 days.
    assert "Sie ist am Montag, 18. Mai 2099 fällig, in 14 Tagen." in text
    draft = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
    assert f"Öffnen: {BASE_URL}/tasks/{draft.id}" in text
    assert "Aufgabe öffnen" in html and "Fällig" in html
    assert "Oder fügen Sie diesen Link in Ihren Browser ein:" in html
    assert "Sie erhalten diese E-Mail" in html
    for english in ("Hello", "waiting for you", "Open the task", "You receive this email"):
        assert english not in text and english not in html


async def test_an_english_reader_beside_her_reads_english(
    standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    await login_in("E1", "de")
    await login_in("M1", "en")
    hr = await runtime.actor_for("H1")
    with clock.frozen_at(MORNING):
        inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
        draft = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
        await runtime.complete_task(draft.id, await runtime.actor_for("E1"),
                                    {"objectives": OBJECTIVES, "comments": ""})
        await send_due(smtp)
    to_morgan = [m for m in mailbox.messages if "morgan@example.com" in m["To"]]
    [message] = to_morgan
    assert message["Subject"] == "Task waiting for you: Review objectives — Eve Employee"
    text, html = part(message, "plain"), part(message, "html")
    assert text.startswith("Hello Morgan,")
    assert "'Review objectives' for Eve Employee is waiting for you." in text
    assert "It is due on Monday 11 May 2099, in 7 days." in text
    assert "Open the task" in html and "Or paste this link into your browser:" in html
    assert "Guten Tag" not in text


async def test_a_german_digest_reader_gets_a_german_digest(
    standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    await login_in("E1", "de", digest=True)
    worker = Worker(WorkerSettings(heartbeat_every=0, anchor_every=0, timer_poll=0,
                                   smtp=smtp, digest_hour=7))
    hr = await runtime.actor_for("H1")
    with clock.frozen_at(MORNING):
        await runtime.start_process("objective_setting", subject="E1", actor=hr)
        await runtime.start_process("mid_year_review", subject="E1", actor=hr)
        await worker.send_emails()
    assert await OutboxEmail.filter(status="digest").count() == 2
    with clock.frozen_at(MORNING + timedelta(hours=1, minutes=1)):
        await worker.send_emails()
        await worker.send_emails()
    [digest] = mailbox.messages
    assert digest["Subject"] == "Ihre Aufgaben für Montag, 4. Mai 2099: 2 Aufgaben"
    text, html = part(digest, "plain"), part(digest, "html")
    assert text.replace("\r\n", "\n").startswith("Guten Tag Eve,\n\n2 Aufgaben warten auf Sie:")
    assert "Fällig am " in text
    assert "Posteingang öffnen" in html and "Your tasks" not in html
