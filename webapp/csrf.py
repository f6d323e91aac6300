"""CSRF protection: one random token per session, required on every state-changing request.

The token travels as the form field `csrf_token` or the header `X-CSRF-Token` (htmx sends the
header, set on <body> by base.html). The middleware buffers the body to read the form field,
then replays it, so handlers still read `await request.form()` as usual.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from markupsafe import Markup, escape
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.request_body import BodyTooLarge, read_body, replaying

SESSION_KEY = "csrf_token"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Areas whose requests authenticate with a bearer token instead of a session (SCIM): they skip
# the session (webapp.auth) and CSRF entirely, and their routes check the token themselves.
BEARER_PREFIXES = ("/scim/",)
EXPIRED_MESSAGE = "The form expired — reload the page and try again"
# (request, status, message) -> the error page sent instead of the request's own response.
Refusal = Callable[..., Response]


def session_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def token_for(request: Request) -> str:
    """The CSRF token for this request's session (for handlers building their own HTML)."""
    return session_token(request.session)


@jinja2.pass_context
def template_token(context: Any) -> str:
    """Jinja global `csrf_token()`: the token as text."""
    return token_for(context["request"])


@jinja2.pass_context
def template_input(context: Any) -> Markup:
    """Jinja global `csrf_input()`: a hidden input carrying the token."""
    token = token_for(context["request"])
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(token)}">')


async def _submitted_token(scope: Scope, headers: Headers, body: bytes) -> str:
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if name == FIELD:
                return value
        return ""
    if content_type.startswith("multipart/form-data"):
        request = Request(scope, replaying(body, _never_called))
        try:
            form = await request.form()
        except Exception:  # a malformed upload is refused like a missing token
            return ""
        field = form.get(FIELD)
        await form.close()
        return field if isinstance(field, str) else ""
    return ""


async def _never_called() -> Message:
    return {"type": "http.disconnect"}


class CSRFMiddleware:
    """Refuse POST/PUT/PATCH/DELETE whose token does not match the session's (403)."""

    def __init__(self, app: ASGIApp, refuse: Refusal) -> None:
        self.app = app
        # The app's error page (webapp.errors.error_response), passed in by the app.
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            # Bearer-token areas (SCIM) carry no session: a browser never sends their token.
            or scope.get("path", "").startswith(BEARER_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        expected = scope.get("session", {}).get(SESSION_KEY, "")
        headers = Headers(scope=scope)
        submitted = headers.get(HEADER, "")
        if not submitted:
            try:
                body, gone = await read_body(receive)
            except BodyTooLarge:
                response = self.refuse(Request(scope), 413)
                await response(scope, receive, send)
                return
            if gone:
                return
            receive = replaying(body, receive)
            submitted = await _submitted_token(scope, headers, body)
        if expected and submitted and secrets.compare_digest(expected.encode(), submitted.encode()):
            await self.app(scope, receive, send)
            return
        response = self.refuse(Request(scope, receive), 403, EXPIRED_MESSAGE)
        await response(scope, receive, send)
