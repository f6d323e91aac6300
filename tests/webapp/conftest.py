"""Web fixtures: the app on the test database, an httpx client with the lifespan running,
a small organisation with logins, and `login` that goes through the real form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.app import asgi_client, log_in
from tests.support.org import PEOPLE as ORG_CSV

# role -> username (create_logins names logins after the lower-cased employee id)
LOGINS = {"director": "e100", "manager": "e200", "employee": "e300", "hr": "e400",
          "designer": "e500"}

LoginHelper = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def app(db: str) -> Starlette:
    """The web app on the test database, without background workers."""
    from webapp.app import create_app

    return create_app(db, start_workers=False)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app in-process, with the app's lifespan running."""
    # Server errors must reach the test as the 500 page the browser would get.
    async with app.router.lifespan_context(app):
        async with asgi_client(app) as c:
            yield c


@pytest.fixture
async def people(db: str) -> dict[str, str]:
    """A five-person organisation with logins (password engine.operations.demo.DEMO_PASSWORD)."""
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    report = await import_org(ORG_CSV)
    assert not report.errors, report.errors
    await create_logins()
    return dict(LOGINS)


@pytest.fixture
def login(client: httpx.AsyncClient) -> LoginHelper:
    """`await login(username)` logs the client in through the login form; returns the answer."""
    from engine.operations.demo import DEMO_PASSWORD

    async def logging_in(
        username: str, password: str = DEMO_PASSWORD, next_path: str | None = None
    ) -> httpx.Response:
        return await log_in(client, username, password, next_path=next_path)

    return logging_in


@pytest.fixture
def page_csrf(client: httpx.AsyncClient) -> Callable[[str], Awaitable[str]]:
    """`await page_csrf(path)`: the CSRF token a page carries (its <meta name="csrf-token">)."""

    async def token_on(path: str) -> str:
        page = await client.get(path)
        match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert match, f"{path} has no csrf-token meta tag"
        return match.group(1)

    return token_on


class WallClock:
    """The clock sessions and login windows read (webapp.sessions.wall_clock), moved by tests;
    engine.base.clock is another clock, for simulated dates."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from webapp import sessions

        self.now = sessions.wall_clock()
        monkeypatch.setattr(sessions, "wall_clock", lambda: self.now)

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` ahead."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    """The real clock of sessions and logins, held still; `wall_clock.advance(seconds)`."""
    return WallClock(monkeypatch)
