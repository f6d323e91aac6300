"""What the people running Sightline watch: whether it can serve, and what is waiting.

`readiness()` answers the load balancer's question (does the database answer, is a worker
alive); `backlog()` counts the work waiting in the database — due timers, queued and failed
emails and messages, launches under way, live workers. Both only read, so any number of web
processes may ask as often as they like; the web app serves them as `/health/ready` and
`/metrics`, and the command line may print them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.functions import Count

from engine.base import clock
from engine.base.models import Job, OutboxEmail, PendingMessage, ProcessInstance
from engine.operations.worker import HEARTBEAT_STALE, live_workers
from engine.performance.cycles import LAUNCH

log = logging.getLogger(__name__)

OK = "ok"
# A database that has not answered by then is as good as down for a load balancer.
CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Readiness:
    """Whether this installation can serve: "ok", or what is wrong, for each thing it needs."""

    database: str
    worker: str

    @property
    def ready(self) -> bool:
        """Both the database and a worker are there."""
        return self.database == OK and self.worker == OK


@dataclass(frozen=True)
class Backlog:
    """Work waiting in the database, as one moment's counts (the same from every process)."""

    # Running instances whose next timer is due, and how late the earliest of them is.
    timers_due: int
    timers_oldest_due_seconds: float
    emails_queued: int
    emails_failed: int
    messages_pending: int
    messages_failed: int
    # Cycle launches queued or running, and their instances prepared so far out of all.
    launches: int
    launch_done: int
    launch_total: int
    workers_live: int


async def _select_one() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def readiness(timeout: float = CHECK_TIMEOUT) -> Readiness:
    """Ask the database a real question and look for a live worker; never writes."""
    try:
        await asyncio.wait_for(_select_one(), timeout)
    except TimeoutError:
        log.warning("readiness: the database did not answer within %g s", timeout)
        return Readiness(f"no answer within {timeout:g} s", "unknown (no database)")
    except Exception as exc:  # whatever the driver raises: the point is it did not answer
        # The reason (host names, addresses) goes to the log, not to whoever asked.
        log.warning("readiness: the database did not answer: %s", exc)
        return Readiness(f"not answering ({type(exc).__name__})", "unknown (no database)")
    try:
        workers = await asyncio.wait_for(live_workers(), timeout)
    except Exception as exc:  # it answers, but not with Sightline's tables
        log.warning("readiness: the worker heartbeats could not be read: %s", exc)
        return Readiness(
            f"answers, but its tables cannot be read ({type(exc).__name__}): is it migrated?",
            "unknown (no database)",
        )
    if not workers:
        seconds = HEARTBEAT_STALE.total_seconds()
        return Readiness(OK, f"no worker seen in the last {seconds:g} s")
    return Readiness(OK, OK)


async def backlog() -> Backlog:
    """Count what waits on the worker and on people outside the app; never writes."""
    now = clock.now()
    due = ProcessInstance.filter(status="running", next_timer_at__lte=now)
    timers_due = await due.count()
    earliest: list[Any] = await due.order_by("next_timer_at").limit(1).values_list(
        "next_timer_at", flat=True
    )
    emails = await _count_by_status(OutboxEmail, ("queued", "failed"))
    messages = await _count_by_status(PendingMessage, ("pending", "failed"))
    launches = await Job.filter(kind=LAUNCH, status__in=("queued", "running")).values_list(
        "done", "total"
    )
    return Backlog(
        timers_due=timers_due,
        timers_oldest_due_seconds=(
            max((now - earliest[0]).total_seconds(), 0.0) if earliest else 0.0
        ),
        emails_queued=emails["queued"],
        emails_failed=emails["failed"],
        messages_pending=messages["pending"],
        messages_failed=messages["failed"],
        launches=len(launches),
        launch_done=sum(done for done, _ in launches),
        launch_total=sum(total for _, total in launches),
        workers_live=len(await live_workers()),
    )


async def _count_by_status(
    model: type[OutboxEmail] | type[PendingMessage], statuses: tuple[str, ...]
) -> dict[str, int]:
    rows = (
        await model.filter(status__in=statuses)
        .annotate(n=Count("id"))
        .group_by("status")
        .values_list("status", "n")
    )
    counts = dict.fromkeys(statuses, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts
