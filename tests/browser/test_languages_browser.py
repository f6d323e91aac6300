"""The German pages in a real browser: the inbox, a task form, the score card and my review of
the demo employee, with a German browser (locale de-DE, no choice on the account page), at
1,366×800 and 390×844.

Long German words must not push a page sideways on the phone, axe-core must find nothing
serious, and every page is photographed: tests/screenshots/de-<page>-<size>.png. The server
is the accessibility walk's demo organisation with a year's work in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import app_server
import pytest
import test_accessibility_browser as a11y
from app_server import running_app
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

SIZES = {"laptop": (1366, 800), "phone": (390, 844)}
# What each page must say in German: proof that it is not the English page.
GERMAN = {
    "/inbox": "Posteingang",
    "task": "Fällig",
    "/scorecard": "Meine Scorecard",
    "/review": "Meine Beurteilung",
    "/feedback": "Feedback geben",
    "/recognition": "Anerkennung senden",
    "/team": "Wo alle stehen",
    "/login": "Benutzername",
    "/development": "Mein Entwicklungsplan",
    "/one-on-ones": "1:1-Gespräche",
    "/goals": "Fortschritt nach Einheit und Person",
}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The demo organisation with a year's worth of work in it (the accessibility walk's)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_server, "LIVE_APP", Path(a11y.__file__))
        with running_app(tmp_path_factory, "demo") as url:
            yield url


@pytest.fixture
def german_page(browser: Browser, live_server: str) -> Iterator[Callable[..., Page]]:
    """A fresh context whose browser asks for German, logged in as the demo employee (or
    `user`)."""
    contexts: list[BrowserContext] = []

    def opener(width: int, height: int, user: str = "employee") -> Page:
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": height},
            is_mobile=width < 600, has_touch=width < 600, locale="de-DE", timezone_id="UTC",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.locator("input[name=username]").fill(user)
        page.locator("input[name=password]").fill(a11y.PASSWORD)
        page.locator("form button[type=submit]").first.click()
        expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
        return page

    yield opener
    for context in contexts:
        context.close()


@pytest.mark.parametrize("size", SIZES)
def test_german_pages_read_german_fit_the_screen_and_pass_axe(
    german_page: Callable[[int, int], Page], shoot: Callable[..., Path], size: str
) -> None:
    page = german_page(*SIZES[size])
    tasks = a11y.linked_pages(page, "/inbox", r"/tasks/\d+", 1)
    assert tasks, "the demo employee has no task in the inbox"
    problems: list[str] = []
    for path, key in (("/inbox", "/inbox"), (tasks[0], "task"), ("/scorecard", "/scorecard"),
                      ("/review", "/review")):
        page.goto(path)
        a11y.settle(page)
        assert page.locator("html").get_attribute("lang") == "de", path
        expect(page.locator("main")).to_contain_text(GERMAN[key])
        problems += [f"{path}: {line}" for line in a11y.axe_problems(page)]
        if size == "phone" and (wide := a11y.too_wide(page, SIZES[size][0])):
            problems.append(f"{path}: {wide}")
        shoot(page, f"de-{re.sub(r'[^a-z]+', '-', key).strip('-')}-{size}")
    assert not problems, a11y.report(problems)


@pytest.mark.parametrize("size", SIZES)
def test_german_login_feedback_recognition_team_development_and_one_on_one_pages(
    german_page: Callable[..., Page], shoot: Callable[..., Path], size: str
) -> None:
    """The login page before anyone logs in, then the demo manager's everyday pages."""
    page = german_page(*SIZES[size], user="manager")
    problems: list[str] = []
    signed_in = page.context.cookies()
    for path in ("/login", "/feedback", "/recognition", "/team", "/goals", "/development",
                 "/one-on-ones"):
        if path == "/login":
            # Leave the signed-in page first: its htmx requests, refused once the cookies are
            # gone, would send it to the login page in a navigation of its own, racing ours.
            page.goto("about:blank")
            page.context.clear_cookies()
        page.goto(path)
        a11y.settle(page)
        assert page.locator("html").get_attribute("lang") == "de", path
        expect(page.locator("main")).to_contain_text(GERMAN[path])
        problems += [f"{path}: {line}" for line in a11y.axe_problems(page)]
        if size == "phone" and (wide := a11y.too_wide(page, SIZES[size][0])):
            problems.append(f"{path}: {wide}")
        shoot(page, f"de-{path.strip('/')}-{size}")
        if path == "/login":
            page.context.add_cookies(signed_in)  # type: ignore[arg-type]
    assert not problems, a11y.report(problems)


# English words of the HR, admin and designer pages' own chrome: none may be left on a German
# page (names people chose — a cycle's, a person's, the demo's "People & Culture" unit — are
# not in this list).
ENGLISH = re.compile(
    r"\b(Process|Processes|Completed|Started|Overdue|Calibrat\w*|Launch\w*|Release\w*|Show|"
    r"Cycles?|Download|Guideline|Validate|Deploy\w*|Drafts?|Files|Step|Steps|waiting|"
    r"ratings?|Outbox|Queued|Sent|Failed|Delivery|Make|Revoke|Scopes|Retry|Unit|"
    r"Objective setting|Year-end appraisal|Mid-year review|Draft objectives|Self-appraisal)\b"
)
HR_PAGES = {
    "/hr": "Beurteilungszyklen",
    "/hr/dashboard": "HR-Dashboard",
    "/hr/calibration": "kalibrieren",
    "/hr/cycles/new": "Zyklus starten",
    "/hr/trends": "Trends über Zyklen",
    "/admin/outbox": "Postausgang",
    "/admin/webhooks": "Webhooks",
    "/admin/tokens": "Diensttokens",
}


def english_left(page: Page) -> list[str]:
    """The English chrome words in the page's main content (hidden text included), leaving
    out the emails the outbox shows as they were sent (in each recipient's language)."""
    text = page.locator("main").evaluate(
        """main => { const copy = main.cloneNode(true);
                     copy.querySelectorAll('.outbox-message').forEach(e => e.remove());
                     return copy.textContent; }""")
    return sorted(set(ENGLISH.findall(text)))


@pytest.mark.parametrize("size", SIZES)
def test_german_hr_admin_and_designer_pages(
    german_page: Callable[..., Page], shoot: Callable[..., Path], size: str
) -> None:
    """HR's pages — cycles, dashboard, calibration, launch, trends, outbox, webhooks, service
    tokens — and the designer's home and a process editor, for a German reader: German
    headings, no English chrome left, nothing pushed sideways on the phone."""
    problems: list[str] = []
    page = german_page(*SIZES[size], user="hradmin")
    for path, heading in HR_PAGES.items():
        page.goto(path)
        a11y.settle(page)
        assert page.locator("html").get_attribute("lang") == "de", path
        expect(page.locator("main")).to_contain_text(heading)
        if left := english_left(page):
            problems.append(f"{path}: English left: {', '.join(left)}")
        if size == "phone" and (wide := a11y.too_wide(page, SIZES[size][0])):
            problems.append(f"{path}: {wide}")
        shoot(page, f"de-{path.strip('/').replace('/', '-')}-{size}")
    page = german_page(*SIZES[size], user="designer")
    editors = a11y.linked_pages(page, "/designer", r"/designer/standard/bpmn/.+", 1)
    assert editors, "the designer home links no process editor"
    for path, heading in (("/designer", "Designer"), (editors[0], ".bpmn")):
        answer = page.goto(path)
        assert answer is not None and answer.ok, path
        a11y.settle(page)
        expect(page.locator("main")).to_contain_text(heading)
        if left := english_left(page):
            problems.append(f"{path}: English left: {', '.join(left)}")
        if size == "phone" and (wide := a11y.too_wide(page, SIZES[size][0])):
            problems.append(f"{path}: {wide}")
        shoot(page, f"de-{'designer' if path == '/designer' else 'bpmn'}-{size}")
    if size == "laptop":
        expect(page.locator("#designer-problems")).to_contain_text("bereitstellen")
    assert not problems, "\n".join(problems)
