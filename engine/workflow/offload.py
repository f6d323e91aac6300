"""Where an action's CPU work runs: on the event loop while it is quick, on a thread otherwise.

A task completion takes a millisecond or two of CPU, less than a hop to a thread and back would
add to it, so it runs on the event loop — but under an inline budget (forms.limits.inline): an
action that spends INLINE_SECONDS there is stopped and run again from the start on a thread (it
has written nothing yet), so one slow or hostile script holds nobody else up. An instance that
needed a thread goes straight to one next time, and so do big ones (OFFLOAD_STATE_BYTES of
stored state). On a thread the evaluation limits of forms.limits still apply.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from engine.base.db import clears_on_connect
from engine.base.metrics import actions_moved_off_loop
from forms import limits

T = TypeVar("T")

INLINE_SECONDS = 0.05
OFFLOAD_STATE_BYTES = 8 * 1024


class _Heavy:
    """Instances whose last action needed a thread (the most recent few thousand)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.ids: OrderedDict[int, None] = OrderedDict()

    def add(self, instance_id: int) -> None:
        self.ids[instance_id] = None
        self.ids.move_to_end(instance_id)
        while len(self.ids) > self.size:
            self.ids.popitem(last=False)

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self.ids


heavy_instances = _Heavy()
clears_on_connect(heavy_instances.ids.clear)


async def run_off_loop_if_slow(
    work: Callable[[], T], *, heavy: bool = False, undo: Callable[[], Any] = lambda: None
) -> T:
    """Run `work` here under the inline budget, or on a thread when `heavy` or when it turns out
    slow (then `undo` first drops whatever the interrupted try left behind, and `work` starts
    again from the start)."""
    if not heavy:
        try:
            with limits.inline(INLINE_SECONDS):
                return work()
        except limits.RunElsewhere:
            actions_moved_off_loop.inc()
            undo()
    return await asyncio.to_thread(work)
