"""Training in a real browser, with screenshots: Eve asks for a costly external course from the
catalog, Morgan approves, HR approves the budget, HR marks her attended and then completed on
the session's roster, Eve evaluates the course, and HR reads the completion and the evaluation.

The server is live_app.py's organisation with the standard pack and two scheduled sessions,
written by this module when run as a script.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from browser_steps import flash, open_task, submit
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]
HERE = Path(__file__).resolve().parent
COURSE = "Leading high-performing teams"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The app with the training catalog and sessions (this module run as a script)."""
    from app_server import serving

    database = tmp_path_factory.mktemp("training") / "sightline.db"
    with serving(Path(__file__), [str(database)], database.with_suffix(".log")) as url:
        yield url


def test_a_costly_course_from_request_to_an_evaluated_completion(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    # Eve finds the course in the catalog and asks for it.
    page = open_page()
    log_in(page, "e1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Development").click()
    page.get_by_role("navigation", name="Development").get_by_role("link", name="Training").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Development")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=1, name="Training")).to_be_visible()
    expect(page.locator("#course-appraisal_coaching_skills")).to_contain_text(
        "Appraisal and coaching skills for managers")
    shoot(page, "training-01-catalog")
    card = page.locator("#course-leading_teams")
    expect(card).to_contain_text("2,400 EUR")
    card.get_by_role("button", name="Request this course").click()
    expect(page.get_by_role("heading", level=1, name="Request a course")).to_be_visible()
    page.get_by_label("Preferred session").select_option(label=page.get_by_label(
        "Preferred session").locator("option", has_text="Munich").first.inner_text())
    page.get_by_label("Leading people").check()
    page.get_by_label("Why this course, and why now").fill(
        "I take over the platform team in spring and have never led a team of eight.")
    shoot(page, "training-02-request-form")
    submit(page)
    expect(flash(page)).to_be_visible()

    # Morgan approves; 2,400 EUR for an external course goes on to HR.
    page = open_page()
    log_in(page, "m1")
    open_task(page, "Approve the training request", "Eve Employee")
    expect(page.locator("main")).to_contain_text("I take over the platform team in spring")
    page.get_by_label("Approve the course").check()
    shoot(page, "training-03-manager-approval")
    submit(page)
    expect(flash(page)).to_be_visible()

    page = open_page()
    log_in(page, "h1")
    open_task(page, "Approve the training budget", "Eve Employee")
    expect(page.locator("main")).to_contain_text("HR approves external courses above 500 EUR.")
    page.get_by_label("Approve the budget and enrol").check()
    shoot(page, "training-04-hr-approval")
    submit(page)
    expect(flash(page)).to_be_visible()

    # HR marks attendance, then completion, on the session's roster (htmx swaps the roster).
    page.goto("/hr")
    page.locator("main").get_by_role("button", name="Training", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Training admin")).to_be_visible()
    shoot(page, "training-05-admin")
    row = page.locator("tr", has_text="Munich")
    row.get_by_role("link", name="Roster and attendance").click()
    roster = page.locator("#roster")
    expect(roster).to_contain_text("Eve Employee")
    page.get_by_label("Eve Employee").check()
    page.get_by_role("button", name="Mark attended").click()
    expect(roster).to_contain_text("1 participant marked.")
    expect(roster.locator(".training-status")).to_have_text("Attended")
    page.get_by_label("Eve Employee").check()
    page.get_by_role("button", name="Mark completed").click()
    expect(roster.locator(".training-status")).to_have_text("Completed")
    shoot(page, "training-06-roster-completed")

    # Eve evaluates the course; the form tells her what is missing first.
    page = open_page()
    log_in(page, "e1")
    page.goto("/training")
    evaluation = page.locator(".training-evaluation")
    expect(evaluation).to_contain_text(f"How was “{COURSE}”?")
    evaluation.locator("fieldset").first.get_by_label("5").check()
    evaluation.get_by_role("button", name="Send my evaluation").click()
    expect(page.locator(".training-evaluation .form-error")).to_contain_text("Choose from 1 to 5.")
    evaluation = page.locator(".training-evaluation")
    evaluation.locator("fieldset").nth(1).get_by_label("4").check()
    evaluation.get_by_label("What will you apply in your work?").fill(
        "A weekly one-to-one with each person, with their agenda first.")
    shoot(page, "training-07-evaluation")
    evaluation.get_by_role("button", name="Send my evaluation").click()
    expect(flash(page)).to_contain_text("your evaluation was recorded")
    expect(page.locator("#my-courses")).to_contain_text("Completed")
    shoot(page, "training-08-my-courses")

    # HR reads the completion record and the evaluation.
    page = open_page()
    log_in(page, "h1")
    page.goto("/hr/training/courses/leading_teams")
    participants = page.locator("section", has_text="Participants")
    expect(participants).to_contain_text("Eve Employee")
    expect(participants).to_contain_text("Completed")
    expect(participants).to_contain_text("5/5 overall, 4/5 useful")
    shoot(page, "training-09-course-completion")
    page.get_by_role("link", name="Training admin").click()
    page.get_by_role("link", name="Evaluations and effect").click()
    expect(page.locator("main")).to_contain_text("A weekly one-to-one with each person")
    shoot(page, "training-10-results")
    page.get_by_role("link", name="Managers' appraisal skills").click()
    expect(page.locator("main")).to_contain_text("Morgan Manager")
    shoot(page, "training-11-managers")

    phone = open_page(390, 844)
    log_in(phone, "e1")
    phone.goto("/training")
    expect(phone.locator("#my-courses")).to_contain_text(COURSE)
    shoot(phone, "training-12-phone")


async def add_sessions(database_url: str) -> None:
    """The pack's courses, two sessions of the costly course and one of the managers' course."""
    from engine.base import clock, db
    from engine.talent import training

    await db.connect(database_url)
    try:
        await training.sync_pack_courses()

        def when(days: int) -> str:
            return (clock.now() + timedelta(days=days)).strftime("%Y-%m-%dT09:00")

        for code, days, location in (("leading_teams", 20, "Hartmann Institute, Munich"),
                                     ("leading_teams", 60, "Online"),
                                     ("appraisal_coaching_skills", 14, "Berlin HQ")):
            await training.schedule_session(code, {"starts_at": when(days), "seats": "12",
                                                   "location": location,
                                                   "trainer": "Nora Fischer"}, "person:H1")
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """Prepare live_app's organisation and pack plus the sessions, then serve it."""
    sys.path.insert(0, str(HERE))
    import live_app

    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(live_app.prepare(database_url, "objectives"))
    asyncio.run(add_sessions(database_url))
    live_app.serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
