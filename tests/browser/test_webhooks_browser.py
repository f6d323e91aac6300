"""An HR administrator adds a webhook pointing at a real local receiver, sends test events,
a real `sightline worker --once` POSTs them (the receiver refuses the first), and the
delivery log shows one failed attempt with its answer and one accepted. Screenshot:
tests/screenshots/webhooks-delivery-log.png."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from app_server import LIVE_APP, ROOT, serving
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("webhooks") / "sightline.db"


@pytest.fixture(scope="module")
def live_server(database: Path, browser: Browser) -> Iterator[str]:
    """The app in development mode (http to localhost allowed for webhooks)."""
    with serving(LIVE_APP, [str(database), "objectives"], database.with_suffix(".log"),
                 env={"SIGHTLINE_DEV": "true"}) as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP receiver on 127.0.0.1 that refuses the first POST (500), then accepts."""
    bodies: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(500 if len(bodies) == 1 else 200)
            self.end_headers()
            self.wfile.write(b"busy, try later" if len(bodies) == 1 else b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sightline", bodies
    server.shutdown()
    server.server_close()


def worker_round(database: Path) -> None:
    """One round of a real worker process on the app's database."""
    env = {**os.environ, "DATABASE_URL": f"sqlite://{database}", "SIGHTLINE_DEV": "true",
           "PYTHONPATH": str(ROOT), "SMTP_HOST": ""}
    subprocess.run([sys.executable, "-m", "webapp.cli", "worker", "--once"], cwd=ROOT,
                   env=env, check=True, timeout=120, capture_output=True)


def test_hr_reads_the_delivery_log_after_a_refusal(
    open_page: Callable[..., Page], log_in: Callable[..., None],
    shoot: Callable[..., Path], receiver: tuple[str, list[str]], database: Path,
) -> None:
    url, bodies = receiver
    page = open_page()
    log_in(page, "h1")
    page.goto("/admin/webhooks")
    page.get_by_label("Name").fill("People data warehouse")
    page.get_by_label("Address").fill("ftp://nowhere")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("is not a web address")
    page.get_by_label("Address").fill(url)
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
    page.get_by_role("button", name="Send a test event").click()
    page.goto("/admin/webhooks")
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("heading", name="Delivery log: People data warehouse")).to_be_visible()

    worker_round(database)

    page.reload()
    assert len(bodies) == 2
    expect(page.get_by_text("last answer 500")).to_be_visible()
    expect(page.get_by_text("HTTP 500: busy, try later")).to_be_visible()
    expect(page.get_by_text("last answer 200")).to_be_visible()
    page.locator("details summary").first.click()
    expect(page.locator("pre.delivery-payload").first).to_contain_text('"event": "sightline.test"')
    shoot(page, "webhooks-delivery-log")
    page.get_by_role("button", name="Retry now").click()
    expect(page.get_by_text("is queued to be sent again now")).to_be_visible()
