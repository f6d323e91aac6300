"""The `course_sessions` catalog a training request's form picks its preferred session from.

A pack's uischema points a picker at `course_sessions.open` (and declares an empty
`course_sessions` catalog so the form compiles where no session is at hand: pack tests, the
designer's preview). For a task whose data names a course (`course.code`, as the training
page starts a request), the entries are that course's sessions that have not started and
are not cancelled, soonest first: value "session:<id>" (what the enrolment reads) and a label
with the date, the place, the trainer and the free seats, in the reader's language and date
format; a full session is left out.
"""

from __future__ import annotations

from typing import Any

from babel.dates import format_date, format_time

from engine.base import clock
from engine.base.i18n import engine_translations
from engine.base.models import Course, CourseSession, Enrolment

CATALOG = "course_sessions"
SESSION_REF = "session:"
# Statuses of an enrolment that hold a seat in its session.
HOLDS_SEAT = ("enrolled", "attended", "completed")


def wanted(uischema_text: str | None) -> bool:
    """Whether a form's UI schema picks from this catalog (else nothing is read)."""
    return bool(uischema_text) and f"{CATALOG}." in (uischema_text or "")


async def course_sessions_catalog(data: Any, language: str | None) -> dict[str, Any]:
    """`{"open": [{"value": "session:<id>", "label": …}]}` for the course the task data names."""
    course = data.get("course") if isinstance(data, dict) else None
    code = course.get("code") if isinstance(course, dict) else None
    if not isinstance(code, str) or not code:
        return {"open": []}
    row = await Course.get_or_none(code=code)
    if row is None:
        return {"open": []}
    sessions = await CourseSession.filter(
        course_id=row.id, cancelled_at=None, starts_at__gt=clock.now()
    ).order_by("starts_at", "id")
    taken: dict[int, int] = {}
    for e in await Enrolment.filter(session_id__in=[s.id for s in sessions],
                                    status__in=HOLDS_SEAT).values("session_id"):
        taken[e["session_id"]] = taken.get(e["session_id"], 0) + 1
    locale = language or "en"
    words = engine_translations(locale)
    entries = []
    for session in sessions:
        parts = [f"{format_date(session.starts_at, 'medium', locale=locale)} "
                 f"{format_time(session.starts_at, 'short', locale=locale)}"]
        parts += [text for text in (session.location, session.trainer) if text]
        if session.seats is not None:
            free = session.seats - taken.get(session.id, 0)
            if free <= 0:
                continue  # full: leaving the choice empty takes the next session with a seat
            parts.append(words.ngettext("%(free)s of %(seats)s seats free",
                                        "%(free)s of %(seats)s seats free", free)
                         % {"free": free, "seats": session.seats})
        entries.append({"value": f"{SESSION_REF}{session.id}", "label": " · ".join(parts)})
    return {"open": entries}
