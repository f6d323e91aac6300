"""The training catalog: courses mapped to the competencies they develop, and their sessions.

The deployed pack ships a catalog of courses (`[features.training] catalog`, the standard
pack's catalogs/courses.toml). `sync_pack_courses` keeps a `Course` row per code: a code new
in the pack appears, a course still as the pack wrote it follows the pack, a course HR edited
in the app (origin "app") keeps HR's version, and a pack course the pack no longer ships is
retired — its enrolments and their history stay. The training pages call `ensure_catalog`
before they read, so a deploy shows on the next page opened; the demo calls it at once.

HR adds, edits and retires courses and schedules sessions here; every write checks its input
and answers a `TrainingInputError` naming the field, so a page can show it beside the field
and keep what was typed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from engine.base import clock
from engine.base.errors import EngineError, NotFound
from engine.base.i18n import Said, said
from engine.base.models import Course, CourseSession, Enrolment
from engine.packs.loading import Features, TrainingFeature
from engine.performance.deployed_pack import DeployedPack, newest_pack

DELIVERIES = ("internal", "external")
# Statuses of an enrolment that hold a seat in its session.
HOLDS_SEAT = ("enrolled", "attended", "completed")
CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")
MAX_COST = 1_000_000.0
MAX_HOURS = 2_000.0
MAX_SEATS = 1_000
APP_ORIGIN = "app"
PACK_ORIGIN = "pack:"


class TrainingInputError(EngineError):
    """Input HR or a person typed that the training pages cannot take; `field` names it."""

    def __init__(self, field: str, message: Said | str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CourseInfo:
    """A course of the catalog, as pages show it."""

    id: int
    code: str
    title: str
    description: str
    delivery: str
    provider: str
    cost: float
    currency: str
    duration_hours: float
    competencies: tuple[str, ...]
    origin: str
    active: bool
    updated_by: str
    updated_at: datetime | None

    @property
    def from_pack(self) -> bool:
        """Whether the course is still as the pack ships it (HR has not edited it)."""
        return self.origin.startswith(PACK_ORIGIN)

    def as_start_data(self) -> dict[str, Any]:
        """The course as a training request starts with it (what the approvers see)."""
        return {
            "code": self.code, "title": self.title, "description": self.description,
            "delivery": self.delivery, "provider": self.provider, "cost": self.cost,
            "currency": self.currency, "duration_hours": self.duration_hours,
            "competencies": list(self.competencies),
        }


@dataclass(frozen=True)
class SessionInfo:
    """One run of a course: when, where, who trains, seats and how many hold one."""

    id: int
    course_id: int
    starts_at: datetime
    ends_at: datetime | None
    location: str
    trainer: str
    seats: int | None
    cancelled_at: datetime | None
    taken: int

    @property
    def free(self) -> int | None:
        """Seats still free (None: no limit)."""
        return None if self.seats is None else max(self.seats - self.taken, 0)

    @property
    def is_past(self) -> bool:
        """Whether the session has started."""
        return self.starts_at <= clock.now()


def course_info(row: Course) -> CourseInfo:
    """A Course row as pages see it."""
    return CourseInfo(
        id=row.id, code=row.code, title=row.title, description=row.description,
        delivery=row.delivery, provider=row.provider, cost=float(row.cost),
        currency=row.currency, duration_hours=float(row.duration_hours),
        competencies=tuple(str(c) for c in row.competencies or ()), origin=row.origin,
        active=row.active, updated_by=row.updated_by, updated_at=row.updated_at,
    )


# --- the pack's catalog ------------------------------------------------------------------------


def training_feature(pack: DeployedPack) -> TrainingFeature:
    """The pack's `[features.training]`."""
    features: Features = pack.features
    return features.training


def pack_courses(pack: DeployedPack) -> dict[str, dict[str, Any]]:
    """The courses the pack's catalog ships, by code, with the values a Course row holds; a
    course the catalog writes wrongly is left out (`sightline pack validate` reports it)."""
    catalog = pack.catalogs.get(training_feature(pack).catalog) or {}
    table = catalog.get("courses") if isinstance(catalog, Mapping) else None
    found: dict[str, dict[str, Any]] = {}
    for code, entry in (table or {}).items():
        if not isinstance(entry, Mapping) or not CODE_PATTERN.fullmatch(str(code)):
            continue
        try:
            values = {
                "title": str(entry["title"]).strip()[:255],
                "description": str(entry.get("description", "")).strip(),
                "delivery": str(entry.get("delivery", "internal")),
                "provider": str(entry.get("provider", "")).strip()[:255],
                "cost": float(entry.get("cost", 0.0)),
                "currency": str(entry.get("currency", "EUR")).strip()[:8] or "EUR",
                "duration_hours": float(entry.get("duration_hours", 0.0)),
                "competencies": [str(c) for c in entry.get("competencies", [])],
            }
        except (KeyError, TypeError, ValueError):
            continue
        if values["title"] and values["delivery"] in DELIVERIES:
            found[str(code)] = values
    return found


async def sync_pack_courses(pack: DeployedPack | None = None) -> int:
    """Bring the Course rows in line with the deployed pack's catalog (see the module's
    docstring); returns how many rows were created, changed or retired."""
    pack = pack or await newest_pack()
    if not pack.name:
        return 0
    shipped = pack_courses(pack)
    origin = f"{PACK_ORIGIN}{pack.name}"
    rows = {row.code: row for row in await Course.all()}
    changed = 0
    now = clock.now()
    for code, values in shipped.items():
        row = rows.get(code)
        if row is None:
            try:
                await Course.create(code=code, origin=origin, active=True, updated_by=origin,
                                    updated_at=now, **values)
            except IntegrityError:
                continue  # another process created it a moment ago
            changed += 1
        elif row.origin.startswith(PACK_ORIGIN) and (
            any(getattr(row, k) != v for k, v in values.items()) or not row.active
            or row.origin != origin
        ):
            await Course.filter(id=row.id, origin=row.origin).update(
                origin=origin, active=True, updated_by=origin, updated_at=now, **values)
            changed += 1
    for code, row in rows.items():
        if code not in shipped and row.origin == origin and row.active:
            await Course.filter(id=row.id, origin=origin).update(
                active=False, updated_by=origin, updated_at=now)
            changed += 1
    return changed


async def ensure_catalog() -> None:
    """Sync the pack's courses when the stored ones differ from them (cheap when they do
    not: one read of the courses)."""
    pack = await newest_pack()
    if not pack.name:
        return
    shipped = pack_courses(pack)
    origin = f"{PACK_ORIGIN}{pack.name}"
    rows = {row.code: row for row in await Course.all()}
    stale = any(
        code not in rows or (rows[code].origin.startswith(PACK_ORIGIN) and (
            rows[code].origin != origin or not rows[code].active
            or any(getattr(rows[code], k) != v for k, v in values.items())))
        for code, values in shipped.items()
    ) or any(code not in shipped and row.origin == origin and row.active
             for code, row in rows.items())
    if stale:
        await sync_pack_courses(pack)


# --- courses -----------------------------------------------------------------------------------


async def all_courses(include_retired: bool = False) -> list[CourseInfo]:
    """The catalog by title; retired courses only when asked for."""
    query = Course.all() if include_retired else Course.filter(active=True)
    rows = await query.order_by("title", "id")
    return [course_info(row) for row in rows]


async def course_by_code(code: str) -> CourseInfo:
    """One course; NotFound when no course has that code."""
    row = await Course.get_or_none(code=code)
    if row is None:
        raise NotFound(f"no course '{code}'")
    return course_info(row)


def _number(form: Mapping[str, Any], name: str, not_a_number: Said, out_of_range: Said,
            maximum: float) -> float:
    text = str(form.get(name, "") or "").strip().replace(",", ".")
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise TrainingInputError(name, not_a_number) from None
    if not math.isfinite(value) or value < 0 or value > maximum:
        raise TrainingInputError(name, out_of_range)
    return round(value, 2)


def course_values(form: Mapping[str, Any], known_competencies: Mapping[str, str]
                  ) -> dict[str, Any]:
    """A course form's values checked: the values a Course row takes, else a
    TrainingInputError for the first field that is wrong."""
    title = " ".join(str(form.get("title", "") or "").split())
    if not title:
        raise TrainingInputError("title", said("Give the course a title."))
    if len(title) > 255:
        raise TrainingInputError("title", said("Keep the title under 255 characters."))
    delivery = str(form.get("delivery", "") or "")
    if delivery not in DELIVERIES:
        raise TrainingInputError("delivery", said("Choose internal or external."))
    cost = _number(form, "cost", said("The cost must be a number, such as 450."),
                   said("The cost must be between 0 and %(max)s.", max=int(MAX_COST)), MAX_COST)
    hours = _number(form, "duration_hours",
                    said("The duration must be a number of hours, such as 7.5."),
                    said("The duration must be between 0 and %(max)s hours.",
                         max=int(MAX_HOURS)), MAX_HOURS)
    if hours <= 0:
        raise TrainingInputError("duration_hours",
                                 said("Say how many hours the course takes, such as 7.5."))
    currency = str(form.get("currency", "") or "EUR").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise TrainingInputError("currency", said("Write the currency as three letters, "
                                                  "such as EUR."))
    picked = form.get("competencies") or []
    if isinstance(picked, str):
        picked = [picked]
    competencies = [str(c) for c in picked if str(c)]
    unknown = [c for c in competencies if c not in known_competencies]
    if unknown:
        raise TrainingInputError("competencies", said(
            "'%(key)s' is not a competency of the framework.", key=unknown[0]))
    if not competencies:
        raise TrainingInputError("competencies",
                                 said("Choose at least one competency the course develops."))
    return {
        "title": title,
        "description": str(form.get("description", "") or "").strip()[:4000],
        "delivery": delivery,
        "provider": " ".join(str(form.get("provider", "") or "").split())[:255],
        "cost": cost,
        "currency": currency,
        "duration_hours": hours,
        "competencies": list(dict.fromkeys(competencies)),
    }


async def save_course(code: str | None, form: Mapping[str, Any],
                      known_competencies: Mapping[str, str], actor_label: str) -> CourseInfo:
    """Add a course (code None: the form's `code`) or change one; the course is then HR's
    (origin "app"): a later deploy of the pack leaves it as HR wrote it."""
    values = course_values(form, known_competencies)
    now = clock.now()
    if code is None:
        new_code = str(form.get("code", "") or "").strip().lower()
        if not CODE_PATTERN.fullmatch(new_code):
            raise TrainingInputError("code", said(
                "The code is 2 to 64 lower-case letters, digits, '-' or '_', such as "
                "excel_basics."))
        if await Course.exists(code=new_code):
            raise TrainingInputError("code", said("A course with the code %(code)s exists "
                                                  "already.", code=new_code))
        try:
            row = await Course.create(code=new_code, origin=APP_ORIGIN, active=True,
                                      updated_by=actor_label, updated_at=now, **values)
        except IntegrityError:
            raise TrainingInputError("code", said("A course with the code %(code)s exists "
                                                  "already.", code=new_code)) from None
        return course_info(row)
    existing = await Course.get_or_none(code=code)
    if existing is None:
        raise NotFound(f"no course '{code}'")
    await Course.filter(id=existing.id).update(origin=APP_ORIGIN, updated_by=actor_label,
                                          updated_at=now, **values)
    return await course_by_code(code)


async def set_course_active(code: str, active: bool, actor_label: str) -> CourseInfo:
    """Retire a course (no new requests; its sessions and enrolments stay) or offer it
    again. The course is then HR's: a deploy does not bring a retired course back."""
    row = await Course.get_or_none(code=code)
    if row is None:
        raise NotFound(f"no course '{code}'")
    await Course.filter(id=row.id).update(active=active, origin=APP_ORIGIN,
                                          updated_by=actor_label, updated_at=clock.now())
    return await course_by_code(code)


# --- sessions ----------------------------------------------------------------------------------


def parse_moment(name: str, text: Any) -> datetime | None:
    """A date-time field (`2031-05-01T09:00`, as a datetime-local input sends it) as an
    aware datetime; a time without a zone is the organisation's local time. Empty: None."""
    value = str(text or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TrainingInputError(name, said("'%(text)s' is not a date and time: write it as "
                                            "2031-05-01T09:00.", text=value[:40])) from None
    return clock.from_local(moment)


async def _taken(session_ids: list[int]) -> dict[int, int]:
    rows = await Enrolment.filter(session_id__in=session_ids, status__in=HOLDS_SEAT).values(
        "session_id")
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["session_id"]] = counts.get(row["session_id"], 0) + 1
    return counts


def _session_info(row: CourseSession, taken: Mapping[int, int]) -> SessionInfo:
    return SessionInfo(
        id=row.id, course_id=row.course_id, starts_at=row.starts_at, ends_at=row.ends_at,
        location=row.location, trainer=row.trainer, seats=row.seats,
        cancelled_at=row.cancelled_at, taken=taken.get(row.id, 0),
    )


async def sessions_of(course_ids: list[int] | None = None, upcoming_only: bool = False
                      ) -> list[SessionInfo]:
    """Sessions (of these courses, or all), soonest first, with the seats they hold."""
    query = CourseSession.all()
    if course_ids is not None:
        query = query.filter(course_id__in=course_ids)
    if upcoming_only:
        query = query.filter(starts_at__gt=clock.now(), cancelled_at=None)
    rows = await query.order_by("starts_at", "id")
    taken = await _taken([row.id for row in rows])
    return [_session_info(row, taken) for row in rows]


async def session_by_id(session_id: int) -> SessionInfo:
    """One session; NotFound when it does not exist."""
    row = await CourseSession.get_or_none(id=session_id)
    if row is None:
        raise NotFound(f"no session {session_id}")
    return _session_info(row, await _taken([row.id]))


async def schedule_session(code: str, form: Mapping[str, Any], actor_label: str
                           ) -> SessionInfo:
    """A new session of a course from HR's form (starts, ends, location, trainer, seats)."""
    course = await Course.get_or_none(code=code)
    if course is None:
        raise NotFound(f"no course '{code}'")
    if not course.active:
        raise TrainingInputError("starts_at", said("The course is retired: offer it again "
                                                   "before scheduling a session."))
    starts = parse_moment("starts_at", form.get("starts_at"))
    if starts is None:
        raise TrainingInputError("starts_at", said("Say when the session starts."))
    ends = parse_moment("ends_at", form.get("ends_at"))
    if ends is not None and ends <= starts:
        raise TrainingInputError("ends_at", said("The session must end after it starts."))
    seats_text = str(form.get("seats", "") or "").strip()
    seats = None
    if seats_text:
        if not seats_text.isdigit() or not 1 <= int(seats_text) <= MAX_SEATS:
            raise TrainingInputError("seats", said(
                "Seats is a whole number from 1 to %(max)s, or empty for no limit.",
                max=MAX_SEATS))
        seats = int(seats_text)
    row = await CourseSession.create(
        course_id=course.id, starts_at=starts, ends_at=ends,
        location=" ".join(str(form.get("location", "") or "").split())[:255],
        trainer=" ".join(str(form.get("trainer", "") or "").split())[:255],
        seats=seats, created_by=actor_label, created_at=clock.now(),
    )
    return _session_info(row, {})


async def cancel_session(session_id: int, actor_label: str) -> int:
    """Cancel a session; the people enrolled in it stay enrolled on the course, waiting for
    another session. Returns how many were waiting on it."""
    row = await CourseSession.get_or_none(id=session_id)
    if row is None:
        raise NotFound(f"no session {session_id}")
    await CourseSession.filter(id=session_id, cancelled_at=None).update(cancelled_at=clock.now())
    return await Enrolment.filter(session_id=session_id, status="enrolled").update(
        session_id=None, updated_by=actor_label)


# --- what the pages show beside the catalog ---------------------------------------------------


async def competency_names() -> dict[str, str]:
    """The competencies of the deployed pack's framework: key -> name (the pack's English;
    pages say it in the reader's language)."""
    framework = (await newest_pack()).catalogs.get("competencies") or {}
    table = framework.get("competencies") if isinstance(framework, Mapping) else None
    return {str(key): str(entry.get("name", key)) for key, entry in (table or {}).items()
            if isinstance(entry, Mapping)}


@dataclass(frozen=True)
class CatalogEntry:
    """A course with its upcoming sessions, as the catalog lists it."""

    course: CourseInfo
    sessions: tuple[SessionInfo, ...]


async def catalog_entries(competency: str = "", include_retired: bool = False
                          ) -> list[CatalogEntry]:
    """The courses (developing `competency`, when given) with their upcoming sessions."""
    courses = [c for c in await all_courses(include_retired)
               if not competency or competency in c.competencies]
    sessions = await sessions_of([c.id for c in courses], upcoming_only=True)
    by_course: dict[int, list[SessionInfo]] = {}
    for session in sessions:
        by_course.setdefault(session.course_id, []).append(session)
    return [CatalogEntry(c, tuple(by_course.get(c.id, ()))) for c in courses]
