"""Objective setting in a real browser: draft, live weight check, return, revise, approve, sign.

Eve (e1) drafts her objectives, Morgan (m1, her manager) returns them with a comment, Eve
revises, Morgan approves, Eve signs; the instance page then shows the diagram with the steps
done. Screenshots of every page land in tests/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import browser_steps as steps
import pytest
from browser_steps import COUNT_REQUESTS, flash, live_checks_done, main_nav, submit
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]

WEIGHTS_RULE = "The weights of your objectives must add up to 100."
REVISED = "Mentor two juniors to their first release by June"
RETURN_COMMENT = "Please make the mentoring objective measurable: how many people, by when?"


def open_task(page: Page, name: str, subject: str = "Eve Employee") -> None:
    """Open a waiting task from the inbox row of its subject (Eve's, unless told)."""
    steps.open_task(page, name, subject)


def cell(page: Page, column: str, row: int) -> Locator:
    """The input of one objectives-table cell (labelled "<column>, row <n>" for readers)."""
    return page.get_by_label(f"{column}, row {row}", exact=True)


def objectives_table(page: Page) -> Locator:
    return page.locator("#task-form table").first


def add_row(page: Page) -> None:
    rows = objectives_table(page).locator("tbody tr:has(input)")
    before = rows.count()
    page.get_by_role("button", name="Add row").click()
    expect(rows).to_have_count(before + 1)


def type_objective(page: Page, row: int, values: dict[str, str]) -> None:
    """Type one objective row cell by cell, as a person would (the server checks live)."""
    for column, text in values.items():
        field = cell(page, column, row)
        field.fill("")
        field.press_sequentially(text)
        field.press("Tab")
        # The server re-renders the table after each cell; the next cell is typed into the
        # table it sends back (typing during the round trip would be lost - see the report).
        live_checks_done(page)


def test_objective_setting_from_draft_to_signature(
    open_page: Opener, shoot: Shoot, log_in: LogIn
) -> None:
    page = open_page()
    page.add_init_script(COUNT_REQUESTS)

    # -- Eve logs in and opens her draft from the inbox ----------------------------------------
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shoot(page, "01-login")
    log_in(page, "e1")
    # Her home is her review: where she stands, and the step waiting for her.
    expect(page).to_have_url(re.compile(r"/review$"))
    expect(page.get_by_role("main")).to_contain_text("waiting on you")
    shoot(page, "02-my-review-employee")
    main_nav(page).get_by_role("link", name="Inbox").click()
    expect(page.locator("tbody tr", has_text="Eve Employee")).to_contain_text("Draft objectives")
    shoot(page, "02-inbox-employee")
    open_task(page, "Draft objectives")

    # -- two objectives whose weights total 90: the server says so while she types ----------
    # The table starts with one empty row; the second comes from "Add row".
    expect(objectives_table(page).locator("tbody tr:has(input)")).to_have_count(1)
    type_objective(page, 1, {"Key result area": "Delivery", "Objective": "Ship the billing service",
                             "KPI": "Release date met", "Target": "1", "Weight (%)": "50"})
    add_row(page)
    type_objective(page, 2, {"Key result area": "People", "Objective": "Mentor juniors",
                             "KPI": "People mentored", "Target": "2", "Weight (%)": "40"})
    rule = page.get_by_text(WEIGHTS_RULE)
    expect(rule).to_be_visible()
    expect(page.locator("output[data-sl-total]")).to_have_text("90")
    shoot(page, "03-task-weights-error")

    # -- 60 + 40 = 100: the message goes away --------------------------------------------------
    type_objective(page, 1, {"Weight (%)": "60"})
    expect(rule).to_have_count(0)
    expect(page.locator("output[data-sl-total]")).to_have_text("100")
    page.get_by_label("Comments for your manager").fill("Happy to add a quality goal.")
    shoot(page, "04-task-filled")
    submit(page)

    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(flash(page)).to_contain_text("Submitted 'Draft objectives'")
    expect(flash(page)).to_contain_text("Review objectives — with Morgan Manager")
    shoot(page, "05-inbox-after-submit")

    # -- Morgan returns them with a comment ---------------------------------------------------
    log_in(page, "m1")
    expect(page.locator("tbody tr", has_text="Eve Employee")).to_contain_text("Review objectives")
    shoot(page, "06-inbox-manager")
    open_task(page, "Review objectives")
    instructions = page.locator(".task-instructions")
    expect(instructions).to_contain_text("Ship the billing service")
    expect(instructions).to_contain_text("Happy to add a quality goal.")
    page.get_by_label("Return them to the employee").check()
    page.get_by_label("Comments for the employee").fill(RETURN_COMMENT)
    shoot(page, "07-review-page")
    submit(page)
    expect(flash(page)).to_contain_text("Draft objectives — with Eve Employee")

    # -- Eve sees it back with Morgan's comment, revises and resubmits ------------------------
    log_in(page, "e1")
    open_task(page, "Draft objectives")
    instructions = page.locator(".task-instructions")
    expect(instructions).to_contain_text("returned your objectives")
    expect(instructions).to_contain_text(RETURN_COMMENT)
    # Her previous draft is filled in.
    expect(cell(page, "Objective", 2)).to_have_value("Mentor juniors")
    shoot(page, "08-returned-task")
    type_objective(page, 2, {"Objective": REVISED})
    submit(page)
    expect(flash(page)).to_contain_text("Submitted 'Draft objectives'")

    # -- Morgan approves -----------------------------------------------------------------------
    log_in(page, "m1")
    open_task(page, "Review objectives")
    expect(page.locator(".task-instructions")).to_contain_text("round 2")
    page.get_by_label("Approve the objectives").check()
    submit(page)
    expect(flash(page)).to_contain_text("Acknowledge objectives — with Eve Employee")

    # -- Eve signs with her typed name ---------------------------------------------------------
    log_in(page, "e1")
    open_task(page, "Acknowledge objectives")
    # Ticking the box re-renders the signature from the server; type once it is back.
    page.get_by_label(re.compile("I have read these objectives")).check()
    live_checks_done(page)
    page.get_by_label("Your full name").fill("Eve Employee")
    shoot(page, "09-acknowledge")
    submit(page)
    expect(flash(page)).to_contain_text("Objective setting is complete")

    # -- My reviews, the instance page with its diagram, the print view -----------------------
    main_nav(page).get_by_role("link", name="My reviews").click()
    expect(page.get_by_role("heading", level=1, name="My reviews")).to_be_visible()
    review = page.locator("tr", has_text="Objective setting")
    expect(review).to_contain_text("Completed")
    shoot(page, "10-my-reviews")

    review.get_by_role("link", name="Objective setting").click()
    # Eve sees where her review stands, not the process diagram (that is HR's and designers').
    expect(page.locator("#bpmn-diagram")).to_have_count(0)
    expect(page.get_by_role("main")).to_contain_text("Objectives")
    shoot(page, "11-instance-employee")
    instance_url = page.url
    log_in(page, "h1")
    page.goto(instance_url)
    diagram = page.locator("#bpmn-diagram")
    expect(diagram.locator("svg").first).to_be_visible()
    for step in ("draft_objectives", "review_objectives", "acknowledge_objectives"):
        shape = diagram.locator(f'g.djs-element[data-element-id="{step}"]')
        expect(shape).to_have_class(re.compile(r"\bsl-completed\b"))
    expect(diagram.locator('g.djs-element[data-element-id="escalated_review"]')).not_to_have_class(
        re.compile(r"\bsl-completed\b")
    )
    shoot(page, "11-instance-diagram-hr")

    page.get_by_role("button", name="Print view").click()
    expect(page.get_by_text("Eve Employee").first).to_be_visible()
    expect(page.locator("main")).to_contain_text(REVISED)
    shoot(page, "12-print-view")


# Eli (e2) has his own objective setting; the flow above never touches it.
ELI = "Eli Other"


def page_width_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    page.wait_for_load_state("load")  # measured with its stylesheets applied
    return int(page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    ))


def test_inbox_and_task_page_on_a_phone(open_page: Opener, shoot: Shoot, log_in: LogIn) -> None:
    page = open_page(390, 844)
    log_in(page, "e2")
    main_nav(page).get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    expect(page.get_by_role("link", name="Draft objectives")).to_be_visible()
    shoot(page, "20-phone-inbox")

    open_task(page, "Draft objectives", ELI)
    expect(page.get_by_role("button", name="Submit", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Add row")).to_be_visible()
    shoot(page, "21-phone-task")
    # The first cell can be typed into without zooming or scrolling sideways.
    field = cell(page, "Key result area", 1)
    field.fill("Delivery")
    expect(field).to_have_value("Delivery")


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)], ids=["laptop", "phone"])
def test_inbox_and_task_page_do_not_scroll_sideways(
    open_page: Opener, log_in: LogIn, width: int, height: int
) -> None:
    page = open_page(width, height)
    log_in(page, "e2")
    assert page_width_overflow(page) == 0  # My review, her home
    main_nav(page).get_by_role("link", name="Inbox").click()
    assert page_width_overflow(page) == 0
    open_task(page, "Draft objectives", ELI)
    expect(page.get_by_role("button", name="Submit", exact=True)).to_be_visible()
    assert page_width_overflow(page) == 0
