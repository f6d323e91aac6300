"""HR's multi-cycle trend in a real browser, on the demo's data (three closed year-ends and
this year's two cycles): a laptop and a phone, with screenshots and the axe-core check."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import app_server
import pytest
import test_accessibility_browser
from app_server import running_app
from playwright.sync_api import Browser, Page, expect
from test_accessibility_browser import AXE, axe_problems, hidden_columns, too_wide

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The demo organisation, with its history of earlier year-end cycles."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make does)")
    # The accessibility check's server: the demo seed, as `make run` has it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_server, "LIVE_APP", Path(test_accessibility_browser.__file__))
        with running_app(tmp_path_factory, "demo") as url:
            yield url


def test_hr_compares_the_last_cycles_on_a_laptop(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page(1366, 800)
    log_in(page, "hradmin")
    page.goto("/hr")
    page.get_by_role("button", name="Trends across cycles").click()
    expect(page.get_by_role("heading", level=1, name="Trends across cycles")).to_be_visible()
    rates = page.get_by_role("img", name="Completion and on-time rate per cycle")
    expect(rates).to_be_visible()
    expect(page.get_by_role("img", name="Final ratings per cycle against the guideline")) \
        .to_be_visible()
    # Year-end appraisals compared with year-end appraisals: this year's objectives are left
    # out, and this year's appraisal, just launched, is in progress rather than a fall to 0 %.
    expect(page.get_by_label("Kind of cycle")).to_have_value("year_end_appraisal")
    rows = page.locator("#trend-cycles tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#trend-cycles")).not_to_contain_text("objectives")
    expect(rows.last.locator("th")).to_contain_text("in progress")
    expect(page.locator("#rates-chart .trend-progress-label")).to_have_text(["in progress"])
    expect(page.locator("#rates-chart circle.trend-in-progress").first).to_be_visible()
    # The chart's points carry the table's numbers.
    completion = rows.first.locator("td").nth(3).inner_text().replace(" %", "")
    expect(page.locator("#rates-chart text.trend-value-completion").first) \
        .to_have_text(completion)
    assert overlapping_labels(page, "#rates-chart") == []
    assert axe_problems(page) == []
    assert hidden_columns(page) == []
    shoot(page, "trends-hr-laptop")

    # Narrow to the last three cycles of one department: the address and the tables follow.
    page.get_by_label("Cycles", exact=True).select_option(label="last 3")
    page.get_by_label("Unit", exact=True).select_option(label="\u00a0\u00a0Engineering")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"cycles=3&unit=\d+"))
    expect(page.locator("#trend-cycles tbody tr")).to_have_count(3)
    expect(page.locator("hgroup p")).to_contain_text("Engineering")

    # A download carries the same rows.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(download.value.path()).read_text()
    assert text.startswith("Cycle,Starts,People")
    assert len(text.strip().splitlines()) == 4

    # Objective setting has no rating spread to compare: the page says so.
    page.get_by_label("Kind of cycle").select_option(label="Objective setting (1)")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#trend-cycles tbody tr")).to_have_count(1)
    expect(page.locator("#no-ratings")).to_contain_text("record no final ratings")
    assert axe_problems(page) == []
    shoot(page, "trends-hr-objectives")


def overlapping_labels(page: Page, chart: str) -> list[str]:
    """The chart's value labels whose boxes overlap another's (none should)."""
    boxes = page.eval_on_selector_all(
        f"{chart} text.trend-value",
        "els => els.map(e => { const b = e.getBBox(); "
        "return {t: e.textContent, x: b.x, y: b.y, w: b.width, h: b.height}; })",
    )
    found = []
    for n, a in enumerate(boxes):
        for b in boxes[n + 1:]:
            if (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                    and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]):
                found.append(f"{a['t']} / {b['t']}")
    return found


def test_hr_reads_the_trend_on_a_phone(open_page: Opener, log_in: LogIn, shoot: Shoot) -> None:
    page = open_page(390, 844)
    log_in(page, "hradmin")
    page.goto("/hr/trends")
    expect(page.get_by_role("img", name="Completion and on-time rate per cycle")).to_be_visible()
    expect(page.locator("#rates-chart-phone")).to_be_visible()
    expect(page.locator("#rates-chart")).to_be_hidden()
    assert too_wide(page, 390) is None
    assert overlapping_labels(page, "#rates-chart-phone") == []
    # The chart's words read at about the size of the page's small print, not half of it.
    smallest = page.eval_on_selector_all(
        "#rates-chart-phone text", "els => Math.min(...els.map(e => e.getBoundingClientRect()"
        ".height))")
    assert smallest >= 11, smallest
    page.locator("#rates-heading").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('rates-heading').scrollIntoView()")
    shoot(page, "trends-hr-phone-chart", full_page=False)
    assert axe_problems(page) == []
    shoot(page, "trends-hr-phone")
