"""Logging in one place: one JSON object per line (or a plain line for people), with the id of
the request being served.

`sightline serve` hands `logging_config()` to uvicorn, which applies it in every process it
starts (`--workers N`); `sightline worker` calls `configure_logging()`; the app's lifespan
calls it only when nothing configured logging (the app served by another ASGI server). Tests
configure nothing: pytest's own handlers are in place, and records stay with pytest.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The id of the request this code runs for (set by the web app's request-id middleware), so
# every record logged while serving it — by the web layer or the engine — carries it.
request_id: ContextVar[str | None] = ContextVar("sightline_request_id", default=None)

FORMATS = ("json", "text")

# Attributes every LogRecord has; anything else on a record came through `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
    # uvicorn adds a coloured copy of its messages for its own formatter.
    "color_message",
}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None) or request_id.get()


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request's id while still in the request's context
    (a handler that formats later, elsewhere, would no longer see it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: timestamp, level, logger, message, request_id (inside a
    request), the fields given with `extra=`, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = _request_id(record)
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A record as a line for people: time, level, logger, message, [request id]."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = _request_id(record)
        if not rid:
            return line
        first, newline, rest = line.partition("\n")  # after the message, not the traceback
        return f"{first} [request {rid}]{newline}{rest}"


def logging_config(log_format: str | None = None, level: str | None = None) -> dict[str, Any]:
    """The `logging.config.dictConfig` dictionary (default: LOG_FORMAT, LOG_LEVEL): every
    record to stderr through one handler; uvicorn's loggers go there too, and uvicorn's access
    log is replaced by the app's own (`sightline.access`)."""
    from config import settings

    log_format = (log_format or settings.LOG_FORMAT).strip().lower()
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not '{log_format}'")
    level = (level or settings.LOG_LEVEL).strip().upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError(f"LOG_LEVEL '{level}' is not a logging level (DEBUG, INFO, WARNING …)")
    formatter = "config.logging.JsonFormatter" if log_format == "json" else (
        "config.logging.TextFormatter"
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"sightline": {"()": formatter}},
        "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "sightline",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_logging(log_format: str | None = None, level: str | None = None) -> None:
    """Send every log record to stderr as JSON lines or text (default: LOG_FORMAT, LOG_LEVEL)."""
    logging.config.dictConfig(logging_config(log_format, level))


def is_configured() -> bool:
    """Whether something (this module, uvicorn's --log-config, pytest) already set up logging."""
    return bool(logging.getLogger().handlers)
