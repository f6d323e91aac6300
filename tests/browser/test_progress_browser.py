"""In-year progress in a real browser on the demo: an employee updates an objective from the
score card, the goal tree moves, the manager sees who is at risk — with screenshots, at a
laptop's and a phone's width, checked by axe-core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """live_app's team with agreed objectives, a goal, and a few weeks of progress (this
    module run as a script)."""
    import app_server

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_server, "LIVE_APP", Path(__file__))
        with app_server.running_app(tmp_path_factory, "objectives") as url:
            yield url


def _axe(page: Page) -> list[str]:
    from test_accessibility_browser import axe_problems

    return axe_problems(page)


def test_an_employee_updates_progress_and_the_goal_tree_moves(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "e1")
    page.goto("/goals")
    tree = page.locator("#goal-tree")
    expect(tree).to_be_visible()
    before = tree.inner_text()
    shoot(page, "progress-goals-before")

    page.goto("/scorecard")
    expect(page.get_by_role("heading", name="Progress this year")).to_be_visible()
    shoot(page, "progress-scorecard-before")
    item = page.locator(".progress-item").first
    expect(item.locator(".progress-spark")).to_be_visible()  # weeks of updates already
    item.get_by_text("Update progress").click()
    item.get_by_label("Actual", exact=True).fill("3")
    item.get_by_label("Status").select_option("on_track")
    item.get_by_label("Comment").fill("Module three is in review.")
    shoot(page, "progress-update-form")
    item.get_by_role("button", name="Save progress").click()
    item = page.locator(".progress-item").first
    expect(item.get_by_role("status")).to_contain_text("Saved")
    expect(item).to_contain_text("Module three is in review.")
    expect(item.locator(".progress-current")).to_have_text("On track")
    assert _axe(page) == []
    shoot(page, "progress-scorecard-updated")

    # A bad actual: a clear message, and what was typed stays.
    item.get_by_text("Update progress").click()
    item.get_by_label("Actual", exact=True).fill("about half")
    item.get_by_role("button", name="Save progress").click()
    item = page.locator(".progress-item").first
    expect(item.get_by_role("alert")).to_have_text(
        "The actual must be a number, not “about half”.")
    expect(item.get_by_label("Actual", exact=True)).to_have_value("about half")
    shoot(page, "progress-update-error")

    page.goto("/goals")
    expect(page.locator("#goal-tree")).not_to_have_text(before)
    shoot(page, "progress-goals-after")


def test_the_score_card_reads_well_on_a_phone(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page(width=390, height=844)
    log_in(page, "e1")
    page.goto("/scorecard")
    expect(page.get_by_role("heading", name="Progress this year")).to_be_visible()
    page.locator(".progress-history summary").first.click()
    assert _axe(page) == []
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 390
    shoot(page, "progress-scorecard-phone")


def test_the_manager_sees_who_is_at_risk(open_page: Opener, log_in: LogIn, shoot: Shoot) -> None:
    page = open_page()
    log_in(page, "m1")
    page.goto("/team")
    at_risk = page.locator("#team-at-risk")
    expect(at_risk).to_contain_text("At risk")
    expect(at_risk).to_contain_text("vendor")
    expect(at_risk).to_contain_text("Eli Other")
    assert _axe(page) == []
    shoot(page, "progress-team-at-risk")


# --- the server (python test_progress_browser.py <sqlite file> objectives) ---------------------


async def add_objectives(database_url: str) -> None:
    """Eve's and Eli's agreed objectives, a goal they serve, and a few weeks of progress."""
    from engine.base import clock, db
    from engine.base.models import Cycle, OrgGoal, Record
    from engine.people.directory import load_directory
    from engine.performance.progress import seed_demo_progress

    await db.connect(database_url)
    try:
        directory = await load_directory()
        cycle = await Cycle.get(name="2026 objectives")
        objectives = [
            {"kra": "Delivery", "title": "Ship the appraisal module", "kpi": "Modules shipped",
             "measure_type": "higher_is_better", "baseline": 0, "target": 4, "weight": 60,
             "key": "ship-module", "aligned_goal": "Launch Sightline 1.0"},
            {"kra": "Quality", "title": "Cut incidents", "kpi": "Incidents per quarter",
             "measure_type": "lower_is_better", "baseline": 10, "target": 5, "weight": 40,
             "aligned_goal": "Launch Sightline 1.0"},
        ]
        for key in ("E1", "E2"):
            await Record.create(kind="objectives", person_id=directory.by_key[key].id,
                                cycle=cycle, data={"objectives": objectives},
                                created_at=clock.now())
        await OrgGoal.create(cycle=cycle, title="Launch Sightline 1.0", weight=1.0)
        await seed_demo_progress(cycle.id, "M1", "E2")
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """Prepare live_app's database plus objectives and progress, then serve it."""
    import asyncio
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import live_app

    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(live_app.prepare(database_url))
    asyncio.run(add_objectives(database_url))
    live_app.serve(database_url)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv))
