"""Who is logged in: password check with throttling, the session, and the `Viewer`.

Every request except the public paths needs a session; `AuthMiddleware` enforces that and puts
the `Viewer` and the directory snapshot on `request.state` for handlers and templates.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise.expressions import F

from config import settings
from engine import clock
from engine.directory import DirectorySnapshot, current_directory
from engine.models import User

LOGIN_PATH = "/login"
# Health checks and metrics answer load balancers and Prometheus, which have no session: they
# skip the session entirely, so they never read the directory (/metrics checks its own token).
PROBE_PATHS = frozenset({"/health", "/health/ready", "/metrics"})
PUBLIC_PATHS = frozenset({LOGIN_PATH, "/favicon.ico"}) | PROBE_PATHS
PUBLIC_PREFIXES = ("/static/", "/vendor/")
LOGIN_REFUSED = "Wrong username or password, or too many attempts — try again later"
SESSION_USER = "user_id"
SESSION_PERSON = "person_id"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("sightline-no-such-user")


@dataclass(frozen=True)
class Viewer:
    """The logged-in person, as pages need them: who they are and what they may see."""

    user_id: int
    person_id: int
    name: str
    key: str
    groups: frozenset[str]
    is_hr: bool
    is_designer: bool
    is_manager: bool

    def in_group(self, group: str) -> bool:
        """Whether the viewer belongs to a directory group."""
        return group in self.groups


def viewer_from(directory: DirectorySnapshot, user_id: int, person_id: int) -> Viewer | None:
    """The Viewer for a session, or None when the person left the directory or is inactive."""
    person = directory.person(person_id)
    if person is None or not person.active:
        return None
    return Viewer(
        user_id=user_id,
        person_id=person.id,
        name=person.name,
        key=person.key,
        groups=frozenset(person.groups),
        is_hr="hr" in person.groups,
        is_designer="designer" in person.groups,
        is_manager=bool(directory.reports_of(person.id)),
    )


def current_user(request: Request) -> Viewer:
    """The logged-in Viewer; 401 when there is none (only public routes can get there)."""
    viewer = optional_user(request)
    if viewer is None:
        raise HTTPException(401)
    return viewer


def optional_user(request: Request) -> Viewer | None:
    """The logged-in Viewer, or None on public pages without a session."""
    return request.scope.get("state", {}).get("viewer")


def is_public(path: str) -> bool:
    """Paths anyone may fetch without logging in."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after logging in; anything else (other hosts, //x) -> default."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return default
    if parts.path == LOGIN_PATH:
        return default
    return target


def login_url(next_path: str | None) -> str:
    """The login page, remembering where to return."""
    if not next_path or next_path == "/":
        return LOGIN_PATH
    return f"{LOGIN_PATH}?next={quote(next_path, safe='/')}"


class AuthMiddleware:
    """Require a session everywhere except public paths; load the Viewer for the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(PUBLIC_PREFIXES) or path in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        session = scope.get("session", {})
        state = scope.setdefault("state", {})
        viewer = None
        if session.get(SESSION_USER) is not None:
            directory = await current_directory()
            viewer = viewer_from(directory, session[SESSION_USER], session.get(SESSION_PERSON))
            state["directory"] = directory
            if viewer is None:
                # The person left or was deactivated: the old session is worthless.
                session.clear()
        state["viewer"] = viewer
        if viewer is None and not is_public(scope["path"]):
            request = Request(scope)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if scope["method"] not in ("GET", "HEAD"):
                # Returning to a POST target would 405; the page it came from is a better guess.
                target = safe_next(_referer_path(request), default="/")
            url = login_url(target)
            if request.headers.get("HX-Request") == "true":
                from webapp.errors import unauthenticated_htmx_response

                response = unauthenticated_htmx_response(url)
            else:
                response = RedirectResponse(url, status_code=303)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _referer_path(request: Request) -> str | None:
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- password check and throttling -----------------------------------------------------------


@dataclass
class _Strikes:
    count: int
    window_ends: datetime


# Failures for usernames that have no login, so an unknown name is throttled like a real one
# (and answers identically). Per process: a multi-process deployment throttles each separately.
_unknown_strikes: dict[str, _Strikes] = {}
_UNKNOWN_LIMIT = 10_000


def forget_login_failures() -> None:
    """Forget in-memory failures for unknown usernames (tests; stored counts stay)."""
    _unknown_strikes.clear()


def _throttled(count: int, window_ends: datetime | None, now: datetime) -> bool:
    return (
        count >= settings.LOGIN_MAX_FAILURES and window_ends is not None and window_ends > now
    )


def _note_unknown_failure(username: str, now: datetime) -> None:
    window = timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)
    strikes = _unknown_strikes.get(username)
    if strikes is None or strikes.window_ends <= now:
        if len(_unknown_strikes) >= _UNKNOWN_LIMIT:
            for name in [n for n, s in _unknown_strikes.items() if s.window_ends <= now]:
                del _unknown_strikes[name]
        _unknown_strikes[username] = _Strikes(1, now + window)
        return
    strikes.count += 1
    if strikes.count >= settings.LOGIN_MAX_FAILURES:
        strikes.window_ends = now + window


async def _note_failure(user: User, now: datetime) -> None:
    # `locked_until` doubles as the end of the current failure window: failures count while
    # it lies ahead, and the account is locked once they reach the limit.
    window = timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)
    if user.locked_until is None or user.locked_until <= now:
        await User.filter(id=user.id).update(failed_logins=1, locked_until=now + window)
        return
    await User.filter(id=user.id).update(failed_logins=F("failed_logins") + 1)
    if user.failed_logins + 1 >= settings.LOGIN_MAX_FAILURES:
        await User.filter(id=user.id).update(locked_until=now + window)


async def _verify(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # argon2 is deliberately slow; keep the event loop serving other requests meanwhile.
    return await asyncio.to_thread(check)


async def authenticate(username: str, password: str) -> User | None:
    """The User for these credentials, or None (wrong, unknown, inactive or throttled alike)."""
    username = username.strip()
    now = clock.now()
    user = await User.get_or_none(username=username) if username else None
    if user is None:
        await _verify(_DUMMY_HASH, password)
        strikes = _unknown_strikes.get(username.lower())
        if not (strikes and _throttled(strikes.count, strikes.window_ends, now)):
            _note_unknown_failure(username.lower(), now)
        return None
    if _throttled(user.failed_logins, user.locked_until, now):
        await _verify(_DUMMY_HASH, password)
        return None
    if not await _verify(user.password_hash, password):
        await _note_failure(user, now)
        return None
    directory = await current_directory()
    person = directory.person(user.person_id)  # type: ignore[attr-defined]
    if person is None or not person.active:
        return None
    changes: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _hasher.check_needs_rehash(user.password_hash):
        changes["password_hash"] = await asyncio.to_thread(_hasher.hash, password)
    await User.filter(id=user.id).update(**changes)
    return user


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for the user (with a new CSRF token, so none carries over)."""
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_PERSON] = user.person_id  # type: ignore[attr-defined]


def log_out(request: Request) -> None:
    """Forget the session entirely."""
    request.session.clear()
