"""The people picker in a real browser: Eve nominates her 360 peers by name (ACME's pack).

The server is live_app.py's with one more scenario, "acme-360", which this file adds when it is
run as the server script (see the bottom): ACME deployed and Eve's ACME year-end appraisal
started, so "Nominate peers for 360 feedback" waits in her inbox. Screenshots land in
tests/screenshots/people-picker-*.png.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import app_server
import pytest
from app_server import running_app
from browser_steps import COUNT_REQUESTS, flash, live_checks_done, open_task, submit
from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.browser

SCENARIO = "acme-360"
NOMINATE = "Nominate peers for 360 feedback"
EVE = "Eve Employee"

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """Base URL of the real app with Eve's ACME appraisal waiting for her nominations."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_server, "LIVE_APP", Path(__file__))
        with running_app(tmp_path_factory, SCENARIO) as url:
            yield url


def peer_field(page: Page, row: int) -> Locator:
    return page.get_by_label(f"Colleague, row {row}", exact=True)


def suggestion(page: Page, field: Locator, key: str) -> Locator:
    """The suggestion for `key` in the field's list."""
    return page.locator(f"#{field.get_attribute('list')} option[value='{key}']")


def pick(field: Locator, key: str) -> None:
    """Choose a suggestion as the browser does: the whole value replaced in one input event.
    (Headless Chromium draws no suggestion popup to click.)"""
    field.evaluate(
        "(input, key) => { input.value = key; input.dispatchEvent(new InputEvent('input',"
        " {bubbles: true, inputType: 'insertReplacementText'})); }",
        key,
    )


def test_eve_nominates_her_peers_by_name(open_page: Opener, shoot: Shoot, log_in: LogIn) -> None:
    page = open_page()
    page.add_init_script(COUNT_REQUESTS)
    log_in(page, "e1")
    open_task(page, NOMINATE, EVE)
    expect(page.locator(".task-instructions")).to_contain_text("Start typing each one's name")
    page.wait_for_load_state("load")  # htmx listens from DOMContentLoaded on

    # Typing a name offers the people it fits, without calling the half-typed name an error.
    first = peer_field(page, 1)
    expect(first).to_have_attribute("placeholder", "Start typing a name")
    first.press_sequentially("eli")
    live_checks_done(page)
    expect(suggestion(page, first, "E2")).to_have_text(
        "Eli Other — Software Engineer, Engineering"
    )
    expect(page.locator(".sl-error")).to_have_count(0)
    shoot(page, "people-picker-01-suggestions")

    # Picking one fills in the employee ID and names the person under it.
    pick(first, "E2")
    live_checks_done(page)
    expect(first).to_have_value("E2")
    expect(page.locator("#nominated_peers-0-employee-person")).to_have_text(
        "Eli Other — Software Engineer, Engineering"
    )

    # An ID nobody has is refused once the field is left, and stays as typed.
    second = peer_field(page, 2)
    second.press_sequentially("Q9")
    second.press("Tab")
    live_checks_done(page)
    expect(page.locator("#nominated_peers-1-employee-error")).to_have_text(
        "No one in the directory has the name or employee ID 'Q9'."
    )
    expect(second).to_have_value("Q9")
    shoot(page, "people-picker-02-unknown-id")

    second.fill("")
    second.press_sequentially("hana")
    live_checks_done(page)
    expect(suggestion(page, second, "H1")).to_have_count(1)
    pick(second, "H1")
    live_checks_done(page)
    expect(page.locator("#nominated_peers-1-employee-person")).to_have_text(
        "Hana HR — HR partner, Engineering"
    )
    expect(page.locator(".sl-error")).to_have_count(0)
    shoot(page, "people-picker-03-chosen")

    submit(page)
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(flash(page)).to_contain_text(f"Submitted '{NOMINATE}'")


# -- run as the server script: live_app.py with the "acme-360" scenario ------------------------


async def start_acme_360(hr: Any) -> None:
    """ACME deployed and Eve's ACME year-end appraisal started."""
    import live_app

    from engine.packs.definitions import deploy_pack
    from engine.workflow import runtime

    processes = live_app.ROOT / "processes"
    await deploy_pack(processes / "acme", "test", search=[processes])
    await runtime.start_process("year_end_appraisal", subject="E1", actor=hr, pack="acme",
                                data={"objectives": live_app.AGREED_OBJECTIVES})


if __name__ == "__main__":
    import live_app

    live_app.SCENARIOS[SCENARIO] = start_acme_360
    sys.exit(live_app.main(sys.argv))
