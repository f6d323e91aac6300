"""Single sign-on against a real OpenID provider (node's oidc-provider, tests/support/oidc.py).

The app runs in-process; the provider in its own process. A test plays the browser: it follows
the app's redirect to the provider, signs in on the provider's own pages and consents, then
brings the code back to the app's callback. The negative cases are answers a genuine provider
would not give for this sign-in: another state, another nonce, a token past its expiry, a token
signed by the provider's key for another audience, or by a key that is not the provider's.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette

from config import settings
from engine.base.models import ExternalIdentity, User
from tests.support.app import asgi_client, csrf_from
from tests.support.oidc import CLIENT_ID, PROVIDER, RunningProvider, running_provider
from webapp import oidc

APP = "http://127.0.0.1:8123"  # the app's address as the browser sees it (a loopback one)
CALLBACK = f"/login/oidc/{PROVIDER}/callback"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    """The OpenID provider, one per module."""
    with running_provider(tmp_path_factory.mktemp("oidc")) as running:
        yield running


@pytest.fixture
async def sso(app: Starlette, provider: RunningProvider, monkeypatch: pytest.MonkeyPatch,
              people: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the app, with the provider configured for single sign-on."""
    monkeypatch.setattr(settings, "OIDC_PROVIDERS", json.dumps(provider.settings()))
    async with app.router.lifespan_context(app):
        async with asgi_client(app) as browser:
            browser.base_url = httpx.URL(APP)
            yield browser


async def _sign_in_at_provider(authorize_url: str, account: str) -> str:
    """Follow the provider's pages as a person would (log in, consent); the URL it sends the
    browser back to."""
    async with httpx.AsyncClient() as at_provider:
        url = authorize_url
        for _ in range(12):
            response = await at_provider.get(url)
            if response.status_code in (302, 303):
                url = str(response.url.join(response.headers["location"]))
                if url.startswith(APP):
                    return url
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert form, f"the provider's page has no form:\n{response.text[:2000]}"
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                     response.text))
            if 'name="login"' in response.text:
                fields |= {"login": account, "password": "any password"}
            answer = await at_provider.post(response.url.join(unescape(form.group(1))),
                                            data=fields)
            assert answer.status_code in (302, 303), answer.text[:2000]
            url = str(answer.url.join(answer.headers["location"]))
            if url.startswith(APP):
                return url
    raise AssertionError("the provider never sent the browser back")


async def _start(browser: httpx.AsyncClient, next_path: str = "") -> str:
    started = await browser.get(f"/login/oidc/{PROVIDER}" + (f"?next={next_path}"
                                                              if next_path else ""))
    assert started.status_code == 303
    return started.headers["location"]


async def _signed_in_as(browser: httpx.AsyncClient) -> str | None:
    page = await browser.get("/no-such-page")
    if page.status_code in (302, 303):
        return None
    match = re.search(r"Ada Lovelace|Sam|Maria|Hal|Dee", page.text)
    return match.group(0) if match else page.text[:200]


async def test_first_sign_in_links_the_person_by_email_and_the_next_reuses_it(sso):
    authorize = await _start(sso, "/reviews")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]

    back = await _sign_in_at_provider(authorize, "ada")
    landed = await sso.get(back)

    assert landed.status_code == 303
    assert landed.headers["location"] == "/reviews"
    assert await _signed_in_as(sso) == "Ada Lovelace"
    identity = await ExternalIdentity.get(provider=PROVIDER, subject="ada")
    assert (await User.get(id=identity.user_id)).username == "e300"
    assert identity.email == "ADA@example.com"

    sso.cookies.clear()
    again = await sso.get(await _sign_in_at_provider(await _start(sso), "ada"))
    assert again.status_code == 303
    assert await _signed_in_as(sso) == "Ada Lovelace"
    assert await ExternalIdentity.filter(subject="ada").count() == 1


async def test_a_person_without_a_login_gets_one_without_a_password(sso, people):
    await User.filter(username=people["employee"]).delete()

    await sso.get(await _sign_in_at_provider(await _start(sso), "ada"))

    assert await _signed_in_as(sso) == "Ada Lovelace"
    user = await User.get(username="e300")
    assert user.password_hash == ""
    sso.cookies.clear()
    page = await sso.get("/login")
    refused = await sso.post("/login", data={"username": "e300", "password": "",
                                             "csrf_token": csrf_from(page.text)})
    assert refused.status_code == 400  # no password opens a login made by single sign-on


async def test_nobody_with_that_email_is_refused_clearly(sso):
    refused = await sso.get(await _sign_in_at_provider(await _start(sso), "stranger"))

    assert refused.status_code == 403
    assert "No active person in Sightline has the email address" in refused.text
    assert "stranger@example.org" in refused.text
    assert await _signed_in_as(sso) is None
    assert not await ExternalIdentity.exists()


async def test_an_unverified_email_links_nobody(sso):
    refused = await sso.get(await _sign_in_at_provider(await _start(sso), "unverified"))

    assert refused.status_code == 400
    assert "has not verified your email address" in refused.text
    assert await _signed_in_as(sso) is None


async def test_a_state_this_browser_did_not_start_is_refused(sso):
    back = await _sign_in_at_provider(await _start(sso), "ada")

    refused = await sso.get(_with_query(back, state="someone-elses-state"))

    assert refused.status_code == 400
    assert "does not match the one this browser started" in refused.text
    assert await _signed_in_as(sso) is None
    # The sign-in is spent: the right state afterwards does not revive it.
    assert (await sso.get(back)).status_code == 400
    assert await _signed_in_as(sso) is None


async def test_a_token_for_another_nonce_is_refused(sso):
    authorize = _with_query(await _start(sso), nonce="a-nonce-from-another-request")

    refused = await sso.get(await _sign_in_at_provider(authorize, "ada"))

    assert refused.status_code == 400
    assert "nonce mismatch" in refused.text
    assert await _signed_in_as(sso) is None


async def test_an_expired_token_is_refused(sso, wall_clock):
    back = await _sign_in_at_provider(await _start(sso), "ada")
    # The provider's ID tokens last an hour; past that and the minute of leeway, on our clock.
    wall_clock.advance(3600 + oidc.LEEWAY_SECONDS + 5)

    refused = await sso.get(back)

    assert refused.status_code == 400
    assert "The sign-in has expired" in refused.text
    assert await _signed_in_as(sso) is None


async def test_log_out_ends_the_session_and_signs_out_at_the_provider(sso):
    await sso.get(await _sign_in_at_provider(await _start(sso), "ada"))
    page = await sso.get("/no-such-page")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert token

    out = await sso.post("/logout", data={"csrf_token": token.group(1)})

    assert out.status_code == 303
    assert await _signed_in_as(sso) is None
    onward = await sso.get(out.headers["location"])
    assert "You have logged out" in onward.text
    found = re.search(r'<a href="([^"]+)" role="button">Continue</a>', onward.text)
    assert found
    location = urlsplit(unescape(found.group(1)))
    assert location.path == "/session/end"
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == [f"{APP}/login"]
    assert query["id_token_hint"]
    assert await _signed_in_as(sso) is None


async def test_passwords_switched_off_leave_only_the_provider(sso, monkeypatch, people):
    monkeypatch.setattr(settings, "LOCAL_PASSWORDS", False)
    page = await sso.get("/login")
    assert "Sign in with Contoso" in page.text
    assert 'name="password"' not in page.text

    from engine.operations.demo import DEMO_PASSWORD

    refused = await sso.post("/login", data={
        "username": people["employee"], "password": DEMO_PASSWORD,
        "csrf_token": re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        .group(1),  # type: ignore[union-attr]
    })
    assert refused.status_code == 403
    assert "Passwords are switched off" in refused.text
    assert await _signed_in_as(sso) is None


# -- ID tokens a genuine provider would not issue for this sign-in --------------------------------


def _token(key: RSAKey, issuer: str, **changes: object) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": "ada", "aud": CLIENT_ID, "iat": now, "exp": now + 600,
              "nonce": "the-nonce", **changes}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


async def _verify(provider: RunningProvider, token: str) -> dict[str, object]:
    configured = oidc.Provider(name=PROVIDER, label="Contoso", issuer=provider.issuer,
                               client_id=CLIENT_ID, client_secret="unused")
    return await oidc.verify_id_token(configured, await oidc.discover(configured), token,
                                      "the-nonce")


async def test_the_provider_key_verifies_a_token_for_us(provider):
    claims = await _verify(provider, _token(provider.key, provider.issuer))
    assert claims["sub"] == "ada"


@pytest.mark.parametrize(("changes", "message"), [
    ({"aud": "another-application"}, "issued for another application"),
    ({"aud": ["another-application", CLIENT_ID]}, "issued for another application"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "has expired"),
    ({"iss": "http://127.0.0.1:1"}, "issued by another provider"),
    ({"nonce": "another"}, "nonce mismatch"),
])
async def test_tokens_signed_by_the_provider_but_not_for_this_sign_in_are_refused(
    provider, changes, message
):
    with pytest.raises(oidc.SignInRefused, match=message):
        await _verify(provider, _token(provider.key, provider.issuer, **changes))


async def test_a_token_signed_by_another_key_is_refused(provider):
    impostor = RSAKey.generate_key(2048, {"kid": provider.key.kid}, private=True)

    with pytest.raises(oidc.SignInRefused, match="signature matches none"):
        await _verify(provider, _token(impostor, provider.issuer))


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))

