"""Browser fixtures: the real app served by uvicorn, and Playwright on the system Chromium.

`live_server` starts tests/browser/live_app.py in its own process on a fresh SQLite file (one
server per test module); `browser` is Chromium from Debian (/usr/bin/chromium, never a
downloaded build); `open_page(width, height)` opens a page in a fresh context on the server.
Screenshots go to tests/screenshots/ (gitignored) through `shoot`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "screenshots"
LIVE_APP = Path(__file__).resolve().parent / "live_app.py"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LAPTOP = (1280, 800)
PHONE = (390, 844)
PASSWORD = "sightline-demo"  # engine.demo.DEMO_PASSWORD
SERVER_START_SECONDS = 60

PageOpener = Callable[..., Page]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright's sync API.

    Per module, not per session: while Playwright's sync API is active it keeps an event loop
    running in this thread, and the async tests of later modules could not start theirs.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


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


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """Base URL of the real app on a freshly prepared SQLite database."""
    database = tmp_path_factory.mktemp("live") / "sightline.db"
    log = database.with_suffix(".log")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TIMER_POLL_SECONDS": "0", "SMTP_HOST": ""}
    with log.open("w") as errors:
        server = subprocess.Popen(
            [sys.executable, str(LIVE_APP), str(database)],
            cwd=ROOT,
            env=env,
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
    # Server-side errors (500s) are logged to stderr: show them with a failing test's output.
    server_log = log.read_text()
    if server_log.strip():
        print(f"--- test server log ---\n{server_log}")


@pytest.fixture
def open_page(browser: Browser, live_server: str) -> Iterator[PageOpener]:
    """`open_page()` (laptop) or `open_page(390, 844)` (phone): a page in a fresh context."""
    contexts: list[BrowserContext] = []

    def opener(width: int = LAPTOP[0], height: int = LAPTOP[1]) -> Page:
        context = browser.new_context(
            base_url=live_server,
            viewport={"width": width, "height": height},
            is_mobile=width < 600,
            has_touch=width < 600,
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture
def shoot() -> Callable[..., Path]:
    """`shoot(page, name)`: save tests/screenshots/<name>.png (the whole page by default)."""

    def save(page: Page, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


@pytest.fixture
def log_in() -> Callable[..., None]:
    """`log_in(page, username)`: log in through the login form, leaving any session behind."""

    def enter(page: Page, username: str, password: str = PASSWORD) -> None:
        page.context.clear_cookies()
        page.goto("/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

    return enter
