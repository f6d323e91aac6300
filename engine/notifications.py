"""Email notifications through an outbox: queued in the action's transaction, sent later.

A task created for someone, or a reminder timer firing on an open task, queues an email in the
same transaction as the action (so a rolled-back action sends nothing). A sender drains the
outbox over SMTP when SMTP is configured, retrying with backoff; without SMTP the emails stay
in the outbox, where admins can read them in the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from engine import clock
from engine.directory import DirectorySnapshot
from engine.models import HumanTask, OutboxEmail

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# Waits after each failed attempt: 1, 2, 4, 8, 16 minutes, then the email is marked failed.
BACKOFF_BASE = timedelta(minutes=1)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send."""

    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "Sightline <sightline@localhost>"
    base_url: str = "http://127.0.0.1:8000"


def _recipients(row: HumanTask, directory: DirectorySnapshot) -> list[tuple[str, str]]:
    """(name, email) of whoever should hear about the task."""
    ids: list[int] = []
    if row.assignee_id is not None:  # type: ignore[attr-defined]
        ids = [row.assignee_id]  # type: ignore[attr-defined]
    elif row.candidate_group:
        ids = sorted(directory.members(row.candidate_group))
    else:
        ids = [int(c) for c in row.candidates if str(c).isdigit()]
    out = []
    for pid in ids:
        person = directory.person(pid)
        if person is not None and person.email and person.active:
            out.append((person.name, person.email))
    return out


def _task_link(row: HumanTask, base_url: str = "") -> str:
    return f"{base_url.rstrip('/')}/tasks/{row.id}"


async def _subject_name(row: HumanTask, directory: DirectorySnapshot) -> str:
    person = directory.person(row.subject_id_cache) if row.subject_id_cache else None
    return person.name if person else ""


async def queue_task_created(rows: list[HumanTask], directory: DirectorySnapshot) -> None:
    """Queue "a task is waiting for you" emails for newly created tasks."""
    emails = []
    for row in rows:
        about = await _subject_name(row, directory)
        due = f"\nIt is due on {row.due_at:%A %d %B %Y}." if row.due_at else ""
        group = (
            f"\nIt was sent to the {row.candidate_group} group: the first to claim it takes it."
            if row.assignee_id is None and row.candidate_group  # type: ignore[attr-defined]
            else ""
        )
        note = f"\n\nWhy it came to you: {row.routing_note}" if row.routing_note else ""
        for name, address in _recipients(row, directory):
            emails.append(
                OutboxEmail(
                    to=f"{name} <{address}>",
                    subject=f"Task waiting for you: {row.name}" + (f" — {about}" if about else ""),
                    body=(
                        f"Hello {name.split()[0]},\n\n"
                        f"'{row.name}'{' for ' + about if about else ''} is waiting for you."
                        f"{due}{group}{note}\n\nOpen it: {{base_url}}{_task_link(row)}\n"
                    ),
                    next_attempt_at=clock.now(),
                )
            )
    if emails:
        await OutboxEmail.bulk_create(emails)


async def queue_reminders(rows: list[HumanTask], directory: DirectorySnapshot) -> None:
    """Queue reminder emails for open tasks whose reminder timer fired."""
    emails = []
    for row in rows:
        about = await _subject_name(row, directory)
        when = ""
        if row.due_at:
            days = (row.due_at - clock.now()).days
            when = (
                f" It is due in {days} day(s)." if days >= 0 else f" It is {-days} day(s) overdue."
            )
        for name, address in _recipients(row, directory):
            emails.append(
                OutboxEmail(
                    to=f"{name} <{address}>",
                    subject=f"Reminder: {row.name}" + (f" — {about}" if about else ""),
                    body=(
                        f"Hello {name.split()[0]},\n\n"
                        f"This is a reminder that '{row.name}'"
                        f"{' for ' + about if about else ''} is still waiting for you.{when}"
                        f"\n\nOpen it: {{base_url}}{_task_link(row)}\n"
                    ),
                    next_attempt_at=clock.now(),
                )
            )
    if emails:
        await OutboxEmail.bulk_create(emails)


def _message(email: OutboxEmail, smtp: SmtpSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = email.to
    msg["Subject"] = email.subject
    msg.set_content(email.body.replace("{base_url}", smtp.base_url.rstrip("/")))
    return msg


async def send_due(smtp: SmtpSettings, limit: int = 50) -> tuple[int, int]:
    """Send queued emails whose time has come; returns (sent, failed attempts)."""
    import aiosmtplib

    now = clock.now()
    due = (
        await OutboxEmail.filter(status="queued", next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .limit(limit)
    )
    sent = failed = 0
    for email in due:
        try:
            await aiosmtplib.send(
                _message(email, smtp),
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username or None,
                password=smtp.password or None,
                start_tls=smtp.starttls,
                timeout=15,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            failed += 1
            email.attempts += 1
            email.last_error = f"{type(exc).__name__}: {exc}"
            if email.attempts >= MAX_ATTEMPTS:
                email.status = "failed"
                email.next_attempt_at = None
            else:
                email.next_attempt_at = now + BACKOFF_BASE * (2 ** (email.attempts - 1))
            log.warning("email %s to %s failed: %s", email.id, email.to, email.last_error)
        else:
            sent += 1
            email.attempts += 1
            email.status = "sent"
            email.sent_at = now
            email.last_error = None
        await email.save()
    return sent, failed


def body_for_display(email: OutboxEmail, base_url: str) -> str:
    """The email's text as it would be sent."""
    return email.body.replace("{base_url}", base_url.rstrip("/"))

