"""Migrations: a database made by the previous version upgrades to today's, audit trail intact."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise import connections
from tortoise.migrations.api import migrate

from engine.base import db as engine_db
from engine.base.models import AuditEvent, EventWait, PendingMessage, ProcessInstance
from engine.workflow.audit import verify_chain

split = importlib.import_module("engine.base.migrations.0002_runtime_for_an_organisation")


def marks(count: int) -> str:
    postgres = connections.get("default").capabilities.dialect == "postgres"
    return ", ".join(f"${i}" for i in range(1, count + 1)) if postgres else ", ".join(
        ["?"] * count
    )


async def insert(table: str, values: dict[str, Any]) -> None:
    columns = ", ".join(f'"{c}"' for c in values)
    await connections.get("default").execute_query(
        f'INSERT INTO "{table}" ({columns}) VALUES ({marks(len(values))})', list(values.values())
    )


async def an_older_database(url: str, tamper: bool = False) -> None:
    """A database at the first migration holding an instance waiting for a signal, a delivered
    message, and three audit events in the old single chain."""
    await migrate(config=engine_db.tortoise_config(url), target="models.0001_initial")
    await engine_db.disconnect()
    await engine_db.connect(url)
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    await insert("person", {"id": 1, "key": "E1", "name": "Eve", "email": "", "title": "",
                            "job_family": "", "active": True, "attributes": "{}"})
    await insert("process_definition", {
        "id": 1, "pack": "standard", "process_id": "p", "version": 1, "content_hash": "x",
        "title": "P", "pack_version": "1", "sources": "{}", "settings": "{}",
        "deployed_at": now, "deployed_by": "",
    })
    await insert("process_instance", {
        "id": 7, "definition_id": 1, "process_id": "p", "subject_id": 1, "title": "P",
        "status": "running", "state": b"", "version": 3, "waiting_for": "|ratings_released|",
        "started_by": "", "started_at": now, "updated_at": now,
    })
    await insert("pending_message", {"name": "ratings_released", "kind": "signal",
                                     "payload": "null", "correlations": "{}",
                                     "from_instance_id": 7, "created_at": now,
                                     "delivered": True})
    prev = split.GENESIS
    events = [("person:H1", "instance_started", 7, None, {"process": "p"}),
              ("person:E1", "task_completed", 7, 3, {"data": {"x": 1}}),
              ("person:H1", "ratings_calibrated", None, None, {"released": [7]})]
    for i, (actor, action, instance, task, detail) in enumerate(events, start=1):
        # Ids come from the table's sequence, as the old version's inserts took them.
        digest = split._old_hash(prev, now, actor, action, instance, task, detail)
        if tamper and i == 2:
            detail = {"data": {"x": 2}}  # edited after it was sealed
        await insert("audit_event", {"at": now, "actor": actor, "action": action,
                                     "instance_id": instance, "task_id": task,
                                     "detail": json.dumps(detail), "prev_hash": prev,
                                     "hash": digest})
        prev = digest
    await engine_db.disconnect()


@pytest.fixture
async def upgraded(database_url: str, request: pytest.FixtureRequest) -> Any:
    async def upgrade(tamper: bool = False) -> str:
        await an_older_database(database_url, tamper)
        applied = await engine_db.upgrade(database_url)
        assert applied[0] == "models.0002_runtime_for_an_organisation"
        await engine_db.disconnect()
        await engine_db.connect(database_url)
        return database_url

    yield upgrade
    await engine_db.disconnect()


async def test_an_older_database_upgrades_with_its_audit_chains_split(upgraded: Any) -> None:
    await upgraded()
    report = await verify_chain()
    assert report.ok, str(report)
    assert (report.checked, report.streams) == (4, 2)
    chain = await AuditEvent.filter(stream="instance:7").order_by("seq").values_list(
        "seq", "action")
    assert chain == [(1, "instance_started"), (2, "task_completed")]
    moved = await AuditEvent.get(stream="system", action="audit_chains_split")
    assert moved.detail == {"events": 3, "previous_chain": "intact"}
    instance = await ProcessInstance.get(id=7)
    assert instance.audit_seq == 2
    # Messages were delivered as they were thrown before: none is delivered again.
    assert await PendingMessage.filter(status="delivered").count() == 1
    # Delivery finds the waiting instance by its index.
    assert await EventWait.filter(name="ratings_released").values_list(
        "instance_id", flat=True) == [7]


async def test_an_old_chain_tampered_with_stays_on_record_after_the_upgrade(
    upgraded: Any,
) -> None:
    await upgraded(tamper=True)
    moved = await AuditEvent.get(stream="system", action="audit_chains_split")
    assert moved.detail["previous_chain"] == "event 2: content does not match its hash"


async def test_a_fresh_database_migrates_to_the_models(database_url: str) -> None:
    """Every table and column the models name exists after the migrations alone."""
    await engine_db.upgrade(database_url)
    await engine_db.disconnect()
    await engine_db.connect(database_url)
    try:
        from tortoise import Tortoise

        client = connections.get("default")
        for model in Tortoise.apps["models"].values():
            columns = ", ".join(f'"{c}"' for c in model._meta.fields_db_projection.values())
            await client.execute_query(
                f'SELECT {columns} FROM "{model._meta.db_table}" WHERE 1 = 0'
            )
    finally:
        await engine_db.disconnect()


async def test_a_database_with_goals_logins_and_emails_gains_the_new_columns(
    database_url: str,
) -> None:
    """A deployment upgraded after issue-sized releases keeps its rows: columns added to tables
    that hold data (a goal, a login, a sent email) get their defaults instead of failing."""
    await migrate(config=engine_db.tortoise_config(database_url),
                  target="models.0006_packs_in_the_database")
    await engine_db.disconnect()
    await engine_db.connect(database_url)
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    await insert("person", {"id": 1, "key": "E1", "name": "Eve", "email": "", "title": "",
                            "job_family": "", "active": True, "attributes": "{}"})
    await insert("user", {"id": 1, "username": "eve", "password_hash": "x", "person_id": 1,
                          "failed_logins": 0})
    await insert("cycle", {"id": 1, "name": "2026", "created_at": now})
    await insert("org_goal", {"id": 1, "cycle_id": 1, "title": "Grow", "description": "",
                              "weight": 1.0, "created_by": "", "created_at": now,
                              "updated_at": now})
    await insert("outbox_email", {"id": 1, "to": "eve@example.com", "subject": "s",
                                  "body": "b", "status": "sent", "attempts": 0,
                                  "created_at": now})
    await engine_db.disconnect()
    await engine_db.upgrade(database_url)
    await engine_db.connect(database_url)
    try:
        client = connections.get("default")
        user = (await client.execute_query_dict('SELECT "language", "daily_digest" FROM "user"'))
        goal = await client.execute_query_dict(
            'SELECT "title", "measure", "unit", "retired_by", "retired_at" FROM "org_goal"')
        email = await client.execute_query_dict('SELECT "body", "html" FROM "outbox_email"')
        assert user == [{"language": "", "daily_digest": False}] or user == [
            {"language": "", "daily_digest": 0}]
        assert goal == [{"title": "Grow", "measure": "", "unit": "", "retired_by": "",
                         "retired_at": None}]
        assert email == [{"body": "b", "html": None}]
    finally:
        await engine_db.disconnect()
