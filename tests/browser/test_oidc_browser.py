"""Single sign-on in the browser: Eve signs in at a real OpenID provider (node's oidc-provider,
on its own pages), lands in Sightline as herself — found by her email on the first sign-in —
and the next sign-in reuses the identity that linked."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_server import LIVE_APP, serving
from conftest import PHONE
from playwright.sync_api import Page, expect

from tests.support.oidc import PROVIDER, running_provider

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oidc-app") / "sightline.db"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, database: Path, browser: object
                ) -> Iterator[str]:
    """The app with the provider configured, beside the provider itself."""
    with running_provider(tmp_path_factory.mktemp("oidc")) as provider:
        env = {"SIGHTLINE_OIDC_PROVIDERS": json.dumps(provider.settings())}
        with serving(LIVE_APP, [str(database), "objectives"], database.with_suffix(".log"),
                     env=env) as url:
            yield url


def _identities(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT provider, email FROM external_identity ORDER BY id").fetchall()


def _sign_in_at_provider(page: Page, shoot: object = None) -> None:
    expect(page.locator("input[name=login]")).to_be_visible()
    if shoot is not None:
        shoot(page, "oidc-provider-page")  # type: ignore[operator]
    page.locator("input[name=login]").fill("eve")
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    consent = page.get_by_role("button", name="Continue")
    if "/interaction/" in page.url and consent.count():
        consent.click()


def test_eve_signs_in_at_the_provider_and_lands_as_herself(open_page, shoot, database):
    page = open_page()
    page.goto("/inbox")
    button = page.get_by_role("button", name="Sign in with Contoso")
    expect(button).to_be_visible()
    expect(page.get_by_label("Username")).to_be_visible()
    shoot(page, "oidc-login-page")

    button.click()
    _sign_in_at_provider(page, shoot)

    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert page.url.endswith("/inbox")
    expect(page.get_by_text("Eve Employee").first).to_be_visible()
    shoot(page, "oidc-landed")
    assert _identities(database) == [(PROVIDER, "Eve@Example.com")]

    page.get_by_role("button", name="Log out").click()
    # The provider asks whether to sign out there too; yes, and back to our login page.
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("button", name="Sign in with Contoso")).to_be_visible()
    assert "/login" in page.url

    page.get_by_role("button", name="Sign in with Contoso").click()
    _sign_in_at_provider(page)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text("Eve Employee").first).to_be_visible()
    assert _identities(database) == [(PROVIDER, "Eve@Example.com")]


def test_login_page_with_a_provider_on_a_phone(open_page, shoot):
    page = open_page(*PHONE)
    page.goto("/login")
    button = page.get_by_role("button", name="Sign in with Contoso")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0]
    shoot(page, "oidc-login-page-phone")
