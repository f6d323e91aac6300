"""Calendar invitations (RFC 5545 iCalendar, RFC 5546 iTIP) for meetings the engine schedules.

A 1:1 meeting scheduled, moved or cancelled, and an appraisal discussion given its time, send
both people an email with a `text/calendar; method=REQUEST` (or `CANCEL`) part, so the meeting
lands in the calendar they already use. The text is written here rather than by a library:
the subset needed is small, and its rules (CRLF line ends, lines folded at 75 octets, text
escaped) are exactly what the tests check.

A meeting keeps one UID for its whole life, so a calendar replaces the event when it moves
(a higher SEQUENCE) and removes it when it is cancelled. The sequence is counted from the
invitations already in the outbox for that UID and recipient: the database is the memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.base import clock
from engine.base.db import Params
from engine.base.i18n import DEFAULT_LANGUAGE, said, spoken
from engine.base.models import OutboxEmail
from engine.people.directory import DirectorySnapshot, PersonInfo, current_directory
from engine.workflow import email_templates
from engine.workflow.email_wording import Wording, wording_for

PRODID = "-//Sightline//Sightline performance management//EN"
UID_DOMAIN = "sightline"
REQUEST = "REQUEST"
CANCEL = "CANCEL"
# RFC 5545 3.1: content lines are folded at 75 octets, not counting the line break.
FOLD_OCTETS = 75


@dataclass(frozen=True)
class Meeting:
    """A meeting as an invitation describes it."""

    uid: str
    summary: str
    start: datetime
    duration: timedelta
    organizer: PersonInfo
    attendees: tuple[PersonInfo, ...]
    description: str = ""
    # An absolute link (base URL included) or a path the sender completes.
    url: str = ""
    # The pack's names (a task's, a meeting's title) by language: each attendee reads the
    # summary and description in their own (engine.base.i18n.PackText slots).
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def summary_in(self, language: str) -> str:
        """The summary in `language`."""
        return str(spoken(self.summary, language, self.names.get(language)))

    def description_in(self, language: str) -> str:
        """The description in `language`."""
        return str(spoken(self.description, language, self.names.get(language)))


def meeting_uid(kind: str, key: int | str) -> str:
    """The UID of a meeting: stable for its life, so an update replaces the event."""
    return f"{kind}-{key}@{UID_DOMAIN}"


def escape_text(value: str) -> str:
    """A TEXT value escaped per RFC 5545 3.3.11 (backslash, semicolon, comma, newline)."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """One content line folded into CRLF-separated pieces of at most 75 octets, never
    splitting a UTF-8 character; continuation lines start with a space (RFC 5545 3.1)."""
    pieces: list[str] = []
    current, size, limit = "", 0, FOLD_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            # A continuation line's leading space counts towards its 75 octets.
            current, size, limit = " ", 1, FOLD_OCTETS
        current += char
        size += width
    pieces.append(current)
    return "\r\n".join(pieces)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _cal_address(person: PersonInfo, role: str = "") -> str:
    name = person.name.replace('"', "'")
    params = f';CN="{name}"' + (f";ROLE={role}" if role else "")
    return f"{params}:mailto:{person.email}"


def calendar_text(meeting: Meeting, method: str, sequence: int,
                  language: str = DEFAULT_LANGUAGE) -> str:
    """The VCALENDAR of an invitation (REQUEST) or a cancellation (CANCEL), CRLF line ends;
    its summary and description in the recipient's `language`."""
    if method not in (REQUEST, CANCEL):
        raise ValueError(f"'{method}' is not an invitation method (REQUEST or CANCEL)")
    description = meeting.description_in(language) + (
        f"\n\n{meeting.url}" if meeting.url else "")
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{meeting.uid}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{_stamp(clock.now())}",
        f"DTSTART:{_stamp(meeting.start)}",
        f"DTEND:{_stamp(meeting.start + meeting.duration)}",
        f"SUMMARY:{escape_text(meeting.summary_in(language))}",
        f"DESCRIPTION:{escape_text(description)}",
    ]
    if meeting.url:
        lines.append(f"URL:{meeting.url}")
    lines.append("ORGANIZER" + _cal_address(meeting.organizer))
    for person in meeting.attendees:
        lines.append("ATTENDEE" + _cal_address(person, "REQ-PARTICIPANT")
                     .replace(":mailto:", ";PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:", 1))
    lines += [
        f"STATUS:{'CANCELLED' if method == CANCEL else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)


def _when(moment: datetime, words: Wording) -> str:
    return words._("%(day)s, %(time)s %(zone)s", day=words.date(moment),
                   time=words.time(moment), zone=clock.zone_name())


def _texts(meeting: Meeting, method: str, reader: PersonInfo, moved: bool,
           words: Wording) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the email that carries the invitation to `reader`, in
    the reader's language."""
    when = _when(meeting.start, words)
    summary = meeting.summary_in(words.language)
    if method == CANCEL:
        subject = words._("Cancelled: %(meeting)s", meeting=summary)
        sentence = words._("'%(meeting)s' on %(when)s is cancelled.", meeting=summary, when=when)
    elif moved:
        subject = words._("Moved: %(meeting)s", meeting=summary)
        sentence = words._("'%(meeting)s' moved to %(when)s.", meeting=summary, when=when)
    else:
        subject = words._("Invitation: %(meeting)s", meeting=summary)
        sentence = words._("'%(meeting)s' is on %(when)s.", meeting=summary, when=when)
    tail = words._("The invitation is attached: your calendar takes it as it comes.")
    greeting = (words._("Hello %(name)s,", name=reader.name.split()[0]) if reader.name
                else words._("Hello there,"))
    text = f"{greeting}\n\n{sentence}\n{tail}\n" + (
        "\n" + words._("Open it: %(link)s", link=meeting.url) + "\n" if meeting.url else "")
    body = email_templates.html_email(
        title=subject,
        greeting=greeting,
        paragraphs=[sentence, tail],
        button=(words._("Open the meeting"), meeting.url) if meeting.url else None,
        facts=[(words._("When"), when),
               (words._("With"), ", ".join(p.name for p in meeting.attendees
                                           if p.id != reader.id))],
    )
    return subject, text, body


async def _sequence(uid: str, address: str) -> int:
    """How many invitations for this meeting `address` already has in the outbox."""
    return await OutboxEmail.filter(to=address, calendar__contains=f"UID:{uid}\r\n").count()


async def invitation_emails(meeting: Meeting, method: str = REQUEST, moved: bool = False,
                            directory: DirectorySnapshot | None = None) -> list[dict[str, Any]]:
    """The OutboxEmail values of the invitation (or cancellation) for each attendee with an
    email address, for a caller that writes them with the rest of its action (a batch). Each
    is in its attendee's language (the one chosen with their login, else English)."""
    emails = []
    if directory is None:
        directory = await current_directory()
    for person in meeting.attendees:
        if not person.email or not person.active:
            continue
        address = f"{person.name} <{person.email}>"
        sequence = await _sequence(meeting.uid, address)
        words = wording_for(person.id, directory)
        subject, text, body = _texts(meeting, method, person, moved, words)
        emails.append({
            "to": address, "subject": subject[:255], "body": text, "html": body,
            "calendar": calendar_text(meeting, method, sequence, words.language),
            "next_attempt_at": clock.now(), "task_id": None,
        })
    return emails


async def queue_invitations(meeting: Meeting, method: str = REQUEST, moved: bool = False,
                            directory: DirectorySnapshot | None = None) -> list[int]:
    """Queue one email with the invitation (or cancellation) for each attendee with an email
    address; returns the outbox ids. Call it in the transaction that changes the meeting."""
    emails = await invitation_emails(meeting, method, moved, directory)
    return [(await OutboxEmail.create(**email)).id for email in emails]


async def last_start(uid: str) -> datetime | None:
    """When the newest invitation of this meeting in the outbox has it start (None: never
    invited, or its newest word was a cancellation)."""
    p = Params()
    marker = f"UID:{uid}\r\n"
    rows = await p.rows(
        f'SELECT "calendar" FROM "outbox_email" WHERE "calendar" LIKE {p("%" + marker + "%")} '
        'ORDER BY "id" DESC'
    )
    calendar = next((r["calendar"] for r in rows if marker in (r["calendar"] or "")), None)
    if calendar is None or method_of(calendar) == CANCEL:
        return None
    start = properties(calendar).get("DTSTART", "")
    return datetime.strptime(start, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def unfold(text: str) -> list[str]:
    """The content lines of an iCalendar text, unfolded (for readers and tests)."""
    return text.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")[:-1]


def method_of(text: str) -> str:
    """The iTIP method of an invitation (REQUEST when it names none)."""
    for line in unfold(text):
        if line.startswith("METHOD:"):
            return line.partition(":")[2]
    return REQUEST


def properties(text: str) -> dict[str, Any]:
    """The VEVENT's properties by name (value only, parameters dropped), and METHOD."""
    found: dict[str, Any] = {}
    for line in unfold(text):
        name_params, _, value = line.partition(":")
        name = name_params.split(";", 1)[0]
        if name == "ATTENDEE":
            found.setdefault(name, []).append(value)
        else:
            found.setdefault(name, value)
    return found


async def one_on_one_invitation(
    meeting_id: int, start: datetime, duration_minutes: int, manager_id: int, report_id: int,
    method: str = REQUEST, moved: bool = False,
) -> list[int]:
    """Queue the invitation (or cancellation) of a 1:1 meeting for the manager, who organises
    it, and the report. The link opens the meeting's page."""
    directory = await current_directory()
    manager, report = directory.person(manager_id), directory.person(report_id)
    if manager is None or report is None:
        return []
    meeting = Meeting(
        uid=meeting_uid("one-on-one", meeting_id),
        summary=said("1:1 %(manager)s and %(report)s", manager=manager.name,
                     report=report.name),
        start=start,
        duration=timedelta(minutes=duration_minutes),
        organizer=manager,
        attendees=(manager, report),
        description=said("Your recurring 1:1. The agenda, actions and notes are on its page."),
        url=f"{{base_url}}/one-on-ones/meetings/{meeting_id}",
    )
    return await queue_invitations(meeting, method, moved, directory)
