"""SCIM 2.0 at /scim/v2: identity providers provision people and groups (docs/scim.md).

Every request carries `Authorization: Bearer <token>` of a token with the `scim` scope
(`sightline token create --scope scim`): no session, no CSRF token (webapp.auth and
webapp.csrf leave /scim/ alone — a browser never sends a bearer token by itself). Answers are
`application/scim+json`; every refusal is a SCIM Error resource, even an unknown URL or method.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.people import scim, tokens
from engine.people.scim import ScimError
from engine.talent import positions
from engine.workflow import provisioning

PREFIX = "/scim/v2"
MEDIA_TYPE = "application/scim+json"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# A SCIM request body is one resource or one PatchOp: far below this.
MAX_BODY = 1_000_000

Handler = Callable[[Request, str], Awaitable[Response]]


def scim_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A SCIM JSON answer."""
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status, media_type=MEDIA_TYPE,
        headers=headers,
    )


def _error(exc: ScimError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if exc.status == 401 else None
    return scim_response(exc.body(), exc.status, headers)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _resource(
    resource: dict[str, Any], status: int = 200, shown: dict[str, Any] | None = None
) -> Response:
    """One resource with its ETag (and Location when made); `shown` is what `attributes`
    left of it."""
    headers = {"ETag": resource["meta"]["version"]}
    if status == 201:
        headers["Location"] = resource["meta"]["location"]
    return scim_response(resource if shown is None else shown, status, headers)


async def _actor(request: Request) -> str:
    """The token's audit name; 401 without a valid token, 403 without the scim scope."""
    header = request.headers.get("authorization", "")
    kind, _, raw = header.partition(" ")
    if kind.lower() != "bearer" or not raw.strip():
        raise ScimError(401, "send Authorization: Bearer <token> (a token with the scim scope)")
    identity = await tokens.authenticate(raw.strip())
    if identity is None:
        raise ScimError(401, "the token is unknown, revoked or expired")
    if not identity.allows(tokens.SCOPE_SCIM):
        raise ScimError(403, "the token does not have the scim scope")
    return f"token:{identity.token_id}:{identity.name}"[:128]


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ScimError(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ScimError(400, "the body is not JSON", "invalidSyntax") from None


def _paging(request: Request) -> tuple[str, int, int | None]:
    params = request.query_params
    try:
        start = int(params.get("startIndex", "1"))
        count = int(params["count"]) if "count" in params else None
    except ValueError:
        raise ScimError(400, "startIndex and count are whole numbers", "invalidValue") from None
    return params.get("filter", ""), start, count


def _projected(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    params = request.query_params
    attributes, excluded = params.get("attributes", ""), params.get("excludedAttributes", "")
    if "Resources" in body:
        body["Resources"] = [scim.project(r, attributes, excluded) for r in body["Resources"]]
        return body
    return scim.project(body, attributes, excluded)


async def _check_version(request: Request, current: dict[str, Any]) -> None:
    """Honour If-Match: a write to a resource that changed since the client read it is 412."""
    wanted = request.headers.get("if-match")
    if wanted and wanted.strip() != "*" and current["meta"]["version"] not in {
        tag.strip() for tag in wanted.split(",")
    }:
        raise ScimError(412, "the resource changed since it was read (If-Match)")


def _method_not_allowed(method: str, path: str) -> ScimError:
    return ScimError(405, f"{method} is not supported on {path}")


async def service_provider_config(request: Request, rest: str) -> Response:
    if request.method != "GET":
        raise _method_not_allowed(request.method, "/ServiceProviderConfig")
    return scim_response(scim.service_provider_config(_base(request)))


async def schemas(request: Request, rest: str) -> Response:
    if request.method != "GET":
        raise _method_not_allowed(request.method, "/Schemas")
    found = scim.schemas(_base(request), await positions.position_codes())
    if rest:
        match = next((s for s in found if s["id"] == rest), None)
        if match is None:
            raise ScimError(404, f"no schema {rest!r}")
        return scim_response(match)
    return scim_response(scim.list_response(found, len(found), 1))


async def resource_types(request: Request, rest: str) -> Response:
    if request.method != "GET":
        raise _method_not_allowed(request.method, "/ResourceTypes")
    found = scim.resource_types(_base(request))
    if rest:
        match = next((t for t in found if t["id"] == rest), None)
        if match is None:
            raise ScimError(404, f"no resource type {rest!r}")
        return scim_response(match)
    return scim_response(scim.list_response(found, len(found), 1))


@dataclass(frozen=True)
class _ResourceKind:
    """What SCIM does with one kind of resource (Users, Groups): the same verbs, each kind
    with its own engine functions."""

    path: str
    lister: Callable[..., Awaitable[dict[str, Any]]]
    get: Callable[..., Awaitable[dict[str, Any]]]
    create: Callable[..., Awaitable[dict[str, Any]]]
    replace: Callable[..., Awaitable[dict[str, Any]]]
    patch: Callable[..., Awaitable[dict[str, Any]]]
    delete: Callable[..., Awaitable[None]]


USERS = _ResourceKind(
    "/Users", scim.list_users, scim.get_user, provisioning.create_user,
    provisioning.replace_user, provisioning.patch_user, provisioning.delete_user,
)
GROUPS = _ResourceKind(
    "/Groups", scim.list_groups, scim.get_group, provisioning.create_group,
    provisioning.replace_group, provisioning.patch_group, provisioning.delete_group,
)


async def _serve(request: Request, rest: str, kind: _ResourceKind) -> Response:
    actor = await _actor(request)
    base, method = _base(request), request.method
    if rest == ".search":
        if method != "POST":
            raise _method_not_allowed(method, f"{kind.path}/.search")
        return await _search(request, kind.lister)
    if not rest:
        if method == "GET":
            filter_text, start, count = _paging(request)
            page = await kind.lister(base, filter_text, start, count)
            return scim_response(_projected(request, page))
        if method == "POST":
            resource = await kind.create(actor, base, await _body(request))
            return _resource(resource, 201)
        raise _method_not_allowed(method, kind.path)
    current = await kind.get(base, rest)
    if method == "GET":
        return _resource(current, shown=_projected(request, current))
    await _check_version(request, current)
    if method == "PUT":
        return _resource(await kind.replace(actor, base, rest, await _body(request)))
    if method == "PATCH":
        return _resource(await kind.patch(actor, base, rest, await _body(request)))
    if method == "DELETE":
        await kind.delete(actor, rest)
        return Response(status_code=204)
    raise _method_not_allowed(method, f"{kind.path}/{{id}}")  # pragma: no cover - ALL_METHODS


async def users(request: Request, rest: str) -> Response:
    return await _serve(request, rest, USERS)


async def groups(request: Request, rest: str) -> Response:
    return await _serve(request, rest, GROUPS)


async def _search(
    request: Request, lister: Callable[..., Awaitable[dict[str, Any]]]
) -> Response:
    """POST /Users/.search and /Groups/.search: a SearchRequest body instead of a query."""
    body = await _body(request)
    if not isinstance(body, dict) or scim.SEARCH_REQUEST not in (body.get("schemas") or []):
        raise ScimError(400, f"a search body is a SearchRequest ({scim.SEARCH_REQUEST})",
                        "invalidValue")

    def joined(name: str) -> str:
        value = body.get(name) or []
        return ",".join(value) if isinstance(value, list) else str(value)

    start, count = body.get("startIndex", 1), body.get("count")
    if not isinstance(start, int) or not (count is None or isinstance(count, int)):
        raise ScimError(400, "startIndex and count are whole numbers", "invalidValue")
    page = await lister(_base(request), str(body.get("filter") or ""), start, count)
    page["Resources"] = [
        scim.project(r, joined("attributes"), joined("excludedAttributes"))
        for r in page["Resources"]
    ]
    return scim_response(page)


async def unknown(request: Request, rest: str) -> Response:
    if rest == ".search":
        raise ScimError(501, "searching several resource types at once is not supported")
    raise ScimError(404, f"nothing at {PREFIX}/{rest}")


AREAS: dict[str, Handler] = {
    "ServiceProviderConfig": service_provider_config,
    "Schemas": schemas,
    "ResourceTypes": resource_types,
    "Users": users,
    "Groups": groups,
}
# The discovery documents describe the server: they need no token (RFC 7644 section 4).


async def dispatch(request: Request) -> Response:
    """Every /scim/v2 request: the area, then its handler; ScimError becomes a SCIM Error."""
    path = request.path_params.get("path", "").strip("/")
    area, _, rest = path.partition("/")
    handler = AREAS.get(area, unknown)
    try:
        return await handler(request, rest if handler is not unknown else path)
    except ScimError as exc:
        return _error(exc)


routes = [
    Route(PREFIX, dispatch, methods=ALL_METHODS),
    Route(PREFIX + "/{path:path}", dispatch, methods=ALL_METHODS),
]
