"""The talent review and succession in a real browser, with screenshots: HR moves someone on
the 9-box with a reason and reads the move in their history; HR builds the succession plan of
a key position and reads the bench strength per unit.

The server is tests/browser/live_app.py's organisation plus a few more engineers, a sales
team, ratings, potential assessments and two key positions (written by this module when run
as a script).
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

MORE_PEOPLE = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups
E3,Ada Lovelace,ada@example.com,Senior engineer,engineering,ENG,Engineering,,M1,
E4,Alan Turing,alan@example.com,Software Engineer,engineering,ENG,Engineering,,M1,
E5,Grace Hopper,grace@example.com,Software Engineer,engineering,ENG,Engineering,,M1,
S1,Sara Sales,sara@example.com,Sales lead,sales,SALES,Sales,,D1,
S2,Sam Seller,sam@example.com,Account executive,sales,SALES,Sales,,S1,
"""
# (person, rating kind, rating, potential or None)
RESULTS = [
    ("E1", "final_rating", 4, "high"), ("E2", "final_rating", 3, "low"),
    ("E3", "final_rating", 5, "medium"), ("E4", "proposed_rating", 2, "high"),
    ("E5", "final_rating", 3, "medium"), ("S2", "final_rating", 4, "medium"),
    ("S1", "final_rating", 3, None), ("M1", "final_rating", 4, "high"),
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The app on a database with a rated, assessed team (this module run as a script)."""
    from app_server import serving

    database = tmp_path_factory.mktemp("talent") / "sightline.db"
    with serving(Path(__file__), [str(database)], database.with_suffix(".log")) as url:
        yield url


def test_hr_moves_someone_on_the_nine_box_and_reads_the_move_in_their_history(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "h1")
    page.goto("/hr")
    page.get_by_role("button", name="Talent review").click()
    expect(page.get_by_role("heading", level=1, name="Talent review")).to_be_visible()
    effective = page.locator(".talent-box-medium-low")
    expect(effective).to_contain_text("Eli Other")
    expect(page.locator(".talent-box-high-high")).to_contain_text("Eve Employee")
    expect(page.locator(".talent-unplaced")).to_contain_text("Sara Sales")
    shoot(page, "talent-review-ninebox")

    card = page.locator(".talent-card", has_text="Eli Other")
    card.get_by_text("Move", exact=True).click()
    card.get_by_label("To the box").select_option("medium:medium")
    card.get_by_label("Reason").fill("Took over the on-call rota and ran it well")
    card.get_by_role("button", name="Move Eli Other").click()
    expect(page.get_by_role("status")).to_contain_text("Eli Other moved on the 9-box.")
    core = page.locator(".talent-box-medium-medium")
    expect(core).to_contain_text("Eli Other")
    expect(page.locator(".talent-box-medium-low")).not_to_contain_text("Eli Other")
    moved = core.locator(".talent-card", has_text="Eli Other")
    expect(moved).to_contain_text("Moved in this review")
    moved.get_by_text("History: 1 move").click()
    expect(moved).to_contain_text("Took over the on-call rota and ran it well")
    expect(moved).to_contain_text("Effective")
    shoot(page, "talent-review-moved")

    # A move without a reason is refused on the card, and nothing moves.
    card = page.locator(".talent-card", has_text="Ada Lovelace")
    card.get_by_text("Move", exact=True).click()
    card.get_by_label("To the box").select_option("high:high")
    card.get_by_label("Reason").evaluate("el => el.removeAttribute('required')")
    card.get_by_role("button", name="Move Ada Lovelace").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was moved")
    expect(page.locator(".talent-box-high-medium")).to_contain_text("Ada Lovelace")

    # The profile keeps the move for HR.
    page.goto("/talent/E2")
    expect(page.get_by_role("heading", level=2, name="Moves on the 9-box")).to_be_visible()
    expect(page.get_by_text("Took over the on-call rota and ran it well")).to_be_visible()


def test_hr_builds_a_succession_plan_and_reads_bench_strength_per_unit(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "h1")
    page.goto("/hr")
    page.get_by_role("button", name="Succession").click()
    expect(page.get_by_role("heading", level=1, name="Succession")).to_be_visible()
    lead = page.locator("#position-eng_lead")
    expect(lead).to_contain_text("No successor")
    expect(lead).to_contain_text("High risk of loss")  # Morgan, who holds it

    lead.get_by_text("Add a successor").click()
    lead.get_by_label("Person", exact=True).fill("Eve Employee")
    lead.get_by_label("Readiness", exact=True).select_option("ready_now")
    lead.locator("#eng_lead-notes").fill("Runs the team when Morgan is away")
    lead.get_by_role("button", name="Add the successor").click()
    expect(page.locator(".flash")).to_contain_text("Eve Employee is now a successor.")
    lead = page.locator("#position-eng_lead")
    expect(lead).to_contain_text("Covered: someone is ready now")

    lead.get_by_text("Add a successor").click()
    lead.get_by_label("Person", exact=True).fill("Alan Turing")
    lead.get_by_label("Readiness", exact=True).select_option("one_to_two_years")
    lead.get_by_role("button", name="Add the successor").click()
    lead = page.locator("#position-eng_lead")
    expect(lead.locator(".talent-counts")).to_contain_text("Ready now: 1 · In 1–2 years: 1")

    # Morgan cannot succeed to his own position: the error is on the form, the text kept.
    lead.get_by_text("Add a successor").click()
    lead.get_by_label("Person", exact=True).fill("Morgan Manager")
    lead.get_by_role("button", name="Add the successor").click()
    expect(page.locator("#eng_lead-person-error")).to_contain_text(
        "nobody succeeds to their own position")

    page.goto("/succession")
    bench = page.locator(".talent-bench")
    engineering = bench.locator("tr", has_text="Engineering")
    expect(engineering).to_contain_text("100%")
    sales = bench.locator("tr", has_text="Sales")
    expect(sales.locator("td").nth(3)).to_have_text("1")  # no successor
    expect(page.locator("#position-sales_lead")).to_contain_text("No successor")
    shoot(page, "succession-plan")

    narrow = open_page(390, 844)
    log_in(narrow, "h1")
    narrow.goto("/hr/talent-review")
    expect(narrow.locator(".talent-box-medium-medium")).to_contain_text("Eli Other")
    shoot(narrow, "talent-review-phone")


# -- the scenario (this module run as a script) -------------------------------------------------


async def add_talent(database_url: str) -> None:
    """More people, ratings and potential for a 9-box, and two key positions."""
    from engine.base import clock, db
    from engine.base.models import Cycle, OrgUnit, Person, Position, Record
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    await db.connect(database_url)
    try:
        report = await import_org(MORE_PEOPLE)
        if report.errors:
            raise SystemExit(f"more people did not import: {report.errors}")
        await create_logins()
        cycle = await Cycle.create(name="2026 year-end")
        ids = {p.key: p.id for p in await Person.all()}
        for key, kind, rating, potential in RESULTS:
            await Record.create(kind=kind, person_id=ids[key], cycle=cycle,
                                data={"rating": rating})
            if potential:
                await Record.create(kind="potential", person_id=ids[key],
                                    data={"potential": potential})
        await Record.create(kind="risk_of_loss", person_id=ids["M1"],
                            data={"risk": "high", "impact": "high", "reasons": "Headhunted"})
        units = {u.code: u.id for u in await OrgUnit.all()}
        for code, title, unit, holder in (("eng_lead", "Engineering lead", "ENG", "M1"),
                                          ("sales_lead", "Sales lead", "SALES", "S1")):
            await Position.create(code=code, title=title, is_key=True, org_unit_id=units[unit],
                                  updated_at=clock.now())
            await Person.filter(key=holder).update(position=code)
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """Prepare live_app's database plus the talent scenario, then serve it."""
    sys.path.insert(0, str(HERE))
    import live_app

    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(live_app.prepare(database_url))
    asyncio.run(add_talent(database_url))
    live_app.serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
