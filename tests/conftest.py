"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Before anything imports config.settings: the app refuses the default SECRET_KEY, and the
# processes tests start (servers, workers) inherit this environment.
os.environ["SECRET_KEY"] = "test-suite-secret-key-not-for-any-deployment"
# The audit anchors of tests go nowhere outside the database (a test that wants a file sets
# one), never into the anchor file of a developer's own installation under data/.
os.environ["AUDIT_ANCHOR_FILE"] = ""
PG_URL = os.environ.get("SIGHTLINE_TEST_DATABASE_URL", "")


async def _fresh_postgres(base_url: str) -> tuple[str, str]:
    """Create a throwaway schema-free database on the test server; returns (url, name)."""
    import asyncpg

    name = f"sightline_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base_url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return base_url.rsplit("/", 1)[0] + "/" + name, name


async def _drop_postgres(base_url: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(base_url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# Every database test runs on SQLite, and on PostgreSQL too when the test server is configured.
DATABASES = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to an empty database that lives for one test."""
    if request.param == "postgres":
        url, name = await _fresh_postgres(PG_URL)
        yield url
        await _drop_postgres(PG_URL, name)
    else:
        yield f"sqlite://{tmp_path / 'sightline.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """A connected, empty database with every table; yields its URL."""
    from engine.base import db as engine_db

    await engine_db.create_schema(database_url)
    yield database_url
    await engine_db.disconnect()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A URL to an empty PostgreSQL database for one test; skipped, and listed as skipped in
    the summary, where no PostgreSQL is configured (SIGHTLINE_TEST_DATABASE_URL)."""
    if not PG_URL:
        pytest.skip("PostgreSQL is not configured: set SIGHTLINE_TEST_DATABASE_URL")
    url, name = await _fresh_postgres(PG_URL)
    yield url
    await _drop_postgres(PG_URL, name)


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[str]:
    """A connected, empty PostgreSQL database with every table; yields its URL."""
    from engine.base import db as engine_db

    await engine_db.create_schema(pg_url)
    yield pg_url
    await engine_db.disconnect()
