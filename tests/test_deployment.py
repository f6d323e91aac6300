"""Sightline as an organisation runs it: PostgreSQL, two web processes and a worker.

HR launches a cycle on one web process and follows it on the other; people work their tasks
through whichever process answers; the worker runs the launch. Everything the processes share
lives in the database, so each sees what the others did. Runs where SIGHTLINE_TEST_DATABASE_URL
names a PostgreSQL server (CI sets it), and is listed as skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from engine.base import db
from engine.base.models import HumanTask, Job, ProcessInstance
from engine.operations.demo import create_logins
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.workflow.audit import verify_chain
from tests.support.app import free_port, started
from tests.support.app import log_in as logging_in
from tests.support.org import TEAM as ORG

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK_LINK = re.compile(r'href="/tasks/(\d+)"')


@asynccontextmanager
async def deployment(database_url: str) -> AsyncIterator[list[str]]:
    """Two web processes (no worker of their own) and one `sightline worker`; yields the two
    base URLs once both answer and the worker is seen."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WORKER_IN_WEB": "false",
        "SECRET_KEY": "deployment-test-secret-key-of-some-length",
        "LOG_FORMAT": "text",
        "MESSAGE_POLL_SECONDS": "0.2",
        "TIMER_POLL_SECONDS": "1",
        "LAUNCH_PROCESSES": "0",
    }
    ports = [free_port(), free_port()]
    with tempfile.TemporaryDirectory() as logs:
        folder = Path(logs)
        with started([sys.executable, "-m", "webapp.cli", "worker"], env,
                     folder / "worker.log"), \
                started([sys.executable, "-m", "uvicorn", "webapp.app:app", "--host",
                         "127.0.0.1", "--port", str(ports[0])], env, folder / "web1.log"), \
                started([sys.executable, "-m", "uvicorn", "webapp.app:app", "--host",
                         "127.0.0.1", "--port", str(ports[1])], env, folder / "web2.log"):
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            async with httpx.AsyncClient() as probe:
                for base in bases:
                    for _ in range(300):
                        try:
                            ready = await probe.get(f"{base}/health/ready")
                        except httpx.TransportError:
                            ready = None
                        if ready is not None and ready.status_code == 200:
                            break
                        await asyncio.sleep(0.1)
                    else:
                        logs_text = "\n".join(p.read_text() for p in folder.glob("*.log"))
                        raise AssertionError(f"{base} never became ready:\n{logs_text}")
            yield bases


async def log_in(client: httpx.AsyncClient, base: str, username: str) -> None:
    answer = await logging_in(client, username, base=base)
    assert answer.status_code == 303, answer.text


async def task_in_inbox(client: httpx.AsyncClient, base: str, name: str) -> int:
    inbox = await client.get(f"{base}/inbox")
    assert name in inbox.text, inbox.text
    return int(TASK_LINK.search(inbox.text).group(1))  # type: ignore[union-attr]


async def submit(client: httpx.AsyncClient, base: str, task_id: int,
                 fields: dict[str, str]) -> httpx.Response:
    page = await client.get(f"{base}/tasks/{task_id}")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    return await client.post(f"{base}/tasks/{task_id}", data={
        "csrf_token": token, "_submit": "submit", **fields})


async def test_two_web_processes_and_a_worker_share_one_truth(pg_url: str) -> None:
    await db.upgrade(pg_url)
    await db.disconnect()
    await db.connect(pg_url)
    await import_org(ORG)
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    await db.disconnect()

    async with deployment(pg_url) as (web1, web2):
        async with httpx.AsyncClient() as hr, httpx.AsyncClient() as eve, \
                httpx.AsyncClient() as morgan:
            # HR launches on the first web process ...
            await log_in(hr, web1, "h1")
            form = await hr.get(f"{web1}/hr/cycles/new")
            token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
            launched = await hr.post(f"{web1}/hr/cycles/launch", data={
                "csrf_token": token, "process": "standard:objective_setting",
                "population": "unit", "unit": "ENG", "include_subunits": "yes",
                "cycle_name": "2027 objectives", "due_on": "",
                # HR confirms the count the confirmation page showed.
                "action": "launch", "confirm_count": "5"})
            assert launched.status_code == 303
            progress = launched.headers["location"] + "/progress"
            # ... and follows it on the second, while the worker runs it.
            for _ in range(300):
                fragment = await hr.get(f"{web2}{progress}", headers={"HX-Request": "true"})
                if "hx-trigger" not in fragment.text:
                    break
                await asyncio.sleep(0.1)
            assert "<strong>5</strong> instances of Objective setting" in fragment.text

            # Eve drafts through one process, Morgan reviews through the other.
            await log_in(eve, web2, "e1")
            draft = await task_in_inbox(eve, web2, "Draft objectives")
            sent = await submit(eve, web2, draft, {
                "objectives-0-kra": "Delivery", "objectives-0-title": "Ship billing",
                "objectives-0-target": "1", "objectives-0-weight": "100"})
            assert sent.status_code == 303
            await log_in(morgan, web1, "m1")
            review = await task_in_inbox(morgan, web1, "Review objectives")
            approved = await submit(morgan, web1, review, {"decision": "approve"})
            assert approved.status_code == 303
            # Eve sees what Morgan did, whichever process answers her.
            for base in (web1, web2):
                assert "Acknowledge objectives" in (await eve.get(f"{base}/inbox")).text

            for base in (web1, web2):
                ready = await hr.get(f"{base}/health/ready")
                assert ready.status_code == 200 and ready.json()["worker"] == "ok"

    await db.connect(pg_url)
    try:
        [job] = await Job.all()
        assert (job.status, job.attempts) == ("done", 1)
        assert await ProcessInstance.filter(status="running").count() == 5
        assert await HumanTask.filter(status="completed").count() == 2
        assert (await verify_chain()).ok
    finally:
        await db.disconnect()
