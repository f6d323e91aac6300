"""Jobs: work done outside any request — a cycle launch — kept as rows.

A job is queued by a page or the command line, claimed by one worker (`claim`), and held
while it runs by a lease the worker renews with each step of progress (`advance`); a worker
that dies stops renewing, and another worker takes the job up again once the lease runs out
(the job's handler resumes where the rows say it stopped). Jobs sharing a `key` never run at
once. Progress and outcome are columns, so every web process shows the same progress bar.

On PostgreSQL a claim locks the job row and skips rows another worker holds (`FOR UPDATE SKIP
LOCKED`); on SQLite the one writer at a time gives the same guarantee.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Any

from tortoise import connections

from engine.base import clock
from engine.base.db import Params
from engine.base.errors import Conflict
from engine.base.models import Job
from engine.workflow.store import Batch

log = logging.getLogger(__name__)

# How long a worker holds what it claimed — a job after its last sign of progress, due timers,
# a message it delivers — before another worker may take it over. The app and the command line
# set it from the LEASE_SECONDS setting.
LEASE = timedelta(minutes=2)
# A job whose worker stopped this many times is not tried again: its handler fails it.
MAX_ATTEMPTS = 3
STATUSES = ("queued", "running", "done", "failed")


def configure(lease_seconds: float) -> None:
    """How long a worker holds what it claimed (seconds)."""
    global LEASE
    LEASE = timedelta(seconds=lease_seconds)


class JobLost(Conflict):
    """Another worker took the job over (this one was presumed dead): stop working on it."""


def worker_name(role: str = "worker") -> str:
    """A name for this process's worker, unique across hosts and restarts."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    title: str,
    key: str = "",
    total: int = 0,
    created_by: str = "",
    creator_id: int | None = None,
    claimed_by: str | None = None,
) -> Job:
    """Queue a job (or, with `claimed_by`, hand it at once to that worker)."""
    now = clock.now()
    return await Job.create(
        kind=kind,
        key=key,
        title=title[:255],
        payload=payload,
        total=total,
        created_by=created_by,
        creator_id=creator_id,
        created_at=now,
        status="running" if claimed_by else "queued",
        worker=claimed_by or "",
        started_at=now if claimed_by else None,
        lease_until=now + LEASE if claimed_by else None,
        attempts=1 if claimed_by else 0,
    )


async def claim(worker: str, kinds: list[str]) -> Job | None:
    """Take the oldest job of these kinds that is queued, or whose worker stopped renewing it."""
    if not kinds:
        return None
    now = clock.now()
    p = Params()
    sql = (
        f'UPDATE "job" SET "status" = \'running\', "worker" = {p(worker)}, '
        f'"lease_until" = {p(now + LEASE)}, "attempts" = "attempts" + 1, '
        f'"started_at" = COALESCE("started_at", {p(now)}) '
        'WHERE "id" = (SELECT j."id" FROM "job" j '
        f'WHERE j."kind" IN ({", ".join(p(kind) for kind in kinds)}) '
        'AND (j."status" = \'queued\' '
        f'OR (j."status" = \'running\' AND j."lease_until" < {p(now)})) '
        'AND NOT EXISTS (SELECT 1 FROM "job" r WHERE r."key" = j."key" AND r."key" <> \'\' '
        f'AND r."id" <> j."id" AND r."status" = \'running\' AND r."lease_until" >= {p(now)}) '
        f'ORDER BY j."id" LIMIT 1{p.lock()}) RETURNING "id"'
    )
    rows = await connections.get("default").execute_query_dict(sql, p.values)
    if not rows:
        return None
    return await Job.get(id=rows[0]["id"])


def advance(batch: Batch, job: Job, done: int, **values: Any) -> None:
    """Add the job's progress (and a renewed lease) to `batch`, so it commits with the work it
    counts; the batch fails with JobLost if another worker took the job over meanwhile."""
    job.done = done
    lease = clock.now() + LEASE
    batch.update(
        Job,
        {"id": job.id, "worker": job.worker, "status": "running"},
        {"done": done, "lease_until": lease, **values},
        conflict="the job was taken over by another worker",
    )


async def save_progress(job: Job, done: int | None = None, **values: Any) -> None:
    """Record progress (or other columns) on its own and renew the lease."""
    from engine.workflow.store import apply

    batch = Batch()
    advance(batch, job, job.done if done is None else done, **values)
    try:
        await apply(batch)
    except Conflict:
        raise JobLost(f"job {job.id} was taken over by another worker") from None
    for name, value in values.items():
        setattr(job, name, value)


async def finish(job: Job, result: dict[str, Any], batch: Batch | None = None) -> None:
    """Mark the job done with its result (in `batch`, with the work's last writes, if given)."""
    from engine.workflow.store import apply

    own = batch or Batch()
    advance(own, job, job.done, status="done", result=result, finished_at=clock.now(),
            lease_until=None)
    try:
        await apply(own)
    except Conflict:
        raise JobLost(f"job {job.id} was taken over by another worker") from None
    job.status, job.result = "done", result


async def fail(job: Job, reason: str, batch: Batch | None = None) -> None:
    """Mark the job failed with the reason people read on its page."""
    from engine.workflow.store import apply

    own = batch or Batch()
    advance(own, job, job.done, status="failed", error=reason, finished_at=clock.now(),
            lease_until=None)
    try:
        await apply(own)
    except Conflict:
        raise JobLost(f"job {job.id} was taken over by another worker") from None
    job.status, job.error = "failed", reason
    log.warning("job %s (%s) failed: %s", job.id, job.kind, reason)
