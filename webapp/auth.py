"""Who is logged in: password check with throttling, the session, and the `Viewer`.

Every request except the public paths needs a session (webapp.sessions); `AuthMiddleware`
enforces that and puts the `Viewer` and the directory snapshot on `request.state` for handlers
and templates.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from config import settings
from engine.people import logins
from engine.people.directory import DirectorySnapshot, current_directory
from engine.people.logins import Login
from webapp import sessions
from webapp.csrf import BEARER_PREFIXES
from webapp.i18n import marked as _
from webapp.sessions import PROBE_PATHS, STATIC_PREFIXES

LOGIN_PATH = "/login"
# Health checks and metrics (PROBE_PATHS) answer load balancers and Prometheus, which have no
# session: they skip the session entirely, so they never read the directory (/metrics checks
# its own token).
PUBLIC_PATHS = frozenset({LOGIN_PATH, "/favicon.ico"}) | PROBE_PATHS
PUBLIC_PREFIXES = STATIC_PREFIXES
# Signing in at an OpenID provider and coming back from it (webapp.routes.oidc).
SIGN_IN_PREFIX = "/login/oidc/"
LOGIN_REFUSED = _("Wrong username or password, or too many attempts — try again later")
SESSION_USER = sessions.USER_KEY
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


def require_hr(request: Request) -> Viewer:
    """The viewer, when they are in HR; 404 for everyone else (no hint the page exists)."""
    viewer = current_user(request)
    if not viewer.is_hr:
        raise HTTPException(404)
    return viewer


def optional_user(request: Request) -> Viewer | None:
    """The logged-in Viewer, or None on public pages without a session."""
    viewer: Viewer | None = request.scope.get("state", {}).get("viewer")
    return viewer


def is_public(path: str) -> bool:
    """Paths anyone may fetch without logging in."""
    return path in PUBLIC_PATHS or path.startswith((*PUBLIC_PREFIXES, SIGN_IN_PREFIX))


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
        if (
            scope["type"] != "http"
            or path.startswith(PUBLIC_PREFIXES)
            or path in PROBE_PATHS
            or path.startswith(BEARER_PREFIXES)
        ):
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
#
# Every attempt is counted before its password is looked at, per account name and per client
# address, each with one atomic statement (engine.people.logins.count_attempt): in a burst of
# parallel attempts, the attempts past the limit are refused without checking anything, so an
# account name gets at most LOGIN_MAX_FAILURES password checks per window however many arrive
# at once. Names that have no login are counted like real ones, and a wrong password, an
# unknown name and a refused attempt get the same answer.


def _account_key(username: str) -> str:
    # Keyed hash of the name as typed: what people type there is sometimes their password.
    return "user:" + sessions.keyed_hash(username.strip().lower())


def _address_key(address: str) -> str:
    return "addr:" + address[:64]


_next_sweep: list[datetime] = []  # per process: when to delete stale counters next (a hint)


async def _admitted(username: str, address: str, now: datetime) -> bool:
    """Count this attempt; whether it is within the limits and may have its password checked."""
    window = timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)
    account, client = _account_key(username), _address_key(address)
    counts = await logins.count_attempt([account, client], now, window)
    if not _next_sweep or now >= _next_sweep[0]:
        _next_sweep[:] = [now + window]
        await logins.remove_stale_attempts(now, window)
    return (
        counts[account] <= settings.LOGIN_MAX_FAILURES
        and counts[client] <= settings.LOGIN_MAX_FAILURES_PER_ADDRESS
    )


async def _succeeded(username: str, address: str) -> None:
    """The password was right: the account starts afresh; the address gets this attempt back
    (and only this one: failures it made at other names still count)."""
    await logins.forget_attempts(_account_key(username))
    await logins.take_back_attempt(_address_key(address))


async def _verify(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # argon2 is deliberately slow; keep the event loop serving other requests meanwhile.
    return await asyncio.to_thread(check)


async def authenticate(username: str, password: str, address: str) -> Login | None:
    """The login for these credentials, or None (wrong, unknown, inactive or throttled alike).

    `address` is the client's (request.client.host: behind a trusted proxy, uvicorn's proxy
    headers have made it the browser's).
    """
    username = username.strip()
    now = sessions.wall_clock()
    if not await _admitted(username, address, now):
        # Refused before any password is checked. Known and unknown names reach this alike,
        # so answering sooner here tells nothing about whether the name exists.
        return None
    user = await logins.login_named(username) if username else None
    if user is None:
        await _verify(_DUMMY_HASH, password)  # as long as a wrong password takes
        return None
    if not await _verify(user.password_hash, password):
        return None
    directory = await current_directory()
    person = directory.person(user.person_id)
    if person is None or not person.active:
        return None
    await _succeeded(username, address)
    # (failed_logins and locked_until of the user table are no longer used: see _admitted.)
    rehashed = None
    if _hasher.check_needs_rehash(user.password_hash):
        rehashed = await asyncio.to_thread(_hasher.hash, password)
    await logins.note_login(user.id, now, new_password_hash=rehashed)
    return user


async def password_is_right(user: Login, password: str, address: str) -> bool:
    """Whether `password` is the user's, checked with the same throttling as logging in
    (changing a password asks for the current one: it must not be a way to guess it)."""
    if not await _admitted(user.username, address, sessions.wall_clock()):
        return False
    if not await _verify(user.password_hash, password):
        return False
    await _succeeded(user.username, address)
    return True


async def hash_password(password: str) -> str:
    """The argon2 hash to store for a new password."""
    return await asyncio.to_thread(_hasher.hash, password)


def client_address(request: Request) -> str:
    """The address login attempts are counted under."""
    return request.client.host if request.client else ""


async def log_in(request: Request, user: Login) -> None:
    """Start a fresh session for the user: a new token, so a cookie from before is worthless,
    and a new CSRF token, so none carries over."""
    await sessions.renew(request)
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_PERSON] = user.person_id


async def log_out(request: Request) -> None:
    """End the session: its row is deleted, so its cookie is worthless from now on."""
    await sessions.end(request)
