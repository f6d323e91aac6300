"""The engine's clock: real time, or a time tests and the CLI set explicitly; and the
organisation's time zone, in which people read and type times.

Moments are stored and compared in UTC. People see them in the organisation's zone (the
TIME_ZONE setting, an IANA name such as Europe/Berlin; UTC by default) and a time they type
without a zone (a datetime-local input) is a time of that zone: `local` and `from_local`
convert. BPMN timers stay in UTC (engine.base.internals).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_frozen: datetime | None = None
# Set once at start-up from the TIME_ZONE setting (the same in every process).
_zone: tzinfo = UTC


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


def time_zone(name: str) -> tzinfo:
    """The zone an IANA name ("Europe/Berlin", "UTC") stands for; ValueError naming it when
    there is none."""
    text = (name or "").strip()
    if text.upper() == "UTC" or not text:
        return UTC
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"TIME_ZONE {text!r} is not a time zone: use an IANA name such as "
                         "Europe/Berlin, America/New_York or UTC") from None


def use_zone(name: str) -> None:
    """Make `name` the organisation's zone (start-up, from the TIME_ZONE setting)."""
    global _zone
    _zone = time_zone(name)


@contextmanager
def in_zone(name: str) -> Iterator[None]:
    """The organisation's zone is `name` inside the block (tests)."""
    global _zone
    previous, _zone = _zone, time_zone(name)
    try:
        yield
    finally:
        _zone = previous


def zone() -> tzinfo:
    """The organisation's time zone."""
    return _zone


def zone_name() -> str:
    """The organisation's zone as people name it: "UTC", "Europe/Berlin"."""
    return "UTC" if _zone is UTC else str(getattr(_zone, "key", _zone))


def local(moment: datetime) -> datetime:
    """A moment as the organisation's clocks show it (a naive moment is UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(_zone)


def wall_time(moment: datetime, fmt: str = "%d %B %Y %H:%M") -> str:
    """A moment as text for a message, in the organisation's zone and naming it:
    "08 December 2026 10:00 Europe/Berlin"."""
    return f"{local(moment):{fmt}} {zone_name()}"


def from_local(moment: datetime) -> datetime:
    """A time someone typed, in UTC: without a zone it is the organisation's local time."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=_zone)).astimezone(UTC)
