"""/metrics: Prometheus text with the backlogs read from the database, this process's request
timings and the engine's counters — for the token holder or this machine only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.datastructures import Secret
from starlette.requests import Request
from starlette.routing import Route

from config import settings
from engine.base import clock
from engine.base.errors import Conflict
from engine.base.models import (
    Job,
    OutboxEmail,
    PendingMessage,
    ProcessDefinition,
    ProcessInstance,
    WorkerHeartbeat,
)
from engine.operations.health import Backlog
from engine.operations.worker import Worker, WorkerSettings
from tests.support.app import asgi_client
from webapp.metrics import BACKLOG_GAUGES

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def samples(text: str) -> dict[str, float]:
    """Sample name (with labels, as Prometheus shows them) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def _instance(definition: ProcessDefinition, status: str, timer_at: datetime | None) -> None:
    await ProcessInstance.create(
        definition=definition, process_id="appraisal", status=status, state=b"",
        next_timer_at=timer_at,
    )


async def _backlog_rows() -> None:
    definition = await ProcessDefinition.create(
        pack="standard", process_id="appraisal", version=1, content_hash="x", sources={}
    )
    # Due: two running instances, the earliest 10 minutes late. Not due: a future timer, a
    # completed instance with an old timer, an instance without timers.
    await _instance(definition, "running", NOW - timedelta(minutes=10))
    await _instance(definition, "running", NOW - timedelta(minutes=1))
    await _instance(definition, "running", NOW + timedelta(hours=1))
    await _instance(definition, "completed", NOW - timedelta(days=1))
    await _instance(definition, "running", None)
    for status in ("queued", "queued", "queued", "failed", "sent", "held"):
        await OutboxEmail.create(to="ada@example.com", subject="Task", body="…", status=status)
    for status in ("pending", "pending", "failed", "delivered"):
        await PendingMessage.create(name="ratings_released", kind="signal", status=status)
    for status, done, total in (("running", 30, 100), ("queued", 0, 20), ("done", 50, 50)):
        await Job.create(kind="launch", status=status, done=done, total=total, created_at=NOW)
    await Job.create(kind="other", status="running", done=1, total=2, created_at=NOW)
    await Worker(WorkerSettings()).heartbeat()
    await WorkerHeartbeat.create(  # gone for a day: not live
        name="worker:old", started_at=NOW - timedelta(days=1), seen_at=NOW - timedelta(hours=2)
    )


async def test_metrics_show_the_backlogs_in_the_database(client):
    with clock.frozen_at(NOW):
        await _backlog_rows()
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found["sightline_database_up"] == 1
    assert found["sightline_timers_due"] == 2
    assert found["sightline_timers_oldest_due_seconds"] == 600
    assert found["sightline_outbox_queued_emails"] == 3
    assert found["sightline_outbox_failed_emails"] == 1
    assert found["sightline_messages_pending"] == 2
    assert found["sightline_messages_failed"] == 1
    assert found["sightline_launches_active"] == 2
    assert found["sightline_launch_instances_done"] == 30
    assert found["sightline_launch_instances_total"] == 120
    assert found["sightline_workers_live"] == 1
    # The engine's counters of this process are there too.
    for counter in ("actions_reapplied", "conflicts", "message_delivery_retries"):
        assert f"sightline_{counter}_total" in found


async def test_every_backlog_number_has_a_gauge():
    assert set(BACKLOG_GAUGES) == set(Backlog.__dataclass_fields__)


async def test_metrics_still_answer_when_the_database_does_not(client):
    from engine.base import db as engine_db

    await engine_db.disconnect()
    response = await client.get("/metrics")

    assert response.status_code == 200
    found = samples(response.text)
    assert found["sightline_database_up"] == 0
    assert "sightline_timers_due" not in found
    assert "sightline_conflicts_total" in found


async def test_requests_are_timed_by_route_template_not_by_path(client, people, login):
    await login(people["employee"])

    def count(route: str, status: str) -> float:
        value = REGISTRY.get_sample_value(
            "sightline_http_request_duration_seconds_count",
            {"route": route, "method": "GET", "status": status},
        )
        return value or 0.0

    before = count("/tasks/{task_id}", "4xx")
    await client.get("/tasks/987654")
    await client.get("/tasks/987655")
    client.cookies.clear()
    redirected_before = count("/tasks/{task_id}", "3xx")
    await client.get("/tasks/987656")  # sent to log in before routing: still the same route

    assert count("/tasks/{task_id}", "4xx") == before + 2
    assert count("/tasks/{task_id}", "3xx") == redirected_before + 1
    assert "987654" not in (await client.get("/metrics")).text


async def _conflict(request: Request) -> None:
    raise Conflict("Already completed by Sam Patel")


async def test_a_conflict_answered_with_409_is_counted(app, client, people, login):
    app.router.routes[:0] = [Route("/test/conflict", _conflict)]
    await login(people["employee"])
    before = REGISTRY.get_sample_value("sightline_conflicts_total") or 0.0

    response = await client.get("/test/conflict")

    assert response.status_code == 409
    assert REGISTRY.get_sample_value("sightline_conflicts_total") == before + 1


async def test_metrics_need_the_token_when_one_is_set(client, monkeypatch):
    monkeypatch.setattr(settings, "METRICS_TOKEN", Secret("scrape-me-4711"))

    anonymous = await client.get("/metrics")
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
    right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-4711"})

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert "sightline_" not in anonymous.text
    assert wrong.status_code == 401
    assert right.status_code == 200 and "sightline_timers_due" in right.text


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("203.0.113.7", {}, 403),
        # Through a proxy on this machine: the proxy is local, the visitor is not.
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, 403),
    ],
)
async def test_without_a_token_metrics_answer_this_machine_only(
    app, client, monkeypatch, peer, headers, status
):
    monkeypatch.setattr(settings, "METRICS_TOKEN", Secret(""))
    async with asgi_client(app, address=peer, port=40000, raise_app_exceptions=True) as c:
        response = await c.get("/metrics", headers=headers)

    assert response.status_code == status
    assert ("sightline_timers_due" in response.text) == (status == 200)
