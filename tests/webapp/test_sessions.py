"""Sessions as rows: a cookie that is only a token, logout / password change / "sign out
everywhere" that end sessions at once, idle and absolute time-outs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from config import settings
from engine.base.models import AuditEvent, User, UserSession
from engine.operations.demo import DEMO_PASSWORD
from tests.support.app import asgi_client, log_in
from tests.support.html import row_cells
from webapp.sessions import COOKIE, ENDED_MESSAGE, TOUCH_EVERY

NEW_PASSWORD = "correct horse battery staple"


def _client(app: Starlette, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return asgi_client(app, address=address, port=4321)


@pytest.fixture
async def second_browser(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[
    httpx.AsyncClient
]:
    """Another browser on the same app (`client` keeps the lifespan running)."""
    async with _client(app, "192.0.2.20") as other:
        yield other


async def _log_in(browser: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD
                  ) -> httpx.Response:
    return await log_in(browser, username, password)


def _meta_token(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


async def _post(browser: httpx.AsyncClient, path: str, data: dict[str, str] | None = None,
                from_page: str = "/account/password") -> httpx.Response:
    token = _meta_token((await browser.get(from_page)).text)
    return await browser.post(path, data={"csrf_token": token, **(data or {})})


async def _replay(app: Starlette, cookie: str, path: str = "/inbox") -> httpx.Response:
    """A request from somebody else's machine carrying a copied cookie."""
    async with _client(app, "198.51.100.66") as thief:
        return await thief.get(path, headers={"Cookie": f"{COOKIE}={cookie}"})


async def test_the_cookie_is_a_token_the_table_keeps_only_a_hash_of(client, people, login):
    await login(people["employee"], next_path="/inbox")
    token = client.cookies[COOKIE]
    user = await User.get(username=people["employee"])

    rows = await UserSession.filter(user_id=user.id)
    assert len(rows) == 1
    row = rows[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 256 random bits, nothing else
    assert token not in row.id and row.id != token
    assert token not in str(row.data)
    assert row.ip == "127.0.0.1"
    assert row.expires_at > row.created_at


async def test_a_cookie_saved_before_logout_is_worthless(app, client, people, login, page_csrf):
    await login(people["employee"])
    saved = client.cookies[COOKIE]
    assert (await _replay(app, saved)).status_code == 200

    await client.post("/logout", data={"csrf_token": await page_csrf("/inbox")})

    replayed = await _replay(app, saved)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


async def test_logging_in_gives_a_new_token_so_a_planted_cookie_is_useless(app, client, people,
                                                                           login):
    await client.get("/login")  # a visitor's session: the login form's CSRF token
    before = client.cookies[COOKIE]

    await login(people["employee"])

    assert client.cookies[COOKIE] != before
    assert (await _replay(app, before)).status_code == 303


async def test_a_logout_on_one_web_process_holds_on_every_other(db, client, people, login,
                                                               page_csrf):
    from webapp.app import create_app

    other_process = create_app(db, start_workers=False)
    await login(people["employee"])
    cookie = client.cookies[COOKIE]
    assert (await _replay(other_process, cookie)).status_code == 200

    await client.post("/logout", data={"csrf_token": await page_csrf("/inbox")})

    assert (await _replay(other_process, cookie)).status_code == 303


async def test_probes_and_static_files_neither_read_nor_make_sessions(client):
    await client.get("/health")
    await client.get("/static/app.css")

    assert COOKIE not in client.cookies
    assert await UserSession.all().count() == 0


async def test_a_session_ends_after_the_idle_time_out(client, people, login, wall_clock):
    await login(people["employee"])
    wall_clock.advance(settings.SESSION_IDLE_SECONDS - 120)
    assert (await client.get("/inbox")).status_code == 200  # in use: the idle time starts again
    wall_clock.advance(settings.SESSION_IDLE_SECONDS - 120)
    assert (await client.get("/inbox")).status_code == 200

    wall_clock.advance(settings.SESSION_IDLE_SECONDS + 1)

    response = await client.get("/inbox")
    assert response.status_code == 303
    assert ENDED_MESSAGE in (await client.get(response.headers["location"])).text


async def test_a_session_ends_after_the_absolute_time_out_however_busy(
    client, people, login, wall_clock
):
    await login(people["employee"])
    step = settings.SESSION_IDLE_SECONDS // 2
    for _ in range(settings.SESSION_MAX_SECONDS // step - 1):
        wall_clock.advance(step)
        assert (await client.get("/inbox")).status_code == 200

    wall_clock.advance(step)

    assert (await client.get("/inbox")).status_code == 303


async def test_a_busy_page_notes_the_session_in_use_at_most_once_a_minute(
    client, people, login, wall_clock
):
    await login(people["employee"])
    await client.get("/inbox")  # the first page stores the session's new CSRF token
    first = (await UserSession.get(user_id__not_isnull=True)).last_seen_at

    wall_clock.advance(TOUCH_EVERY.total_seconds() / 2)
    await client.get("/inbox")
    assert (await UserSession.get(user_id__not_isnull=True)).last_seen_at == first

    wall_clock.advance(TOUCH_EVERY.total_seconds() / 2)
    await client.get("/inbox")
    assert (await UserSession.get(user_id__not_isnull=True)).last_seen_at > first


async def test_the_user_menu_links_to_the_password_page(client, people, login):
    await login(people["employee"])

    page = await client.get("/inbox")

    assert 'href="/account/password"' in page.text


async def test_changing_the_password_ends_the_other_sessions_and_renews_this_one(
    app, client, second_browser, people, login
):
    await login(people["employee"])
    await _log_in(second_browser, people["employee"])
    before = client.cookies[COOKIE]

    response = await _post(client, "/account/password", {
        "current_password": DEMO_PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
    })

    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "Your password has been changed, and 1 session signed out." in page.text
    assert client.cookies[COOKIE] != before
    assert (await _replay(app, before)).status_code == 303
    assert (await second_browser.get("/inbox")).status_code == 303
    async with _client(app) as fresh:
        assert (await _log_in(fresh, people["employee"])).status_code == 400
        assert (await _log_in(fresh, people["employee"], NEW_PASSWORD)).status_code == 303
    event = await AuditEvent.get(action="sessions_ended")
    assert event.actor == "person:E300"
    assert event.detail == {"person": "E300", "sessions": 1, "reason": "password_changed"}


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        ("not-my-password", NEW_PASSWORD, NEW_PASSWORD, "That is not your current password"),
        (DEMO_PASSWORD, "short-pw", "short-pw", "at least 12 characters"),
        (DEMO_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords differ"),
        (DEMO_PASSWORD, DEMO_PASSWORD, DEMO_PASSWORD, "must differ from the current one"),
    ],
)
async def test_a_refused_password_change_says_why_and_changes_nothing(
    client, second_browser, people, login, current, new, again, message
):
    await login(people["employee"])
    await _log_in(second_browser, people["employee"])
    before = client.cookies[COOKIE]

    response = await _post(client, "/account/password", {
        "current_password": current, "new_password": new, "new_password_again": again,
    })

    assert response.status_code == 400
    assert message in response.text
    assert "Your password was not changed" in response.text
    for typed in {current, new, again}:
        assert typed not in response.text
    assert client.cookies[COOKIE] == before
    assert (await second_browser.get("/inbox")).status_code == 200
    user = await User.get(username=people["employee"])
    assert PasswordHasher().verify(user.password_hash, DEMO_PASSWORD)


async def test_signing_out_my_other_sessions_keeps_this_one(
    client, second_browser, people, login
):
    await login(people["employee"])
    await _log_in(second_browser, people["employee"])
    page = await client.get("/account/password")
    assert "You have <strong>1 other session</strong>" in page.text

    response = await _post(client, "/account/sessions/end-others")

    assert "1 other session signed out." in (await client.get(response.headers["location"])).text
    assert (await client.get("/inbox")).status_code == 200
    assert (await second_browser.get("/inbox")).status_code == 303
    assert "You are not logged in anywhere else." in (await client.get("/account/password")).text
    event = await AuditEvent.get(action="sessions_ended")
    assert event.detail == {"person": "E300", "sessions": 1,
                            "reason": "signed_out_other_sessions"}


async def test_hr_signs_a_person_out_everywhere(app, client, second_browser, people, login):
    async with _client(app, "192.0.2.30") as employee_laptop:
        await _log_in(employee_laptop, people["employee"])
        await _log_in(second_browser, people["employee"])
        await login(people["hr"])

        listing = await client.get("/admin/sessions")
        assert listing.status_code == 200
        assert row_cells(listing.text, "Ada Lovelace")[:1] == ["2"]

        response = await _post(client, "/admin/sessions/E300/end", from_page="/admin/sessions")

        assert response.status_code == 303
        after = await client.get(response.headers["location"])
        assert "Ada Lovelace: 2 sessions signed out." in after.text
        assert row_cells(after.text, "Ada Lovelace") == []
        assert (await employee_laptop.get("/inbox")).status_code == 303
        assert (await second_browser.get("/inbox")).status_code == 303
        assert (await client.get("/inbox")).status_code == 200
    event = await AuditEvent.get(action="sessions_ended")
    assert event.actor == "person:E400"
    assert event.detail == {"person": "E300", "sessions": 2, "reason": "signed_out_by_hr"}


async def test_only_hr_sees_or_uses_the_sessions_page(client, second_browser, people, login):
    await _log_in(second_browser, people["manager"])
    await login(people["employee"])

    assert (await client.get("/admin/sessions")).status_code == 404
    token = _meta_token((await client.get("/inbox")).text)
    refused = await client.post("/admin/sessions/E200/end", data={"csrf_token": token})
    assert refused.status_code == 404
    assert (await second_browser.get("/inbox")).status_code == 200


async def test_the_cookie_is_secure_when_people_reach_sightline_over_https(
    client, monkeypatch
):
    monkeypatch.setattr(settings, "BASE_URL", "https://perf.example.com")

    page = await client.get("/login")

    cookie = page.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
