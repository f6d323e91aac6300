"""`sightline serve` for an organisation: several web processes, the client's address and
scheme from the reverse proxy, JSON logs."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from config import settings
from webapp.cli import main


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `sightline serve` hands uvicorn, instead of serving."""
    seen: dict[str, Any] = {}

    def run(app: str, **options: Any) -> None:
        seen.update(options, app=app)

    monkeypatch.setattr(uvicorn, "run", run)
    return seen


def test_serve_trusts_the_configured_proxies_and_starts_the_workers_asked_for(
    served, monkeypatch
):
    monkeypatch.setattr(settings, "FORWARDED_ALLOW_IPS", "10.0.0.0/8,192.0.2.10")
    monkeypatch.setattr(settings, "LOG_FORMAT", "json")

    assert main(["serve", "--host", "0.0.0.0", "--port", "8001", "--workers", "4"]) == 0

    assert served["app"] == "webapp.app:app"  # an import string: each worker imports it
    assert (served["host"], served["port"], served["workers"]) == ("0.0.0.0", 8001, 4)
    assert served["proxy_headers"] is True
    assert served["forwarded_allow_ips"] == "10.0.0.0/8,192.0.2.10"
    formatter = served["log_config"]["formatters"]["sightline"]["()"]
    assert formatter == "config.logging.JsonFormatter"
    assert served["access_log"] is False  # the app writes its own, with the request id


def test_serve_refuses_a_wrong_log_format_or_worker_count_in_one_line(
    served, monkeypatch, capsys
):
    monkeypatch.setattr(settings, "LOG_FORMAT", "xml")
    assert main(["serve"]) == 1
    assert "LOG_FORMAT must be one of json, text" in capsys.readouterr().err

    monkeypatch.setattr(settings, "LOG_FORMAT", "text")
    assert main(["serve", "--workers", "0"]) == 1
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert served == {}
