"""Sessions kept in the database, behind Starlette's `request.session`.

The cookie carries nothing but a random 256-bit token; the `user_session` table holds the
token's keyed hash (HMAC-SHA256 with SECRET_KEY: reading the table, or a backup of it, gives
nobody a session) and the session's dict as JSON. Handlers and templates keep using
`request.session` as with Starlette's signed-cookie sessions (the CSRF token, flash messages,
who is logged in). Because a session is a row, ending it is deleting the row: logging out,
changing the password or an administrator's "sign out everywhere" take effect at once on every
web process, and a cookie saved before is worthless.

A session ends after SESSION_IDLE_SECONDS without a request, and SESSION_MAX_SECONDS after it
began at the latest. `last_seen_at` is written at most once a minute, so a busy page does not
write on every load.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import Session
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import settings
from engine.people import logins
from webapp.templating import flash

log = logging.getLogger("sightline.web")

COOKIE = "sightline_session"
# The key of the session dict naming the logged-in User (webapp.auth sets it at login); the
# row's user column follows it, so an administrator can end a person's sessions.
USER_KEY = "user_id"
# Health checks and metrics answer load balancers and Prometheus, static files are the same
# for everyone: none of them reads or writes a session (so a probe costs no query).
PROBE_PATHS = frozenset({"/health", "/health/ready", "/metrics"})
STATIC_PREFIXES = ("/static/", "/vendor/")
# Note a session in use at most this often; the idle time-out is that much less exact.
TOUCH_EVERY = timedelta(seconds=60)
# How often one process removes the rows of ended sessions (on creating a new one).
SWEEP_EVERY = timedelta(minutes=10)
ENDED_MESSAGE = "Your session has ended — log in again to continue."
_STATE = "sightline.session"


def wall_clock() -> datetime:
    """Now, by the machine's clock (UTC).

    Sessions and login windows are about people at browsers, so they follow the real clock,
    never `engine.base.clock`: tests (and `sightline timers run-due --now`) move the engine's clock
    to simulated dates, and a session must not end because a test set that clock to 2031.
    """
    return datetime.now(UTC)


def keyed_hash(text: str) -> str:
    """HMAC-SHA256 of `text` under SECRET_KEY, as hex (a session token's id in the table)."""
    key = str(settings.SECRET_KEY).encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


# -- the secret key ---------------------------------------------------------------------------


class InsecureSecretKey(RuntimeError):
    """SECRET_KEY is the built-in default (or empty) outside development mode."""


def secret_key_problem() -> str | None:
    """Why the configured SECRET_KEY must not serve, as one line; None when it may."""
    key = str(settings.SECRET_KEY)
    if key and key != settings.DEFAULT_SECRET_KEY:
        return None
    if settings.DEV and key:
        return None
    what = "empty" if not key else f"the built-in default ({settings.DEFAULT_SECRET_KEY!r})"
    return (
        f"SECRET_KEY is {what}: set SECRET_KEY to a long random value, e.g. the output of "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'` (or SIGHTLINE_DEV=true "
        "on a development machine)"
    )


def require_secret_key() -> None:
    """Refuse to go on with the default SECRET_KEY, unless in development mode (SIGHTLINE_DEV)."""
    problem = secret_key_problem()
    if problem is not None:
        raise InsecureSecretKey(problem)
    if str(settings.SECRET_KEY) == settings.DEFAULT_SECRET_KEY:
        log.warning("SIGHTLINE_DEV is on: serving with the default SECRET_KEY")
    if not str(settings.AUDIT_KEY) and not settings.DEV:
        log.warning("AUDIT_KEY is not set: the audit trail is hash-chained but not keyed, so "
                    "someone with access to the database could rewrite it unseen (docs/deploy.md)")


# -- the middleware ---------------------------------------------------------------------------


@dataclass
class _Stored:
    """The row behind this request's session: its id, or None when there is none (yet)."""

    id: str | None
    last_seen_at: datetime | None


def _cookie_is_secure() -> bool:
    return settings.HTTPS_ONLY or settings.BASE_URL.lower().startswith("https://")


def _set_cookie(headers: MutableHeaders, token: str) -> None:
    flags = "HttpOnly; SameSite=Lax" + ("; Secure" if _cookie_is_secure() else "")
    headers.append(
        "Set-Cookie",
        f"{COOKIE}={token}; Path=/; Max-Age={settings.SESSION_MAX_SECONDS}; {flags}",
    )


def _idle() -> timedelta:
    return timedelta(seconds=settings.SESSION_IDLE_SECONDS)


_next_sweep: list[datetime] = []  # per process: when to remove ended rows next (a hint only)


async def _sweep(now: datetime) -> None:
    if _next_sweep and now < _next_sweep[0]:
        return
    _next_sweep[:] = [now + SWEEP_EVERY]
    removed = await logins.remove_ended_sessions(now, _idle())
    if removed:
        log.debug("removed %d ended sessions", removed)


class DatabaseSessionMiddleware:
    """`request.session` backed by the `user_session` table; the cookie holds only a token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in PROBE_PATHS or path.startswith(STATIC_PREFIXES):
            scope["session"] = Session()  # templates may ask (error pages); never stored
            await self.app(scope, receive, send)
            return
        stored, session, ended = await self._load(scope)
        scope["session"] = session
        scope[_STATE] = stored
        if ended:
            flash(Request(scope), ENDED_MESSAGE, "info")  # on the login page they are sent to

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if session.accessed:
                    headers.add_vary_header("Cookie")
                await self._save(scope, stored, session, headers)
            await send(message)

        await self.app(scope, receive, send_with_session)

    async def _load(self, scope: Scope) -> tuple[_Stored, Session, bool]:
        """The stored session the cookie names, and whether it was a login that timed out."""
        token = HTTPConnection(scope).cookies.get(COOKIE)
        if not token:
            return _Stored(None, None), Session(), False
        row = await logins.find_session(keyed_hash(token))
        if row is None:
            # Ended (logged out, signed out everywhere) or never ours: worth nothing.
            return _Stored(None, None), Session(), False
        if logins.session_expired(row, wall_clock(), _idle()):
            await logins.end_session(row.id)
            return _Stored(None, None), Session(), row.data.get(USER_KEY) is not None
        return _Stored(row.id, row.last_seen_at), Session(row.data), False

    async def _save(
        self, scope: Scope, stored: _Stored, session: Session, headers: MutableHeaders
    ) -> None:
        # Written before the response starts, so the next request (the page a redirect leads
        # to, with its flash message) finds it.
        now = wall_clock()
        if stored.id is not None:
            if session.modified:
                await logins.save_session(stored.id, dict(session), session.get(USER_KEY), now)
            elif stored.last_seen_at is None or now - stored.last_seen_at >= TOUCH_EVERY:
                await logins.touch_session(stored.id, now)
            return
        if not (session.modified and session):
            return  # nothing worth a row: no cookie either
        token = secrets.token_urlsafe(32)
        client = scope.get("client")
        await logins.create_session(
            keyed_hash(token),
            dict(session),
            session.get(USER_KEY),
            now=now,
            lifetime=timedelta(seconds=settings.SESSION_MAX_SECONDS),
            ip=client[0] if client else "",
            user_agent=HTTPConnection(scope).headers.get("user-agent", ""),
        )
        stored.id, stored.last_seen_at = keyed_hash(token), now
        _set_cookie(headers, token)
        await _sweep(now)


# -- ending and renewing sessions (handlers) --------------------------------------------------


def _stored(request: Request) -> _Stored:
    stored: _Stored | None = request.scope.get(_STATE)
    if stored is None:
        raise RuntimeError("DatabaseSessionMiddleware is not installed on this path")
    return stored


def current_session_id(request: Request) -> str | None:
    """The id (token hash) of this request's stored session, or None before it has one."""
    return _stored(request).id


async def renew(request: Request) -> None:
    """Give this session a new token (logging in, changing the password): the old cookie
    becomes worthless; what the session holds carries over unless the caller clears it."""
    stored = _stored(request)
    if stored.id is not None:
        await logins.end_session(stored.id)
    stored.id, stored.last_seen_at = None, None
    session: Session = request.scope["session"]
    session.mark_modified()  # stored again, under a new token


async def end(request: Request) -> None:
    """End this session now (logging out); anything stored in it afterwards starts a new one."""
    await renew(request)
    request.session.clear()


async def end_sessions_of(user_id: int, *, besides: Request | None = None) -> int:
    """End every session of a login, except the one `besides` is made in; returns how many."""
    keep = current_session_id(besides) if besides is not None else None
    return await logins.end_sessions_of(user_id, keep=keep)


async def other_sessions_of(user_id: int, request: Request) -> int:
    """How many live sessions the login has besides this request's."""
    return await logins.live_sessions_of(
        user_id, wall_clock(), _idle(), besides=current_session_id(request)
    )


async def live_sessions_by_person() -> list[logins.SessionsOfPerson]:
    """Everyone with a live session, with how many and when last seen."""
    return await logins.live_sessions_by_person(wall_clock(), _idle())
