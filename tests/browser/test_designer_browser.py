"""The designer in a real browser: the year-end appraisal is edited through bpmn-js and the
server-rendered side panel, validated, deployed, and an older instance migrated on purpose.

The app under test serves a COPY of the packs folder (PACKS points at a temporary folder), so
the pack in processes/ is never modified. Run as a script, this file prepares that server:
`python test_designer_browser.py serve <sqlite file>` or `... start <sqlite file>`.
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
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.org import DANA, DEE, EVE, HANA, MORGAN, org_csv

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve()
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
YEAR_END = "year_end_appraisal.bpmn"
PASSWORD = "sightline-demo"  # engine.operations.demo.DEMO_PASSWORD
SCREENSHOTS = ROOT / "tests" / "screenshots"
ORG = org_csv(DANA, MORGAN, EVE, HANA, DEE)
UNKNOWN_EXTENSION = '<spiffworkflow:futureSetting level="3">keep me</spiffworkflow:futureSetting>'


# -- the server (this file run as a script) ----------------------------------------------------


async def _prepare(database_url: str, packs: Path) -> None:
    from engine.base import db
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    await db.create_schema(database_url)
    try:
        report = await import_org(ORG)
        if report.errors:
            raise SystemExit(f"organisation did not import: {report.errors}")
        await create_logins()
        await deploy_pack(packs / "standard", "consultant", search=[packs])
        hr = await runtime.actor_for("H1")
        await runtime.start_process("year_end_appraisal", subject="E1", actor=hr)
    finally:
        await db.disconnect()


async def _start_appraisal(database_url: str) -> int:
    from engine.base import db
    from engine.workflow import runtime

    await db.connect(database_url)
    try:
        hr = await runtime.actor_for("H1")
        instance = await runtime.start_process("year_end_appraisal", subject="E1", actor=hr)
        return instance.id
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """`serve <db>`: prepare and serve (PACKS from the environment); `start <db>`: start one
    more year-end appraisal and print its id."""
    command, database = argv[1], Path(argv[2]).resolve()
    url = f"sqlite://{database}"
    if command == "start":
        print(asyncio.run(_start_appraisal(url)), flush=True)
        return 0
    sys.path.insert(0, str(HERE.parent))
    from live_app import serve

    asyncio.run(_prepare(url, Path(os.environ["PACKS"])))
    serve(url)
    return 0


# -- fixtures ----------------------------------------------------------------------------------

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def designer_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser
                    ) -> Iterator[tuple[str, Path, Path]]:
    """(base URL, database file, packs folder) of the app serving a copy of the packs."""
    work = tmp_path_factory.mktemp("designer")
    packs = work / "packs"
    shutil.copytree(ROOT / "processes" / "standard", packs / "standard")
    database = work / "sightline.db"
    with serving(HERE, ["serve", str(database)], work / "server.log",
                 {"PACKS": str(packs)}) as base_url:
        yield base_url, database, packs


@pytest.fixture
def designer_page(browser: Browser, designer_server: tuple[str, Path, Path]) -> Iterator[Page]:
    """A laptop-sized page logged in as the designer."""
    context = browser.new_context(
        base_url=designer_server[0], viewport={"width": 1440, "height": 900}, locale="en-GB",
        timezone_id="UTC",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username").fill("x1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    yield page
    context.close()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# -- helpers -----------------------------------------------------------------------------------


def spiff_elements(xml: str) -> list[tuple[str, str, tuple[tuple[str, str], ...], str]]:
    """Every spiffworkflow extension element: (owner id, tag, attributes, text), sorted."""
    from lxml import etree

    root = etree.fromstring(xml.encode())
    found = []
    for element in root.iter(f"{{{SPIFF_NS}}}*"):
        owner = next((a.get("id") for a in element.iterancestors() if a.get("id")), "")
        text = (element.text or "").strip()
        found.append((owner, etree.QName(element).localname,
                      tuple(sorted(element.attrib.items())), text))
    return sorted(found)


def open_editor(page: Page) -> None:
    page.goto(f"/designer/standard/bpmn/{YEAR_END}")
    expect(page.locator("#bpmn-editor[data-ready=yes]")).to_be_attached()


def select_element(page: Page, element_id: str, name: str) -> None:
    """Click a shape on the canvas and wait for its side panel."""
    page.locator(f'.djs-element.djs-shape[data-element-id="{element_id}"]').click()
    expect(page.locator("#designer-panel input[name=name]")).to_have_value(name)


def apply_panel(page: Page) -> None:
    page.locator("#designer-panel").get_by_role("button", name="Apply").click()
    expect(page.locator("#designer-panel .designer-applied")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("Draft saved")


def saved_xml(page: Page) -> str:
    return page.evaluate(
        "() => window.sightlineModeler.saveXML({format: true}).then(r => r.xml)"
    )


def diagram_text(page: Page, instance_id: int) -> Locator:
    """The diagram on an instance page once drawn."""
    page.goto(f"/instances/{instance_id}")
    diagram = page.locator("[data-bpmn-src] svg").first
    expect(diagram).to_be_visible()
    return diagram


# -- tests -------------------------------------------------------------------------------------


def test_every_spiffworkflow_extension_survives_a_load_and_save(
    designer_page: Page, designer_server: tuple[str, Path, Path]
) -> None:
    page = designer_page
    original = (designer_server[2] / "standard" / YEAR_END).read_text(encoding="utf-8")
    open_editor(page)
    assert spiff_elements(saved_xml(page)) == spiff_elements(original)

    # An extension element the descriptor does not know is kept too.
    with_unknown = original.replace("<spiffworkflow:instructionsForEndUser>",
                                    UNKNOWN_EXTENSION + "<spiffworkflow:instructionsForEndUser>", 1)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(
        f"/designer/standard/files/{YEAR_END}", data=with_unknown,
        headers={"X-CSRF-Token": token, "Content-Type": "application/xml"},
    )
    assert answer.status == 204
    open_editor(page)
    round_trip = spiff_elements(saved_xml(page))
    assert round_trip == spiff_elements(with_unknown)
    assert ("self_appraisal", "futureSetting", (("level", "3"),), "keep me") in round_trip
    discard = page.request.post(
        "/designer/standard/discard", form={"csrf_token": token}
    )
    assert discard.ok


def test_designer_edits_validates_deploys_and_migrates(
    designer_page: Page, designer_server: tuple[str, Path, Path]
) -> None:
    page = designer_page
    base_url, database, packs = designer_server
    on_disk = packs / "standard" / YEAR_END

    page.goto("/designer")
    expect(page.get_by_role("heading", level=1, name="Designer")).to_be_visible()
    shoot(page, "designer-01-home")
    page.get_by_role("link", name=YEAR_END).click()
    expect(page.locator("#bpmn-editor[data-ready=yes]")).to_be_attached()
    expect(page.locator("#designer-problems")).to_contain_text("No problems")

    # Rename the manager's appraisal and give it another form, through the side panel.
    select_element(page, "manager_appraisal", "Manager appraisal")
    panel = page.locator("#designer-panel")
    panel.get_by_label("Name", exact=True).fill("Manager assessment")
    panel.get_by_label("Form", exact=True).select_option("appraisal-discussion")
    shoot(page, "designer-02-panel")
    apply_panel(page)
    label = page.locator('.djs-element[data-element-id="manager_appraisal"] .djs-visual text')
    expect(label).to_contain_text("assessment")

    # Leave the discussion without a form: validation says so and marks it on the diagram.
    select_element(page, "appraisal_discussion", "Hold the appraisal discussion")
    panel.get_by_label("Form", exact=True).select_option("")
    apply_panel(page)
    problems = page.locator("#designer-problems")
    expect(problems).to_contain_text("user task has no form", timeout=20_000)
    expect(page.locator('.djs-element.sl-problem[data-element-id="appraisal_discussion"]')
           ).to_be_attached()
    expect(problems.get_by_role("button", name="Deploy standard")).to_be_disabled()
    shoot(page, "designer-03-validation-error")

    # Fix it: with another task selected, clicking the problem selects the task; give it
    # back its form. Clicking the problem again before applying keeps what was chosen.
    select_element(page, "manager_appraisal", "Manager assessment")
    problem = problems.locator('[data-element-id="appraisal_discussion"]').first
    problem.click()
    expect(panel.locator("input[name=name]")).to_have_value("Hold the appraisal discussion")
    form_field = panel.get_by_label("Form", exact=True)
    form_field.select_option("appraisal-discussion")
    problem.click()
    expect(form_field).to_have_value("appraisal-discussion")
    apply_panel(page)
    expect(problems).to_contain_text("No problems", timeout=20_000)
    assert "Manager assessment" not in on_disk.read_text(encoding="utf-8")

    problems.get_by_role("button", name="Deploy standard").click()
    expect(page.get_by_role("heading", name="year_end_appraisal — version 2")).to_be_visible()
    expect(page.get_by_text("Running instances stay on their version")).to_be_visible()
    expect(page.locator("#deployed-year_end_appraisal")).to_contain_text("Manager assessment")
    shoot(page, "designer-04-deployed")
    # The deployed version lives in the database; the server's pack folder is left as it was.
    assert "Manager assessment" not in on_disk.read_text(encoding="utf-8")

    # A new appraisal runs the new version; the older one still runs version 1.
    started = subprocess.run(
        [sys.executable, str(HERE), "start", str(database)], cwd=ROOT, check=True,
        capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PACKS": str(packs)},
    )
    newer = int(started.stdout.strip().splitlines()[-1])
    older = 1
    expect(diagram_text(page, newer)).to_contain_text("assessment")
    shoot(page, "designer-05-new-instance")
    old_diagram = diagram_text(page, older)
    expect(old_diagram).to_contain_text("Manager appraisal")
    expect(old_diagram).not_to_contain_text("assessment")

    # Migrate the older one on purpose: preview, then migrate.
    page.goto("/designer/standard/year_end_appraisal/migrate")
    page.get_by_label(f"Choose instance {older}").check()
    page.get_by_role("button", name="Preview the migration").click()
    expect(page.locator(f"#preview-{older}")).to_contain_text("can migrate")
    shoot(page, "designer-06-migration-preview")
    page.get_by_role("button", name="Migrate the chosen instances").click()
    expect(page.locator(f"#result-{older}")).to_contain_text("moved to version 2")
    shoot(page, "designer-07-migrated")
    expect(diagram_text(page, older)).to_contain_text("assessment")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
