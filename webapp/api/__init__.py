"""The REST API under /api/v1: bearer tokens, JSON in and out, an OpenAPI 3.1 document.

Each resource module declares its endpoints (webapp.api.core.Endpoint); `api_app()` routes
them, adds /openapi.json and /docs (webapp.api.document), and answers every error as JSON.
The web app hands it every request under /api/ before sessions, logins and CSRF (webapp.app),
so a browser's cookie never reaches the API: only a token does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from webapp.api import cycles, instances, people, results, tasks
from webapp.api.core import BASE, Endpoint, error_body, json_response, serve
from webapp.api.document import docs_endpoint, openapi_endpoint
from webapp.errors import REQUEST_ID_HEADER, request_id

log = logging.getLogger("sightline.api")

PREFIX = "/api/"
ENDPOINTS: list[Endpoint] = [
    *people.endpoints,
    *tasks.endpoints,
    *instances.endpoints,
    *results.endpoints,
    *cycles.endpoints,
]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    message = {
        404: "There is nothing here, or you do not have access to it.",
        405: "This address does not accept that method.",
    }.get(exc.status_code, str(exc.detail))
    return json_response(exc.status_code,
                         error_body(codes.get(exc.status_code, "error"), message),
                         exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    reference = request_id(request)
    log.error("unhandled error on %s %s [request %s]", request.method, request.url.path,
              reference, exc_info=exc, extra={"request_id": reference})
    return json_response(
        500, error_body("server_error", "Something went wrong; the error has been logged.",
                        {"reference": reference}),
        {REQUEST_ID_HEADER: reference},
    )


def _by_method(endpoints: dict[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    served = {method: serve(endpoint) for method, endpoint in endpoints.items()}
    if "GET" in served:
        served["HEAD"] = served["GET"]

    async def dispatch(request: Request) -> Response:
        return await served[request.method](request)

    return dispatch


def api_routes() -> list[BaseRoute]:
    """Every operation's route, the document and the docs page, below /api/v1."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.route_path or endpoint.path, {})[endpoint.method] = endpoint
    # One route per path, so a 405 names every method the path takes (its Allow header).
    routes: list[BaseRoute] = [
        Route(path, _by_method(methods), methods=list(methods))
        for path, methods in by_path.items()
    ]
    routes.append(Route("/openapi.json", openapi_endpoint(ENDPOINTS), methods=["GET"],
                        name="openapi"))
    routes.append(Route("/docs", docs_endpoint(ENDPOINTS), methods=["GET"], name="api_docs"))
    return [Mount(BASE, routes=routes)]


def api_app() -> Starlette:
    """The API as an ASGI app of its own (errors as JSON, never the app's error pages)."""
    return Starlette(
        routes=api_routes(),
        exception_handlers={HTTPException: _http_error, 500: _server_error},
    )
