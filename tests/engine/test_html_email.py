"""Emails where people work, end to end on a real SMTP server: the HTML alternative with its
button, the daily digest, and calendar invitations for 1:1s (checked against RFC 5545's
structure by a strict reader of our own)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from engine.base import clock
from engine.base.models import HumanTask, OutboxEmail, Person, User
from engine.operations.worker import Worker, WorkerSettings
from engine.people.directory import bump_directory_version
from engine.performance import one_on_ones as oo
from engine.workflow import calendar_invites, notifications, runtime
from engine.workflow.notifications import SmtpSettings, send_due
from tests.engine.test_notifications import OBJECTIVES, Mailbox, start_server
from tests.support.app import free_port

BASE_URL = "https://perf.example.com"
# Far-future dates: SpiffWorkflow compares timeDate timers with the real clock as well.
MORNING = datetime(2099, 5, 4, 6, 0, tzinfo=UTC)  # a Monday, before the digest hour
FIRST = datetime(2099, 5, 12, 10, 0, tzinfo=UTC)


@pytest.fixture
def mailbox_and_smtp() -> Iterator[tuple[Mailbox, SmtpSettings]]:
    port = free_port()
    controller, box = start_server(port)
    yield box, SmtpSettings(host="127.0.0.1", port=port, sender="Sightline <noreply@example.com>",
                            base_url=BASE_URL + "/", timeout=5)
    controller.stop()


def part(message: EmailMessage, subtype: str) -> str:
    found = message.get_body((subtype,))
    assert found is not None, f"no text/{subtype} part"
    return str(found.get_content())


async def digest_user(key: str) -> None:
    person = await Person.get(key=key)
    user = await User.create(username=key.lower(), person_id=person.id, password_hash="x")
    await notifications.set_daily_digest(user.id, True)


# --- HTML ----------------------------------------------------------------------------------------


async def test_a_task_email_has_text_and_html_with_a_button_and_escaped_names(
    standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    await Person.filter(key="E1").update(name="Eve <script>alert(1)</script> Employee")
    await bump_directory_version()
    hr = await runtime.actor_for("H1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    draft = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
    await runtime.complete_task(draft.id, await runtime.actor_for("E1"),
                                {"objectives": OBJECTIVES, "comments": ""})
    review = await HumanTask.get(instance_id=inst.id, bpmn_id="review_objectives")
    await send_due(smtp)

    [to_morgan] = [m for m in mailbox.messages if "morgan@" in m["To"]]
    assert to_morgan.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in to_morgan.iter_parts()] == ["text/plain", "text/html"]
    # The plain text is kept as it always was.
    assert f"Open it: {BASE_URL}/tasks/{review.id}" in part(to_morgan, "plain")
    html = part(to_morgan, "html")
    assert "<script>" not in html
    assert "Eve &lt;script&gt;alert(1)&lt;/script&gt; Employee" in html
    button = re.search(r'<a href="([^"]+)"[^>]*>Open the task</a>', html)
    assert button is not None and button.group(1) == f"{BASE_URL}/tasks/{review.id}"
    assert "Review objectives" in html and "Due" in html


# --- the daily digest --------------------------------------------------------------------------


async def test_a_digest_reader_gets_one_email_at_the_hour_with_the_tasks_still_open(
    standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    await digest_user("E1")
    worker = Worker(WorkerSettings(heartbeat_every=0, anchor_every=0, timer_poll=0,
                                   smtp=smtp, digest_hour=7))
    hr = await runtime.actor_for("H1")
    with clock.frozen_at(MORNING):
        setting = await runtime.start_process("objective_setting", subject="E1", actor=hr)
        midyear = await runtime.start_process("mid_year_review", subject="E1", actor=hr)
        await worker.send_emails()
    # Two tasks wait for Eve, and nothing reached her yet.
    assert mailbox.messages == []
    assert await OutboxEmail.filter(status="digest").count() == 2

    draft = await HumanTask.get(instance_id=setting.id, bpmn_id="draft_objectives")
    actuals = await HumanTask.get(instance_id=midyear.id, bpmn_id="update_actuals")
    with clock.frozen_at(MORNING + timedelta(minutes=30)):
        await runtime.complete_task(draft.id, await runtime.actor_for("E1"),
                                    {"objectives": OBJECTIVES, "comments": ""})
        await worker.send_emails()
    # Morgan did not choose the digest: his task email goes out at once, as before.
    assert [m["To"] for m in mailbox.messages] == ["Morgan Manager <morgan@example.com>"]
    mailbox.messages.clear()

    with clock.frozen_at(MORNING + timedelta(minutes=59)):
        await worker.send_emails()
    assert mailbox.messages == []

    with clock.frozen_at(MORNING + timedelta(hours=1, minutes=1)):
        await worker.send_emails()
        await worker.send_emails()
    [digest] = mailbox.messages
    assert digest["To"] == "Eve Employee <eve@example.com>"
    assert digest["Subject"] == "Your tasks for Monday 4 May 2099: 1 task"
    text, html = part(digest, "plain"), part(digest, "html")
    # The objectives she already drafted are not listed; the open task is, with its link.
    assert "Draft objectives" not in text and "Draft objectives" not in html
    assert "Update KPI actuals" in text and f"{BASE_URL}/tasks/{actuals.id}" in text
    assert f'href="{BASE_URL}/tasks/{actuals.id}"' in html

    # One a day: a later round the same day sends nothing more.
    with clock.frozen_at(MORNING + timedelta(hours=5)):
        await worker.send_emails()
    assert len(mailbox.messages) == 1


# --- calendar invitations ----------------------------------------------------------------------

REQUIRED = ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER", "SEQUENCE")


def strict_parse(raw: str) -> dict[str, list[str]]:
    """Read an iCalendar text the way RFC 5545 writes it, failing on any departure: CRLF line
    ends only, content lines of at most 75 octets, continuation lines begun by a space, every
    line NAME[;params]:value, BEGIN/END balanced, one VEVENT with the required properties."""
    assert raw.endswith("\r\n")
    assert "\n" not in raw.replace("\r\n", ""), "a bare LF"
    assert "\r" not in raw.replace("\r\n", ""), "a bare CR"
    physical = raw[:-2].split("\r\n")
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, f"line longer than 75 octets: {line!r}"
    logical: list[str] = []
    for line in physical:
        if line.startswith(" "):
            assert logical, "a continuation line first"
            logical[-1] += line[1:]
        else:
            logical.append(line)
    stack: list[str] = []
    props: dict[str, list[str]] = {}
    for line in logical:
        match = re.fullmatch(r"([A-Z-]+)((?:;[A-Z-]+=(?:\"[^\"]*\"|[^;:,\"]*))*):(.*)", line)
        assert match, f"not a content line: {line!r}"
        name, value = match.group(1), match.group(3)
        if name == "BEGIN":
            stack.append(value)
        elif name == "END":
            assert stack and stack.pop() == value, f"END:{value} closes nothing"
        else:
            key = f"{stack[-1]}.{name}" if stack else name
            props.setdefault(key, []).append(line[len(name) + len(match.group(2)) + 1:])
    assert stack == [], "unclosed components"
    assert logical[0] == "BEGIN:VCALENDAR" and logical[-1] == "END:VCALENDAR"
    for name in ("VCALENDAR.VERSION", "VCALENDAR.PRODID", "VCALENDAR.METHOD"):
        assert name in props, name
    for name in REQUIRED:
        assert len(props.get(f"VEVENT.{name}", [])) == 1, name
    return props


def invitation(message: EmailMessage) -> tuple[str, dict[str, list[str]]]:
    [calendar] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    raw = calendar.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    [ics] = [p for p in message.walk() if p.get_filename() in ("invite.ics", "cancel.ics")]
    assert ics.get_payload(decode=True).decode("utf-8") == raw  # type: ignore[union-attr]
    return calendar.get_param("method"), strict_parse(raw)  # type: ignore[return-value]


def test_long_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    line = "DESCRIPTION:" + "Entwicklungsgespräch über Zielvereinbarungen; " * 6
    folded = calendar_invites.fold(line)
    pieces = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in pieces) and len(pieces) > 3
    assert calendar_invites.unfold(folded + "\r\n") == [line]
    assert calendar_invites.escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"


async def test_a_1on1_invites_both_then_a_move_updates_and_a_skip_cancels(
    standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    people = {p.key: p.id for p in await Person.all()}
    morgan = await runtime.actor_for("M1")
    with clock.frozen_at(MORNING):
        meeting_id = await oo.schedule_series(morgan, people["E1"], "weekly", FIRST, 45)
        await send_due(smtp)
    invites = [m for m in mailbox.messages if m["Subject"].startswith("Invitation: 1:1")]
    assert sorted(m["To"] for m in invites) == ["Eve Employee <eve@example.com>",
                                                "Morgan Manager <morgan@example.com>"]
    method, first = invitation(invites[0])
    assert method == "REQUEST" and first["VCALENDAR.METHOD"] == ["REQUEST"]
    assert first["VEVENT.DTSTART"] == ["20990512T100000Z"]
    assert first["VEVENT.DTEND"] == ["20990512T104500Z"]
    assert first["VEVENT.DTSTAMP"] == ["20990504T060000Z"]
    assert first["VEVENT.SEQUENCE"] == ["0"]
    assert first["VEVENT.ORGANIZER"] == ["mailto:morgan@example.com"]
    assert sorted(a.rsplit(":", 1)[1] for a in first["VEVENT.ATTENDEE"]) == [
        "eve@example.com", "morgan@example.com"]
    assert f"{BASE_URL}/one-on-ones/meetings/{meeting_id}" in first["VEVENT.DESCRIPTION"][0]
    # The email around it has its text and HTML parts too.
    assert "Open the meeting" in part(invites[0], "html")
    mailbox.messages.clear()

    with clock.frozen_at(MORNING + timedelta(hours=1)):
        await oo.reschedule(meeting_id, morgan, FIRST + timedelta(days=1))
        await send_due(smtp)
    [moved] = [m for m in mailbox.messages if "eve@" in m["To"]]
    assert moved["Subject"].startswith("Moved: 1:1")
    _, update = invitation(moved)
    assert update["VEVENT.UID"] == first["VEVENT.UID"]
    assert update["VEVENT.SEQUENCE"] == ["1"]
    assert update["VEVENT.DTSTART"] == ["20990513T100000Z"]
    mailbox.messages.clear()

    with clock.frozen_at(MORNING + timedelta(hours=2)):
        next_id = await oo.skip_meeting(meeting_id, morgan)
        await send_due(smtp)
    to_eve = [m for m in mailbox.messages if "eve@" in m["To"]]
    [cancel] = [m for m in to_eve if m["Subject"].startswith("Cancelled:")]
    method, cancelled = invitation(cancel)
    assert method == "CANCEL" and cancelled["VEVENT.UID"] == first["VEVENT.UID"]
    assert cancelled["VEVENT.STATUS"] == ["CANCELLED"]
    assert cancelled["VEVENT.SEQUENCE"] == ["2"]
    # The next meeting of the rhythm is invited to under its own UID.
    [nxt] = [m for m in to_eve if m["Subject"].startswith("Invitation:")]
    _, following = invitation(nxt)
    assert following["VEVENT.UID"] == [calendar_invites.meeting_uid("one-on-one", next_id)]
    assert following["VEVENT.DTSTART"] == ["20990519T100000Z"]


async def test_ending_a_series_cancels_its_waiting_meeting(
    standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    people = {p.key: p.id for p in await Person.all()}
    morgan = await runtime.actor_for("M1")
    with clock.frozen_at(MORNING):
        meeting_id = await oo.schedule_series(morgan, people["E1"], "weekly", FIRST, 30)
        series_id = (await oo.my_series(people["M1"]))[0].id
        await oo.end_series(series_id, morgan)
        await send_due(smtp)
    cancels = [m for m in mailbox.messages if m["Subject"].startswith("Cancelled:")]
    assert len(cancels) == 2
    method, props = invitation(cancels[0])
    assert method == "CANCEL"
    assert props["VEVENT.UID"] == [calendar_invites.meeting_uid("one-on-one", meeting_id)]
