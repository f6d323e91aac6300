"""The OpenAPI 3.1 document, written from the endpoints' own declarations, and the docs page
drawn from that document (server-rendered, no scripts from anywhere)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from webapp.api.core import (
    BASE,
    IDEMPOTENCY_HEADER,
    JSON,
    READ,
    WRITE,
    Endpoint,
    json_response,
)
from webapp.api.schemas import COMPONENTS, ref

TITLE = "Sightline REST API"
VERSION = "1.0.0"
TAGS = [
    ("People", "The directory: people and org units."),
    ("Tasks", "The token's person's tasks: read the form, save a draft, complete."),
    ("Instances", "Processes: start one, read where it stands and its timeline."),
    ("Results", "Records, score cards and in-year KPI actuals."),
    ("Cycles", "Performance cycles: list; for HR, launch and follow."),
]
ERRORS = {
    400: "A parameter, the JSON or the Idempotency-Key is malformed.",
    401: "No token, or one that is unknown, revoked or expired.",
    403: "The token lacks the scope, or is a service token where a person must act.",
    404: "There is nothing here, or the token's person may not see it.",
    409: "It changed meanwhile (completed by someone else), or the same Idempotency-Key is "
         "still running.",
    413: "The body is larger than 1 MiB.",
    415: "The body is not JSON.",
    422: "The body does not fit (the details say where), the engine refused it, or the "
         "Idempotency-Key was used for another request.",
    429: "Too many requests for this token: wait Retry-After seconds.",
}
EXAMPLE_VALUES = {"task_id": "123", "instance_id": "45", "cycle_id": "1", "launch_id": "7",
                  "key": "E1021", "person_key": "E1021"}


def _error_response(status: int) -> JSON:
    response: JSON = {
        "description": ERRORS[status],
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status == 429:
        response["headers"] = {"Retry-After": {
            "description": "Seconds until the token's next window.", "required": True,
            "schema": {"type": "integer"}}}
    return response


def _operation(endpoint: Endpoint) -> JSON:
    statuses = {400, 401, 403, 429, *endpoint.errors}
    if endpoint.body is not None:
        statuses |= {413, 415, 422}
    if endpoint.method in ("POST", "PUT"):
        statuses |= {409, 422}
    responses: JSON = {
        str(status): {"description": description,
                      "content": {"application/json": {"schema": schema}}}
        for status, (description, schema) in endpoint.responses.items()
    }
    responses.update({str(s): _error_response(s) for s in sorted(statuses)})
    parameters: list[JSON] = [
        {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
         "description": p.description, "schema": p.schema}
        for p in endpoint.params
    ]
    if endpoint.method in ("POST", "PUT"):
        parameters.append({
            "name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
            "description": "Makes a retry safe: the same key with the same request returns "
                           "the first answer instead of writing twice.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 128,
                       "pattern": "^[\\x21-\\x7e][\\x20-\\x7e]*$"},
        })
    operation: JSON = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": endpoint.description + f"\n\nScope: `{endpoint.scope}`"
        + (" (personal tokens only)." if endpoint.personal_only else "."),
        "tags": [endpoint.tag],
        "parameters": parameters,
        "responses": responses,
        "security": [{"bearerAuth": [endpoint.scope]}],
    }
    if endpoint.body is not None:
        content: JSON = {"schema": endpoint.body}
        if endpoint.body_example is not None:
            content["example"] = endpoint.body_example
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": content}}
    return operation


def openapi_document(endpoints: Sequence[Endpoint]) -> JSON:
    """The OpenAPI 3.1 document of these endpoints."""
    paths: JSON = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Read people, tasks, processes and results, and write what the "
            "pages write, with a bearer token (make one at /account/tokens). Every call has "
            "the rights of the token's person; docs/api.md has the whole story.",
        },
        "servers": [{"url": BASE}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": f"A personal or service token; scopes `{READ}` (read) and "
                f"`{WRITE}` (read and write).",
            }},
        },
    }


# -- the docs page ----------------------------------------------------------------------------


def _example_path(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: EXAMPLE_VALUES.get(m.group(1), "1"), path)


def curl_example(endpoint: Endpoint, origin: str) -> str:
    """A curl command for the endpoint that a person can paste ($SIGHTLINE_TOKEN set)."""
    url = f"{origin}{BASE}{_example_path(endpoint.path)}"
    if endpoint.method == "GET" and any(p.name == "limit" for p in endpoint.params):
        url += "?limit=10"
    lines = [f"curl -sS {'-X ' + endpoint.method + ' ' if endpoint.method != 'GET' else ''}"
             f"'{url}'", '  -H "Authorization: Bearer $SIGHTLINE_TOKEN"']
    if endpoint.body is not None:
        lines.append("  -H 'Content-Type: application/json'")
        lines.append(f"  -H '{IDEMPOTENCY_HEADER}: '\"$(uuidgen)\"")
        lines.append(f"  -d '{json.dumps(endpoint.body_example or {})}'")
    return " \\\n".join(lines)


def _schema_text(schema: JSON) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False)


def docs_context(endpoints: Sequence[Endpoint], origin: str) -> dict[str, Any]:
    """What the docs page shows, read from the document."""
    document = openapi_document(endpoints)
    groups = []
    for name, text in TAGS:
        operations = []
        for endpoint in endpoints:
            if endpoint.tag != name:
                continue
            operation = document["paths"][endpoint.path][endpoint.method.lower()]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            operations.append({
                "endpoint": endpoint,
                "anchor": endpoint.operation_id,
                "operation": operation,
                "body_schema": _schema_text(body["schema"]) if body else None,
                "responses": [
                    (status, response["description"],
                     _schema_text(response["content"]["application/json"]["schema"]))
                    for status, response in operation["responses"].items()
                    if int(status) < 300
                ],
                "errors": [(status, response["description"])
                           for status, response in operation["responses"].items()
                           if int(status) >= 300],
                "curl": curl_example(endpoint, origin),
            })
        groups.append({"name": name, "text": text, "operations": operations})
    schemas = [(name, _schema_text(schema)) for name, schema in COMPONENTS.items()]
    return {"document": document, "groups": groups, "schemas": schemas, "base": BASE,
            "origin": origin}


def openapi_endpoint(endpoints: Sequence[Endpoint]) -> Any:
    """GET /api/v1/openapi.json."""
    document = openapi_document(endpoints)

    async def serve_document(request: Request) -> Response:
        return json_response(200, document)

    return serve_document


def docs_endpoint(endpoints: Sequence[Endpoint]) -> Any:
    """GET /api/v1/docs: the reference, as a page."""

    async def serve_docs(request: Request) -> Response:
        from webapp.templating import templates

        origin = str(request.base_url).rstrip("/")
        html = templates.env.get_template("api_docs.html").render(
            **docs_context(endpoints, origin))
        return HTMLResponse(html)

    return serve_docs
