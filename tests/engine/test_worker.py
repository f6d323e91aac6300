"""Workers as separate processes: killed mid-launch or mid-delivery they lose nothing, and two of
them never do the same thing twice.

The workers here are real `sightline worker` processes on the test database (SQLite file, and
PostgreSQL where configured), killed with SIGKILL — no chance to clean up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.base import clock
from engine.base.models import (
    AuditEvent,
    HumanTask,
    Job,
    MessageReceipt,
    OutboxEmail,
    PendingMessage,
    ProcessInstance,
)
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.performance import cycles
from engine.workflow import runtime
from engine.workflow.audit import verify_chain

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"
LAB = Path(__file__).resolve().parent / "runtime_pack"
LEASE_SECONDS = "2"


def people_csv(count: int) -> str:
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups",
             "H1,Hana HR,hana@example.com,HR,hr,HQ,Head office,,,hr",
             "M1,Morgan Lead,morgan@example.com,Lead,people_manager,HQ,Head office,,H1,"]
    lines += [f"P{i},Person {i},p{i}@example.com,Engineer,engineering,HQ,Head office,,M1,"
              for i in range(count)]
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def worker_process(database_url: str, **env: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A `sightline worker` on the database, stopped (or already killed) on exit."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEASE_SECONDS": LEASE_SECONDS,
        "TIMER_POLL_SECONDS": "0.2",
        "MESSAGE_POLL_SECONDS": "0.1",
        "AUDIT_ANCHOR_SECONDS": "0",
        "LAUNCH_PROCESSES": "0",
        **env,
    }
    # Its log goes to a file (a pipe nobody reads would fill and stop it).
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "worker"], cwd=ROOT, env=environment,
            stdout=log, stderr=log,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


async def until(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 90) -> Any:
    for _ in range(int(seconds / 0.05)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def test_a_worker_killed_mid_launch_leaves_nothing_visible_and_the_launch_resumes(
    db: str,
) -> None:
    await import_org(people_csv(1500))
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
    hr = await runtime.actor_for("H1")
    job = await cycles.enqueue_launch(
        "objective_setting", cycles.Population.of_unit("HQ"), cycle_name="2027 objectives",
        due_on=None, actor=hr, chunk_size=50,
    )

    async def part_written() -> bool:
        row = await Job.get(id=job.id)
        return row.status == "running" and 50 <= row.done < row.total

    async with worker_process(db) as first:
        await until(part_written, "the launch to be part written")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    # Killed mid-launch: some instances are written, staged; nobody sees a task or an email.
    assert await ProcessInstance.filter(status="launching").count() >= 50
    assert await HumanTask.filter(status="ready").count() == 0
    assert await OutboxEmail.exclude(status="held").count() == 0

    async def finished() -> Job | None:
        row = await Job.get(id=job.id)
        return row if row.status in ("done", "failed") else None

    async with worker_process(db):
        done = await until(finished, "the launch to finish after the restart")
    assert (done.status, done.attempts) == ("done", 2), done.error
    # Everyone exactly once, live, each with their draft in the inbox.
    subjects = Counter(await ProcessInstance.all().values_list("subject_id", flat=True))
    assert len(subjects) == 1502 and set(subjects.values()) == {1}
    assert await ProcessInstance.filter(status="running").count() == 1502
    assert await HumanTask.filter(status="ready", bpmn_id="draft_objectives").count() == 1502
    assert await HumanTask.exclude(status="ready").count() == 0
    assert done.result["instance_ids"] and len(done.result["instance_ids"]) == 1502
    assert (await verify_chain()).ok


async def test_a_thrown_signal_survives_its_thrower_and_a_killed_delivery(db: str) -> None:
    await import_org(people_csv(120))
    await deploy_pack(LAB, "test", search=[LAB.parent])
    hr = await runtime.actor_for("H1")
    listeners = [await runtime.start_process("listener", subject=f"P{i}", actor=hr)
                 for i in range(120)]
    # The announcer throws "cycle_closed" as it starts; the process that started it dies at
    # once, killed, right after the commit.
    script = (
        "import asyncio, os, signal, sys\n"
        "from engine.base import db\n"
        "from engine.workflow import runtime\n"
        "from engine.packs.loading import use_pack_folders\n"
        "async def main():\n"
        "    await db.connect(sys.argv[1])\n"
        "    hr = await runtime.actor_for('H1')\n"
        "    await runtime.start_process('announcer', subject='H1', actor=hr)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    thrower = subprocess.run([sys.executable, "-c", script, db], cwd=ROOT, timeout=60,
                             capture_output=True)
    assert thrower.returncode == -signal.SIGKILL, thrower.stderr.decode()
    [message] = await PendingMessage.all()
    assert message.status == "pending"

    async def some_received() -> bool:
        received = await MessageReceipt.filter(message_id=message.id).count()
        return 0 < received < 120

    async with worker_process(db) as deliverer:
        await until(some_received, "the delivery to be under way")
        deliverer.send_signal(signal.SIGKILL)
        deliverer.wait(timeout=10)

    async def delivered() -> bool:
        return (await PendingMessage.get(id=message.id)).status == "delivered"

    async with worker_process(db):
        await until(delivered, "the delivery to finish after the restart")
    # Every listener got it exactly once.
    for inst in listeners:
        assert await HumanTask.filter(instance_id=inst.id).count() == 1
    assert await MessageReceipt.filter(message_id=message.id).count() == 120
    assert (await PendingMessage.get(id=message.id)).received == 120
    assert (await verify_chain()).ok


async def test_two_workers_never_do_the_same_thing_twice(db: str) -> None:
    await import_org(people_csv(200))
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
    hr = await runtime.actor_for("H1")
    # 200 drafts started 30 days ago: each one's 10-day reminder is due.
    with clock.frozen_at(clock.now() - timedelta(days=30)):
        for i in range(200):
            await runtime.start_process("objective_setting", subject=f"P{i}", actor=hr)
    # And four launches of other cycles queued.
    jobs = [
        await cycles.enqueue_launch(
            "objective_setting", cycles.Population.of_people([f"P{i}" for i in range(k, 200, 4)]),
            cycle_name=f"Pilot {k}", due_on=None, actor=hr, chunk_size=20,
        )
        for k in range(4)
    ]

    async def all_done() -> bool:
        fired = await AuditEvent.filter(action="timer_fired").count()
        running = await Job.exclude(status__in=("done", "failed")).count()
        return fired >= 200 and running == 0

    async with worker_process(db), worker_process(db):
        await until(all_done, "both workers to finish")
        # Past the lease of whatever they claimed: a timer fired twice would show by now.
        await asyncio.sleep(float(LEASE_SECONDS) + 1)
    for job in jobs:
        row = await Job.get(id=job.id)
        assert (row.status, row.attempts) == ("done", 1), row.error
    # Each launch started its 50 people once.
    assert await ProcessInstance.filter(cycle__name__startswith="Pilot").count() == 200
    # Each reminder fired once, and sent one email.
    fired = Counter(await AuditEvent.filter(action="timer_fired").values_list(
        "instance_id", flat=True))
    assert len(fired) == 200 and set(fired.values()) == {1}
    reminders = Counter(await OutboxEmail.filter(subject__startswith="Reminder").values_list(
        "task_id", flat=True))
    assert len(reminders) == 200 and set(reminders.values()) == {1}
    assert (await verify_chain()).ok


def _store_hooks(module: str) -> set[str]:
    """The store hooks a fresh Python process has once it imported `module`."""
    code = (f"import {module}\nfrom engine.workflow import store\n"
            "print('\\n'.join(f'{h.__module__}.{h.__name__}' for h in store._before_apply))")
    env = {**os.environ, "SIGHTLINE_DEV": "true"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=True)
    return set(done.stdout.split())


def test_a_worker_has_every_store_hook_the_web_app_has() -> None:
    """A write has the same effects whichever process makes it: a training approval the
    worker carries through enrols its person as the web app's would."""
    web = _store_hooks("webapp.app")
    assert "engine.talent.training_enrolments._enrol_on_approval" in web
    assert web <= _store_hooks("engine.operations.worker")
