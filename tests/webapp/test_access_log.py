"""The access log: one line per request with method, path, status, duration and the request
id the response carries, and the same id on whatever the request logs meanwhile."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from config.logging import JsonFormatter, RequestIdFilter


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The app's `sightline.*` records as the JSON lines `sightline serve` writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("sightline")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def _noisy(request: Request) -> PlainTextResponse:
    logging.getLogger("sightline.web").warning("looked at task %s", 7, extra={"task_id": 7})
    return PlainTextResponse("done")


async def test_the_access_line_carries_the_request_id_of_the_response(client, json_log):
    response = await client.get("/login")

    (line,) = [entry for entry in _lines(json_log) if entry["logger"] == "sightline.access"]
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["path"] == "/login"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["message"].startswith("GET /login 200 ")


async def test_what_a_request_logs_carries_its_id(app, client, people, login, json_log):
    app.router.routes[:0] = [Route("/test/noisy", _noisy)]
    await login(people["employee"])

    response = await client.get("/test/noisy")
    rid = response.headers["X-Request-ID"]

    entries = [entry for entry in _lines(json_log) if entry.get("request_id") == rid]
    assert [entry["logger"] for entry in entries] == ["sightline.web", "sightline.access"]
    assert entries[0]["message"] == "looked at task 7" and entries[0]["task_id"] == 7
    assert entries[1]["user"] == people["employee"].upper()  # who asked, by person key


async def test_a_request_id_from_the_proxy_is_kept_and_a_malformed_one_replaced(
    client, json_log
):
    kept = await client.get("/login", headers={"X-Request-ID": "3f2a9c0d11e84b7f"})
    replaced = await client.get("/login", headers={"X-Request-ID": "a b\tc"})

    assert kept.headers["X-Request-ID"] == "3f2a9c0d11e84b7f"
    assert len(replaced.headers["X-Request-ID"]) == 32
    ids = [e["request_id"] for e in _lines(json_log) if e["logger"] == "sightline.access"]
    assert ids == ["3f2a9c0d11e84b7f", replaced.headers["X-Request-ID"]]


async def test_health_checks_are_logged_only_at_debug(client, json_log):
    await client.get("/health")
    await client.get("/health/ready")

    assert [e for e in _lines(json_log) if e["logger"] == "sightline.access"] == []
