"""Recurring 1:1s in a real browser, with screenshots: Morgan opens his weekly 1:1 with Eve,
where an action from an earlier meeting carries over; both add to the agenda and actions;
private notes stay with their author; the page passes axe-core at laptop and phone sizes.

The server is live_app.py's "objectives" scenario plus Eve's agreed objectives and the demo's
1:1 history (two meetings held, one action carried over), written by this module when run as
a script.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The app with Morgan and Eve's weekly 1:1 under way (this module run as a script)."""
    from app_server import serving

    database = tmp_path_factory.mktemp("one-on-ones") / "sightline.db"
    with serving(Path(__file__), [str(database)], database.with_suffix(".log")) as url:
        yield url


def _axe(page: Page) -> list[str]:
    sys.path.insert(0, str(HERE))
    from test_accessibility_browser import axe_problems, too_wide

    problems = axe_problems(page)
    width = page.viewport_size["width"] if page.viewport_size else 1280
    if width < 600 and (wide := too_wide(page, width)):
        problems.append(wide)
    return problems


def _open_meeting(page: Page, with_whom: str) -> None:
    page.goto("/one-on-ones")
    page.get_by_role("link", name=with_whom).click()
    expect(page.get_by_role("heading", level=1, name=f"1:1 with {with_whom}")).to_be_visible()


def test_a_1_1_with_carried_over_actions(open_page: Opener, log_in: LogIn, shoot: Shoot) -> None:
    page = open_page()
    log_in(page, "m1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="1:1s").click()
    card = page.locator(".oo-series-card", has_text="Eve Employee")
    expect(card).to_contain_text("1 open action")
    expect(card).to_contain_text("2 held")
    shoot(page, "one-on-ones-01-list")
    assert _axe(page) == []

    _open_meeting(page, "Eve Employee")
    carried = page.locator("#oo-actions .oo-carried")
    expect(carried).to_contain_text("Write up the on-call runbook")
    expect(carried).to_contain_text("Eve Employee")
    # The action done in the last meeting no longer carries over.
    expect(carried).not_to_contain_text("Book the data-modelling course")

    # Morgan adds a topic and an action for Eve: each section updates in place (htmx).
    page.get_by_label("Add a topic").fill("Plan for the Q3 hackathon")
    page.locator("#oo-agenda").get_by_role("button", name="Add").click()
    expect(page.locator("#oo-agenda")).to_contain_text("Plan for the Q3 hackathon")
    page.get_by_label("Add an action").fill("Send the hackathon proposal")
    page.get_by_label("Owner").select_option(label="Eve Employee")
    page.locator("#oo-actions form.oo-add").get_by_role("button", name="Add").click()
    expect(page.locator("#oo-actions")).to_contain_text("Send the hackathon proposal")
    page.get_by_label("Only you see this").fill("Ask how the on-call rota feels.")
    page.get_by_role("button", name="Save my notes").click()
    expect(page.get_by_label("Only you see this")).to_have_value("Ask how the on-call rota feels.")
    shoot(page, "one-on-ones-02-meeting-carried-actions")
    assert _axe(page) == []

    # The phone: one column, the carried-over action first among the actions.
    phone = open_page(390, 844)
    log_in(phone, "m1")
    _open_meeting(phone, "Eve Employee")
    expect(phone.locator("#oo-actions .oo-carried")).to_contain_text("on-call runbook")
    shoot(phone, "one-on-ones-03-meeting-phone")
    assert _axe(phone) == []


def test_the_report_sees_the_meeting_but_not_the_managers_notes(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "e1")
    _open_meeting(page, "Morgan Manager")
    expect(page.locator("#oo-actions")).to_contain_text("Write up the on-call runbook")
    expect(page.get_by_role("button", name="Mark as held")).to_have_count(0)
    expect(page.get_by_label("Only you see this")).to_have_value("")
    expect(page.locator("body")).not_to_contain_text("on-call rota feels")
    # Eve ticks her carried-over action: it shows done, in this meeting.
    page.get_by_role("button", name="Mark done: Write up the on-call runbook").click()
    expect(page.get_by_role("button", name="Done: Write up the on-call runbook")).to_be_visible()
    # Objectives discussed carry their titles.
    expect(page.locator("#oo-objectives")).to_contain_text("Ship the billing service")
    shoot(page, "one-on-ones-04-report-view")


def test_the_manager_holds_the_meeting_and_the_next_is_scheduled(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "m1")
    _open_meeting(page, "Eve Employee")
    page.get_by_role("button", name="Mark as held").click()
    expect(page.locator("#flash-region")).to_contain_text("marked held")
    expect(page.locator(".oo-past")).to_contain_text("Held")
    # Eve's action was done; Morgan's new one for her carries over.
    expect(page.locator("#oo-actions .oo-carried")).to_contain_text("Send the hackathon proposal")
    shoot(page, "one-on-ones-05-next-meeting")


async def add_history(database_url: str) -> None:
    """Eve's agreed objectives on record and the demo's 1:1 between Morgan and Eve."""
    from engine.base import db
    from engine.base.models import Person, Record
    from engine.performance.one_on_ones import seed_demo

    await db.connect(database_url)
    try:
        eve = await Person.get(key="E1")
        sys.path.insert(0, str(HERE))
        import live_app

        await Record.create(kind="objectives", person_id=eve.id,
                            data={"objectives": list(live_app.AGREED_OBJECTIVES)})
        assert await seed_demo("M1", "E1") is not None
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """Prepare live_app's objectives scenario plus the 1:1 history, then serve it."""
    sys.path.insert(0, str(HERE))
    import live_app

    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(live_app.prepare(database_url, "objectives"))
    asyncio.run(add_history(database_url))
    live_app.serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
