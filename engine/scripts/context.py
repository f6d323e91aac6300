"""What a script function sees and how it is registered: the per-run script context (directory,
catalogs, clock, mocks, the records written so far) and the `@script_function` registry.

Kept apart from the sandbox so the library can register its functions without importing the
sandbox that runs them.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from engine.people.directory import DirectorySnapshot

F = TypeVar("F", bound=Callable[..., Any])


class ScriptError(Exception):
    """A script broke a sandbox rule or misused a library function."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"Line {line}: {message}" if line else message)


# --------------------------------------------------------------------------- per-run context


@dataclass
class ScriptContext:
    """What library functions may see during one engine run."""

    directory: DirectorySnapshot | None = None
    catalogs: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    now: datetime | None = None
    mocks: Mapping[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    # Whom records may be about: the instance's subject, and the people the task-data fields
    # named in the process's `records_about` setting hold ("data:about_id"). None: anyone (a
    # run without an instance, such as a script checked on its own).
    subject_id: int | None = None
    records_about: tuple[str, ...] | None = None
    # The data of the task whose script or expression is running (what `records_about` reads).
    task_data: Mapping[str, Any] | None = None

    def clock(self) -> datetime:
        """The context's fixed time, or the real time when none was given."""
        return self.now if self.now is not None else datetime.now(UTC)


_CURRENT: contextvars.ContextVar[ScriptContext | None] = contextvars.ContextVar(
    "sightline_script_context", default=None
)


@contextmanager
def script_context(
    directory: DirectorySnapshot | None = None,
    catalogs: Mapping[str, dict[str, Any]] | None = None,
    now: datetime | None = None,
    mocks: Mapping[str, Any] | None = None,
    *,
    subject_id: int | None = None,
    records_about: Iterable[str] | None = None,
) -> Iterator[ScriptContext]:
    """Make a directory, catalogs, clock and mocks visible to scripts run inside the block;
    with `records_about`, records may be written only about the subject and the people those
    task-data fields name."""
    ctx = ScriptContext(
        directory=directory, catalogs=catalogs or {}, now=now, mocks=mocks or {},
        subject_id=subject_id,
        records_about=tuple(records_about) if records_about is not None else None,
    )
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def current_context() -> ScriptContext:
    """The active script context; a ScriptError when no `script_context` block is active."""
    ctx = _CURRENT.get()
    if ctx is None:
        raise ScriptError("no script context is active (the caller must use script_context())")
    return ctx


def active_context() -> ScriptContext | None:
    """The active script context, or None outside any `script_context` block."""
    return _CURRENT.get()


# --------------------------------------------------------------------------- function registry

_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def script_function(fn: F) -> F:
    """Register `fn` under its own name for every script, condition and DMN cell."""
    name = fn.__name__

    @functools.wraps(fn)
    def mockable(*args: Any, **kwargs: Any) -> Any:
        ctx = _CURRENT.get()
        if ctx is not None and name in ctx.mocks:
            # A copy, so a script that mutates the result cannot change the next call's.
            return copy.deepcopy(ctx.mocks[name])
        return fn(*args, **kwargs)

    _FUNCTIONS[name] = mockable
    return fn


def script_functions() -> Mapping[str, Callable[..., Any]]:
    """Every registered script function by name (mock-aware wrappers)."""
    return types.MappingProxyType(_FUNCTIONS)
