"""Email notifications through an outbox: queued in the action's transaction, sent later.

A task created for someone, or a reminder timer firing on an open task, queues an email in the
same transaction as the action (so a rolled-back action sends nothing). A sender drains the
outbox over SMTP when SMTP is configured, retrying with backoff; without SMTP the emails stay
in the outbox, where HR can read them in the app.

Bodies are stored with `{base_url}` and `{task_id}` placeholders: the link is completed when the
email is sent (or shown), so a deployment that changes its address does not send stale links,
and an email can be written in the same batch as the task it announces, before its id exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.errors import Conflict, NotFound
from engine.base.models import HumanTask, OutboxEmail, Person, User
from engine.people.directory import DirectorySnapshot, PersonInfo, current_directory
from engine.workflow import calendar_invites, email_templates
from engine.workflow.email_wording import Wording, wording_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# Waits after each failed attempt: 1, 2, 4, 8, 16 minutes, then the email is marked failed.
BACKOFF_BASE = timedelta(minutes=1)
# A sender claims an email for this long before sending, so two app processes never both send
# it; if the sender dies mid-send, the email is tried again after the lease.
CLAIM_LEASE = timedelta(minutes=5)
BASE_URL_PLACEHOLDER = "{base_url}"
TASK_ID_PLACEHOLDER = "{task_id}"
STATUSES = ("queued", "sent", "failed")
# A task email set aside for its reader's daily digest, and once gathered into one.
DIGEST = "digest"
DIGESTED = "digested"


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
    timeout: float = 15.0


# --- queueing (inside the action's transaction) ------------------------------------------------


def _recipients(row: HumanTask, directory: DirectorySnapshot) -> list[PersonInfo]:
    """Whoever should hear about the task: its assignee, else its group or candidates."""
    if row.assignee_id is not None:
        ids = [row.assignee_id]
    elif row.candidate_group:
        ids = sorted(directory.members(row.candidate_group))
    else:
        ids = [int(c) for c in row.candidates if str(c).isdigit()]
    people = (directory.person(pid) for pid in ids)
    return [p for p in people if p is not None and p.email and p.active]


def _task_link() -> str:
    return f"{BASE_URL_PLACEHOLDER}/tasks/{TASK_ID_PLACEHOLDER}"


def _about(row: HumanTask, reader: PersonInfo, directory: DirectorySnapshot) -> str:
    """Whose task it is, as the reader would say it: nothing when it is the reader's own."""
    subject_id = row.subject_id_cache
    if subject_id is None or subject_id == reader.id:
        return ""
    person = directory.person(subject_id)
    return person.name if person else ""


def _address(person: PersonInfo) -> str:
    return f"{person.name} <{person.email}>"


def _greeting(person: PersonInfo | None, words: Wording) -> str:
    first = person.name.split()[0] if person and person.name else ""
    return words._("Hello %(name)s,", name=first) if first else words._("Hello there,")


def _due_sentence(due_at: datetime | None, words: Wording) -> str:
    """When the task is due, counted in calendar days as people count them."""
    if due_at is None:
        return ""
    days = (due_at.date() - clock.now().date()).days
    on = words.date(due_at)
    if days > 1:
        return " " + words._("It is due on %(date)s, in %(days)s days.", date=on, days=days)
    if days == 1:
        return " " + words._("It is due tomorrow, %(date)s.", date=on)
    if days == 0:
        return " " + words._("It is due today.")
    return " " + words.n("It was due on %(date)s and is %(num)s day overdue.",
                         "It was due on %(date)s and is %(num)s days overdue.", -days, date=on)


def _due_date(due_at: datetime | None, words: Wording) -> str:
    return words.date(due_at) if due_at else ""


# What an email says of a task, worded for its reader: (subject, the sentence without and with
# whom the task is about). Marked here, translated per reader in _emails.
_TASK_CREATED = ("Task waiting for you", "'%(name)s' is waiting for you.",
                 "'%(name)s' for %(about)s is waiting for you.")
_REMINDER = ("Reminder", "This is a reminder that '%(name)s' is still waiting for you.",
             "This is a reminder that '%(name)s' for %(about)s is still waiting for you.")


def _emails(
    row: HumanTask,
    directory: DirectorySnapshot,
    texts: tuple[str, str, str],
    extra: Callable[[Wording], str] = lambda words: "",
) -> list[dict[str, Any]]:
    """One outbox row per person to tell about `row`, each in that person's language."""
    emails = []
    for person in _recipients(row, directory):
        words = wording_for(person.id, directory)
        about = _about(row, person, directory)
        subject = words._(texts[0])
        said = (words._(texts[2], name=row.name, about=about) if about
                else words._(texts[1], name=row.name))
        more = extra(words)
        due = _due_sentence(row.due_at, words)
        emails.append(
            {
                "to": _address(person),
                "subject": f"{subject}: {row.name}" + (f" — {about}" if about else ""),
                "body": (
                    f"{_greeting(person, words)}\n\n"
                    + said
                    + f"{due}{more}\n\n"
                    + words._("Open it: %(link)s", link=_task_link()) + "\n"
                ),
                "html": email_templates.html_email(
                    title=f"{subject}: {row.name}",
                    greeting=_greeting(person, words),
                    paragraphs=[said + due, *more.strip().split("\n\n")],
                    button=(words._("Open the task"), _task_link()),
                    facts=[(words._("Task"), row.name), (words._("About"), about),
                           (words._("Due"), _due_date(row.due_at, words))],
                    translate=words._,
                ),
                "next_attempt_at": clock.now(),
                "task_id": row.id,
            }
        )
    return emails


def task_created_emails(row: HumanTask, directory: DirectorySnapshot) -> list[dict[str, Any]]:
    """Outbox rows telling whoever holds a new task that it waits for them."""

    def extra(words: Wording) -> str:
        group = ("\n" + words._("It was sent to the %(group)s group: the first to claim it "
                                "takes it.", group=row.candidate_group)
                 if row.assignee_id is None and row.candidate_group else "")
        note = ("\n\n" + words._("Why it came to you: %(note)s", note=row.routing_note)
                if row.routing_note else "")
        return group + note

    return _emails(row, directory, _TASK_CREATED, extra)


def reminder_emails(row: HumanTask, directory: DirectorySnapshot) -> list[dict[str, Any]]:
    """Outbox rows reminding whoever holds an open task that it still waits for them."""
    return _emails(row, directory, _REMINDER)


# --- sending -----------------------------------------------------------------------------------


def body_for_display(email: OutboxEmail, base_url: str) -> str:
    """The email's text as it would be sent, with links on `base_url`."""
    body = email.body.replace(BASE_URL_PLACEHOLDER, base_url.rstrip("/"))
    return body.replace(TASK_ID_PLACEHOLDER, str(email.task_id or ""))


@dataclass(frozen=True)
class ShownEmail:
    """An outbox email as HR reads it: the row, and its text as it is (or would be) sent."""

    email: OutboxEmail
    text: str


def shown_email(email: OutboxEmail, base_url: str) -> ShownEmail:
    """The email with its text as it would be sent, links on `base_url`."""
    return ShownEmail(email, body_for_display(email, base_url))


def _completed(text: str, email: OutboxEmail, base_url: str) -> str:
    text = text.replace(BASE_URL_PLACEHOLDER, base_url.rstrip("/"))
    return text.replace(TASK_ID_PLACEHOLDER, str(email.task_id or ""))


def calendar_for_display(email: OutboxEmail, base_url: str) -> str:
    """The invitation as sent: links completed on the unfolded lines, then folded again (a
    placeholder may straddle a fold)."""
    lines = calendar_invites.unfold(email.calendar or "")
    return "".join(calendar_invites.fold(_completed(line, email, base_url)) + "\r\n"
                   for line in lines)


def message_for(email: OutboxEmail, smtp: SmtpSettings) -> EmailMessage:
    """The MIME message that goes out for an outbox email: the plain text, its HTML
    alternative when it has one, and a calendar invitation — inline, where calendar clients
    act on it, and as an .ics file for the others."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = email.to
    msg["Subject"] = email.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{email.id}")
    msg.set_content(body_for_display(email, smtp.base_url))
    if email.html:
        msg.add_alternative(_completed(email.html, email, smtp.base_url), subtype="html")
    if email.calendar:
        ics = calendar_for_display(email, smtp.base_url)
        method = calendar_invites.method_of(ics)
        msg.add_alternative(ics, subtype="calendar", params={"method": method})
        msg.add_attachment(ics.encode("utf-8"), maintype="application", subtype="ics",
                           filename="invite.ics" if method != "CANCEL" else "cancel.ics")
    return msg


async def _claim(email: OutboxEmail, now: datetime) -> bool:
    """Take the email for this sender; False when another sender took it first."""
    taken = await OutboxEmail.filter(
        id=email.id, status="queued", attempts=email.attempts, next_attempt_at__lte=now
    ).update(next_attempt_at=now + CLAIM_LEASE)
    return bool(taken)


async def _record_failure(email: OutboxEmail, now: datetime, exc: Exception) -> None:
    email.attempts += 1
    email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if email.attempts >= MAX_ATTEMPTS:
        email.status = "failed"
        email.next_attempt_at = None
    else:
        email.next_attempt_at = now + BACKOFF_BASE * (2 ** (email.attempts - 1))
    await email.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    log.warning("email %s to %s failed: %s", email.id, email.to, email.last_error)


async def _record_sent(email: OutboxEmail, now: datetime) -> None:
    email.attempts += 1
    email.status = "sent"
    email.sent_at = now
    email.next_attempt_at = None
    email.last_error = None  # type: ignore[assignment]
    await email.save(
        update_fields=["attempts", "status", "sent_at", "next_attempt_at", "last_error"]
    )


async def send_due(smtp: SmtpSettings, limit: int = 50) -> tuple[int, int]:
    """Send queued emails whose time has come; returns (sent, failed attempts).

    When the server cannot be reached the round stops at the first email: the rest were not
    tried, so they keep their attempts and go out as soon as the server is back.
    """
    import aiosmtplib

    now = clock.now()
    due = (
        await OutboxEmail.filter(status="queued", next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .limit(limit)
    )
    sent = failed = 0
    digest_readers = await _digest_readers()
    for email in due:
        if email.task_id is not None and _reader(email) in digest_readers:
            # This person reads their task emails once a day, gathered (queue_digests).
            await OutboxEmail.filter(id=email.id, status="queued").update(
                status=DIGEST, next_attempt_at=now)
            continue
        if not await _claim(email, now):
            continue
        try:
            await aiosmtplib.send(
                message_for(email, smtp),
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username or None,
                password=smtp.password or None,
                start_tls=smtp.starttls,
                timeout=smtp.timeout,
            )
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            failed += 1
            await _record_failure(email, now, exc)
            break
        except aiosmtplib.SMTPException as exc:
            failed += 1
            await _record_failure(email, now, exc)
        else:
            sent += 1
            await _record_sent(email, now)
    return sent, failed


# --- the daily digest -----------------------------------------------------------------------


def _reader(email: OutboxEmail) -> str:
    return parseaddr(email.to)[1].lower()


async def _digest_readers() -> dict[str, int]:
    """Email address → person id of everyone who chose the daily digest."""
    rows = await User.filter(daily_digest=True).values_list("person__email", "person_id")
    return {str(address).lower(): int(pid) for address, pid in rows if address}


async def daily_digest_of(user_id: int) -> bool:
    """Whether a login reads its task emails as one daily digest."""
    found = await User.filter(id=user_id).values_list("daily_digest", flat=True)
    return bool(found[0]) if found else False


async def set_daily_digest(user_id: int, on: bool) -> None:
    """Choose one daily digest (True) or an email per task (False) for a login. Emails already
    set aside for a digest go out in it; from now on the choice decides."""
    await User.filter(id=user_id).update(daily_digest=on)


def digest_time(now: datetime, hour: int) -> datetime:
    """Today's digest moment: `hour` o'clock in the organisation's time zone, in UTC."""
    local = clock.local(now).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


async def queue_digests(hour: int) -> int:
    """Once the day's digest hour has passed, gather each digest reader's task emails set
    aside before it into one email listing the tasks still open; returns how many digests
    were queued. Emails set aside after the hour wait for tomorrow's, so a person gets at most
    one a day; a digest whose tasks were all done meanwhile is not sent at all."""
    now = clock.now()
    cut = digest_time(now, hour)
    if now < cut:
        return 0
    waiting = await OutboxEmail.filter(status=DIGEST, next_attempt_at__lt=cut).order_by("id")
    by_reader: dict[str, list[OutboxEmail]] = {}
    for email in waiting:
        by_reader.setdefault(_reader(email), []).append(email)
    if not by_reader:
        return 0
    readers = await _digest_readers()
    directory = await current_directory()
    queued = 0
    for address, emails in by_reader.items():
        task_ids = list(dict.fromkeys(e.task_id for e in emails if e.task_id is not None))
        tasks = await HumanTask.filter(id__in=task_ids, status="ready").order_by("due_at", "id")
        reader = directory.person(readers.get(address, 0))
        try:
            async with in_transaction():
                taken = await OutboxEmail.filter(
                    id__in=[e.id for e in emails], status=DIGEST).update(
                    status=DIGESTED, sent_at=now, next_attempt_at=None)
                if taken != len(emails):
                    raise Conflict("another worker gathered this digest")
                if tasks:
                    await OutboxEmail.create(**_digest_email(emails[-1].to, reader, tasks,
                                                             directory, now))
                    queued += 1
        except Conflict:
            continue
    return queued


def _digest_email(to: str, reader: PersonInfo | None, tasks: list[HumanTask],
                  directory: DirectorySnapshot, now: datetime) -> dict[str, Any]:
    """The outbox row of one person's digest, in their language: every open task, with whom it
    is about, when it is due and its link."""
    words = wording_for(reader.id if reader else None, directory)
    greeting = _greeting(reader, words) if reader else words._("Hello,")
    count = words.n("%(num)s task", "%(num)s tasks", len(tasks))
    waiting = words.n("%(num)s task waits for you", "%(num)s tasks wait for you", len(tasks))
    items = []
    for task in tasks:
        about = _about(task, reader, directory) if reader else ""
        name = task.name + (f" — {about}" if about else "")
        due = _due_date(task.due_at, words)
        items.append((name, words._("Due %(date)s", date=due) if due else "",
                      f"{BASE_URL_PLACEHOLDER}/tasks/{task.id}"))
    text = f"{greeting}\n\n{waiting}:\n\n" + "".join(
        f"- {name}" + (f" ({due})" if due else "") + f"\n  {url}\n" for name, due, url in items
    )
    title = words._("Your tasks for %(day)s", day=words.date(now))
    return {
        "to": to,
        "subject": f"{title}: {count}",
        "body": text,
        "html": email_templates.html_email(
            title=title,
            greeting=greeting,
            paragraphs=[f"{waiting}."],
            sections=[email_templates.task_list(items)],
            button=(words._("Open your inbox"), f"{BASE_URL_PLACEHOLDER}/inbox"),
            translate=words._,
        ),
        "next_attempt_at": now,
        "task_id": None,
    }


# --- the outbox as HR sees it ------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxPage:
    """One page of the outbox, newest first, with the count per status."""

    emails: list[OutboxEmail]
    status: str | None
    page: int
    pages: int
    total: int
    counts: dict[str, int]


def _in_scope(query: QuerySet[OutboxEmail], units: Collection[int] | None
              ) -> QuerySet[OutboxEmail]:
    """The emails an HR member looks after, `units` being the org units they partner (with
    their sub-units; None for an HR administrator, who sees every email).

    An email is in scope when it is about someone of those units: the subject of the process
    its task belongs to is a person whose org unit is one of them. That is the rule every page
    that shows a process applies (engine.workflow.access), and an email is part of its process — it
    names the task and whose task it is. So a partner sees every email their people's
    processes sent, wherever the recipient sits (a manager in another unit, the HR group), and
    no email of another unit's process, even one sent to one of their people (a peer asked
    for feedback on someone else, a task of the HR group). An email about no one (a process
    without a subject, a task since removed) is for HR administrators only."""
    if units is None:
        return query
    subjects = Person.filter(org_unit_id__in=sorted(units)).values("id")
    tasks = HumanTask.filter(subject_id_cache__in=Subquery(subjects)).values("id")
    return query.filter(task_id__in=Subquery(tasks))


async def outbox_page(
    status: str | None = None, page: int = 1, per_page: int = 25,
    units: Collection[int] | None = None,
) -> OutboxPage:
    """The outbox filtered by status (queued / sent / failed, or all), newest first; only the
    emails about people of `units` when given (an HR partner's, see `_in_scope`)."""
    if status not in STATUSES:
        status = None
    counts = {s: await _in_scope(OutboxEmail.filter(status=s), units).count() for s in STATUSES}
    # Emails held while their tasks are being launched are nobody's business yet.
    query = _in_scope(OutboxEmail.filter(status__in=[status] if status else STATUSES), units)
    total = counts[status] if status else sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    emails = await query.order_by("-created_at", "-id").offset((page - 1) * per_page).limit(
        per_page
    )
    return OutboxPage(list(emails), status, page, pages, total, counts)


async def check_email_in_scope(email_id: int, units: Collection[int] | None) -> None:
    """NotFound unless the email is in the outbox an HR member with `units` sees."""
    if not await _in_scope(OutboxEmail.filter(id=email_id), units).exists():
        raise NotFound(f"no email {email_id} in the outbox")


async def outbox_email(email_id: int) -> OutboxEmail:
    """One email of the outbox."""
    email = await OutboxEmail.get_or_none(id=email_id)
    if email is None:
        raise NotFound(f"no email {email_id} in the outbox")
    return email


async def retry_email(email_id: int) -> OutboxEmail:
    """Put a failed email back in the queue, to go out on the sender's next round."""
    email = await outbox_email(email_id)
    if email.status != "failed":
        raise Conflict(f"email {email_id} is {email.status}; only a failed email can be retried")
    email.status = "queued"
    email.attempts = 0
    email.next_attempt_at = clock.now()
    await email.save(update_fields=["status", "attempts", "next_attempt_at"])
    return email
