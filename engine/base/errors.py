"""Errors the engine reports to people (CLI and web turn them into messages, not tracebacks)."""

from __future__ import annotations


class EngineError(Exception):
    """Base class: a problem with a clear message for the person who caused it."""


class NotFound(EngineError):
    """The process, instance, task or person does not exist (or is not visible)."""


class Conflict(EngineError):
    """Someone else acted first: the task was completed or the instance changed meanwhile."""


class NotAllowed(EngineError):
    """The person may not act on this task or start this process."""


class DeployError(EngineError):
    """A pack could not be deployed (validation failed); nothing was stored."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []
