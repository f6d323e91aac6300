"""The roll-out programme in a real browser, with screenshots: the programme lead completes a
step with its checklist and evidence, the steering committee sends the step back with a
reason, and both read the programme beside the adoption dashboard.

The server runs the demo organisation (engine/operations/demo.py: about sixty people, the
objectives and year-end cycles, earlier year-ends, the roll-out pack beside the standard one
with a programme three steps in), moved on to the pilot's step (this module run as a script).
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
ROOT = HERE.parents[1]
PASSWORD = "sightline-demo"
LEAD, STEERING_MEMBER = "hradmin", "manager"  # E1003 leads; E1009 sits on the committee


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The app on the demo database, the programme at its pilot step."""
    from app_server import serving

    database = tmp_path_factory.mktemp("rollout") / "sightline.db"
    with serving(Path(__file__), [str(database)], database.with_suffix(".log")) as url:
        yield url


def test_a_step_completed_sent_back_and_read_beside_the_adoption_figures(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, LEAD, PASSWORD)
    page.goto("/hr")
    page.get_by_role("button", name="Roll-out and adoption").click()
    expect(page.get_by_role("heading", level=1, name="Roll-out and adoption")).to_be_visible()
    pilot = page.locator(".ro-step", has_text="Short-term wins")
    expect(pilot).to_contain_text("In progress")
    pilot.get_by_role("link", name="Open the step").click()
    expect(page.get_by_role("heading", level=1, name="Generate short-term wins")).to_be_visible()
    expect(page.get_by_text("Run the pilot in Product Team, North")).to_be_visible()

    # Every checklist item is needed: one left unticked is refused, and nothing is lost.
    for item in ("The pilot ran in the pilot units", "The pilot's adoption figures are shared",
                 "Managers' and employees' experiences are collected"):
        page.get_by_label(item).check()
    page.locator('[name="evidence-0-item"]').fill("Pilot results, Product Team and North")
    page.locator('[name="evidence-0-link"]').fill(
        "https://intranet.example.com/performance/pilot-results")
    page.get_by_label("Notes").fill("Objectives were agreed on time in both pilot units.")
    page.get_by_label("The pilot's wins were celebrated in public").evaluate(
        "el => el.removeAttribute('required')")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_label("The pilot's wins were celebrated in public")).to_have_attribute(
        "aria-invalid", "true")
    expect(page.locator('[name="evidence-0-item"]')).to_have_value(
        "Pilot results, Product Team and North")
    expect(page.locator('[name="notes"]')).to_have_value(
        "Objectives were agreed on time in both pilot units.")
    shoot(page, "rollout-step-checklist-refused")
    page.get_by_label("The pilot's wins were celebrated in public").check()
    shoot(page, "rollout-step-checklist")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#flash-region .flash")).to_be_visible()

    # A member of the steering committee sends the step back with the reason.
    log_in(page, STEERING_MEMBER, PASSWORD)
    page.goto("/rollout")
    pilot = page.locator(".ro-step", has_text="Short-term wins")
    expect(pilot).to_contain_text("With the steering committee")
    expect(pilot).to_contain_text("Pilot results, Product Team and North")
    pilot.get_by_role("link", name="Open the step").click()
    expect(page.get_by_role("heading", level=1, name="Review the pilot's results")).to_be_visible()
    page.get_by_label("Send back to the step").check()
    page.get_by_label("Reason").fill("Add what employees said, not only the managers.")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#flash-region .flash")).to_be_visible()

    page.goto("/rollout")
    pilot = page.locator(".ro-step", has_text="Short-term wins")
    expect(pilot).to_contain_text("In progress")
    expect(pilot).to_contain_text("sent back once")
    expect(pilot).to_contain_text("Add what employees said, not only the managers.")
    expect(page.locator(".ro-step-done")).to_have_count(5)
    cards = page.locator(".ro-card")
    expect(cards).to_have_count(7)
    expect(cards.first).to_contain_text("Objectives agreed on time")
    expect(page.locator(".ro-table tbody tr").first).to_contain_text("Organisation")
    expect(page.locator(".ro-table")).to_contain_text("Product Team")
    expect(page.locator(".ro-about")).to_contain_text("Ada Lovelace")  # the sponsor, by name
    shoot(page, "rollout-programme-and-adoption")

    # The lead sees the step open again, with the committee's reason on top.
    log_in(page, LEAD, PASSWORD)
    page.goto("/rollout")
    page.locator(".ro-step", has_text="Short-term wins").get_by_role(
        "link", name="Open the step").click()
    expect(page.get_by_text(
        "Sent back by the steering committee: Add what employees said")).to_be_visible()
    shoot(page, "rollout-step-sent-back")

    narrow = open_page(390, 844)
    log_in(narrow, STEERING_MEMBER, PASSWORD)
    narrow.goto("/rollout")
    expect(narrow.locator(".ro-card").first).to_be_visible()
    shoot(narrow, "rollout-phone")


def test_the_adoption_dashboard_in_german(browser: Browser, live_server: str,
                                          shoot: Shoot) -> None:
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 800},
                                  locale="de-DE", timezone_id="UTC")
    try:
        page = context.new_page()
        page.goto("/login")
        page.locator("input[name=username]").fill(STEERING_MEMBER)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form button[type=submit]").first.click()
        expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
        page.goto("/rollout")
        heading = page.get_by_role("heading", level=1, name="Einführung und Akzeptanz")
        expect(heading).to_be_visible()
        expect(page.locator(".ro-card").first).to_contain_text("Ziele rechtzeitig vereinbart")
        expect(page.locator(".ro-steps")).to_contain_text("Dringlichkeit erzeugen")
        shoot(page, "rollout-german")
    finally:
        context.close()


# -- the scenario (this module run as a script) -------------------------------------------------


async def pilot_step(database_url: str) -> None:
    """The demo, then the programme's communication and empowerment steps done, so the pilot's
    step waits on its lead."""
    from engine.base import db
    from engine.base.models import HumanTask
    from engine.operations import demo
    from engine.talent.programme import programme_ids
    from engine.workflow import runtime

    await db.create_schema(database_url)
    try:
        await demo.seed([ROOT / "processes"])
        [programme] = await programme_ids()
        hr = await runtime.actor_for("E1003")
        for checklist in (
            ("plan_agreed", "town_halls_held", "faq_published", "managers_briefed"),
            ("managers_trained", "logins_ready", "org_chart_checked", "old_process_retired"),
        ):
            task = await HumanTask.get(instance_id=programme, status="ready")
            await runtime.complete_task(task.id, hr, {
                **{item: True for item in checklist},
                "evidence": [{"item": f"{task.name}: the record", "link": ""}],
                "notes": ""})
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """Prepare the demo database with the programme at its pilot step, then serve it."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    import live_app

    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(pilot_step(database_url))
    live_app.serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
