"""The app under test, in its own process: started on a free port, stopped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIVE_APP = Path(__file__).resolve().parent / "live_app.py"
SERVER_START_SECONDS = 60


def _read_port(server: subprocess.Popen[str]) -> int:
    """The port the server announces; fails with its output when it dies or stays silent."""
    found: list[str] = []
    seen: list[str] = []

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            seen.append(line)
            if line.startswith("PORT "):
                found.append(line.split()[1])
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(SERVER_START_SECONDS)
    if not found:
        server.kill()
        output = "".join(seen) + (server.stdout.read() if server.stdout else "")
        pytest.fail(f"the test server did not start:\n{output}")
    return int(found[0])


@contextmanager
def serving(script: Path, args: list[str], log: Path, env: dict[str, str] | None = None
            ) -> Iterator[str]:
    """`python script *args`, a server that prints "PORT n" once it listens, in its own
    process; yields its base URL, stops it afterwards and prints its log (where server-side
    errors go) with the test's output."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TIMER_POLL_SECONDS": "0",
                   "SMTP_HOST": "", **(env or {})}
    with log.open("w") as errors:
        server = subprocess.Popen(
            [sys.executable, str(script), *args],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            try:
                port = _read_port(server)
            except BaseException:
                print(log.read_text())
                raise
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if server.stdout:
                server.stdout.close()
    server_log = log.read_text()
    if server_log.strip():
        print(f"--- test server log ---\n{server_log}")


@contextmanager
def running_app(tmp_path_factory: pytest.TempPathFactory, scenario: str) -> Iterator[str]:
    """The real app in its own process on a fresh SQLite database prepared by live_app.py's
    `scenario`; yields its base URL and prints the server's log afterwards."""
    database = tmp_path_factory.mktemp(scenario) / "sightline.db"
    with serving(LIVE_APP, [str(database), scenario], database.with_suffix(".log")) as url:
        yield url
