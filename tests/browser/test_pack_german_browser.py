"""The standard pack's year-end forms in German, in a real browser (locale de-DE).

The server (live_app.py, scenario "year-end") starts Eve's appraisal. Eve's browser asks for
German: her self-appraisal reads German labels, help, competencies and level anchors, and its
instructions; she fills it in and submits, and Morgan's manager appraisal reads German too. On
a laptop and on a phone no long German word may push the page sideways. Screenshots:
tests/screenshots/pack-de-<form>-<size>.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app_server import running_app
from browser_steps import COUNT_REQUESTS, flash, live_checks_done
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

pytestmark = pytest.mark.browser

EVE = "Eve Employee"
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
COMPETENCIES = ("Kommunikation", "Zusammenarbeit", "Ergebnisorientierung",
                "Fachliche Exzellenz", "Problemlösung")
PASSWORD = "sightline-demo"
SUBMIT = re.compile(r"^(Submit|Absenden|Einreichen|Senden)$")

Shoot = Callable[..., Path]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """Base URL of the real app with Eve's year-end appraisal waiting for her self-appraisal."""
    with running_app(tmp_path_factory, "year-end") as url:
        yield url


@pytest.fixture
def german(browser: Browser, live_server: str) -> Iterator[Callable[[str, str], Page]]:
    """`german(user, size)`: a fresh context whose browser asks for German, logged in."""
    contexts: list[BrowserContext] = []

    def opener(username: str, size: str) -> Page:
        width, height = SIZES[size]
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": height},
            is_mobile=width < 600, has_touch=width < 600, locale="de-DE", timezone_id="UTC",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.add_init_script(COUNT_REQUESTS)
        page.goto("/login")
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form button[type=submit]").first.click()
        expect(page.locator("nav")).not_to_have_count(0)
        return page

    yield opener
    for context in contexts:
        context.close()


def open_task(page: Page, name: str) -> None:
    """Open a waiting task of Eve's appraisal from the inbox, by its German name (the pack's
    translation of the BPMN's name)."""
    page.goto("/inbox")
    page.locator("tbody tr", has_text=EVE).get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def nothing_sideways(page: Page) -> None:
    """No element wider than the viewport: long German words wrap instead of overflowing."""
    wide = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const over = [];
          for (const el of document.querySelectorAll('main *')) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > width + 1 && !el.closest('.table-scroll, table, pre'))
              over.push(el.tagName + '.' + el.className + ': ' + (el.textContent || '').trim()
                        .slice(0, 60));
          }
          return {scroll: document.documentElement.scrollWidth - width, over: over.slice(0, 5)};
        }"""
    )
    assert wide["scroll"] <= 0 and not wide["over"], wide


def rating_group(page: Page, competency: str) -> Locator:
    return page.locator("fieldset.sl-rating").filter(
        has=page.locator("legend", has_text=re.compile(rf"^{re.escape(competency)}")))


def rate(page: Page, competency: str, level: int) -> None:
    row = rating_group(page, competency).locator("div.sl-rating-level").filter(
        has=page.locator(f'input[type="radio"][value="{level}"]'))
    row.locator("label.sl-level-name").click()
    expect(row.locator('input[type="radio"]')).to_be_checked()
    live_checks_done(page)


def test_the_year_end_forms_read_german(german: Callable[[str, str], Page],
                                        shoot: Shoot) -> None:
    # -- Eve's self-appraisal: German labels, help, anchors, instructions ------------------
    for size in SIZES:
        page = german("e1", size)
        open_task(page, "Selbsteinschätzung")
        instructions = page.locator(".task-instructions")
        expect(instructions).to_contain_text("Ihre Selbsteinschätzung zum Jahresende")
        expect(instructions).to_contain_text("Verantwortungsbereich")
        form = page.locator("main form").first
        expect(form).to_contain_text("Ziele und Ergebnisse")
        expect(form).to_contain_text("Die zu Beginn des Zyklus vereinbarten Ziele")
        expect(form).to_contain_text("Ihr Jahresrückblick")
        for competency in COMPETENCIES:
            expect(rating_group(page, competency)).to_have_count(1)
        expect(form).to_contain_text("Erfüllt die Erwartungen")
        expect(form).not_to_contain_text("Meets expectations")
        nothing_sideways(page)
        shoot(page, f"pack-de-self-appraisal-{size}")
        if size == "phone":  # the full page is too tall to read: the parts, one screen each
            rating_group(page, "Kommunikation").scroll_into_view_if_needed()
            shoot(page, "pack-de-self-appraisal-phone-ratings", full_page=False)
            page.locator("#field-objectives").scroll_into_view_if_needed()
            shoot(page, "pack-de-self-appraisal-phone-objectives", full_page=False)
        if size == "laptop":
            # A level's behaviours (the competency's anchors) read German once it is picked.
            rate(page, "Kommunikation", 3)
            expect(rating_group(page, "Kommunikation")).to_contain_text("prägnante Statusberichte")
            shoot(page, f"pack-de-self-appraisal-anchors-{size}")

    # Eve fills it in and submits: German labels find the fields, the values stay the same.
    page = german("e1", "laptop")
    open_task(page, "Selbsteinschätzung")
    for row, value in ((1, "4"), (2, "2")):
        field = page.get_by_label(f"Istwert, row {row}", exact=True).or_(
            page.get_by_label(f"Istwert, Zeile {row}", exact=True))
        field.fill(value)
        field.press("Tab")
        live_checks_done(page)
    for competency in COMPETENCIES:
        rate(page, competency, 3)
    page.get_by_label("Ihr Jahresrückblick").fill("Ein gutes Jahr mit pünktlichem Abschluss.")
    page.get_by_role("button", name=SUBMIT).click()
    expect(flash(page)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/inbox$"))

    # -- Morgan's manager appraisal -------------------------------------------------------
    for size in SIZES:
        page = german("m1", size)
        open_task(page, "Beurteilung durch die Führungskraft")
        instructions = page.locator(".task-instructions")
        expect(instructions).to_contain_text("Gewichteter Kennzahlenwert")
        expect(instructions).to_contain_text("Ein gutes Jahr mit pünktlichem Abschluss.")
        form = page.locator("main form").first
        expect(form).to_contain_text("Kompetenzen")
        expect(form).to_contain_text("Gesamtbeurteilung")
        expect(form).to_contain_text("Potenzial")
        expect(form).to_contain_text("Mittel – wächst in der aktuellen Rolle")
        expect(form).to_contain_text("Selbsteinschätzung")  # Eve's rating, marked
        expect(form).not_to_contain_text("Overall rating")
        nothing_sideways(page)
        shoot(page, f"pack-de-manager-appraisal-{size}")
        if size == "phone":
            rating_group(page, "Gesamtbeurteilung").scroll_into_view_if_needed()
            shoot(page, "pack-de-manager-appraisal-phone-overall", full_page=False)
