"""The REST API's machinery: endpoints declared as data, and what every call goes through.

Each resource module lists its `Endpoint`s: method, path, handler, the scope it needs, its
parameters and the JSON Schemas of its request body and answers. That one declaration is
used three times: to route, to check what comes in (parameters and body are validated against
the same schemas before a handler runs), and to write the OpenAPI document and the docs page
(webapp.api.document). A call goes through, in order:

1. the bearer token (engine.people.tokens): unknown, revoked or expired is 401;
2. the scope the endpoint needs (`api:read` for reads, `api` for writes): else 403;
3. the token's rate limit, one atomic upsert per request (ApiRateWindow): past it, 429 with
   Retry-After; every answer says how much is left (X-RateLimit-*);
4. who the token acts as: a personal token acts as its person with their rights, exactly as
   the pages decide them (what a page would answer 404 to, the API answers 404 to); a service
   token reads as an HR administrator does and writes nothing;
5. parameters and body, checked against the declared schemas (400 / 422 with the details);
6. for POST and PUT with an `Idempotency-Key`, the stored answer of an earlier request with
   that key (same body) instead of a second write; a different body is a 422;
7. the handler; engine errors become statuses as on the pages (NotFound and NotAllowed 404,
   Conflict 409, any other EngineError 422).

Errors are always `{"error": {"code", "message", "details"}}`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import Response

from config import settings
from engine.base import metrics
from engine.base.errors import Conflict, EngineError, NotAllowed, NotFound
from engine.people import tokens
from engine.people.directory import DirectorySnapshot, current_directory
from engine.people.tokens import TokenIdentity
from forms.text import first_control_character
from webapp.errors import REQUEST_ID_HEADER, request_id

log = logging.getLogger("sightline.api")

JSON = dict[str, Any]
BASE = "/api/v1"
READ = tokens.SCOPE_API_READ
WRITE = tokens.SCOPE_API
MAX_BODY_BYTES = 1024 * 1024
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 128
# A service token reads as an HR administrator does: person id 0 names nobody, and HR with no
# partnered unit sees everyone (engine.workflow.access).
SERVICE_PERSON_ID = 0


class ApiError(Exception):
    """An answer other than success: status, a stable code, a message for people, details."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


def not_found(what: str = "There is nothing here, or you do not have access to it.") -> ApiError:
    """404, worded as the pages word it: no hint whether the thing exists."""
    return ApiError(404, "not_found", what)


@dataclass(frozen=True)
class ApiViewer:
    """Who a call acts as, with what the access rules need (engine.workflow.access's
    SeesSubjects): the token's person, or for a service token an HR administrator no one is."""

    person_id: int
    key: str
    name: str
    groups: frozenset[str]
    is_service: bool = False

    @property
    def is_hr(self) -> bool:
        """Whether the viewer acts as HR."""
        return "hr" in self.groups

    @property
    def actor_label(self) -> str:
        """How the audit trail names the viewer."""
        return f"person:{self.key}"


@dataclass(frozen=True)
class Param:
    """A path or query parameter: its name, where it goes and its JSON Schema."""

    name: str
    where: str  # "path" or "query"
    schema: JSON
    description: str
    required: bool = False


@dataclass
class Call:
    """One authorised call, as a handler gets it."""

    request: Request
    identity: TokenIdentity
    viewer: ApiViewer
    directory: DirectorySnapshot
    params: dict[str, Any]
    body: Any


@dataclass(frozen=True)
class Answer:
    """A handler's answer: status, JSON body, extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API, declared once: routing, checks and documentation."""

    method: str
    path: str  # below /api/v1, with {name} for path parameters
    handler: Handler
    operation_id: str
    summary: str
    description: str
    tag: str
    scope: str
    responses: Mapping[int, tuple[str, JSON]]
    params: tuple[Param, ...] = ()
    body: JSON | None = None
    body_example: JSON | None = None
    # The error statuses this operation answers besides 400, 401, 403 and 429.
    errors: tuple[int, ...] = ()
    # Service tokens may not call it (it acts as a person: my tasks, starting a process).
    personal_only: bool = False
    # The path as Starlette routes it ({task_id:id}); defaults to `path`.
    route_path: str | None = None

    @property
    def validator(self) -> Draft202012Validator | None:
        """The validator of the request body, or None when the operation takes none."""
        return _validator(self.operation_id, self.body)


_validators: dict[str, Draft202012Validator] = {}


def _validator(key: str, schema: JSON | None) -> Draft202012Validator | None:
    if schema is None:
        return None
    if key not in _validators:
        _validators[key] = Draft202012Validator(schema)
    return _validators[key]


# -- JSON -------------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(body: Any) -> bytes:
    """A body as JSON (datetimes as RFC 3339, naive ones taken as UTC)."""
    return orjson.dumps(body, default=_default, option=orjson.OPT_NAIVE_UTC)


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer."""
    return Response(dumps(body), status_code=status, headers=dict(headers or {}),
                    media_type="application/json")


def error_body(code: str, message: str, details: Any = None) -> JSON:
    """The body of every error answer."""
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(error: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    """An ApiError as its JSON answer."""
    return json_response(error.status, error_body(error.code, error.message, error.details),
                         {**(headers or {}), **error.headers})


# -- pagination -------------------------------------------------------------------------------


def encode_cursor(position: int) -> str:
    """An opaque cursor for a position in a list."""
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The position a cursor names (0 without one); 400 for one this API did not make."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not (text.startswith("p") and text[1:].isascii() and text[1:].isdigit()
            and len(text) <= 12):
        raise ApiError(400, "invalid_parameter", "The cursor is not one this API gave out.",
                       {"parameter": "cursor"})
    return int(text[1:])


LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                 "default": DEFAULT_LIMIT}, "How many items per page.")
CURSOR = Param("cursor", "query", {"type": "string", "maxLength": 64},
               "Where the page starts: the `next_cursor` of the page before.")
PAGE_PARAMS = (LIMIT, CURSOR)


def page_schema(item: JSON) -> JSON:
    """A page of a list: its items and the cursor of the next page (null on the last)."""
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def page(items: list[Any], next_position: int | None) -> JSON:
    """A page's body."""
    return {"items": items,
            "next_cursor": encode_cursor(next_position) if next_position is not None else None}


# -- parameters and body ----------------------------------------------------------------------


def _bad_param(param: Param, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{param.name}: {message}",
                    {"parameter": param.name})


def _read_param(param: Param, raw: str) -> Any:
    if first_control_character(raw, multiline=False) is not None:
        raise _bad_param(param, "holds a control character")
    schema = param.schema
    kind = schema.get("type")
    if kind == "integer":
        if not (raw.isascii() and raw.lstrip("-").isdigit()) or len(raw) > 11:
            raise _bad_param(param, "must be a whole number")
        value: Any = int(raw)
        if "minimum" in schema and value < schema["minimum"]:
            raise _bad_param(param, f"must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise _bad_param(param, f"must be at most {schema['maximum']}")
        return value
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise _bad_param(param, "must be true or false")
        return raw == "true"
    if "maxLength" in schema and len(raw) > schema["maxLength"]:
        raise _bad_param(param, f"must be at most {schema['maxLength']} characters")
    if "minLength" in schema and len(raw) < schema["minLength"]:
        raise _bad_param(param, f"must be at least {schema['minLength']} characters")
    if "enum" in schema and raw not in schema["enum"]:
        raise _bad_param(param, "must be one of " + ", ".join(schema["enum"]))
    return raw


def read_params(endpoint: Endpoint, request: Request) -> dict[str, Any]:
    """Path and query parameters, checked against their schemas (400 when one does not fit)."""
    values: dict[str, Any] = {}
    for param in endpoint.params:
        if param.where == "path":
            values[param.name] = _read_param(param, str(request.path_params[param.name]))
            continue
        raw = request.query_params.getlist(param.name)
        if len(raw) > 1:
            raise _bad_param(param, "give it once")
        if not raw:
            if param.required:
                raise _bad_param(param, "is required")
            values[param.name] = param.schema.get("default")
            continue
        values[param.name] = _read_param(param, raw[0])
    return values


def _control_character_paths(value: Any, path: str = "") -> list[str]:
    """Where strings in a JSON value hold characters that cannot be stored (forms.text)."""
    if isinstance(value, str):
        return [path or "/"] if first_control_character(value, multiline=True) else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if first_control_character(str(key), multiline=False):
                found.append(f"{path}/{key!r}")
            found.extend(_control_character_paths(item, f"{path}/{key}"))
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _control_character_paths(
            item, f"{path}/{i}")]
    return []


async def read_body(endpoint: Endpoint, request: Request) -> tuple[Any, bytes]:
    """The JSON body, checked against the endpoint's schema; and its bytes (for idempotency)."""
    validator = endpoint.validator
    raw = await _bounded_body(request)
    if validator is None:
        return None, raw
    content_type = request.headers.get("content-type", "")
    if not content_type.split(";")[0].strip().lower().endswith(("/json", "+json")):
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"The body is not JSON: {exc}") from None
    problems = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if problems:
        details = [
            {"path": "/" + "/".join(str(p) for p in problem.absolute_path),
             "message": problem.message[:500]}
            for problem in problems[:20]
        ]
        raise ApiError(422, "invalid_body", "The body does not fit the schema of this operation.",
                       details)
    hidden = _control_character_paths(body)
    if hidden:
        raise ApiError(
            422, "invalid_body", "Some text holds characters that cannot be stored (invisible "
            "control characters, usually pasted along): remove them and send again.",
            [{"path": p, "message": "holds a control character"} for p in hidden[:20]],
        )
    return body, raw


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"Send at most {MAX_BODY_BYTES} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "too_large", f"Send at most {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


# -- tokens, scopes and rate limits -----------------------------------------------------------

_UNAUTHORISED = {"WWW-Authenticate": 'Bearer realm="sightline"'}


async def _identity(request: Request) -> TokenIdentity:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiError(401, "unauthenticated",
                       "Send a token: Authorization: Bearer <token> (make one at "
                       "/account/tokens).", headers=_UNAUTHORISED)
    identity = await tokens.authenticate(raw.strip())
    if identity is None:
        raise ApiError(401, "invalid_token",
                       "The token is unknown, revoked or expired.", headers=_UNAUTHORISED)
    return identity


_next_sweep: list[datetime] = []  # per process: when to remove old counters next (a hint)


async def _rate_limit(identity: TokenIdentity) -> dict[str, str]:
    """Count the call; the rate-limit headers; 429 past the limit."""
    now = tokens.wall_clock()
    window = max(1, settings.API_RATE_WINDOW_SECONDS)
    start_ts = int(now.timestamp()) // window * window
    start = datetime.fromtimestamp(start_ts, now.tzinfo)
    count = await tokens.count_request(identity.token_id, start)
    reset = start_ts + window - int(now.timestamp())
    headers = {
        "X-RateLimit-Limit": str(settings.API_RATE_LIMIT),
        "X-RateLimit-Remaining": str(max(0, settings.API_RATE_LIMIT - count)),
        "X-RateLimit-Reset": str(max(1, reset)),
    }
    if not _next_sweep or now >= _next_sweep[0]:
        _next_sweep[:] = [now + timedelta(seconds=window)]
        await tokens.remove_stale_windows(start - timedelta(seconds=window))
        await tokens.remove_old_answers(now - timedelta(hours=settings.API_IDEMPOTENCY_HOURS))
    if count > settings.API_RATE_LIMIT:
        raise ApiError(
            429, "rate_limited",
            f"This token made more than {settings.API_RATE_LIMIT} requests in "
            f"{window} seconds: wait {max(1, reset)} seconds.",
            {"limit": settings.API_RATE_LIMIT, "window_seconds": window},
            headers={**headers, "Retry-After": str(max(1, reset))},
        )
    return headers


def _viewer(identity: TokenIdentity, directory: DirectorySnapshot) -> ApiViewer:
    if identity.is_service:
        return ApiViewer(SERVICE_PERSON_ID, "service", identity.name, frozenset({"hr"}),
                         is_service=True)
    person = directory.person(identity.person_id)
    if person is None or not person.active:
        raise ApiError(401, "invalid_token", "The token's person is no longer active.",
                       headers=_UNAUTHORISED)
    return ApiViewer(person.id, person.key, person.name, frozenset(person.groups))


# -- idempotency ------------------------------------------------------------------------------


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ApiError(400, "invalid_idempotency_key",
                       f"An {IDEMPOTENCY_HEADER} is 1 to {MAX_IDEMPOTENCY_KEY} printable "
                       "characters (a UUID is a good one).")
    return key


def _request_hash(request: Request, raw: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(),
                 request.url.query.encode(), raw):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# -- serving a call ---------------------------------------------------------------------------


def _engine_error(exc: EngineError) -> ApiError:
    if isinstance(exc, NotFound | NotAllowed):
        return not_found()
    if isinstance(exc, Conflict):
        metrics.conflicts.inc()
        return ApiError(409, "conflict", str(exc))
    return ApiError(422, "refused", str(exc))


def serve(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint that runs one operation with every check above."""

    async def endpoint_function(request: Request) -> Response:
        headers: dict[str, str] = {}
        try:
            identity = await _identity(request)
            if not identity.allows(endpoint.scope):
                raise ApiError(403, "insufficient_scope",
                               f"This needs a token with the scope '{endpoint.scope}'.",
                               {"required": endpoint.scope, "granted": sorted(identity.scopes)})
            headers = await _rate_limit(identity)
            if endpoint.personal_only and identity.is_service:
                raise ApiError(403, "personal_token_required",
                               "This acts as a person: use a personal token "
                               "(a service token reads only).")
            if identity.is_service and endpoint.scope == WRITE:
                raise ApiError(403, "personal_token_required",
                               "Service tokens read only: writes need a personal token.")
            directory = await current_directory()
            viewer = _viewer(identity, directory)
            params = read_params(endpoint, request)
            body, raw = await read_body(endpoint, request)
            call = Call(request, identity, viewer, directory, params, body)
            answer = await _answer(endpoint, call, raw)
        except ApiError as error:
            return error_response(error, headers)
        except Exception as exc:  # answered here, as JSON: nothing escapes to the web app
            reference = request_id(request)
            log.error("unhandled error on %s %s [request %s]", request.method,
                      request.url.path, reference, exc_info=exc,
                      extra={"request_id": reference})
            return json_response(500, error_body(
                "server_error", "Something went wrong; the error has been logged.",
                {"reference": reference}), {**headers, REQUEST_ID_HEADER: reference})
        return json_response(answer.status, answer.body, {**headers, **answer.headers})

    endpoint_function.__name__ = endpoint.operation_id
    return endpoint_function


async def _answer(endpoint: Endpoint, call: Call, raw: bytes) -> Answer:
    key = _idempotency_key(call.request) if endpoint.method in ("POST", "PUT") else None
    if key is None:
        return await _run(endpoint, call)
    token_id = call.identity.token_id
    request_hash = _request_hash(call.request, raw)
    earlier = await tokens.claim_idempotency_key(
        token_id, key, call.request.method, call.request.url.path, request_hash,
        tokens.wall_clock(),
    )
    if earlier is not None:
        if earlier.request_hash != request_hash:
            raise ApiError(
                422, "idempotency_key_reused",
                f"This {IDEMPOTENCY_HEADER} was used for a different request "
                f"({earlier.method} {earlier.path} with another body): use a new key for a "
                "new request.",
            )
        if earlier.status_code == tokens.IN_PROGRESS:
            raise ApiError(409, "idempotency_key_in_use",
                           f"A request with this {IDEMPOTENCY_HEADER} is still running: "
                           "try again in a moment.")
        return Answer(earlier.status_code, orjson.loads(earlier.body),
                      {"Idempotent-Replayed": "true"})
    try:
        answer = await _run(endpoint, call)
    except ApiError as error:
        if error.status >= 500 or error.status == 429:
            await tokens.release_idempotency_key(token_id, key)
        else:
            body = error_body(error.code, error.message, error.details)
            await tokens.store_answer(token_id, key, error.status, dumps(body).decode())
        raise
    except BaseException:
        await tokens.release_idempotency_key(token_id, key)
        raise
    await tokens.store_answer(token_id, key, answer.status, dumps(answer.body).decode())
    return answer


async def _run(endpoint: Endpoint, call: Call) -> Answer:
    try:
        return await endpoint.handler(call)
    except EngineError as exc:
        raise _engine_error(exc) from None
