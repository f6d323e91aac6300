"""Browser fixtures: the real app served by uvicorn, and Playwright on the system Chromium.

`live_server` starts tests/browser/live_app.py in its own process on a fresh SQLite file (one
server per test module); `browser` is Chromium from Debian (/usr/bin/chromium, never a
downloaded build); `open_page(width, height)` opens a page in a fresh context on the server.
Screenshots go to tests/screenshots/ (gitignored) through `shoot`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app_server import running_app
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "screenshots"
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
PASSWORD = "sightline-demo"  # engine.operations.demo.DEMO_PASSWORD

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


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """Base URL of the real app with objective setting started for E1 and E2."""
    with running_app(tmp_path_factory, "objectives") as url:
        yield url


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
        # Leave the page first: its htmx requests, refused once the cookies are gone, would
        # send it to the login page in a navigation of its own that aborts ours.
        page.goto("about:blank")
        page.context.clear_cookies()
        page.goto("/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

    return enter
