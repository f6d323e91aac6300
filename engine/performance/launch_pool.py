"""Preparing a launch's instances on every core.

Preparing an instance — SpiffWorkflow building the workflow, running it to its first wait,
serialising it — is CPU work, nearly all of a launch's time. A launch of more than one chunk
prepares its chunks in a pool of worker processes (one per core by default), each holding the
version's parsed spec and the directory once, while the launching process writes the chunks
already prepared. A one-chunk launch is prepared on a thread of its own. Either way the event
loop stays free for requests.

Processes come from a fork server (`forkserver`): the pool never forks the launching process,
whose threads (database drivers, the event loop's executors) a fork would copy half-held.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.base import clock
from engine.base.db import models_without_connection
from engine.packs.definitions import Deployed, deployed_from
from engine.people.directory import DirectorySnapshot
from engine.workflow.store import Batch
from forms import limits

# Processes preparing a launch; 0 prepares on a thread of the launching process. The app and
# the command line set it from the LAUNCH_PROCESSES setting.
processes = os.cpu_count() or 1
# Chunks handed to the pool ahead of the one being written (per process).
AHEAD = 2


def configure(worker_processes: int) -> None:
    """How many processes prepare a launch (0: none, a thread instead)."""
    global processes
    processes = max(0, worker_processes)


@dataclass
class ChunkRequest:
    """One chunk of a launch: whom to start and with what."""

    definition_id: int
    subjects: list[int]
    data: dict[int, dict[str, Any]]
    actor: Any  # runtime.Actor
    cycle_id: int
    launch_job_id: int
    now: datetime | None = None


def prepare_chunk(dep: Deployed, directory: DirectorySnapshot, request: ChunkRequest) -> Batch:
    """Run each subject's new instance to its first wait; their writes, as one batch."""
    from engine.workflow import runtime

    batch = Batch()
    with clock.frozen_at(request.now) if request.now else nullcontext():
        for subject in request.subjects:
            runtime.start_in_batch(
                batch, dep, subject, request.actor, directory, request.data.get(subject),
                request.cycle_id, launch_job_id=request.launch_job_id,
            )
    return batch


# --- in a pool process -------------------------------------------------------------------------

_child: dict[str, Any] = {}


def _start_child(handover: str) -> None:
    models_without_connection()
    # Each process parses the version and reads the directory once, for the whole launch,
    # from a file: handed through the fork server's pipe instead, a big directory would hold
    # the launching process until each pool process has started and read it.
    with open(handover, "rb") as file:
        version, directory, bounds, zone = pickle.load(file)
    limits.configure(*bounds)
    clock.use_zone(zone)  # the emails it words say times as the launching process would
    _child["dep"] = deployed_from(**version)
    _child["directory"] = directory
    # What a process builds lives until its batch is sent back: the cyclic collector would
    # scan it again and again for nothing.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _prepare_in_child(request: ChunkRequest) -> Batch:
    return prepare_chunk(_child["dep"], _child["directory"], request)


def _handover(dep: Deployed, directory: DirectorySnapshot, folder: str) -> str:
    path = os.path.join(folder, "launch.pickle")
    with open(path, "wb") as file:
        bounds = (limits.cpu_seconds, limits.memory_bytes // 2**20)
        pickle.dump((dep.row_values(), directory, bounds, clock.zone_name()), file,
                    pickle.HIGHEST_PROTOCOL)
    return path


def _pool(handover: str, size: int) -> Executor:
    context = multiprocessing.get_context("forkserver")
    # The fork server imports the engine once; every pool process starts from it.
    context.set_forkserver_preload(["engine.performance.launch_pool", "engine.workflow.runtime"])
    return ProcessPoolExecutor(
        max_workers=size, mp_context=context, initializer=_start_child, initargs=(handover,),
    )


async def prepare(
    dep: Deployed, directory: DirectorySnapshot, requests: list[ChunkRequest]
) -> AsyncIterator[tuple[ChunkRequest, Batch]]:
    """Prepare the chunks, yielding each request with its batch, in order, as it is ready."""
    now = clock.frozen()
    for request in requests:
        request.now = now
    loop = asyncio.get_running_loop()
    if processes == 0 or len(requests) <= 1:
        for request in requests:
            yield request, await asyncio.to_thread(prepare_chunk, dep, directory, request)
        return
    size = min(processes, len(requests))
    scratch = tempfile.TemporaryDirectory(prefix="sightline-launch-")
    handover = await asyncio.to_thread(_handover, dep, directory, scratch.name)
    pool = _pool(handover, size)
    try:
        pending: list[tuple[ChunkRequest, asyncio.Future[Batch]]] = []
        queue = iter(requests)

        def submit() -> None:
            request = next(queue, None)
            if request is not None:
                pending.append(
                    (request, loop.run_in_executor(pool, _prepare_in_child, request))
                )

        # The first submissions start the pool's processes (and, the first time, the fork
        # server): a wait of a second or so, spent on a thread so the event loop serves on.
        for first in requests[:size]:
            next(queue)
            started = await asyncio.to_thread(pool.submit, _prepare_in_child, first)
            pending.append((first, asyncio.wrap_future(started)))
        for _ in range(size * (AHEAD - 1)):
            submit()
        while pending:
            request, future = pending.pop(0)
            batch = await future
            submit()
            yield request, batch
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        scratch.cleanup()
