"""Bounds on what a pack's scripts and templates may take: CPU time and memory per evaluation.

A pack is code its designer wrote: a loop that never ends, a regular expression that
backtracks for ever, `10 ** 10 ** 8` or `'x' * 10 ** 10` must stop that one evaluation with a
plain message, never the server. Three mechanisms together:

- a **CPU budget** per evaluation (`bounded`): the evaluated code calls `tick()` on every loop
  turn and function call (scripts are instrumented when compiled, templates through their
  iterators and calls), and `tick()` raises `LimitExceeded` once the thread has spent the
  budget's CPU time;
- **size guards** for the operations that can build a huge value in one step, before they
  build it: `*`, `+`, `**`, `<<` on numbers, strings and sequences (`guarded_binop`), `range`,
  padding widths;
- a **memory check** in `tick()` every few hundred turns: the process's resident memory may
  not grow by more than the budget's bytes during the evaluation.

The limits are settings (SCRIPT_CPU_SECONDS, SCRIPT_MEMORY_MB); the app and the command line
set them with `configure`. An evaluation may also be given a shorter *inline* budget: past it,
`RunElsewhere` asks the caller to run the whole action again where a long run holds nobody up
(the engine moves it off the event loop, see engine.workflow.runtime).
"""

from __future__ import annotations

import math
import operator
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# CPU seconds and bytes of memory one evaluation may take.
cpu_seconds = 2.0
memory_bytes = 256 * 1024 * 1024
# The most items a range may have, and the most digits an integer may have.
MAX_RANGE = 1_000_000
MAX_INT_BITS = 64_000
# How many ticks pass between two looks at the clock and the memory (a look costs a few
# microseconds; a loop appending 100 KB a turn grows by 25 MB between two).
_CHECK_EVERY = 256
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def configure(cpu: float, memory_mb: int) -> None:
    """The limits of one evaluation: CPU seconds and megabytes of memory."""
    global cpu_seconds, memory_bytes
    cpu_seconds, memory_bytes = float(cpu), int(memory_mb) * 1024 * 1024


class LimitExceeded(Exception):
    """An evaluation went past its CPU time or memory, or asked for a value too big to build."""


class RunElsewhere(Exception):
    """An evaluation went past its inline budget: run the action again off the event loop."""


@dataclass
class _Budget:
    what: str
    deadline: float
    inline_deadline: float | None
    # The process's resident memory when the evaluation's first check came (None before it:
    # most evaluations end before one, and never pay for reading it).
    memory_start: int | None = None
    ticks: int = 0


_local = threading.local()


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def bounded(what: str) -> Iterator[None]:
    """Run one evaluation (of `what`, e.g. "script 'Compute score'") under the limits; an
    evaluation inside another keeps the outer budget."""
    outer: _Budget | None = getattr(_local, "budget", None)
    if outer is not None:
        yield
        return
    inline: float | None = getattr(_local, "inline_deadline", None)
    _local.budget = _Budget(what, time.thread_time() + cpu_seconds, inline)
    try:
        yield
        check_memory()
    finally:
        _local.budget = None


@contextmanager
def inline(seconds: float) -> Iterator[None]:
    """Give the evaluations inside the block, all together, `seconds` of CPU time before they
    raise RunElsewhere (the caller runs the work again where a long run holds nobody up)."""
    previous = getattr(_local, "inline_deadline", None)
    _local.inline_deadline = time.thread_time() + seconds
    try:
        yield
    finally:
        _local.inline_deadline = previous


def tick() -> None:
    """A loop turn or a call in evaluated code: stop it once it has spent its budget."""
    budget: _Budget | None = getattr(_local, "budget", None)
    if budget is None:
        return
    budget.ticks += 1
    if budget.ticks % _CHECK_EVERY:
        return
    spent = time.thread_time()
    if budget.inline_deadline is not None and spent > budget.inline_deadline:
        raise RunElsewhere(budget.what)
    if spent > budget.deadline:
        raise LimitExceeded(f"{budget.what} ran longer than {_seconds(cpu_seconds)}")
    check_memory()


def check_memory() -> None:
    """Stop the evaluation if the process grew by more than the memory budget during it."""
    budget: _Budget | None = getattr(_local, "budget", None)
    if budget is None or budget.ticks < _CHECK_EVERY:
        return  # too short to have grown much: what one step can build is size-guarded
    if budget.memory_start is None:
        budget.memory_start = _resident_bytes()
        return
    grown = _resident_bytes() - budget.memory_start
    if grown > memory_bytes:
        raise LimitExceeded(f"{budget.what} used more than {memory_bytes // 2**20} MB")


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _what() -> str:
    budget: _Budget | None = getattr(_local, "budget", None)
    return budget.what if budget is not None else "the evaluation"


def _too_big(description: str) -> LimitExceeded:
    return LimitExceeded(f"{_what()} would build {description}, more than it may")


# --- size guards ------------------------------------------------------------------------------


def _bits(value: int) -> int:
    return abs(value).bit_length()


def _sized(value: Any) -> int | None:
    """Bytes a string, bytes or sequence takes (None for other values)."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, list | tuple):
        return len(value) * 8
    return None


# A value at least this big is checked against what the evaluation has already taken. Smaller
# ones are caught by the check every _CHECK_EVERY turns: between two checks a loop can add at
# most _CHECK_EVERY values under _BIG (16 MB), so the budget is overshot by little.
_BIG = 64 * 1024


def _check_bytes(estimate: float) -> None:
    if estimate > memory_bytes:
        raise _too_big(f"a value of {estimate / 2**20:,.0f} MB")
    budget: _Budget | None = getattr(_local, "budget", None)
    if estimate >= _BIG and budget is not None:
        # Many big values in a few turns would pass each on its own: count them against the
        # memory the evaluation has grown by so far.
        now = _resident_bytes()
        if budget.memory_start is None:
            budget.memory_start = now
        elif now - budget.memory_start + estimate > memory_bytes:
            raise LimitExceeded(f"{budget.what} used more than {memory_bytes // 2**20} MB")


def _check_int(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise _too_big(f"a number of {bits * math.log10(2):,.0f} digits")


def guarded_mult(left: Any, right: Any) -> Any:
    """`left * right`, refused when the result would be too big to build."""
    if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool):
        _check_int(_bits(left) + _bits(right))
    else:
        for seq, times in ((left, right), (right, left)):
            size = _sized(seq)
            if size is not None and isinstance(times, int):
                _check_bytes(size * max(times, 0))
    return operator.mul(left, right)


def guarded_add(left: Any, right: Any) -> Any:
    """`left + right`, refused when two sequences would join into one too big to build."""
    a, b = _sized(left), _sized(right)
    if a is not None and b is not None:
        _check_bytes(a + b)
    return operator.add(left, right)


def guarded_pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    """`base ** exponent` (or pow with a modulo), refused when the integer would be too big."""
    if modulo is None and isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1:
            _check_int(exponent * max(_bits(base) - 1, 1))
    return pow(base, exponent) if modulo is None else pow(base, exponent, modulo)


def guarded_lshift(left: Any, right: Any) -> Any:
    """`left << right`, refused when the integer would be too big."""
    if isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_int(_bits(left) + right)
    return operator.lshift(left, right)


# Widths and precisions in a format spec or a %-format: each one a number of characters.
_SPEC_NUMBERS = re.compile(r"(\d+)")
_PERCENT_FIELDS = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d*)(?:\.(\*|\d*))?[a-zA-Z%]")


def guarded_format(value: Any, spec: str = "", conversion: int = -1) -> str:
    """`format(value, spec)` (an f-string field), refused when the spec pads or extends the
    text beyond the memory budget. `conversion` is an f-string's !s / !r / !a."""
    if conversion == ord("s"):
        value = str(value)
    elif conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("a"):
        value = ascii(value)
    spec = str(spec)
    for number in _SPEC_NUMBERS.findall(spec):
        if len(number) > 12:
            raise _too_big(f"a text {number[:6]}… characters wide")
        check_width(int(number))
    return format(value, spec)


def guarded_mod(left: Any, right: Any) -> Any:
    """`left % right`: for %-formatting, refused when a width or precision would build text
    beyond the memory budget."""
    if isinstance(left, str | bytes):
        text = left.decode("latin-1") if isinstance(left, bytes) else left
        values = right if isinstance(right, tuple) else (right,)
        for width, precision in _PERCENT_FIELDS.findall(text):
            for number in (width, precision):
                if number == "*":
                    for item in values:
                        if isinstance(item, int):
                            check_width(item)
                elif number:
                    check_width(int(number[:13]))
    return operator.mod(left, right)


BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": guarded_mult, "+": guarded_add, "**": guarded_pow, "<<": guarded_lshift,
    "%": guarded_mod,
}


def guarded_binop(op: str, left: Any, right: Any) -> Any:
    """One of the guarded binary operations by its symbol."""
    return BINOPS[op](left, right)


class _TickingRange:
    """A range whose iteration ticks, and which may not be longer than MAX_RANGE."""

    def __init__(self, *args: int) -> None:
        self.range = range(*args)
        if len(self.range) > MAX_RANGE:
            raise _too_big(f"a range of {len(self.range):,} items (at most {MAX_RANGE:,})")

    def __iter__(self) -> Iterator[int]:
        for value in self.range:
            tick()
            yield value

    def __len__(self) -> int:
        return len(self.range)

    def __getitem__(self, index: Any) -> Any:
        return self.range[index]

    def __contains__(self, value: object) -> bool:
        return value in self.range

    def __reversed__(self) -> Iterator[int]:
        for value in reversed(self.range):
            tick()
            yield value

    def __repr__(self) -> str:
        return repr(self.range)


def bounded_range(*args: int) -> _TickingRange:
    """`range` for evaluated code: at most MAX_RANGE items, each turn of a loop over it ticks."""
    return _TickingRange(*args)


def ticking(iterable: Any) -> Iterator[Any]:
    """An iterator over `iterable` whose every step ticks."""
    for item in iterable:
        tick()
        yield item


def check_width(width: int) -> None:
    """Refuse padding a string to more than the memory budget allows."""
    _check_bytes(width)
