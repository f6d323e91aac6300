"""The engine's clock: real time, or a time tests and the CLI set explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """The current time (UTC, aware)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def frozen() -> datetime | None:
    """The simulated time set with frozen_at (None: real time), to hand to another process."""
    return _frozen


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Make `now()` return `moment` inside the block (simulated time, no sleeping)."""
    global _frozen
    previous, _frozen = _frozen, moment.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous
