"""Positions and gap analysis in a real browser, on the demo's data: HR edits a position's
profile in place, reads a unit's gap heat map, and a manager drawing up a development plan
adds one suggestion to the plan and dismisses another. Screenshots of each; axe-core checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import app_server
import pytest
import test_accessibility_browser
from app_server import running_app
from browser_steps import COUNT_REQUESTS, flash, live_checks_done
from playwright.sync_api import Browser, Page, expect
from test_accessibility_browser import AXE, axe_problems

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The demo organisation: positions, last year's competency ratings, rated feedback."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make does)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_server, "LIVE_APP", Path(test_accessibility_browser.__file__))
        with running_app(tmp_path_factory, "demo") as url:
            yield url


def test_hr_edits_a_position_profile_in_place(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page(1366, 800)
    page.add_init_script(COUNT_REQUESTS)
    log_in(page, "hradmin")
    page.goto("/hr")
    page.get_by_role("button", name="Positions").click()
    expect(page.get_by_role("heading", level=1, name="Positions")).to_be_visible()
    card = page.locator("#position-software_engineer")
    expect(card).not_to_contain_text("Key position")
    expect(page.locator("#position-senior_software_engineer")).to_contain_text("Key position")
    assert axe_problems(page) == []
    shoot(page, "positions-hr-list")

    card.get_by_role("button", name="Edit profile").click()
    form = page.locator("#position-software_engineer form")
    expect(form).to_be_visible()
    form.get_by_label("Coaching").select_option("2")
    form.get_by_label("Skills").fill("Writing maintainable, tested code\nDebugging production "
                                     "issues\nEstimating and splitting work\nPairing")
    form.get_by_label("Title").fill("   ")
    form.get_by_role("button", name="Save profile").click()
    live_checks_done(page)
    # A blank title is refused in place; what was typed stays.
    expect(page.locator("#position-software_engineer")).to_contain_text(
        "Give the position a title.")
    expect(page.locator("#position-software_engineer").get_by_label("Coaching")) \
        .to_have_value("2")
    shoot(page, "positions-hr-edit-error")
    page.locator("#position-software_engineer").get_by_label("Title").fill("Software engineer")
    page.locator("#position-software_engineer").get_by_role("button", name="Save profile").click()
    live_checks_done(page)
    saved = page.locator("#position-software_engineer")
    expect(saved).to_contain_text("Edited in the app by E1003")
    expect(saved).to_contain_text("Coaching")
    expect(saved).to_contain_text("Pairing")
    shoot(page, "positions-hr-saved")


def test_hr_reads_a_units_gap_heat_map(open_page: Opener, log_in: LogIn, shoot: Shoot) -> None:
    page = open_page(1366, 800)
    log_in(page, "hradmin")
    page.goto("/hr")
    page.get_by_role("button", name="Gap analysis").click()
    expect(page.get_by_role("heading", level=1, name="Gap analysis")).to_be_visible()
    page.get_by_label("Unit", exact=True).select_option(label="\u00a0\u00a0Engineering")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Heat map of Engineering")).to_be_visible()
    heat = page.locator("table.gap-map").first
    expect(heat.locator("tbody tr")).to_have_count(4)  # all, own members, the two teams
    # The Platform team leans on communication: its cell says so in words.
    platform = heat.locator("tr", has_text="Platform Team")
    expect(platform.locator(".visually-hidden", has_text="Communication:")).to_contain_text(
        "below the required level")
    expect(page.locator(".gap-legend")).to_contain_text("Gap of two levels or more")
    assert axe_problems(page) == []
    shoot(page, "gaps-unit-heat-map")

    platform.get_by_role("link", name="Platform Team").click()
    expect(page.get_by_role("heading", name="Heat map of Platform Team")).to_be_visible()
    page.locator("table.gap-map").nth(1).locator("tbody tr a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Competency gaps of")
    expect(page.locator("table.gap-person")).to_contain_text("Communication")
    assert axe_problems(page) == []
    shoot(page, "gaps-person")


def test_a_manager_adds_one_suggestion_to_the_plan_and_dismisses_another(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page(1366, 800)
    page.add_init_script(COUNT_REQUESTS)
    log_in(page, "manager")
    page.goto("/team")
    page.get_by_role("button", name="Competency gaps").click()
    expect(page.get_by_role("heading", name="My team")).to_be_visible()
    shoot(page, "gaps-team-heat-map")

    # A direct report with a gap: their page, then a development plan for them.
    team = page.locator("table.gap-map tbody tr", has=page.locator("td.gap-medium, td.gap-large"))
    name = team.first.locator("th a").first.inner_text()
    team.first.locator("th a").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Competency gaps of {name}")
    shoot(page, "gaps-person-for-manager")
    page.get_by_role("button", name="Draw up a development plan").click()
    suggestions = page.locator("#gap-suggestions")
    expect(suggestions.get_by_role("heading", level=2)).to_contain_text("competency gaps")
    page.get_by_label("Development goals").fill("Grow into a senior engineer.")
    first = suggestions.locator(".gap-suggest-list li").first
    added = first.locator(".gap-suggest-text").inner_text()
    first.get_by_role("button", name=re.compile(r"^Add to plan:")).click()
    expect(flash(page).first).to_contain_text("to the plan's actions, due ")
    # The goals typed before the click are still there, and the action is a row of the plan.
    expect(page.get_by_label("Development goals")).to_have_value("Grow into a senior engineer.")
    expect(page.locator("#task-form [name$='-goal']").first).to_have_value(
        re.compile("reach level"))
    actions = page.locator("#task-form [name$='-action']")
    expect(actions.first).to_have_value(added[:200])
    # It comes with a due date the manager may change.
    expect(page.locator("#task-form [name$='-due_date']").first).to_have_value(
        re.compile(r"^\d{4}-\d{2}-\d{2}$"))

    suggestions = page.locator("#gap-suggestions")
    second = suggestions.locator(".gap-suggest-list li").first
    dismissed = second.locator(".gap-suggest-text").inner_text()
    second.get_by_role("button", name=re.compile(r"^Dismiss:")).click()
    live_checks_done(page)
    expect(page.locator("#gap-suggestions")).not_to_contain_text(dismissed)
    expect(page.locator("#gap-suggestions")).to_contain_text("1 added, 1 dismissed")
    assert axe_problems(page) == []
    shoot(page, "gaps-plan-suggestions")
