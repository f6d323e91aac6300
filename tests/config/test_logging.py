"""Log lines: one JSON object per line for log collectors, or a plain line for people, each
naming the request it was logged for."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from config.logging import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    logging_config,
    request_id,
)


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "engine.workflow.runtime", logging.WARNING, __file__, 1, message, args, None
    )
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_time_level_logger_message_and_the_extra_fields():
    line = JsonFormatter().format(_record("task %s overdue", 7, task_id=7, person="E300"))

    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "engine.workflow.runtime"
    assert entry["message"] == "task 7 overdue"
    assert entry["task_id"] == 7 and entry["person"] == "E300"
    assert entry["timestamp"].endswith("Z")  # UTC, ISO 8601
    assert "request_id" not in entry  # logged outside any request


def test_a_record_logged_inside_a_request_names_it_even_when_formatted_later():
    record = _record("saved")
    token = request_id.set("4f1c9e")
    try:
        RequestIdFilter().filter(record)  # what the handler does as the record is logged
    finally:
        request_id.reset(token)

    assert json.loads(JsonFormatter().format(record))["request_id"] == "4f1c9e"
    line = TextFormatter().format(record)
    assert line.endswith("engine.workflow.runtime: saved [request 4f1c9e]")


def test_an_exception_travels_inside_its_json_line():
    try:
        raise ValueError("bad timer expression")
    except ValueError:
        record = _record("timer failed")
        record.exc_info = sys.exc_info()

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "ValueError: bad timer expression" in json.loads(line)["exception"]


def test_a_value_json_cannot_write_is_written_as_text():
    entry = json.loads(JsonFormatter().format(_record("x", when=NotImplemented)))

    assert entry["when"] == "NotImplemented"


def test_an_unknown_log_format_or_level_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config("yaml", "INFO")
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        logging_config("json", "LOUD")
    assert logging_config("text", "debug")["root"]["level"] == "DEBUG"
