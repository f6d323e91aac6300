"""Pickers in a real browser, at laptop (1,366×800) and phone (390×844) size: Eve records a
check-in with Morgan found by typing "Mor", gives Eli feedback found by search, and Hana
launches objective setting for a unit, seeing how many reviews it starts before anything does.

The server is live_app.py's "objectives" scenario (objective setting started for Eve and Eli in
"2026 objectives"). Screenshots land in tests/screenshots/pickers-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from browser_steps import COUNT_REQUESTS, live_checks_done
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]
SIZES = {"laptop": (1366, 800), "phone": (390, 844)}


def pick(field: Locator, key: str) -> None:
    """Choose a suggestion as the browser does: the whole value replaced in one input event.
    (Headless Chromium draws no suggestion popup to click.)"""
    field.evaluate(
        "(input, key) => { input.value = key; input.dispatchEvent(new InputEvent('input',"
        " {bubbles: true, inputType: 'insertReplacementText'})); }",
        key,
    )


def suggestion(page: Page, field: Locator, key: str) -> Locator:
    return page.locator(f"#{field.get_attribute('list')} option[value='{key}']")


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"  # type: ignore[index]


@pytest.mark.parametrize("size", SIZES)
def test_eve_records_a_check_in_with_morgan_found_by_typing_mor(
    open_page: Opener, shoot: Shoot, log_in: LogIn, size: str
) -> None:
    page = open_page(*SIZES[size])
    page.add_init_script(COUNT_REQUESTS)
    log_in(page, "e1")
    page.goto("/development")
    page.get_by_role("button", name="Record a check-in").click()
    expect(page.get_by_role("heading", level=1, name="Record a check-in")).to_be_visible()
    page.wait_for_load_state("load")

    who = page.get_by_label("Check-in with")
    expect(who).to_have_attribute("placeholder", "Start typing a name")
    who.press_sequentially("Mor")
    live_checks_done(page)
    expect(suggestion(page, who, "M1")).to_have_text("Morgan Manager — Team lead, Engineering")
    pick(who, "M1")
    live_checks_done(page)
    expect(page.locator("#with_person-person")).to_have_text(
        "Morgan Manager — Team lead, Engineering"
    )
    shoot(page, f"pickers-checkin-{size}-01-found")

    # A part of a name left as it is: the form offers whom it could mean, one press away.
    who.fill("Mor")
    who.press("Tab")
    live_checks_done(page)
    expect(page.locator("#with_person-error")).to_contain_text("“Mor” is not a full name")
    choice = page.get_by_role("button", name="Morgan Manager — Team lead, Engineering (M1)")
    expect(choice).to_be_visible()
    no_sideways_scroll(page)
    shoot(page, f"pickers-checkin-{size}-02-choose")
    choice.click()
    live_checks_done(page)
    expect(who).to_have_value("M1")
    expect(page.locator("#with_person-error")).to_have_count(0)

    page.get_by_label("Date").fill("2026-01-15")
    page.get_by_label("Topics").fill("Progress on billing")
    page.get_by_label("Agreed next steps").fill("Pair on the release plan")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Record a check-in")).to_have_count(0)


@pytest.mark.parametrize("size", SIZES)
def test_eve_gives_eli_feedback_found_by_search(
    open_page: Opener, shoot: Shoot, log_in: LogIn, size: str
) -> None:
    page = open_page(*SIZES[size])
    page.add_init_script(COUNT_REQUESTS)
    log_in(page, "e1")
    page.goto("/feedback")
    page.wait_for_load_state("load")
    colleague = page.get_by_label("Colleague")
    colleague.press_sequentially("eli")
    live_checks_done(page)
    # The page shows no label under the box, so a suggestion fills in the name with the ID.
    expect(suggestion(page, colleague, "Eli Other (E2)")).to_have_text(
        "Eli Other — Software Engineer, Engineering"
    )
    pick(colleague, "Eli Other (E2)")
    page.get_by_label("Topic").fill("Sprint demo")
    no_sideways_scroll(page)
    shoot(page, f"pickers-feedback-{size}-01-found")
    page.get_by_role("button", name="Give feedback").click()
    expect(page.locator("main")).to_contain_text("Feedback for Eli Other")
    shoot(page, f"pickers-feedback-{size}-02-writing")


@pytest.mark.parametrize("size", SIZES)
def test_hana_launches_for_a_unit_after_seeing_what_it_starts(
    open_page: Opener, shoot: Shoot, log_in: LogIn, size: str
) -> None:
    # Eve and Eli already have objective setting open in "2026 objectives".
    cycle = "2026 objectives" if size == "laptop" else "2026 pilot"
    page = open_page(*SIZES[size])
    log_in(page, "h1")
    page.goto("/hr/cycles/new")
    page.get_by_label("Process").select_option(label="Objective setting")
    page.get_by_label("An org unit").check()
    page.get_by_label("Org unit", exact=True).select_option("ENG")
    page.get_by_label("Cycle name").fill(cycle)
    shoot(page, f"pickers-launch-{size}-01-form")
    page.get_by_role("button", name="Review the launch").click()

    summary = page.locator("#confirm-summary")
    count = 3 if size == "laptop" else 5
    expect(summary).to_have_text(
        f"This will start {count} reviews (Objective setting, {cycle}) for:"
    )
    expect(page.locator(".hr-confirm-people")).to_contain_text("Morgan Manager")
    if size == "laptop":
        skipped = page.get_by_text("Skipped, because they already have an open Objective")
        expect(skipped).to_contain_text("Eve Employee")
        expect(skipped).to_contain_text("Eli Other")
    expect(page.get_by_text("Nothing has started yet.")).to_be_visible()
    no_sideways_scroll(page)
    shoot(page, f"pickers-launch-{size}-02-confirm")

    page.get_by_role("button", name=f"Start {count} reviews").click()
    expect(page).to_have_url(re.compile(r"/hr/launches/\d+$"))
    expect(page.locator("main")).to_contain_text(cycle)
    shoot(page, f"pickers-launch-{size}-03-started")
