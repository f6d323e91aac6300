"""The worker: everything that is not a request.

It fires due timers, delivers thrown messages and signals, runs jobs (cycle launches), sends
the outbox over SMTP, anchors the audit chains and says it is alive. `sightline worker` runs
one as its own process, and any number of them may run at once against one database: every
duty claims its rows first (jobs, timers and messages with `FOR UPDATE SKIP LOCKED` on
PostgreSQL, emails with a conditional lease), so no two workers do the same thing. In the
embedded mode (`make run`) the web process runs one itself.

Each duty is its own loop: a long launch holds up neither timers nor emails. A duty that
fails logs and tries again at its next round; the worker never dies of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine.base import clock
from engine.base.models import AuditEvent, Job, WorkerHeartbeat
from engine.performance import cycles

# Imported for the store hook it registers: a write has the same effects in a worker as in a
# web process (a training approval enrols its person whichever process completes it).
from engine.talent import training_enrolments  # noqa: F401
from engine.workflow import audit, deliveries, jobs, notifications, runtime
from engine.workflow.store import record_event

log = logging.getLogger(__name__)

# A worker not seen for this long is taken for dead (the readiness check says so).
HEARTBEAT_STALE = timedelta(seconds=30)
# Heartbeats of workers gone this long are forgotten.
HEARTBEAT_FORGOTTEN = timedelta(days=1)

JobHandler = Callable[[Job], Awaitable[None]]


async def _run_launch(job: Job) -> None:
    await cycles.run_launch(job)


# What a worker does with each kind of job.
JOB_HANDLERS: dict[str, JobHandler] = {cycles.LAUNCH: _run_launch}


@dataclass
class WorkerSettings:
    """How often each duty runs (seconds; 0 switches it off) and where emails go."""

    timer_poll: float = 30.0
    message_poll: float = 1.0
    job_poll: float = 1.0
    outbox_poll: float = 5.0
    anchor_every: float = 300.0
    heartbeat_every: float = 5.0
    # None: emails wait in the outbox, where HR reads them.
    smtp: notifications.SmtpSettings | None = None
    # Webhooks and Slack / Teams messages; their links point at base_url.
    delivery_poll: float = 2.0
    base_url: str = "http://127.0.0.1:8000"
    # Whether webhooks and chat messages may go to addresses in private networks.
    private_networks: bool = False
    # The hour (engine clock) at which people who chose it get their daily digest.
    digest_hour: int = 7


@dataclass
class Worker:
    """One worker: a name, its settings, and what it has done (for logs and tests)."""

    settings: WorkerSettings = field(default_factory=WorkerSettings)
    name: str = field(default_factory=lambda: jobs.worker_name())
    done: dict[str, int] = field(default_factory=dict)

    # --- the duties, one round each ------------------------------------------------------------

    async def heartbeat(self) -> int:
        """Say this worker is alive (and forget workers long gone)."""
        now = clock.now()
        updated = await WorkerHeartbeat.filter(name=self.name).update(seen_at=now)
        if not updated:
            await WorkerHeartbeat.create(
                name=self.name, host=socket.gethostname(), pid=os.getpid(),
                started_at=now, seen_at=now,
            )
        await WorkerHeartbeat.filter(seen_at__lt=now - HEARTBEAT_FORGOTTEN).delete()
        return 1

    async def fire_timers(self) -> int:
        """Fire every due timer."""
        return await runtime.fire_due_timers()

    async def deliver_messages(self) -> int:
        """Deliver every due message and signal."""
        return await runtime.deliver_due_messages()

    async def run_jobs(self) -> int:
        """Run queued jobs (and jobs whose worker stopped) one after the other until none is
        left; returns how many ran."""
        ran = 0
        while (job := await jobs.claim(self.name, sorted(JOB_HANDLERS))) is not None:
            log.info("job %s (%s) started: %s", job.id, job.kind, job.title)
            try:
                await JOB_HANDLERS[job.kind](job)
            except jobs.JobLost:
                log.warning("job %s was taken over by another worker", job.id)
            ran += 1
        return ran

    async def send_emails(self) -> int:
        """Send due outbox emails over SMTP (when SMTP is configured), the day's digests
        gathered first once their hour has come."""
        if self.settings.smtp is None:
            return 0
        await notifications.queue_digests(self.settings.digest_hour)
        sent, _ = await notifications.send_due(self.settings.smtp)
        return sent

    async def send_deliveries(self) -> int:
        """POST due webhook and chat deliveries (engine.workflow.deliveries)."""
        return await deliveries.send_due(
            self.settings.base_url, allow_private=self.settings.private_networks)

    async def anchor_audit(self) -> int:
        """Anchor the audit chains that moved since the last anchor."""
        detail = await audit.anchor_detail()
        if detail is None:
            return 0
        await record_event("system:worker", "audit_anchored", detail=detail, stream=audit.ANCHOR)
        # The anchor's number and hash go outside the database too (audit.anchor_file).
        anchor = await AuditEvent.filter(stream=audit.ANCHOR).order_by("-seq").first()
        if anchor is not None:
            audit.record_anchor(anchor.seq, anchor.hash, anchor.at)
        return len(detail["heads"])

    # --- running ---------------------------------------------------------------------------------

    def duties(self) -> list[tuple[str, float, Callable[[], Awaitable[int]]]]:
        """(name, interval, round) of every duty that is switched on."""
        s = self.settings
        listed = [
            ("heartbeat", s.heartbeat_every, self.heartbeat),
            ("timers", s.timer_poll, self.fire_timers),
            ("messages", s.message_poll, self.deliver_messages),
            ("jobs", s.job_poll, self.run_jobs),
            ("emails", s.outbox_poll if s.smtp else 0, self.send_emails),
            ("deliveries", s.delivery_poll, self.send_deliveries),
            ("anchors", s.anchor_every, self.anchor_audit),
        ]
        return [duty for duty in listed if duty[1] > 0]

    async def run_once(self) -> dict[str, int]:
        """One round of every duty, in order (tests, `sightline worker --once`)."""
        for name, _, round_ in self.duties():
            self.done[name] = self.done.get(name, 0) + await round_()
        return dict(self.done)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run every duty on its own schedule until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        log.info("worker %s started: %s", self.name, ", ".join(d[0] for d in self.duties()))
        loops = [asyncio.create_task(self._loop(name, every, round_, stop), name=name)
                 for name, every, round_ in self.duties()]
        try:
            await stop.wait()
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await WorkerHeartbeat.filter(name=self.name).delete()
            log.info("worker %s stopped", self.name)

    async def _loop(
        self, name: str, every: float, round_: Callable[[], Awaitable[int]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                count = await round_()
            except Exception:
                log.exception("worker duty %s failed; trying again in %ss", name, every)
            else:
                self.done[name] = self.done.get(name, 0) + count
                if count and name != "heartbeat":
                    log.info("worker %s: %s %d", self.name, name, count)
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                pass


async def live_workers() -> list[WorkerHeartbeat]:
    """Workers seen within HEARTBEAT_STALE (what the readiness check wants at least one of)."""
    return await WorkerHeartbeat.filter(seen_at__gte=clock.now() - HEARTBEAT_STALE).order_by(
        "name"
    )


async def drain(worker: Worker | None = None, rounds: int = 10) -> dict[str, Any]:
    """Run rounds until a round does nothing (tests and rehearsals: "let the worker catch up")."""
    worker = worker or Worker(WorkerSettings(heartbeat_every=0, anchor_every=0))
    total: dict[str, int] = {}
    for _ in range(rounds):
        before = dict(worker.done)
        after = await worker.run_once()
        moved = {k: after[k] - before.get(k, 0) for k in after}
        for key, value in moved.items():
            total[key] = total.get(key, 0) + value
        if not any(moved.values()):
            break
    return total
