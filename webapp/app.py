"""The Starlette application: routes from webapp/routes, middleware, static files, lifespan.

To add an area, write webapp/routes/<area>.py exporting `routes = [...]` and add the module to
ROUTE_MODULES. Work outside requests (timers, deliveries, launches, emails) is the worker's
(engine.operations.worker): with WORKER_IN_WEB the web process runs one itself, otherwise `sightline
worker` processes do.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import Tortoise

from config import logging as log_setup
from config import settings
from engine.base import clock, db
from engine.operations.worker import Worker, WorkerSettings
from engine.packs.loading import use_pack_folders
from engine.performance import launch_pool
from engine.workflow import audit, jobs
from engine.workflow.notifications import SmtpSettings
from forms import limits
from webapp import api, metrics
from webapp.auth import AuthMiddleware
from webapp.csrf import CSRFMiddleware
from webapp.errors import REQUEST_ID_HEADER, error_response, exception_handlers
from webapp.i18n import LanguageMiddleware
from webapp.input import InputMiddleware
from webapp.routes import adoption as adoption_routes
from webapp.routes import auth as auth_routes
from webapp.routes import dashboards as dashboard_routes
from webapp.routes import designer as designer_routes
from webapp.routes import development as development_routes
from webapp.routes import gaps as gap_routes
from webapp.routes import goals as goal_routes
from webapp.routes import health as health_routes
from webapp.routes import hr as hr_routes
from webapp.routes import inbox as inbox_routes
from webapp.routes import instances as instance_routes
from webapp.routes import metrics as metrics_routes
from webapp.routes import oidc as oidc_routes
from webapp.routes import one_on_ones as one_on_one_routes
from webapp.routes import outbox as outbox_routes
from webapp.routes import people as people_routes
from webapp.routes import positions as position_routes
from webapp.routes import progress as progress_routes
from webapp.routes import recognition as recognition_routes
from webapp.routes import reviews as review_routes
from webapp.routes import scim as scim_routes
from webapp.routes import succession as succession_routes
from webapp.routes import talent as talent_routes
from webapp.routes import tasks as task_routes
from webapp.routes import tokens as token_routes
from webapp.routes import training as training_routes
from webapp.routes import trends as trend_routes
from webapp.routes import webhooks as webhook_routes
from webapp.sessions import PROBE_PATHS, DatabaseSessionMiddleware, require_secret_key
from webapp.templating import STATIC_DIR, VENDOR_DIRS

log = logging.getLogger("sightline.web")
# One line per request (webapp/app.py RequestIdMiddleware); health checks and scrapes at DEBUG.
access_log = logging.getLogger("sightline.access")



class AreaModule(Protocol):
    """A module of webapp.routes: one area of the app and its routes."""

    @property
    def routes(self) -> Sequence[BaseRoute]: ...


# Every area's routes, in matching order (first match wins).
ROUTE_MODULES: list[AreaModule] = [
    health_routes,
    metrics_routes,
    auth_routes,
    oidc_routes,
    token_routes,
    scim_routes,
    inbox_routes,
    task_routes,
    people_routes,
    instance_routes,
    review_routes,
    outbox_routes,
    webhook_routes,
    designer_routes,
    hr_routes,
    trend_routes,
    dashboard_routes,
    goal_routes,
    development_routes,
    progress_routes,
    recognition_routes,
    training_routes,
    one_on_one_routes,
    talent_routes,
    succession_routes,
    position_routes,
    gap_routes,
    adoption_routes,
]

HOME = "/inbox"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Inline scripts and styles stay allowed for now: bpmn-js and page widgets use them.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


def worker_settings() -> WorkerSettings:
    """The worker's schedule and SMTP from the settings (web process and `sightline worker`)."""
    smtp = None
    if settings.SMTP_HOST:  # without SMTP the emails wait in the outbox for HR to read
        smtp = SmtpSettings(
            host=settings.SMTP_HOST,
            port=settings.SMTP_PORT,
            username=settings.SMTP_USER,
            password=str(settings.SMTP_PASSWORD),
            starttls=settings.SMTP_STARTTLS,
            sender=settings.MAIL_FROM,
            base_url=settings.BASE_URL,
        )
    return WorkerSettings(
        timer_poll=settings.TIMER_POLL_SECONDS,
        message_poll=settings.MESSAGE_POLL_SECONDS,
        anchor_every=settings.AUDIT_ANCHOR_SECONDS,
        smtp=smtp,
        base_url=settings.BASE_URL,
        private_networks=settings.WEBHOOK_PRIVATE_NETWORKS,
        digest_hour=settings.DIGEST_HOUR,
    )


# A request id a reverse proxy already gave the request (nginx's $request_id) is kept, so its
# log and the app's name the same request; anything else gets a fresh one.
_FORWARDED_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")


def _forwarded_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _FORWARDED_REQUEST_ID.fullmatch(text) else None
    return None


class RequestIdMiddleware:
    """Give each request an id (logged with errors, echoed as X-Request-ID) and safe headers;
    then log its access line and time it for /metrics.

    The id is also in `config.logging.request_id` while the request is served, so whatever is
    logged meanwhile, by the web layer or the engine, carries it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _forwarded_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        context = log_setup.request_id.set(request_id)
        status = 500  # an exception escaping before any response is answered with a 500
        started = time.perf_counter()
        metrics.requests_in_flight.inc()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.setdefault(REQUEST_ID_HEADER, request_id)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            metrics.requests_in_flight.dec()
            metrics.observe_request(scope, status, seconds)
            _log_access(scope, status, seconds, request_id)
            log_setup.request_id.reset(context)


def _log_access(scope: Scope, status: int, seconds: float, request_id: str) -> None:
    """The access line: method, path (no query: it may carry names), status, duration."""
    level = logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    duration_ms = round(seconds * 1000, 1)
    client = scope.get("client")
    viewer = scope.get("state", {}).get("viewer")
    access_log.log(
        level,
        "%s %s %d %.1f ms",
        scope["method"],
        scope["path"],
        status,
        duration_ms,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "route": metrics.route_template(scope),
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
            "client": client[0] if client else None,
            "user": getattr(viewer, "key", None),
        },
    )


class TokenApps:
    """Hand requests under a prefix (the REST API's /api/) to an app of their own, before
    sessions, logins and CSRF: there a token authenticates every call, and a browser's cookie
    is never even read, so no cookie session can reach them (and CSRF has nothing to guard)."""

    def __init__(self, app: ASGIApp, apps: dict[str, ASGIApp]) -> None:
        self.app = app
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for prefix, target in self.apps.items():
                if scope["path"].startswith(prefix):
                    await target(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class CachedStaticFiles(StaticFiles):
    """Static files with cache headers: a year for fingerprinted URLs (?v=), an hour otherwise."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file, with a Cache-Control header."""
        response = await super().get_response(path, scope)
        fingerprinted = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if fingerprinted else "public, max-age=3600"
        )
        return response


async def home(request: Request) -> Response:
    """GET /: the inbox is where everyone starts (an area may claim "/" before this)."""
    return RedirectResponse(HOME, status_code=303)


def _asset_routes() -> list[BaseRoute]:
    vendor = [
        Mount(f"/vendor/{prefix}", app=CachedStaticFiles(directory=folder, check_dir=False))
        for prefix, folder in VENDOR_DIRS.items()
    ]
    if not any(folder.is_dir() for folder in VENDOR_DIRS.values()):
        log.warning("node_modules is missing: run `npm ci` so pages get their scripts and CSS")
    static = Mount("/static", app=CachedStaticFiles(directory=STATIC_DIR), name="static")
    return [static, *vendor]


def assemble_routes(modules: Sequence[AreaModule] = ()) -> list[BaseRoute]:
    """The app's routes: every area module's `routes`, assets, then the fallback home."""
    routes: list[BaseRoute] = []
    for module in modules or ROUTE_MODULES:
        routes.extend(module.routes)
    return [*routes, *_asset_routes(), Route("/", home, methods=["GET"], name="home")]


def _lifespan(
    database_url: str, start_workers: bool
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not log_setup.is_configured():
            # Served by another ASGI server than `sightline serve`: log as it would.
            log_setup.configure_logging(level=_log_level())
        # Tests (and the CLI) may have connected already; then the connection is theirs.
        use_pack_folders(settings.PACKS)
        launch_pool.configure(settings.LAUNCH_PROCESSES)
        jobs.configure(settings.LEASE_SECONDS)
        limits.configure(settings.SCRIPT_CPU_SECONDS, settings.SCRIPT_MEMORY_MB)
        audit.configure(str(settings.AUDIT_KEY), settings.AUDIT_ANCHOR_FILE or None)
        clock.use_zone(settings.TIME_ZONE)
        owns_connection = not Tortoise.is_inited()
        if owns_connection:
            await db.connect(database_url)
        stop = asyncio.Event()
        embedded = (
            asyncio.create_task(Worker(worker_settings(), jobs.worker_name("web")).run(stop))
            if start_workers and settings.WORKER_IN_WEB else None
        )
        try:
            yield
        finally:
            stop.set()
            if embedded is not None:
                await asyncio.gather(embedded, return_exceptions=True)
            if owns_connection:
                await db.disconnect()

    return lifespan


def _log_level() -> str:
    """LOG_LEVEL, or the level the ASGI server was told when it is quieter (uvicorn's
    --log-level warning keeps the app's INFO lines out too)."""
    ours = logging.getLevelName(settings.LOG_LEVEL.strip().upper())
    server = logging.getLogger("uvicorn.error").level
    if isinstance(ours, int) and server > ours:
        return logging.getLevelName(server)
    return settings.LOG_LEVEL


def create_app(database_url: str | None = None, *, start_workers: bool = True) -> Starlette:
    """The web app on a database (default settings.DATABASE_URL); refuses the default
    SECRET_KEY outside development mode (webapp.sessions.require_secret_key)."""
    require_secret_key()
    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(TokenApps, apps={api.PREFIX: api.api_app()}),
        Middleware(DatabaseSessionMiddleware),
        Middleware(AuthMiddleware),
        # The request's language, from the login (so after AuthMiddleware) or the browser.
        Middleware(LanguageMiddleware),
        Middleware(CSRFMiddleware, refuse=error_response),
        # Innermost: what reaches a handler holds no character the database cannot store.
        Middleware(InputMiddleware),
    ]
    return Starlette(
        routes=assemble_routes(),
        middleware=middleware,
        exception_handlers=exception_handlers,
        lifespan=_lifespan(database_url or settings.DATABASE_URL, start_workers),
    )


app = create_app()
