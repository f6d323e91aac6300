"""Recognition, the answers to feedback and the year-so-far panel, through the pages:
praising a colleague, who sees which praise, Acknowledge and Reply on /feedback, and the panel
on an appraisal task."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base.models import HumanTask, Record

ROOT = Path(__file__).resolve().parents[2]

LoginHelper = Callable[..., Awaitable[httpx.Response]]
TokenOf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def standard(people: dict[str, str]) -> dict[str, str]:
    """The organisation with logins and the standard pack deployed."""
    from engine.packs.definitions import deploy_pack

    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    return people


async def _praise(
    client: httpx.AsyncClient, page_csrf: TokenOf, **fields: str
) -> httpx.Response:
    token = await page_csrf("/recognition")
    return await client.post("/recognition", data={"csrf_token": token, **fields})


async def test_praise_goes_to_the_feed_and_private_praise_only_to_whom_it_concerns(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["manager"])
    page = await client.get("/recognition")
    assert page.status_code == 200 and "Praise a colleague" in page.text
    # The tags are the pack's company values and its competencies.
    assert "Customers first" in page.text and "Communication" in page.text
    sent = await _praise(client, page_csrf, colleague="Ada Lovelace", tag="Customers first",
                         message="You stayed until the export worked.", visibility="public")
    assert sent.status_code == 303
    await _praise(client, page_csrf, colleague="E300", tag="Collaboration",
                  message="Thanks for pairing with the new joiner.", visibility="private")
    records = await Record.filter(kind="recognition").order_by("id")
    assert [r.data["visibility"] for r in records] == ["public", "private"]
    assert {r.person_id for r in records} == {(await records[0].person).id}
    feed = await client.get("/recognition")
    assert "Your praise for Ada Lovelace was recorded privately" in feed.text
    assert "You stayed until the export worked." in feed.text
    assert "Thanks for pairing with the new joiner." in feed.text

    # HR reads private praise as it reads feedback shared with its subject; Ada sees both,
    # with her counts.
    client.cookies.clear()
    await login(standard["hr"])
    hr_feed = await client.get("/recognition")
    assert "You stayed until the export worked." in hr_feed.text
    assert "Thanks for pairing with the new joiner." in hr_feed.text
    client.cookies.clear()
    await login(standard["employee"])
    mine = await client.get("/recognition")
    assert "Thanks for pairing with the new joiner." in mine.text
    card = await client.get("/scorecard")
    assert "Recognition" in card.text and "Customers first</span> × 1" in card.text


async def test_bad_praise_is_refused_with_what_was_typed_kept(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["employee"])
    refused = await _praise(client, page_csrf, colleague="Ada Lovelace", tag="Made up",
                            message="Great work, me.", visibility="public")
    assert refused.status_code == 422
    assert "praise is for someone else" in refused.text
    assert "Choose the value or competency it shows." in refused.text
    assert "Great work, me." in refused.text
    empty = await _praise(client, page_csrf, colleague="Sam Patel", tag="Own it",
                          message="   ", visibility="public")
    assert empty.status_code == 422 and "Say what they did" in empty.text
    assert await Record.filter(kind="recognition").count() == 0


async def _give_feedback(
    client: httpx.AsyncClient, page_csrf: TokenOf, visibility: str, text: str
) -> None:
    token = await page_csrf("/feedback")
    started = await client.post("/feedback", data={
        "csrf_token": token, "mode": "give", "colleague": "Ada Lovelace", "topic": "The demo",
    })
    write_url = started.headers["location"]
    token = await page_csrf(write_url)
    done = await client.post(write_url, data={
        "csrf_token": token, "feedback_text": text, "visibility": visibility,
    })
    assert done.status_code in (200, 303)


async def test_the_receiver_acknowledges_or_replies_on_the_feedback_page(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["manager"])
    await _give_feedback(client, page_csrf, "shared", "The demo was well paced.")
    await _give_feedback(client, page_csrf, "manager", "Ready for a bigger project.")
    # Only feedback Ada may read asks her to respond.
    [step] = await HumanTask.filter(bpmn_id="respond_feedback", status="ready")
    given = await client.get("/feedback")
    assert "Not acknowledged yet." in given.text

    client.cookies.clear()
    await login(standard["employee"])
    page = await client.get("/feedback")
    assert "The demo was well paced." in page.text
    assert "Ready for a bigger project." not in page.text
    assert f'action="/feedback/respond/{step.id}"' in page.text
    token = await page_csrf("/feedback")
    # A reply without words is refused, and nothing is lost.
    empty = await client.post(f"/feedback/respond/{step.id}", data={
        "csrf_token": token, "response": "reply", "reply_text": "  ",
    })
    assert empty.status_code == 422 and "Write your reply" in empty.text
    assert (await HumanTask.get(id=step.id)).status == "ready"
    replied = await client.post(f"/feedback/respond/{step.id}", data={
        "csrf_token": token, "response": "reply", "reply_text": "Thanks — I cut two slides.",
    })
    assert replied.status_code == 303
    [response] = await Record.filter(kind="feedback_response")
    assert response.data["response"] == "reply"
    assert response.data["text"] == "Thanks — I cut two slides."
    after = await client.get("/feedback")
    assert "You replied:" in after.text and "/feedback/respond/" not in after.text
    # The step is done: answering again is no longer possible.
    again = await client.post(f"/feedback/respond/{step.id}", data={
        "csrf_token": token, "response": "acknowledge",
    })
    assert again.status_code == 404

    client.cookies.clear()
    await login(standard["manager"])
    giver = await client.get("/feedback")
    assert "Ada Lovelace replied:" in giver.text and "Thanks — I cut two slides." in giver.text


async def test_nobody_else_completes_the_receivers_step(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["manager"])
    await _give_feedback(client, page_csrf, "shared", "Thanks for the review.")
    step = await HumanTask.get(bpmn_id="respond_feedback", status="ready")
    token = await page_csrf("/feedback")
    stolen = await client.post(f"/feedback/respond/{step.id}", data={
        "csrf_token": token, "response": "acknowledge",
    })
    assert stolen.status_code == 404
    assert (await HumanTask.get(id=step.id)).status == "ready"


async def test_the_feed_goes_back_a_page_at_a_time_past_praise_the_viewer_may_not_see(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.performance import recognition
    from engine.workflow import runtime
    from webapp.routes import recognition as recognition_pages

    monkeypatch.setattr(recognition_pages, "FEED_PAGE", 2)
    monkeypatch.setattr(recognition, "FEED_BATCH", 2)
    director = await runtime.actor_for("E100")
    for n in range(3):
        await recognition.praise_colleague(director, {
            "colleague": "E300", "message": f"Public thanks {n}.", "tag": "Own it",
            "visibility": "public"})
    # Newer private praise of the manager: not the employee's to see.
    for n in range(5):
        await recognition.praise_colleague(director, {
            "colleague": "E200", "message": f"Private note {n}.", "tag": "Own it",
            "visibility": "private"})
    await login(standard["employee"])
    first = await client.get("/recognition")
    assert "Public thanks 2." in first.text and "Public thanks 1." in first.text
    assert "Private note" not in first.text and "Public thanks 0." not in first.text
    older = first.text.split('href="/recognition?before=')[1].split('"')[0]
    second = await client.get("/recognition?before=" + older.replace("&amp;", "&"))
    assert second.status_code == 200 and "Earlier praise" in second.text
    assert "Public thanks 0." in second.text and "Public thanks 1." not in second.text
    assert "Older praise" not in second.text and "Newest praise" in second.text
    # A page that is not one: a clear error, not the wrong praise.
    for bad in ("abc", "-3", ""):
        refused = await client.get(f"/recognition?before={bad}")
        assert refused.status_code == 400, bad
        assert "That page of the feed does not exist" in refused.text


async def test_only_the_tasks_the_pack_names_make_room_for_the_year_so_far(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str]
) -> None:
    from engine.base.models import Cycle
    from engine.workflow import runtime

    hr = await runtime.actor_for("E400")
    cycle = await Cycle.create(name="2026")
    objectives = [{"kra": "Delivery", "title": "Ship it", "kpi": "Modules", "weight": 100,
                   "measure_type": "higher_is_better", "baseline": 0, "target": 4}]
    await runtime.start_process("objective_setting", subject="E300", actor=hr,
                                cycle_id=cycle.id)
    await runtime.start_process("year_end_appraisal", subject="E300", actor=hr,
                                cycle_id=cycle.id, data={"objectives": objectives})
    ada = (await runtime.actor_for("E300")).person_id
    draft = await HumanTask.get(assignee_id=ada, bpmn_id="draft_objectives", status="ready")
    own = await HumanTask.get(assignee_id=ada, bpmn_id="self_appraisal", status="ready")
    await login(standard["employee"])
    # Drafting objectives is not among [features.year_context] tasks: no panel, no link.
    drafting = await client.get(f"/tasks/{draft.id}")
    assert drafting.status_code == 200
    assert "year-context" not in drafting.text and "The year so far" not in drafting.text
    assert (await client.get(f"/tasks/{draft.id}/year-context")).status_code == 404
    # The self-appraisal is: the page loads the panel, and without JavaScript links to it.
    appraising = await client.get(f"/tasks/{own.id}")
    assert f'hx-get="/tasks/{own.id}/year-context"' in appraising.text
    assert f'<a href="/tasks/{own.id}/year-context">The year so far</a>' in appraising.text
    panel = await client.get(f"/tasks/{own.id}/year-context")
    assert panel.status_code == 200 and "The year so far" in panel.text
