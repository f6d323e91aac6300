"""The daily digest is chosen on one's account page, and the choice sticks."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

from engine.people import logins
from engine.workflow import notifications

Login = Callable[..., Awaitable[httpx.Response]]


def _switch(page: str) -> str:
    found = re.search(r'name="daily_digest"[^>]*>', page)
    assert found, "no digest switch on the account page"
    return found.group(0)


async def _save(client: httpx.AsyncClient, checked: bool) -> httpx.Response:
    page = await client.get("/account/password")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    data = {"csrf_token": token.group(1)}
    if checked:
        data["daily_digest"] = "on"
    return await client.post("/account/digest", data=data)


async def test_the_account_page_turns_the_daily_digest_on_and_off(
    client: httpx.AsyncClient, people: dict[str, str], login: Login
) -> None:
    await login(people["employee"])
    page = await client.get("/account/password")
    assert "Task emails" in page.text
    assert "checked" not in _switch(page.text)

    assert (await _save(client, True)).status_code == 303
    user = await logins.login_named(people["employee"])
    assert user is not None and await notifications.daily_digest_of(user.id) is True
    page = await client.get("/account/password")
    assert "one email a day listing your open tasks" in page.text
    assert "checked" in _switch(page.text)

    await _save(client, False)
    assert await notifications.daily_digest_of(user.id) is False
    page = await client.get("/account/password")
    assert "an email for each new task" in page.text


async def test_the_digest_choice_needs_the_csrf_token(
    client: httpx.AsyncClient, people: dict[str, str], login: Login
) -> None:
    await login(people["employee"])
    answer = await client.post("/account/digest", data={"daily_digest": "on"})
    assert answer.status_code == 403
    user = await logins.login_named(people["employee"])
    assert user is not None and await notifications.daily_digest_of(user.id) is False
