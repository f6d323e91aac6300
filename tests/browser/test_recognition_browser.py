"""Recognition and the year so far in a real browser, with screenshots: Eli praises Eve, the
feed shows it, and Morgan sees the praise (and Eve's answered feedback) in the year-so-far
panel of her manager appraisal.

The server is live_app.py's "year-end" scenario with Eve's self-appraisal done and some of the
year's feedback, written by this module when run as a script.
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
    """The app with Eve's appraisal waiting for Morgan (this module run as a script)."""
    from app_server import serving

    database = tmp_path_factory.mktemp("praise") / "sightline.db"
    with serving(Path(__file__), [str(database)], database.with_suffix(".log")) as url:
        yield url


def test_praising_a_colleague_and_the_feed(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "e2")
    page.goto("/recognition")
    expect(page.get_by_role("heading", level=1, name="Recognition")).to_be_visible()
    page.get_by_label("Colleague", exact=True).fill("Eve Employee")
    page.get_by_label("Value or competency it shows").select_option("Customers first")
    page.get_by_label("What they did, and why it mattered").fill(
        "You stayed on the call until the customer's export worked — they renewed the next day.")
    page.get_by_label("Everyone (the recognition feed)").check()
    shoot(page, "recognition-01-praise-form")
    page.get_by_role("button", name="Send praise").click()
    expect(page.locator("#flash-region")).to_contain_text("Your praise for Eve Employee")
    feed = page.locator(".praise-feed")
    expect(feed).to_contain_text("they renewed the next day")
    expect(feed).to_contain_text("Customers first")
    shoot(page, "recognition-02-feed")
    phone = open_page(390, 844)
    log_in(phone, "e2")
    phone.goto("/recognition")
    expect(phone.locator(".praise-feed")).to_contain_text("Customers first")
    shoot(phone, "recognition-03-feed-phone")


def test_the_receiver_replies_on_the_feedback_page(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "e1")
    page.goto("/feedback")
    expect(page.get_by_role("button", name="Acknowledge")).to_be_visible()
    shoot(page, "recognition-04-feedback-to-answer")


def test_praise_shows_in_the_year_so_far_of_the_manager_appraisal(
    open_page: Opener, log_in: LogIn, shoot: Shoot
) -> None:
    page = open_page()
    log_in(page, "m1")
    page.goto("/inbox")
    page.get_by_role("link", name="Manager appraisal").first.click()
    panel = page.locator("#year-context")
    expect(panel).to_be_visible()
    panel.locator("summary").click()
    expect(panel).to_contain_text("Praise")
    expect(panel).to_contain_text("Own it")
    expect(panel).to_contain_text("Thanks — I will share the checklist with the team.")
    panel.scroll_into_view_if_needed()
    shoot(page, "recognition-05-appraisal-year-so-far")


async def add_year(database_url: str) -> None:
    """Eve's self-appraisal done; Morgan's feedback she answered; Dana's private praise."""
    from engine.base import db
    from engine.base.models import HumanTask
    from engine.packs.loading import load_pack
    from engine.performance import feedback, recognition
    from engine.workflow import runtime

    await db.connect(database_url)
    try:
        framework = load_pack(HERE.parents[1] / "processes" / "standard").catalog("competencies")
        family = framework["families"]["engineering"]["competencies"]
        eve, morgan, dana = [await runtime.actor_for(k) for k in ("E1", "M1", "D1")]
        own = await HumanTask.get(bpmn_id="self_appraisal", status="ready")
        objectives = [{**o, "actual": o["target"]} for o in own_objectives()]
        await runtime.complete_task(own.id, eve, {
            "objectives": objectives, "self_ratings": dict.fromkeys(family, 4),
            "self_summary": "A busy year.", "development_wishes": "",
        })
        write = await feedback.start_feedback(morgan, {
            "mode": "give", "colleague": "E1", "topic": "the incident review",
            "request_message": None})
        assert write is not None
        await runtime.complete_task(write, morgan, {
            "feedback_text": "Your incident review was calm and blameless; the checklist helps.",
            "visibility": "shared"})
        step = await HumanTask.get(bpmn_id="respond_feedback", status="ready")
        await feedback.respond_to_feedback(
            eve, step.id, "reply", "Thanks — I will share the checklist with the team.")
        # One more for Eve to answer on the feedback page.
        write = await feedback.start_feedback(dana, {
            "mode": "give", "colleague": "E1", "topic": "the board demo",
            "request_message": None})
        assert write is not None
        await runtime.complete_task(write, dana, {
            "feedback_text": "The board demo landed well.", "visibility": "shared"})
        await recognition.praise_colleague(dana, {
            "colleague": "E1", "message": "Took the on-call week nobody wanted, without fuss.",
            "tag": "Own it", "visibility": "private"})
    finally:
        await db.disconnect()


def own_objectives() -> list[dict[str, object]]:
    sys.path.insert(0, str(HERE))
    import live_app

    return list(live_app.AGREED_OBJECTIVES)


def main(argv: list[str]) -> int:
    """Prepare live_app's year-end scenario plus the year's feedback, then serve it."""
    sys.path.insert(0, str(HERE))
    import live_app

    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(live_app.prepare(database_url, "year-end"))
    asyncio.run(add_year(database_url))
    live_app.serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
