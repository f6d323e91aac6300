"""Health checks: /health says the process is up; /health/ready says it can work (the database
answers and a worker is alive). Both answer without a login and write nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import Tortoise

from engine.base import clock
from engine.base import db as engine_db
from engine.operations.worker import HEARTBEAT_STALE, Worker, WorkerSettings


async def _every_row() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, to compare before and after."""
    rows = {}
    for name, model in sorted(Tortoise.apps["models"].items()):
        rows[name] = sorted(map(repr, await model.all().values()))
    return rows


async def test_ready_is_503_until_a_worker_says_it_is_alive(client):
    before = await client.get("/health/ready")

    assert before.status_code == 503
    assert before.json() == {
        "status": "not ready",
        "database": "ok",
        "worker": "no worker seen in the last 30 s",
    }
    assert before.headers["Cache-Control"] == "no-store"

    await Worker(WorkerSettings()).heartbeat()
    after = await client.get("/health/ready")

    assert after.status_code == 200
    assert after.json() == {"status": "ready", "database": "ok", "worker": "ok"}


async def test_a_worker_not_seen_for_longer_than_the_stale_limit_does_not_count(client):
    started = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with clock.frozen_at(started):
        await Worker(WorkerSettings()).heartbeat()
        assert (await client.get("/health/ready")).status_code == 200
    with clock.frozen_at(started + HEARTBEAT_STALE + timedelta(seconds=1)):
        stale = await client.get("/health/ready")

    assert stale.status_code == 503
    assert stale.json()["worker"] == "no worker seen in the last 30 s"


async def test_ready_names_the_database_when_it_is_gone_and_liveness_does_not_care(
    client, people, login
):
    await login(people["employee"])  # probes ignore the session, so they need no directory
    await Worker(WorkerSettings()).heartbeat()
    assert (await client.get("/health/ready")).status_code == 200

    await engine_db.disconnect()
    gone = await client.get("/health/ready")

    assert gone.status_code == 503
    body = gone.json()
    assert body["status"] == "not ready"
    assert body["database"].startswith("not answering")
    assert body["worker"] == "unknown (no database)"
    # Liveness: the process itself is fine, so it is not restarted for the database's sake.
    alive = await client.get("/health")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}


async def test_health_checks_answer_without_login_and_write_nothing(client, people, login):
    await Worker(WorkerSettings()).heartbeat()
    await login(people["hr"])
    before = await _every_row()

    answers = [await client.get(path) for path in ("/health", "/health/ready") * 2]
    client.cookies.clear()
    answers += [await client.get(path) for path in ("/health", "/health/ready")]

    assert [a.status_code for a in answers] == [200] * 6
    assert not any(a.headers.get("location") for a in answers)
    assert await _every_row() == before
