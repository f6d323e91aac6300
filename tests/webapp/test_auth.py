"""Logging in and out, throttling, redirects for people without a session, CSRF, headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from config import settings
from engine.base import clock
from engine.base.models import User
from tests.support.app import asgi_client
from webapp.auth import LOGIN_REFUSED, is_public
from webapp.csrf import BEARER_PREFIXES


async def test_login_with_the_right_password_lands_on_the_inbox(client, people, login):
    response = await login(people["employee"])

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    home = await client.get("/")
    assert home.headers["location"] == "/inbox"
    page = await client.get("/no-such-page")
    assert "Ada Lovelace" in page.text
    user = await User.get(username=people["employee"])
    assert user.last_login_at is not None


async def test_nav_shows_areas_by_role(client, people, login):
    await login(people["employee"])
    employee_page = (await client.get("/no-such-page")).text
    assert 'href="/reviews"' in employee_page
    assert 'href="/team"' not in employee_page
    assert 'href="/hr"' not in employee_page
    assert 'href="/designer"' not in employee_page

    await client.post("/logout", data={"csrf_token": _meta_token(employee_page)})
    await login(people["designer"])
    designer_page = (await client.get("/no-such-page")).text
    assert 'href="/team"' not in designer_page
    assert 'href="/hr"' in designer_page
    assert 'href="/designer"' in designer_page

    await client.post("/logout", data={"csrf_token": _meta_token(designer_page)})
    await login(people["manager"])
    assert 'href="/team"' in (await client.get("/no-such-page")).text


async def test_unknown_user_wrong_password_and_locked_get_the_same_answer(
    client, people, login, monkeypatch
):
    monkeypatch.setattr(settings, "LOGIN_MAX_FAILURES", 2)
    unknown = await login("nobody-here", "whatever")
    wrong = await login(people["employee"], "not-the-password")
    await login(people["manager"], "wrong-1")
    await login(people["manager"], "wrong-2")
    locked = await login(people["manager"])  # right password, but locked now

    answers = {
        (response.status_code, _without_tokens(response.text).replace(username, "NAME"))
        for response, username in (
            (unknown, "nobody-here"),
            (wrong, people["employee"]),
            (locked, people["manager"]),
        )
    }
    assert len(answers) == 1
    status, text = answers.pop()
    assert status == 400
    assert LOGIN_REFUSED in text


async def test_failed_login_keeps_the_username_but_not_the_password(client, people, login):
    response = await login(people["employee"], "s3cret-guess")

    assert f'value="{people["employee"]}"' in response.text
    assert "s3cret-guess" not in response.text


async def test_too_many_failures_lock_the_account_until_the_window_passes(
    client, people, login, monkeypatch, wall_clock
):
    monkeypatch.setattr(settings, "LOGIN_MAX_FAILURES", 3)
    monkeypatch.setattr(settings, "LOGIN_WINDOW_SECONDS", 600)
    for attempt in range(3):
        assert (await login(people["employee"], f"guess-{attempt}")).status_code == 400

    assert (await login(people["employee"])).status_code == 400

    wall_clock.advance(601)
    assert (await login(people["employee"])).status_code == 303
    # Logging in started the count afresh: two slips later, the right password still works.
    client.cookies.clear()
    for attempt in range(2):
        assert (await login(people["employee"], f"slip-{attempt}")).status_code == 400
    assert (await login(people["employee"])).status_code == 303


async def test_failures_spread_over_more_than_the_window_do_not_lock(
    client, people, login, monkeypatch, wall_clock
):
    monkeypatch.setattr(settings, "LOGIN_MAX_FAILURES", 2)
    monkeypatch.setattr(settings, "LOGIN_WINDOW_SECONDS", 60)
    await login(people["employee"], "guess-1")
    wall_clock.advance(61)
    await login(people["employee"], "guess-2")
    assert (await login(people["employee"])).status_code == 303


async def test_a_simulated_engine_date_does_not_touch_sessions_or_login_windows(
    client, people, login, monkeypatch
):
    monkeypatch.setattr(settings, "LOGIN_MAX_FAILURES", 2)
    await login(people["employee"], "guess-1")
    await login(people["employee"], "guess-2")
    with clock.frozen_at(clock.now() + timedelta(days=5 * 365)):
        assert (await login(people["employee"])).status_code == 400  # still locked
        await login(people["manager"])
        assert (await client.get("/inbox")).status_code == 200  # and still logged in


async def test_deactivated_person_cannot_log_in_and_loses_the_session(
    client, people, login, page_csrf
):
    from engine.base.models import Person
    from engine.people.directory import bump_directory_version

    assert (await login(people["employee"])).status_code == 303
    await Person.filter(key="E300").update(active=False)
    await bump_directory_version()

    assert (await client.get("/no-such-page")).status_code == 303
    assert (await login(people["employee"])).status_code == 400


@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [
        ("/team?cycle=3", "/team?cycle=3"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login", "/"),
    ],
)
async def test_next_after_login_is_only_ever_a_local_path(
    client, people, login, next_path, lands_on
):
    response = await login(people["employee"], next_path=next_path)

    assert response.headers["location"] == lands_on


async def test_a_protected_page_sends_you_to_login_and_back(client, people, login):
    first = await client.get("/team?cycle=3")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/team%3Fcycle%3D3"

    login_page = await client.get(first.headers["location"])
    assert 'name="next" value="/team?cycle=3"' in login_page.text


async def test_every_route_but_login_health_and_assets_needs_a_session(app, client):
    checked = 0
    for route in app.routes:
        if not isinstance(route, Route) or is_public(route.path):
            continue
        if route.path.startswith(BEARER_PREFIXES):  # a token instead (tests/webapp/test_scim.py)
            continue
        path = route.path.replace("{", "").replace("}", "").replace(":int", "")
        for method in sorted(route.methods or {"GET"}):
            if method == "HEAD":
                continue
            response = await client.request(method, path)
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login"), (method, path)
            checked += 1
    assert checked >= 2  # at least / and POST /logout


async def test_public_paths_answer_without_a_session(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/login")).status_code == 200
    css = await client.get("/static/app.css")
    assert css.status_code == 200 and "Sightline" in css.text


async def test_htmx_request_without_session_gets_401_and_a_redirect_header(client):
    response = await client.get("/inbox", headers={"HX-Request": "true"})

    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/inbox"


async def test_logout_ends_the_session(client, people, login, page_csrf):
    await login(people["employee"])
    token = await page_csrf("/inbox")

    response = await client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "You have logged out." in (await client.get("/login")).text
    assert (await client.get("/inbox")).status_code == 303


async def test_post_without_csrf_token_is_refused(client, people, login):
    await login(people["employee"])

    response = await client.post("/logout", data={})

    assert response.status_code == 403
    assert "The form expired — reload the page and try again" in response.text
    assert (await client.get("/inbox")).status_code != 303  # still logged in


async def test_post_with_a_token_from_another_session_is_refused(app, people, login, page_csrf):
    await login(people["employee"])
    token = await page_csrf("/inbox")
    async with asgi_client(app, raise_app_exceptions=True) as other:
        page = await other.get("/login")
        response = await other.post(
            "/login",
            data={"username": people["manager"], "password": "x", "csrf_token": token},
        )
    assert page.status_code == 200
    assert response.status_code == 403


async def test_login_form_needs_its_csrf_token(client, people):
    from engine.operations.demo import DEMO_PASSWORD

    await client.get("/login")
    response = await client.post(
        "/login", data={"username": people["employee"], "password": DEMO_PASSWORD}
    )
    assert response.status_code == 403


async def test_csrf_header_works_for_htmx_and_handlers_still_read_the_form(
    app, client, people, login, page_csrf
):
    async def echo(request: Request) -> PlainTextResponse:
        async with request.form() as form:
            return PlainTextResponse(f"objective={form.get('objective')}")

    app.router.routes.insert(0, Route("/test/echo", echo, methods=["POST"]))
    await login(people["employee"])
    token = await page_csrf("/inbox")

    by_header = await client.post(
        "/test/echo", data={"objective": "Ship X"}, headers={"X-CSRF-Token": token}
    )
    by_field = await client.post("/test/echo", data={"objective": "Ship Y", "csrf_token": token})
    by_multipart = await client.post(
        "/test/echo",
        data={"objective": "Ship Z", "csrf_token": token},
        files={"attachment": ("notes.txt", b"hello", "text/plain")},
    )
    wrong = await client.post(
        "/test/echo", data={"objective": "Ship X"}, headers={"X-CSRF-Token": token + "x"}
    )

    assert by_header.text == "objective=Ship X"
    assert by_field.text == "objective=Ship Y"
    assert by_multipart.text == "objective=Ship Z"
    assert wrong.status_code == 403


async def test_pages_carry_security_headers_and_a_safe_session_cookie(client, people, login):
    page = await client.get("/login")

    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert len(page.headers["X-Request-ID"]) == 32
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # HTTPS_ONLY is off in tests; on, the cookie is Secure


async def test_base_page_sends_the_csrf_token_with_every_htmx_request(client, people, login):
    await login(people["employee"])
    page = (await client.get("/inbox")).text
    token = _meta_token(page)

    assert f"hx-headers='{{\"X-CSRF-Token\": \"{token}\"}}'" in page
    assert "/vendor/htmx/htmx.min.js?v=" in page


async def test_vendored_libraries_are_served_from_node_modules_with_long_caching(client):
    from webapp.templating import VENDOR_DIRS, vendor_url

    if not VENDOR_DIRS["htmx"].is_dir():
        pytest.skip("node_modules not installed (run npm ci)")
    url = vendor_url("htmx/htmx.min.js")
    response = await client.get(url)

    assert response.status_code == 200
    assert "htmx" in response.text[:2000]
    assert "immutable" in response.headers["Cache-Control"]
    for name in (
        "pico/pico.jade.min.css",
        "bpmn-js/bpmn-navigated-viewer.production.min.js",
        "bpmn-js/bpmn-modeler.production.min.js",
        "dmn-js/dmn-modeler.production.min.js",
        "chart.js/chart.umd.min.js",
    ):
        assert (await client.get(vendor_url(name))).status_code == 200, name


def _meta_token(html: str) -> str:
    marker = '<meta name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _without_tokens(html: str) -> str:
    token = _meta_token(html)
    return html.replace(token, "TOKEN")


async def test_an_oversized_post_is_refused_before_it_is_read_whole(
    client, people, login, page_csrf, monkeypatch
):
    await login(people["employee"])
    token = await page_csrf("/inbox")
    monkeypatch.setattr(settings, "MAX_PACK_UPLOAD_BYTES", 1000)

    response = await client.post(
        "/logout", data={"csrf_token": token, "filler": "x" * (1024 * 1024 + 2000)}
    )

    assert response.status_code == 413
    assert "larger than the server accepts" in response.text
