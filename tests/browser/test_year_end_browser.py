"""The year-end appraisal in a real browser, from self-appraisal to HR's final approval.

The server (live_app.py, scenario "year-end") starts one appraisal for Eve (e1) with two agreed
objectives. Eve
enters her actuals and rates herself, Morgan (m1, her manager) rates her and keeps the proposed
overall rating, Hana (h1, HR) releases the population's ratings from the HR dashboard, Morgan
records the discussion, Eve agrees and signs, Hana approves; My reviews then shows it completed.
Screenshots of every page land in tests/screenshots/year-end-*.png.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import browser_steps
import pytest
from app_server import running_app
from browser_steps import COUNT_REQUESTS, flash, live_checks_done, main_nav, submit
from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]

EVE = "Eve Employee"
ENGINEERING_COMPETENCIES = (
    "Communication", "Collaboration", "Delivering results", "Technical mastery", "Problem solving"
)
SELF_SUMMARY = "Shipped billing on time and brought two juniors to their first release."
MANAGER_COMMENTS = "A solid year: billing landed as planned and the mentoring paid off."
DISCUSSION_NOTES = "Went through results and competencies; agreed a focus on design reviews."


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """Base URL of the real app with Eve's year-end appraisal waiting for her self-appraisal."""
    with running_app(tmp_path_factory, "year-end") as url:
        yield url


ROOT = Path(__file__).resolve().parents[2]


def inbox_row(page: Page) -> Locator:
    return browser_steps.inbox_row(page, EVE)


def open_task(page: Page, name: str) -> None:
    """Open a waiting task the way a person does: from the inbox row of Eve's appraisal."""
    browser_steps.open_task(page, name, EVE)


def rating_group(page: Page, competency: str) -> Locator:
    """The rating cards of one competency (a fieldset whose legend is its name)."""
    return page.locator("fieldset.sl-rating").filter(
        has=page.locator("legend", has_text=re.compile(rf"^{re.escape(competency)}"))
    )


def rate(page: Page, competency: str, level: int) -> None:
    """Press one level's button, as a person does: it takes, and its behaviours open."""
    row = rating_group(page, competency).locator("div.sl-rating-level").filter(
        has=page.locator(f'input[type="radio"][value="{level}"]')
    )
    row.locator("label.sl-level-name").click()
    expect(row.locator('input[type="radio"]')).to_be_checked()
    expect(row.locator(".sl-level-about")).to_be_visible()
    live_checks_done(page)


def type_actual(page: Page, row: int, value: str) -> None:
    field = page.get_by_label(f"Actual, row {row}", exact=True)
    field.fill("")
    field.press_sequentially(value)
    field.press("Tab")
    live_checks_done(page)


def sign(page: Page, statement: str, name: str) -> None:
    """Tick the statement (the server re-renders the signature), then type the name."""
    page.get_by_label(statement).check()
    live_checks_done(page)
    full_name = page.get_by_label("Your full name")
    full_name.fill(name)
    live_checks_done(page)
    expect(full_name).to_have_value(name)
    expect(full_name).not_to_have_attribute("aria-invalid", "true")


def test_year_end_appraisal_to_final_approval(
    open_page: Opener, shoot: Shoot, log_in: LogIn
) -> None:
    page = open_page()
    page.add_init_script(COUNT_REQUESTS)

    # -- Eve: the self-appraisal waits in her inbox, with her agreed objectives ----------------
    log_in(page, "e1")
    main_nav(page).get_by_role("link", name="Inbox").click()  # home is My review
    expect(inbox_row(page)).to_contain_text("Self-appraisal")
    shoot(page, "year-end-01-inbox-employee")
    open_task(page, "Self-appraisal")
    expect(page.locator(".task-instructions")).to_contain_text("Ship the billing service")
    # Agreed objectives are fixed and read as text: nothing to edit, no rows to add.
    objectives = page.locator("#field-objectives table")
    expect(objectives.locator("tbody tr").first.locator("td").nth(1)).to_have_text(
        "Ship the billing service"
    )
    expect(objectives.get_by_role("textbox", name="Objective, row 1")).to_have_count(0)
    expect(page.get_by_role("button", name="Add row")).to_have_count(0)
    shoot(page, "year-end-02-self-appraisal-empty")

    type_actual(page, 1, "4")
    type_actual(page, 2, "2")
    # Live checks of the actuals keep the fixed weights' total in view.
    expect(page.locator("#field-objectives output[data-sl-total]")).to_have_text("100")
    for competency in ENGINEERING_COMPETENCIES:
        rate(page, competency, 3)
    page.get_by_label("Your summary of the year").fill(SELF_SUMMARY)
    shoot(page, "year-end-03-self-appraisal-filled")
    submit(page)
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(flash(page)).to_contain_text("Submitted 'Self-appraisal'")
    expect(flash(page)).to_contain_text("Manager appraisal — with Morgan Manager")
    shoot(page, "year-end-04-inbox-after-self-appraisal")

    # -- Morgan: the manager appraisal shows Eve's results and proposes a rating ---------------
    log_in(page, "m1")
    main_nav(page).get_by_role("link", name="Inbox").click()  # home is My review
    expect(inbox_row(page)).to_contain_text("Manager appraisal")
    shoot(page, "year-end-05-inbox-manager")
    open_task(page, "Manager appraisal")
    instructions = page.locator(".task-instructions")
    expect(instructions).to_contain_text(SELF_SUMMARY)
    expect(instructions).to_contain_text("the proposed overall rating is")
    proposed = instructions.locator("strong", has_text=re.compile(r"^\d$")).last.inner_text()
    overall = rating_group(page, "Overall rating")
    expect(overall.locator(f'input[type="radio"][value="{proposed}"]')).to_be_checked()
    shoot(page, "year-end-06-manager-appraisal-empty")
    for competency in ENGINEERING_COMPETENCIES:
        rate(page, competency, 3)
    page.get_by_label("Medium — growing in the current role").check()
    page.get_by_label("Comments for the employee").fill(MANAGER_COMMENTS)
    shoot(page, "year-end-07-manager-appraisal-filled")
    submit(page)
    expect(flash(page)).to_contain_text("Submitted 'Manager appraisal'")
    # No gap to mediate: the appraisal waits for calibration, not for anyone's task.
    expect(flash(page)).not_to_contain_text("Mediate")
    expect(flash(page)).to_contain_text("The process now waits for: Ratings released")
    expect(inbox_row(page)).to_have_count(0)
    shoot(page, "year-end-08-inbox-after-manager-appraisal")

    # -- Hana: the HR dashboard releases the population's ratings ------------------------------
    log_in(page, "h1")
    page.goto("/hr/dashboard")
    calibration = page.locator("#calibration")
    expect(calibration).to_be_visible()
    release = calibration.get_by_role("button", name="Release ratings (1 waiting)").first
    expect(release).to_be_enabled()
    calibration.scroll_into_view_if_needed()
    shoot(page, "year-end-09-hr-dashboard-before-release")
    release.click()
    expect(flash(page)).to_contain_text("Ratings released for 1 appraisal")
    expect(calibration.get_by_role("button", name="Release ratings (1 waiting)")).to_have_count(0)
    shoot(page, "year-end-10-hr-dashboard-released")

    # -- Morgan records the discussion ---------------------------------------------------------
    log_in(page, "m1")
    main_nav(page).get_by_role("link", name="Inbox").click()  # home is My review
    expect(inbox_row(page)).to_contain_text("Hold the appraisal discussion")
    open_task(page, "Hold the appraisal discussion")
    instructions = page.locator(".task-instructions")
    expect(instructions).to_contain_text(f"The rating to discuss is {proposed}")
    # A discussion is recorded after it took place: today will do, a future day is refused.
    page.get_by_label("Date of the discussion").fill(date.today().isoformat())
    page.get_by_label("Notes from the discussion").fill(DISCUSSION_NOTES)
    shoot(page, "year-end-11-discussion")
    submit(page)
    expect(flash(page)).to_contain_text("Sign off the appraisal — with Eve Employee")

    # -- Eve agrees and signs with her typed name ----------------------------------------------
    log_in(page, "e1")
    main_nav(page).get_by_role("link", name="Inbox").click()  # home is My review
    expect(inbox_row(page)).to_contain_text("Sign off the appraisal")
    open_task(page, "Sign off the appraisal")
    instructions = page.locator(".task-instructions")
    # The ratings read with their labels, "4 — Exceeds expectations", not as bare figures.
    overall = page.locator("#field-final_rating .sl-rating-value")
    expect(overall).to_contain_text(re.compile(rf"^{proposed} — \w"))
    expect(page.locator("#field-manager_ratings .sl-rating-value").first).to_contain_text(
        "3 — Meets expectations"
    )
    # One comment box: the response's, none under the signature.
    expect(page.get_by_role("textbox", name=re.compile("comment", re.I))).to_have_count(1)
    expect(instructions).to_contain_text(DISCUSSION_NOTES)
    page.get_by_label("I agree with my appraisal").check()
    live_checks_done(page)
    sign(page, re.compile("I have read my year-end appraisal"), EVE)
    shoot(page, "year-end-12-signoff")
    submit(page)
    expect(flash(page)).to_contain_text("Submitted 'Sign off the appraisal'")
    expect(flash(page)).to_contain_text("Approve the final rating")

    # -- Hana approves the final rating --------------------------------------------------------
    log_in(page, "h1")
    expect(inbox_row(page)).to_contain_text("Approve the final rating")
    shoot(page, "year-end-13-inbox-hr")
    open_task(page, "Approve the final rating")
    instructions = page.locator(".task-instructions")
    # The rating with its label from the pack's scale, not a bare figure.
    label = next(level["label"] for level in tomllib.loads(
        (ROOT / "processes" / "standard" / "catalogs" / "rating_scale.toml").read_text()
    )["levels"] if level["value"] == int(proposed))
    expect(instructions).to_contain_text(f"Final rating: {proposed} — {label}")
    expect(instructions).to_contain_text("agreed and signed")
    sign(page, re.compile("I approve this rating"), "Hana HR")
    shoot(page, "year-end-14-final-approval")
    submit(page)
    expect(flash(page)).to_contain_text("Year-end appraisal is complete")

    # -- Eve sees it completed in My reviews and on the instance page --------------------------
    log_in(page, "e1")
    main_nav(page).get_by_role("link", name="Inbox").click()  # home is My review
    expect(inbox_row(page)).to_have_count(0)
    main_nav(page).get_by_role("link", name="My reviews").click()
    expect(page.get_by_role("heading", level=1, name="My reviews")).to_be_visible()
    review = page.locator("tr", has_text="Year-end appraisal")
    expect(review).to_contain_text("Completed")
    shoot(page, "year-end-15-my-reviews")
    review.get_by_role("link", name="Year-end appraisal").click()
    # Eve's instance page is her review's tracker; the diagram is for HR and designers.
    expect(page.locator("#bpmn-diagram")).to_have_count(0)
    shoot(page, "year-end-16-instance-employee")
    instance_url = page.url
    log_in(page, "h1")
    page.goto(instance_url)
    diagram = page.locator("#bpmn-diagram")
    expect(diagram.locator("svg").first).to_be_visible()
    for step in ("self_appraisal", "manager_appraisal", "appraisal_discussion",
                 "employee_signoff", "hr_final_approval"):
        shape = diagram.locator(f'g.djs-element[data-element-id="{step}"]')
        expect(shape).to_have_class(re.compile(r"\bsl-completed\b"))
    expect(diagram.locator('g.djs-element[data-element-id="hr_mediation"]')).not_to_have_class(
        re.compile(r"\bsl-completed\b")
    )
    shoot(page, "year-end-17-instance-hr")
