"""An HR designer builds a form in the visual builder, sets a due date in words, deploys, and
the form shows on a real task — with no console errors on the designer's pages.

The app serves a COPY of the packs folder (PACKS points at a temporary folder), so processes/
is never modified. Run as a script, this file prepares that server:
`python test_designer_builder_browser.py serve <sqlite file>` or `... start <sqlite file>`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_server import serving
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect

from tests.support.org import DANA, DEE, EVE, HANA, MORGAN, org_csv

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve()
PASSWORD = "sightline-demo"  # engine.operations.demo.DEMO_PASSWORD
SCREENSHOTS = ROOT / "tests" / "screenshots"
ORG = org_csv(DANA, MORGAN, EVE, HANA, DEE)
LAPTOP = {"width": 1366, "height": 800}
FORM = "checkin-note-record"  # the first step of a check-in, done by whoever starts it


# -- the server (this file run as a script) ----------------------------------------------------


async def _prepare(database_url: str, packs: Path) -> None:
    from engine.base import db
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org

    await db.create_schema(database_url)
    try:
        report = await import_org(ORG)
        if report.errors:
            raise SystemExit(f"organisation did not import: {report.errors}")
        await create_logins()
        await deploy_pack(packs / "standard", "consultant", search=[packs])
    finally:
        await db.disconnect()


async def _start_checkin(database_url: str) -> int:
    from engine.base import db
    from engine.workflow import runtime

    await db.connect(database_url)
    try:
        eve = await runtime.actor_for("E1")
        instance = await runtime.start_process("checkin", subject="E1", actor=eve)
        return instance.id
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """`serve <db>`: prepare and serve (PACKS from the environment); `start <db>`: start a
    check-in for Eve and print its id."""
    command, database = argv[1], Path(argv[2]).resolve()
    url = f"sqlite://{database}"
    if command == "start":
        print(asyncio.run(_start_checkin(url)), flush=True)
        return 0
    sys.path.insert(0, str(HERE.parent))
    from live_app import serve

    asyncio.run(_prepare(url, Path(os.environ["PACKS"])))
    serve(url)
    return 0


# -- fixtures ----------------------------------------------------------------------------------

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def builder_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser
                   ) -> Iterator[tuple[str, Path, Path]]:
    """(base URL, database file, packs folder) of the app serving a copy of the packs."""
    work = tmp_path_factory.mktemp("builder")
    packs = work / "packs"
    shutil.copytree(ROOT / "processes" / "standard", packs / "standard")
    database = work / "sightline.db"
    with serving(HERE, ["serve", str(database)], work / "server.log",
                 {"PACKS": str(packs)}) as base_url:
        yield base_url, database, packs


def _login(browser: Browser, base_url: str, username: str) -> Page:
    context = browser.new_context(base_url=base_url, viewport=LAPTOP, locale="en-GB",
                                  timezone_id="UTC")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return page


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# -- the walk ----------------------------------------------------------------------------------


def test_hr_builds_a_form_sets_a_due_date_in_words_deploys_and_sees_it_on_a_task(
    browser: Browser, builder_server: tuple[str, Path, Path]
) -> None:
    base_url, database, packs = builder_server
    page = _login(browser, base_url, "x1")
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{page.url}: {message.text}")

    def on_error(error: Error) -> None:
        problems.append(f"{page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)

    page.goto("/designer")
    page.get_by_role("link", name=FORM, exact=True).click()
    expect(page.get_by_role("link", name="Builder")).to_have_attribute("aria-current", "page")
    fields = page.locator("#form-builder li.builder-field")
    existing = fields.count()
    assert existing > 0

    # A text field.
    page.get_by_role("button", name="+ Add a field").click()
    expect(fields).to_have_count(existing + 1)
    text_field = page.locator(f"#builder-field-{existing}")
    text_field.get_by_label("Label").fill("Main takeaway")
    text_field.get_by_label("Help text").fill("One sentence you will remember.")

    # A required rating from the pack's catalog.
    page.get_by_role("button", name="+ Add a field").click()
    expect(fields).to_have_count(existing + 2)
    rating = page.locator(f"#builder-field-{existing + 1}")
    rating.get_by_label("Label").fill("Energy in the conversation")
    rating.get_by_label("Type").select_option("rating")
    scale = page.locator(f"#builder-field-{existing + 1}").get_by_label("Rating scale")
    expect(scale).to_be_visible()
    scale.select_option("rating_scale.levels")
    page.locator(f"#builder-field-{existing + 1}").get_by_label("Required").check()

    # A table with two columns.
    page.get_by_role("button", name="+ Add a field").click()
    expect(fields).to_have_count(existing + 3)
    table = page.locator(f"#builder-field-{existing + 2}")
    table.get_by_label("Label").fill("Follow-ups")
    table.get_by_label("Type").select_option("table")
    add_column = page.locator(f"#builder-field-{existing + 2}").get_by_role(
        "button", name="+ Add a column")
    add_column.click()
    expect(page.locator(f"#builder-field-{existing + 2}").get_by_label(
        "Column 1 label")).to_be_visible()
    page.locator(f"#builder-field-{existing + 2}").get_by_role(
        "button", name="+ Add a column").click()
    table = page.locator(f"#builder-field-{existing + 2}")
    expect(table.get_by_label("Column 2 label")).to_be_visible()
    table.get_by_label("Column 1 label").fill("Action")
    table.get_by_label("Column 2 label").fill("Owner")
    table.get_by_label("Column 2 label").blur()

    preview = page.locator("#form-preview")
    expect(preview).to_contain_text("Main takeaway")
    expect(preview).to_contain_text("Energy in the conversation")
    expect(preview).to_contain_text("Outstanding")
    expect(preview.locator("th", has_text="Owner")).to_be_visible()
    page.locator(f"#builder-field-{existing}").scroll_into_view_if_needed()
    shoot(page, "designer-builder-01-form")

    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#flash-region")).to_contain_text(f"Draft of {FORM} saved")
    expect(page.locator("#form-builder")).to_contain_text("Follow-ups")
    shoot(page, "designer-builder-02-saved")

    # The acknowledgement is due in "2 weeks", typed as people say it.
    page.goto("/designer/standard/bpmn/checkin.bpmn")
    expect(page.locator("#bpmn-editor[data-ready=yes]")).to_be_attached()
    start = page.locator('.djs-element.djs-shape[data-element-id="start_checkin"]')
    palette = page.locator(".djs-palette")
    assert start.bounding_box()["x"] > palette.bounding_box()["x"] + palette.bounding_box()[
        "width"], "the palette covers the diagram's start"
    page.locator('.djs-element.djs-shape[data-element-id="acknowledge_checkin"]').click()
    due = page.locator("#designer-panel").get_by_label("Due in")
    expect(due).to_have_value("7 days")
    due.fill("2 weeks")
    page.locator("#designer-panel").get_by_role("button", name="Apply").click()
    expect(page.locator("#designer-panel .designer-applied")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("Draft saved")
    expect(page.locator("#designer-panel").get_by_label("Due in")).to_have_value("2 weeks")
    xml = page.request.get("/designer/standard/files/checkin.bpmn").text()
    assert 'name="dueIn" value="P2W"' in xml
    shoot(page, "designer-builder-03-due-in-words")

    page.goto("/designer/standard/validate")
    expect(page.locator("#designer-problems")).to_contain_text("No problems")
    page.get_by_role("button", name="Deploy standard").click()
    expect(page.get_by_text("running instances stay on", exact=False)).to_be_visible()
    page.goto("/designer")
    shoot(page, "designer-builder-04-deployed")
    assert problems == [], problems
    page.context.close()

    # Eve starts a check-in: the new form is on her task.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PACKS": str(packs)}
    subprocess.run([sys.executable, str(HERE), "start", str(database)], cwd=ROOT, env=env,
                   check=True, capture_output=True, text=True)
    eve = _login(browser, base_url, "e1")
    eve.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    eve.get_by_role("link", name="Record a check-in").first.click()
    form = eve.locator("main form").last
    expect(form).to_contain_text("Main takeaway")
    expect(form).to_contain_text("One sentence you will remember.")
    expect(form).to_contain_text("Energy in the conversation")
    expect(form).to_contain_text("Outstanding")
    expect(form.get_by_role("columnheader", name="Action", exact=True)).to_be_visible()
    expect(form.get_by_role("columnheader", name="Owner", exact=True)).to_be_visible()
    shoot(eve, "designer-builder-05-task")
    eve.context.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
