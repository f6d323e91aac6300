"""Error pages: every failure is shown in the app's layout (or as a fragment for htmx).

Engine errors become HTTP statuses here so handlers can simply let them propagate:
NotFound and NotAllowed -> 404 (no hint that the thing exists), Conflict -> 409 with its
message, any other EngineError -> 400 with its message. A handler that wants a 403 raises
`HTTPException(403, ...)` itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from engine.base import metrics
from engine.base.errors import Conflict, EngineError, NotAllowed, NotFound
from webapp import i18n
from webapp.i18n import marked as _

log = logging.getLogger("sightline.web")

REQUEST_ID_HEADER = "X-Request-ID"

TITLES = {
    400: _("That did not work"),
    401: _("Please log in"),
    403: _("Not allowed"),
    404: _("Page not found"),
    405: _("Not allowed"),
    409: _("Someone got there first"),
    413: _("Too large"),
    500: _("Something went wrong"),
}
MESSAGES = {
    401: _("Your session has ended — log in again to continue."),
    403: _("You do not have access to this."),
    404: _("There is nothing here, or you do not have access to it."),
    405: _("This address does not accept that kind of request."),
    409: _("This changed while you were looking at it — reload the page to see the latest."),
    413: _("What you sent is larger than the server accepts."),
    500: _(
        "The error has been logged. If it keeps happening, give your administrator the "
        "reference below."
    ),
}


def request_id(request: Request) -> str:
    """The id of this request (set by the request-id middleware; made up when missing)."""
    state = request.scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = uuid.uuid4().hex
    made: str = state["request_id"]
    return made


def error_response(
    request: Request,
    status: int,
    message: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    reference: str | None = None,
) -> Response:
    """The error page (or fragment for htmx) for a status and a message for people."""
    from webapp.templating import is_htmx, templates

    # Shown in the reader's language: the titles, the standard messages, and any message that
    # has a translation (those that do not are shown as they are).
    title = i18n.gettext(TITLES.get(status) or HTTPStatus(status).phrase)
    context: dict[str, Any] = {
        "status": status,
        "title": title,
        "message": i18n.gettext(message or MESSAGES.get(status, title)),
        "reference": reference,
        "fragment": is_htmx(request),
    }
    try:
        return templates.TemplateResponse(
            request, "error.html", context, status_code=status, headers=headers
        )
    except Exception:  # a broken layout must not hide the original error
        log.exception("could not render the error page [request %s]", request_id(request))
        text = f"{title}: {context['message']}"
        if reference:
            text += f" (reference {reference})"
        return PlainTextResponse(text, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's HTTPException (404 for unknown URLs, 405, and those handlers raise)."""
    assert isinstance(exc, HTTPException)
    default_phrase = HTTPStatus(exc.status_code).phrase
    message = exc.detail if exc.detail and exc.detail != default_phrase else None
    return error_response(request, exc.status_code, message, headers=exc.headers)


async def engine_error(request: Request, exc: Exception) -> Response:
    """An engine error that reached the web layer: turn it into a status people understand."""
    if isinstance(exc, NotFound | NotAllowed):
        return error_response(request, 404)
    if isinstance(exc, Conflict):
        metrics.conflicts.inc()
        return error_response(request, 409, str(exc))
    return error_response(request, 400, str(exc))


async def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure: log the traceback under the request id and show that id."""
    reference = request_id(request)
    log.error(
        "unhandled error on %s %s [request %s]",
        request.method,
        request.url.path,
        reference,
        exc_info=exc,
        # Logged after the request-id middleware has finished: name the request explicitly.
        extra={"request_id": reference},
    )
    response = error_response(
        request, 500, reference=reference, headers={REQUEST_ID_HEADER: reference}
    )
    return response


exception_handlers: dict[Any, Any] = {
    HTTPException: http_error,
    EngineError: engine_error,
    500: server_error,
}


def unauthenticated_htmx_response(login_url: str) -> Response:
    """What htmx gets when the session is gone: 401 and a full-page redirect to log in."""
    return HTMLResponse("", status_code=401, headers={"HX-Redirect": login_url})
