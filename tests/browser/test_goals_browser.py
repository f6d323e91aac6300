"""Line of sight in a real browser: HR builds a goal tree and edits a goal in place, an employee
sees the chain from their objective up to the organisation's goal; screenshots of each.

The server is the dashboards' (tests/browser/test_dashboards_browser.py): a year's results and
the organisation goal "Launch Sightline 1.0" that Eve's objective names by its title.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_dashboards_browser import live_server  # noqa: F401  (the server with results)

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]


def test_hr_builds_the_goal_tree_and_edits_a_goal_in_place(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "h1")
    page.goto("/goals?cycle=1")
    form = page.locator("form.dash-form")
    if not form.is_visible():
        page.get_by_text("Add a goal").click()
    form.get_by_label("Title").fill("Ship the appraisal module")
    form.get_by_label("Whose goal").select_option(label="Engineering")
    form.get_by_label("Supports").select_option(label="Launch Sightline 1.0 (Organisation)")
    form.get_by_label("Measure").fill("Modules shipped")
    form.get_by_label("Target").fill("4")
    form.get_by_label("Unit", exact=True).fill("modules")
    form.get_by_label("Period from").fill("2026-01-01")
    form.get_by_label("to", exact=True).fill("2026-12-31")
    form.get_by_label("Owner").fill("M1")
    form.get_by_role("button", name="Add goal").click()
    expect(page.get_by_text("Goal “Ship the appraisal module” added.")).to_be_visible()
    tree = page.locator("#goal-tree")
    expect(tree).to_contain_text("Modules shipped → 4 modules")
    expect(tree).to_contain_text("Who contributes (1)")
    shoot(page, "goals-tree-hr")

    card = tree.locator("article", has=page.get_by_role(
        "heading", level=3, name="Ship the appraisal module"))
    card.get_by_role("button", name="Edit").click()
    editing = page.locator("article.goal-editing")
    expect(editing.get_by_label("Measure")).to_have_value("Modules shipped")
    editing.get_by_label("Weight").fill("2")
    editing.get_by_label("Target").fill("five")
    shoot(page, "goals-edit-form", full_page=False)
    editing.get_by_role("button", name="Save goal").click()
    expect(page.get_by_text("The target is a number")).to_be_visible()
    page.locator("article.goal-editing").get_by_label("Target").fill("5")
    page.locator("article.goal-editing").get_by_role("button", name="Save goal").click()
    expect(page.get_by_text("Goal “Ship the appraisal module” saved.")).to_be_visible()
    expect(page.locator("#goal-tree")).to_contain_text("5 modules")

    phone = open_page(390, 844)
    log_in(phone, "h1")
    phone.goto("/goals?cycle=1")
    expect(phone.locator("#goal-tree")).to_contain_text("Ship the appraisal module")
    shoot(phone, "goals-tree-phone")


def test_an_employee_sees_the_chain_from_objective_to_organisation_goal(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "e1")
    page.goto("/scorecard?cycle=1")
    sight = page.locator("#line-of-sight")
    expect(sight).to_contain_text("Ship the appraisal module")
    expect(sight).to_contain_text(re.compile(r"Organisation\s*Launch Sightline 1.0"))
    expect(sight).to_contain_text("Supports no goal yet")
    sight.scroll_into_view_if_needed()
    shoot(page, "goals-chain-employee", full_page=False)
    page.goto("/goals")
    expect(page.locator("#goal-tree")).to_contain_text("Launch Sightline 1.0")
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
