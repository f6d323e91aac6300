"""Who is signed in, and who keeps failing to: logins, sessions as rows, login attempts as
counters.

Both are rows so that every web process sees them at once: a session ended on one process is
gone for all, and failed attempts add up across processes. Times are handed in by the caller:
sessions and login windows follow the wall clock of the people at their browsers (the web
layer's), never the engine's simulated one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.expressions import Q

from engine.base import i18n
from engine.base.db import Params
from engine.base.models import LoginThrottle, User, UserSession
from engine.people.directory import bump_directory_version

# -- logins -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """A login: its name, whose it is, and the hash its password must match. (Checking a
    password is the web layer's business: it decides how slowly and how often.)"""

    id: int
    username: str
    person_id: int
    password_hash: str


def _login(row: User) -> Login:
    return Login(
        id=row.id,
        username=row.username,
        person_id=row.person_id,
        password_hash=row.password_hash,
    )


async def login_named(username: str) -> Login | None:
    """The login with exactly this username, or None."""
    row = await User.get_or_none(username=username)
    return _login(row) if row is not None else None


async def login_by_id(user_id: int) -> Login:
    """The login with this id (it must exist: the caller holds it from a session)."""
    return _login(await User.get(id=user_id))


async def login_of_person(person_id: int) -> Login | None:
    """The person's login, or None when they have none."""
    row = await User.get_or_none(person_id=person_id)
    return _login(row) if row is not None else None


async def create_login(username: str, person_id: int, password_hash: str) -> Login:
    """A new login for a person, with the hash of its password."""
    return _login(
        await User.create(username=username, person_id=person_id, password_hash=password_hash)
    )


async def note_login(user_id: int, at: datetime, *, new_password_hash: str | None = None) -> None:
    """Note a successful login at `at`; store `new_password_hash` too when the old hash's
    parameters are out of date (it was rehashed from the password just given)."""
    changes: dict[str, Any] = {"last_login_at": at}
    if new_password_hash is not None:
        changes["password_hash"] = new_password_hash
    await User.filter(id=user_id).update(**changes)


async def set_password_hash(user_id: int, password_hash: str) -> None:
    """Store the hash of a login's new password."""
    await User.filter(id=user_id).update(password_hash=password_hash)


async def language_of(user_id: int) -> str:
    """The language a login chose ("de"), or "" to follow the browser."""
    found = await User.filter(id=user_id).values_list("language", flat=True)
    return str(found[0]) if found else ""


async def set_language(user_id: int, language: str) -> None:
    """Store a login's language ("" follows the browser); only the shipped languages count.
    The directory snapshot carries the choice (the engine writes emails from it), so it is
    told to reload."""
    chosen = i18n.supported(language) or ""
    await User.filter(id=user_id).update(language=chosen)
    await bump_directory_version()


async def languages_of_people(person_ids: Iterable[int]) -> dict[int, str]:
    """The chosen language of each person with a login and a choice (person id -> "de")."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = await User.filter(person_id__in=ids).exclude(language="").values_list(
        "person_id", "language"
    )
    return {int(person_id): str(language) for person_id, language in rows}


# -- sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionsOfPerson:
    """One person's live sessions, as an administrator's list shows them."""

    person_id: int
    user_id: int
    sessions: int
    last_seen_at: datetime


def session_expired(row: UserSession, now: datetime, idle: timedelta) -> bool:
    """Whether a session has ended: past its absolute end, or unused for longer than `idle`."""
    return row.expires_at <= now or row.last_seen_at + idle <= now


async def find_session(session_id: str) -> UserSession | None:
    """The stored session with this id (the hash of its token), or None."""
    return await UserSession.get_or_none(id=session_id)


async def create_session(
    session_id: str,
    data: dict[str, Any],
    user_id: int | None,
    *,
    now: datetime,
    lifetime: timedelta,
    ip: str = "",
    user_agent: str = "",
) -> None:
    """Store a new session that ends `lifetime` after `now` at the latest."""
    await UserSession.create(
        id=session_id,
        user_id=user_id,
        data=data,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=ip[:64],
        user_agent=user_agent[:255],
    )


async def save_session(
    session_id: str, data: dict[str, Any], user_id: int | None, now: datetime
) -> None:
    """Store what the session holds now. An update, never an insert: a session ended
    meanwhile (a logout in another tab) stays ended."""
    await UserSession.filter(id=session_id).update(data=data, user_id=user_id, last_seen_at=now)


async def touch_session(session_id: str, now: datetime) -> None:
    """Note that the session is in use (what the idle time-out counts from)."""
    await UserSession.filter(id=session_id).update(last_seen_at=now)


async def end_session(session_id: str) -> None:
    """End one session."""
    await UserSession.filter(id=session_id).delete()


async def end_sessions_of(user_id: int, *, keep: str | None = None) -> int:
    """End every session of a login (but `keep`, when given); returns how many ended."""
    query = UserSession.filter(user_id=user_id)
    if keep is not None:
        query = query.exclude(id=keep)
    return await query.delete()


async def live_sessions_of(
    user_id: int, now: datetime, idle: timedelta, *, besides: str | None = None
) -> int:
    """How many sessions of a login are live (not counting `besides`)."""
    query = UserSession.filter(user_id=user_id, expires_at__gt=now, last_seen_at__gt=now - idle)
    if besides is not None:
        query = query.exclude(id=besides)
    return await query.count()


async def live_sessions_by_person(now: datetime, idle: timedelta) -> list[SessionsOfPerson]:
    """Everyone signed in somewhere: their number of live sessions and when last seen."""
    rows = await UserSession.filter(
        user_id__not_isnull=True, expires_at__gt=now, last_seen_at__gt=now - idle
    ).values_list("user_id", "last_seen_at")
    counts: dict[int, tuple[int, datetime]] = {}
    for user_id, seen in rows:
        count, last = counts.get(user_id, (0, seen))
        counts[user_id] = (count + 1, max(last, seen))
    people = dict(
        await User.filter(id__in=list(counts)).values_list("id", "person_id")
    ) if counts else {}
    return [
        SessionsOfPerson(person_id=people[user_id], user_id=user_id, sessions=count,
                         last_seen_at=last)
        for user_id, (count, last) in counts.items()
        if user_id in people
    ]


async def remove_ended_sessions(now: datetime, idle: timedelta) -> int:
    """Delete the rows of sessions that have ended; returns how many."""
    ended = Q(expires_at__lte=now) | Q(last_seen_at__lte=now - idle)
    return await UserSession.filter(ended).delete()


# -- login attempts ---------------------------------------------------------------------------


async def count_attempt(keys: list[str], now: datetime, window: timedelta) -> dict[str, int]:
    """Add one attempt to each key's counter and return the counts, in one atomic statement.

    A counter whose window began `window` ago or earlier starts again at 1. Concurrent
    attempts each get their own number (the database serializes the increments), so the
    N+1-th of a burst sees N+1 however many arrive at once.
    """
    p = Params()
    # Always the same order, so two statements locking the same counters cannot deadlock.
    values = ", ".join(f"({p(key)}, {p(now)}, 1)" for key in sorted(set(keys)))
    stale = now - window
    # (Both CASEs read the row as it was before this update, as SQL's SET always does.)
    sql = (
        f'INSERT INTO "login_throttle" ("key", "window_start", "count") VALUES {values} '
        'ON CONFLICT ("key") DO UPDATE SET '
        f'"count" = CASE WHEN "login_throttle"."window_start" <= {p(stale)} THEN 1 '
        'ELSE "login_throttle"."count" + 1 END, '
        f'"window_start" = CASE WHEN "login_throttle"."window_start" <= {p(stale)} '
        'THEN excluded."window_start" ELSE "login_throttle"."window_start" END '
        'RETURNING "key", "count"'
    )
    rows = await connections.get("default").execute_query_dict(sql, p.values)
    return {row["key"]: int(row["count"]) for row in rows}


async def forget_attempts(key: str) -> None:
    """Start a key's count afresh (an account whose password was just given right)."""
    await LoginThrottle.filter(key=key).delete()


async def take_back_attempt(key: str) -> None:
    """Take one attempt off a key's count (an attempt that turned out not to be a failure)."""
    p = Params()
    sql = (
        f'UPDATE "login_throttle" SET "count" = "count" - 1 '
        f'WHERE "key" = {p(key)} AND "count" > 0'
    )
    await connections.get("default").execute_query(sql, p.values)


async def remove_stale_attempts(now: datetime, window: timedelta) -> int:
    """Delete counters whose window has passed; returns how many."""
    return await LoginThrottle.filter(window_start__lte=now - window).delete()
