"""My review in a real browser at laptop and phone sizes, with screenshots: the employee's
home is their review tracker; the manager's home lists the team, each linking to a review.
(The one-person mid-year story — pages opening on the cycle with open work — is tested on
the engine, tests/engine/test_my_review.py, and the pages, tests/webapp/test_my_review_pages.py.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SIZES = {"laptop": (1366, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_the_employees_home_shows_the_review_tracker(
    open_page: Callable[..., Page], log_in: Callable[..., None],
    shoot: Callable[..., Path], size: str,
) -> None:
    page = open_page(*SIZES[size])
    log_in(page, "e1")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/review$"))
    expect(page.get_by_role("heading", level=1, name="My review")).to_be_visible()
    expect(page.locator(".review-now")).to_contain_text("Objectives")
    expect(page.locator(".review-now")).to_contain_text("waiting on you")
    expect(page.locator(".review-step.is-current")).to_contain_text("Objectives")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size][0], f"the page is {width} px wide"
    shoot(page, f"my-review-{size}-01-employee-home")
    page.get_by_role("button", name="Open “Objectives”").click()
    expect(page.get_by_role("heading", name="Draft objectives")).to_be_visible()


@pytest.mark.parametrize("size", SIZES)
def test_the_managers_home_lists_the_team_each_linking_to_their_review(
    open_page: Callable[..., Page], log_in: Callable[..., None],
    shoot: Callable[..., Path], size: str,
) -> None:
    page = open_page(*SIZES[size])
    log_in(page, "m1")
    page.goto("/review")
    team = page.locator(".review-team")
    expect(team).to_contain_text("Eve Employee")
    expect(team).to_contain_text("with Eve Employee")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size][0], f"the page is {width} px wide"
    shoot(page, f"my-review-{size}-02-manager-team")
    team.get_by_role("link", name="Eve Employee").click()
    expect(page.get_by_role("heading", level=1, name="Eve Employee’s review")).to_be_visible()
    shoot(page, f"my-review-{size}-03-report-review")
