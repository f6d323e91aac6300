"""Forms that forgive, in a real browser: a long self-appraisal with wrong weights.

The server (live_app.py, scenario "year-end-unagreed") starts Eve's (e1) year-end appraisal
with no agreed objectives, so her self-appraisal asks her to list and weigh them: a form of
several thousand pixels. She fills it in with weights that total 60 and presses Submit at the
bottom. The error summary must then be in view and focused (not 2,500 px above, with the focus
lost); its entry for the total takes her to the first weight. Number boxes are text boxes with
a numeric keyboard and no spinner: a number typed after a click in the middle of the box is
kept exactly. Long objective titles wrap in boxes that grow; competencies are rated with a row
of level buttons that reveal the chosen level's behaviours, by mouse and by keyboard.
Screenshots land in tests/screenshots/forms-forgive-*.png (laptop 1,366×800, phone 390×844).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import browser_steps
import pytest
from app_server import running_app
from browser_steps import COUNT_REQUESTS, live_checks_done, submit
from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
EVE = "Eve Employee"
LAPTOP = (1366, 800)
PHONE = (390, 844)
COMPETENCIES = (
    "Communication", "Collaboration", "Delivering results", "Technical mastery", "Problem solving"
)
# Six objectives of weight 10: they total 60, not 100.
OBJECTIVES = [
    ("Delivery", "Ship the billing service to every region, with the migration of the legacy "
     "invoices and a rollback plan agreed with finance", "Regions live", "4"),
    ("Quality", "Cut the escaped defects of the payments team by half through contract tests "
     "and a weekly review of every incident", "Defects after release", "6"),
    ("People", "Mentor two junior engineers to their first release", "People mentored", "2"),
    ("Delivery", "Replace the nightly batch with event streaming", "Batches left", "0"),
    ("Customers", "Answer every enterprise ticket within one working day", "Tickets late", "3"),
    ("Learning", "Finish the distributed systems course", "Modules done", "8"),
]
SUMMARY = (
    "A year of steady delivery: billing shipped in three regions, the defect rate fell, and two "
    "juniors reached their first release. " * 12
)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """Base URL of the real app with Eve's self-appraisal waiting, no objectives agreed."""
    with running_app(tmp_path_factory, "year-end-unagreed") as url:
        yield url


def cell(page: Page, column: str, row: int) -> Locator:
    """One box of the objectives table (labelled "<column>, row <n>" for readers)."""
    return page.get_by_label(f"{column}, row {row}", exact=True)


def type_cell(page: Page, column: str, row: int, text: str) -> None:
    field = cell(page, column, row)
    field.fill(text)
    field.press("Tab")
    live_checks_done(page)


def rating_buttons(page: Page, competency: str) -> Locator:
    return page.locator("fieldset.sl-rating").filter(
        has=page.locator("legend", has_text=re.compile(rf"^{re.escape(competency)}"))
    )


def form_accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations inside the task form (buttons, summary,
    tables, rating buttons), one line per element."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run('#task-form', {resultTypes: ['violations']})).violations
              .filter(v => ['serious', 'critical'].includes(v.impact))
              .flatMap(v => v.nodes.map(n => `${v.id}: ${n.target.join(' ')}`))"""
    )
    return [str(line) for line in found]


def open_self_appraisal(page: Page, log_in: LogIn) -> None:
    page.add_init_script(COUNT_REQUESTS)
    log_in(page, "e1")
    browser_steps.open_task(page, "Self-appraisal", EVE)


def fill_long_self_appraisal(page: Page) -> None:
    """Six objectives weighing 10 each, every competency rated, a long summary."""
    rows = page.locator("#field-objectives tbody tr")
    for index, (kra, title, kpi, target) in enumerate(OBJECTIVES, start=1):
        if rows.count() < index:
            page.get_by_role("button", name="Add row").click()
            expect(rows).to_have_count(index)
            live_checks_done(page)
        type_cell(page, "Key result area", index, kra)
        type_cell(page, "Objective", index, title)
        type_cell(page, "KPI", index, kpi)
        type_cell(page, "Target", index, target)
        type_cell(page, "Weight (%)", index, "10")
        type_cell(page, "Actual", index, target)
    for competency in COMPETENCIES:
        rating_buttons(page, competency).locator("label.sl-level-name").filter(
            has=page.locator('input[value="3"]')
        ).click()
    live_checks_done(page)
    page.get_by_label("Your summary of the year").fill(SUMMARY)
    live_checks_done(page)


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_after_a_failed_submit_the_error_summary_is_in_view_and_focused(
    open_page: Opener, shoot: Shoot, log_in: LogIn, size: tuple[int, int]
) -> None:
    name = "laptop" if size == LAPTOP else "phone"
    page = open_page(*size)
    open_self_appraisal(page, log_in)
    fill_long_self_appraisal(page)
    # A long form: Submit is far below where the summary will appear.
    assert page.evaluate("document.documentElement.scrollHeight") > 2.5 * size[1]
    expect(page.locator("#field-objectives output[data-sl-total]")).to_have_text("60")
    shoot(page, f"forms-forgive-{name}-01-filled")

    submit(page)
    summary = page.locator("[data-sl-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("The weights of the objectives must add up to 100")
    expect(summary).to_contain_text("They total 60.")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    top = summary.evaluate("element => element.getBoundingClientRect().top")
    assert 0 <= top < size[1] / 2, top
    # What was typed is all still there.
    expect(cell(page, "Objective", 2)).to_have_value(OBJECTIVES[1][1])
    expect(cell(page, "Weight (%)", 6)).to_have_value("10")
    shoot(page, f"forms-forgive-{name}-02-summary-in-view", full_page=False)
    assert form_accessibility_problems(page) == []

    # The summary's entry takes her to the first weight, the box that mends the total.
    summary.get_by_role("link", name=re.compile("must add up to 100")).click()
    first_weight = cell(page, "Weight (%)", 1)
    expect(first_weight).to_be_focused()
    expect(first_weight).to_be_in_viewport()
    shoot(page, f"forms-forgive-{name}-03-link-to-the-weights", full_page=False)


def test_numbers_are_wide_text_boxes_that_keep_what_is_typed(
    open_page: Opener, shoot: Shoot, log_in: LogIn
) -> None:
    page = open_page(*LAPTOP)
    open_self_appraisal(page, log_in)
    weight = cell(page, "Weight (%)", 1)
    expect(weight).to_have_attribute("type", "text")
    expect(weight).to_have_attribute("inputmode", "decimal")
    box = weight.bounding_box()
    assert box is not None and box["width"] >= 72, box  # was 58 px, with a spinner
    # A click in the middle of the box, then typing: no spinner to hit, nothing added.
    for column, typed in (("Target", "5"), ("Weight (%)", "80"), ("Actual", "2")):
        field = cell(page, column, 1)
        area = field.bounding_box()
        assert area is not None
        page.mouse.click(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
        expect(field).to_be_focused()
        page.keyboard.type(typed)
        page.keyboard.press("Tab")
        live_checks_done(page)
        expect(field).to_have_value(typed)
    expect(page.locator("#field-objectives output[data-sl-total]")).to_have_text("80")
    # Not a number: said plainly, and what was typed stays.
    type_cell(page, "Target", 1, "five")
    expect(cell(page, "Target", 1)).to_have_value("five")
    expect(page.locator("#field-objectives")).to_contain_text("Enter a number, such as 42 or 3.5.")
    shoot(page, "forms-forgive-laptop-04-numbers", full_page=False)


def test_long_titles_wrap_in_growing_boxes_and_ratings_are_level_buttons(
    open_page: Opener, shoot: Shoot, log_in: LogIn
) -> None:
    page = open_page(*LAPTOP)
    open_self_appraisal(page, log_in)
    title = cell(page, "Objective", 1)
    before = title.bounding_box()
    title.fill(OBJECTIVES[0][1])
    live_checks_done(page)
    after = title.bounding_box()
    assert before is not None and after is not None
    # The whole title shows: the box grew a line or more rather than cutting it off.
    assert after["height"] > before["height"] + 10, (before, after)
    assert title.evaluate("box => box.scrollHeight <= box.clientHeight + 1")
    # Enter does not break a one-line title in two.
    title.press("End")
    title.press("Enter")
    expect(title).to_have_value(OBJECTIVES[0][1])

    # Ratings: one row of buttons, figure and label; the chosen level's behaviours open.
    communication = rating_buttons(page, "Communication")
    buttons = communication.locator("label.sl-level-name")
    expect(buttons).to_have_count(5)
    expect(buttons.first).to_contain_text("5")
    expect(buttons.first).to_contain_text("Outstanding")
    tops = {round(b["y"]) for b in (buttons.nth(i).bounding_box() or {"y": -1} for i in range(5))}
    assert len(tops) == 1, tops  # side by side
    expect(communication.locator(".sl-level-about").first).to_be_hidden()
    buttons.filter(has=page.locator('input[value="4"]')).click()
    chosen = communication.locator(".sl-rating-level").filter(
        has=page.locator('input[value="4"]')
    )
    expect(chosen.locator(".sl-level-about")).to_be_visible()
    expect(communication.locator(".sl-level-about:visible")).to_have_count(1)
    live_checks_done(page)
    # The keyboard: arrow keys move between levels, and the behaviours follow.
    communication.locator('input[value="4"]').focus()
    page.keyboard.press("ArrowRight")
    expect(communication.locator('input[value="3"]')).to_be_checked()
    expect(communication.locator('input[value="3"]')).to_be_focused()
    three = communication.locator(".sl-rating-level").filter(has=page.locator('input[value="3"]'))
    expect(three.locator(".sl-level-about")).to_be_visible()
    live_checks_done(page)
    communication.scroll_into_view_if_needed()
    shoot(page, "forms-forgive-laptop-05-rating-buttons", full_page=False)

    phone = open_page(*PHONE)
    open_self_appraisal(phone, log_in)
    levels = rating_buttons(phone, "Communication").locator("label.sl-level-name")
    levels.filter(has=phone.locator('input[value="3"]')).click()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    rating_buttons(phone, "Communication").scroll_into_view_if_needed()
    shoot(phone, "forms-forgive-phone-05-rating-buttons", full_page=False)
