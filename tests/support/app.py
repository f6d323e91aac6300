"""Driving the app from tests: an httpx client on the app in-process (ASGI) or on a real server
started as its own process on a free port, and logging in through the real login form.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from engine.operations.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_FIELD.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


def asgi_client(
    app: Any, *, address: str = "127.0.0.1", port: int = 123,
    raise_app_exceptions: bool = False,
) -> httpx.AsyncClient:
    """A browser at `address` talking to the app in-process (the caller runs the lifespan).

    Server errors reach the test as the 500 page a browser would get, unless
    `raise_app_exceptions`."""
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=raise_app_exceptions, client=(address, port)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def log_in(
    client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD, *,
    next_path: str | None = None, base: str = "",
) -> httpx.Response:
    """Log in through the login form (its page first, for the CSRF token); the form's answer.
    `base` is the server's address for a client that has none of its own."""
    page = await client.get(f"{base}/login")
    form = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    if next_path is not None:
        form["next"] = next_path
    return await client.post(f"{base}/login", data=form)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def started(
    command: list[str], env: dict[str, str], log: Path, stop_seconds: float = 20
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` running from the repository root with its output in `log`; terminated (killed
    if it lingers) afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=stop_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
