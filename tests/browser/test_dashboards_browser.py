"""The dashboards in a real browser, each opened by the role it is for, with screenshots.

The server is tests/browser/live_app.py's organisation and objective-setting cycle, plus the
results a finished year would leave (records written by this module when run as a script):
objectives with actuals, ratings, a development plan, feedback and a goal.
"""

from __future__ import annotations

import asyncio
import re
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
    """The app on a database with a year's results (this module run as a script)."""
    from app_server import serving

    database = tmp_path_factory.mktemp("dash") / "sightline.db"
    with serving(Path(__file__), [str(database)], database.with_suffix(".log")) as url:
        yield url


def test_an_employee_reads_their_score_card(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "e1")
    page.goto("/scorecard")
    expect(page.get_by_role("heading", level=1, name="My score card")).to_be_visible()
    # The newest cycle with a record is last year's review (added after this year's launch).
    page.get_by_label("Cycle", exact=True).select_option(label="2026 objectives")
    expect(page).to_have_url(re.compile(r"cycle=1"))
    expect(page.locator("#objectives-table")).to_contain_text("Ship the appraisal module")
    expect(page.locator("#trend-chart")).to_have_attribute("data-drawn", "1")
    expect(page.get_by_text("Great demo, clear story.")).to_be_visible()
    shoot(page, "dashboards-scorecard-employee")


def test_a_manager_sees_the_team_dashboard(open_page: Opener, log_in: LogIn, shoot: Shoot) -> None:
    page = open_page()
    log_in(page, "m1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", level=1, name="My team")).to_be_visible()
    expect(page.locator("#team-status")).to_contain_text("Eve Employee")
    expect(page.locator("#team-distribution")).to_have_attribute("data-drawn", "1")
    shoot(page, "dashboards-team-manager")


def test_hr_sees_the_hr_dashboard(open_page: Opener, log_in: LogIn, shoot: Shoot) -> None:
    page = open_page()
    log_in(page, "h1")
    page.goto("/hr/dashboard?cycle=1")
    expect(page.get_by_role("heading", level=1, name="HR dashboard")).to_be_visible()
    expect(page.locator("#funnel-chart")).to_have_attribute("data-drawn", "1")
    expect(page.get_by_role("button", name="Export XLSX")).to_be_visible()
    shoot(page, "dashboards-hr")
    page.goto("/goals?cycle=1")
    expect(page.get_by_role("heading", level=1, name="Goals")).to_be_visible()
    expect(page.locator("#goal-tree")).to_contain_text("Launch Sightline 1.0")
    shoot(page, "dashboards-goals-hr")


def test_hr_calibrates_the_proposed_ratings(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "h1")
    page.goto("/hr/dashboard?cycle=1")
    page.get_by_role("button", name="Calibrate (2 waiting)").first.click()
    expect(page.get_by_role("heading", level=1, name="Calibrate organisation")).to_be_visible()
    expect(page.locator("#calibration-proposed")).to_have_attribute("data-drawn", "1")
    page.get_by_label("Calibrated rating for Eli Other").select_option("4")
    page.get_by_role("button", name="Release 2 ratings").click()
    expect(page.get_by_text("Say why the rating changes.")).to_be_visible()
    expect(page.get_by_label("Calibrated rating for Eli Other")).to_have_value("4")
    shoot(page, "dashboards-calibration")


def test_an_employee_gives_feedback(open_page: Opener, log_in: LogIn, shoot: Shoot) -> None:
    page = open_page()
    log_in(page, "e2")
    page.goto("/feedback")
    # The colleague is found by name (a search box, not a list of everyone).
    page.get_by_label("Colleague").fill("Eve Employee")
    page.get_by_label("Topic").fill("Code review")
    shoot(page, "dashboards-feedback")
    page.get_by_role("button", name="Give feedback").click()
    expect(page.get_by_role("heading", name="Feedback for Eve Employee").first).to_be_visible()
    shoot(page, "dashboards-feedback-write")


# --- the server (python test_dashboards_browser.py <sqlite file>) ----------------------------


async def add_results(database_url: str) -> None:
    """A year's results for Eve and Eli, so every dashboard has something to show."""
    from engine.base import db
    from engine.base.models import Cycle, OrgGoal, Record
    from engine.people.directory import load_directory

    await db.connect(database_url)
    try:
        directory = await load_directory()
        eve, eli, morgan = (directory.by_key[k] for k in ("E1", "E2", "M1"))
        cycle = await Cycle.get(name="2026 objectives")
        last = await Cycle.create(name="2025 year-end")
        objectives = [
            {"kra": "Delivery", "title": "Ship the appraisal module", "kpi": "Modules shipped",
             "measure_type": "higher_is_better", "baseline": 0, "target": 4, "actual": 5,
             "weight": 60, "aligned_goal": "Launch Sightline 1.0"},
            {"kra": "Quality", "title": "Cut incidents", "kpi": "Incidents per quarter",
             "measure_type": "lower_is_better", "baseline": 10, "target": 5, "actual": 6,
             "weight": 40},
        ]
        rows = [
            (eve, last, "final_rating", {"rating": 3, "label": "Meets expectations"}),
            (eve, last, "kpi_results", {"objectives": objectives, "weighted_score": 3.2}),
            (eve, cycle, "kpi_results", {"objectives": objectives, "weighted_score": 3.6}),
            (eve, cycle, "final_rating", {"rating": 4, "label": "Exceeds expectations"}),
            (eli, cycle, "final_rating", {"rating": 3, "label": "Meets expectations"}),
            (eve, cycle, "competency_ratings", {
                "job_family": "engineering",
                "ratings": {"communication": 4, "collaboration": 3, "delivering_results": 4,
                            "technical_mastery": 5, "problem_solving": 4},
                "self_ratings": {"communication": 3, "collaboration": 4,
                                 "delivering_results": 4, "technical_mastery": 4,
                                 "problem_solving": 4}}),
            (eve, cycle, "development_plan", {"career_aspiration": "Staff engineer", "actions": [
                {"goal": "Lead design reviews", "action": "Run four reviews", "owner": "employee",
                 "due_date": "2026-01-31"},
                {"goal": "Mentoring", "action": "Mentor a new hire", "owner": "manager",
                 "due_date": "2099-06-30", "status": "done"}]}),
            (eve, cycle, "feedback", {"from_id": morgan.id, "about_id": eve.id,
                                      "text": "Great demo, clear story.", "visibility": "shared"}),
        ]
        for person, in_cycle, kind, data in rows:
            await Record.create(kind=kind, person_id=person.id, cycle=in_cycle, data=data)
        await OrgGoal.create(cycle=cycle, title="Launch Sightline 1.0", weight=1.0)
        await appraisals_waiting_for_calibration(cycle.id)
    finally:
        await db.disconnect()


async def appraisals_waiting_for_calibration(cycle_id: int) -> None:
    """Eve's and Eli's year-end appraisals, appraised by Morgan, waiting for HR's release."""
    from engine.base.models import HumanTask
    from engine.packs.loading import load_pack
    from engine.workflow import runtime

    framework = load_pack(HERE.parents[1] / "processes" / "standard").catalog("competencies")
    family = framework["families"]["engineering"]["competencies"]
    hr, morgan = await runtime.actor_for("H1"), await runtime.actor_for("M1")
    objectives = [{"kra": "Delivery", "title": "Ship the billing service",
                   "kpi": "Services released", "measure_type": "higher_is_better",
                   "baseline": 0, "target": 4, "weight": 100}]
    for key, actual, self_rating, rating in (("E1", 5, 4, 4), ("E2", 3, 3, 3)):
        employee = await runtime.actor_for(key)
        instance = await runtime.start_process(
            "year_end_appraisal", subject=key, actor=hr, cycle_id=cycle_id,
            data={"objectives": objectives})
        own = await HumanTask.get(instance_id=instance.id, bpmn_id="self_appraisal")
        await runtime.complete_task(own.id, employee, {
            "objectives": [{**objectives[0], "actual": actual}],
            "self_ratings": dict.fromkeys(family, self_rating),
            "self_summary": "A busy year.", "development_wishes": "",
        })
        appraisal = await HumanTask.get(instance_id=instance.id, bpmn_id="manager_appraisal")
        await runtime.complete_task(appraisal.id, morgan, {
            "manager_ratings": dict.fromkeys(family, rating), "manager_rating": rating,
            "override_reason": "", "manager_comments": "Solid.",
        })


def main(argv: list[str]) -> int:
    """Prepare live_app's database plus results, then serve it."""
    sys.path.insert(0, str(HERE))
    import live_app

    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(live_app.prepare(database_url))
    asyncio.run(add_results(database_url))
    live_app.serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
