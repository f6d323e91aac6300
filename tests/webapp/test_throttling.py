"""Login throttling under concurrency: attempts are counted before any password is checked,
per account name and per client address, so a parallel burst gets no more checks than the
limit allows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from config import settings
from engine.base.models import Person, User
from engine.operations.demo import DEMO_PASSWORD
from tests.support.app import asgi_client, csrf_from, log_in
from webapp import auth
from webapp.auth import LOGIN_REFUSED

BURST = 100


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often a password was checked against a real login's hash ("real") and against the
    stand-in hash an unknown name is checked against ("stand-in")."""
    counted = {"real": 0, "stand-in": 0}
    verify = auth._verify

    async def counting(password_hash: str, password: str) -> bool:
        counted["stand-in" if password_hash == auth._DUMMY_HASH else "real"] += 1
        return await verify(password_hash, password)

    monkeypatch.setattr(auth, "_verify", counting)
    return counted


def _browser(app: Starlette, address: str) -> httpx.AsyncClient:
    return asgi_client(app, address=address, port=5555)


@pytest.fixture
async def attacker(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[
    httpx.AsyncClient
]:
    """A browser at 203.0.113.9 (`client` keeps the app's lifespan running)."""
    async with _browser(app, "203.0.113.9") as browser:
        yield browser


async def _burst(browser: httpx.AsyncClient, attempts: list[tuple[str, str]]
                 ) -> list[httpx.Response]:
    """Every (username, password) posted to /login at once, from one login page's session."""
    token = csrf_from((await browser.get("/login")).text)
    return list(await asyncio.gather(*(
        browser.post("/login", data={"username": name, "password": password,
                                     "csrf_token": token})
        for name, password in attempts
    )))


async def _log_in(browser: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD
                  ) -> int:
    browser.cookies.clear()
    return (await log_in(browser, username, password)).status_code


async def test_a_parallel_burst_of_wrong_passwords_gets_only_the_allowed_checks(
    attacker, people, password_checks
):
    answers = await _burst(attacker, [(people["employee"], f"guess-{n}") for n in range(BURST)])

    assert all(a.status_code == 400 and LOGIN_REFUSED in a.text for a in answers)
    assert password_checks["real"] == settings.LOGIN_MAX_FAILURES
    # The account is locked now: the right password is refused too, unchecked.
    assert await _log_in(attacker, people["employee"]) == 400
    assert password_checks["real"] == settings.LOGIN_MAX_FAILURES


async def test_the_right_password_while_a_burst_is_still_being_checked_is_refused(
    attacker, people, monkeypatch
):
    # argon2 made slow: the wrong guesses are all in flight when the right password arrives.
    checks: list[str] = []
    finish_checking = asyncio.Event()
    verify = auth._verify

    async def slow(password_hash: str, password: str) -> bool:
        checks.append(password)
        if password.startswith("guess-"):
            await finish_checking.wait()
        return await verify(password_hash, password)

    monkeypatch.setattr(auth, "_verify", slow)
    token = csrf_from((await attacker.get("/login")).text)

    def attempt(password: str) -> asyncio.Task[httpx.Response]:
        return asyncio.ensure_future(attacker.post("/login", data={
            "username": people["employee"], "password": password, "csrf_token": token}))

    guesses = [attempt(f"guess-{n}") for n in range(39)]
    for _ in range(6000):  # until every guess is refused or being checked
        if len(checks) + sum(guess.done() for guess in guesses) == len(guesses):
            break
        await asyncio.sleep(0.01)

    right = await attempt(DEMO_PASSWORD)
    finish_checking.set()
    answers = await asyncio.gather(*guesses)

    assert right.status_code == 400
    assert {a.status_code for a in answers} == {400}
    assert len(checks) == settings.LOGIN_MAX_FAILURES
    assert DEMO_PASSWORD not in checks


async def test_unknown_names_are_throttled_like_real_ones(attacker, people, password_checks):
    answers = await _burst(attacker, [("no-such-person", f"guess-{n}") for n in range(BURST)])

    assert {a.status_code for a in answers} == {400}
    assert password_checks == {"real": 0, "stand-in": settings.LOGIN_MAX_FAILURES}


async def test_one_address_gets_a_limited_number_of_checks_across_many_names(
    app, attacker, people, password_checks, monkeypatch
):
    monkeypatch.setattr(settings, "LOGIN_MAX_FAILURES_PER_ADDRESS", 10)
    names = await _many_logins(30)

    answers = await _burst(attacker, [(name, "Winter2026!") for name in names])

    assert {a.status_code for a in answers} == {400}
    assert password_checks["real"] == 10
    # This address is refused even with a right password; another address is not.
    assert await _log_in(attacker, people["employee"]) == 400
    async with _browser(app, "198.51.100.4") as colleague:
        assert await _log_in(colleague, people["employee"]) == 303


async def test_logging_in_does_not_wipe_the_address_count_of_other_names(
    attacker, people, password_checks, monkeypatch
):
    monkeypatch.setattr(settings, "LOGIN_MAX_FAILURES_PER_ADDRESS", 3)
    assert await _log_in(attacker, people["manager"], "guess-1") == 400
    assert await _log_in(attacker, people["director"], "guess-2") == 400
    assert await _log_in(attacker, people["employee"]) == 303  # the attacker's own login
    assert await _log_in(attacker, people["hr"], "guess-3") == 400  # the third failure

    assert await _log_in(attacker, people["designer"]) == 400  # over the limit, unchecked
    assert password_checks["real"] == 4


async def _many_logins(count: int) -> list[str]:
    """`count` more people with logins (sharing one password hash: hashing is slow)."""
    password_hash = (await User.get(username="e300")).password_hash
    names = []
    for n in range(count):
        person = await Person.create(key=f"T{n:03}", name=f"Test Person {n}",
                                     email=f"t{n}@example.com")
        await User.create(username=f"t{n:03}", password_hash=password_hash, person=person)
        names.append(f"t{n:03}")
    return names
