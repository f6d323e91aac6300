"""The header on the demo's data at a laptop's and a phone's width, for an employee, a manager
(Team) and an HR designer (HR and Designer): on the laptop the links stay on one row beside
the user's controls; on the phone nothing scrolls sideways and every link is in sight, in a
grid under the brand. Screenshots: tests/screenshots/header-<role>-<size>.png."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import app_server
import pytest
import test_accessibility_browser
from app_server import running_app
from playwright.sync_api import Browser, Page, expect
from test_accessibility_browser import AXE, axe_problems

pytestmark = pytest.mark.browser

Opener = Callable[..., Page]
Shoot = Callable[..., Path]
LogIn = Callable[..., None]

SIZES = {"laptop": (1366, 800), "phone": (390, 844)}
ROLES = {"employee": [], "manager": ["Team"], "designer": ["HR", "Designer"]}
EVERYONE = ["Inbox", "My reviews", "Score card", "Feedback", "Recognition", "Goals",
            "Development"]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The demo, as `make run` has it."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make does)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_server, "LIVE_APP", Path(test_accessibility_browser.__file__))
        with running_app(tmp_path_factory, "demo") as url:
            yield url


def link_boxes(page: Page) -> dict[str, dict[str, float]]:
    nav = page.get_by_role("navigation", name="Main")
    boxes = {}
    for link in nav.locator(".nav-links a").all():
        box = link.bounding_box()
        assert box is not None
        boxes[" ".join(link.inner_text().split())] = box
    return boxes


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", ROLES)
def test_the_header_fits_a_laptop_row_and_a_phone_screen(
    open_page: Opener, log_in: LogIn, shoot: Shoot, role: str, size: str
) -> None:
    width, height = SIZES[size]
    page = open_page(width, height)
    log_in(page, role)
    page.goto("/recognition")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Recognition")).to_have_attribute("aria-current", "page")
    for name in EVERYONE + ROLES[role]:
        expect(nav.get_by_role("link", name=name, exact=False).first).to_be_visible()
    boxes = link_boxes(page)
    logout = page.get_by_role("button", name="Log out").bounding_box()
    assert logout is not None
    rows = {round(box["y"]) for box in boxes.values()}
    if size == "laptop":
        # One row of links, and Log out on it.
        assert len(rows) == 1, boxes
        top = next(iter(boxes.values()))
        assert abs((logout["y"] + logout["height"] / 2) - (top["y"] + top["height"] / 2)) < 8
        # The user's controls start after the last link: nothing overlaps.
        user = page.locator(".nav-user").bounding_box()
        assert user is not None
        assert max(b["x"] + b["width"] for b in boxes.values()) <= user["x"]
    else:
        # Nothing wider than the screen; the links in rows of equal cells under Log out.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert all(b["x"] >= 0 and b["x"] + b["width"] <= width for b in boxes.values())
        # Cells side by side never overlap.
        ordered = sorted(boxes.values(), key=lambda b: (round(b["y"]), b["x"]))
        for left, right in zip(ordered, ordered[1:], strict=False):
            if round(left["y"]) == round(right["y"]):
                assert left["x"] + left["width"] <= right["x"], (left, right)
        assert min(b["y"] for b in boxes.values()) > logout["y"] + logout["height"] - 1
        assert len({round(b["width"]) for b in boxes.values()}) == 1, boxes
    problems = axe_problems(page)
    assert not problems, problems
    shoot(page, f"header-{role}-{size}", full_page=False)
