"""The continuous feedback page: giving, asking, answering, and who reads what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base.models import HumanTask, ProcessInstance, Record

ROOT = Path(__file__).resolve().parents[2]

LoginHelper = Callable[..., Awaitable[httpx.Response]]
TokenOf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def standard(people: dict[str, str]) -> dict[str, str]:
    """The organisation with logins and the standard pack deployed."""
    from engine.packs.definitions import deploy_pack

    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    return people


async def _ask(client: httpx.AsyncClient, token: str, **fields: str) -> httpx.Response:
    return await client.post("/feedback", data={"csrf_token": token, **fields})


async def _answer(
    client: httpx.AsyncClient, page_csrf: TokenOf, task_id: int, text: str, visibility: str
) -> httpx.Response:
    token = await page_csrf(f"/tasks/{task_id}")
    form = {"csrf_token": token, "feedback_text": text, "visibility": visibility}
    return await client.post(f"/tasks/{task_id}", data=form)


async def test_giving_feedback_opens_the_writing_step_and_records_it_for_the_colleague(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["employee"])
    page = await client.get("/feedback")
    assert page.status_code == 200
    # The colleague is found by typing: no list of everyone on the page.
    assert 'hx-get="/people/search"' in page.text and "Sam Patel" not in page.text
    token = await page_csrf("/feedback")
    started = await _ask(client, token, mode="give", colleague="sam patel", topic="Sprint demo")
    assert started.status_code == 303
    write_url = started.headers["location"]
    assert write_url.startswith("/tasks/")
    form = await client.get(write_url)
    assert "Feedback for Sam Patel" in form.text
    done = await _answer(
        client, page_csrf, int(write_url.rsplit("/", 1)[1]), "Clear demo, well paced.", "shared"
    )
    assert done.status_code in (200, 303)
    record = await Record.get(kind="feedback")
    sam = await record.person
    assert sam.key == "E200"
    assert record.data["text"] == "Clear demo, well paced."
    assert record.data["visibility"] == "shared"
    mine = await client.get("/feedback")
    assert "Feedback you gave" in mine.text and "Clear demo, well paced." in mine.text


async def test_asking_for_feedback_sends_a_task_to_the_colleague_who_answers_it(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["employee"])
    token = await page_csrf("/feedback")
    asked = await _ask(
        client, token, mode="request", colleague="E200", request_message="Was my RFC clear?"
    )
    assert asked.status_code == 303 and asked.headers["location"] == "/feedback"
    waiting = await client.get("/feedback")
    assert "Your request went to Sam Patel" in waiting.text
    assert "Waiting for:" in waiting.text
    task = await HumanTask.get(bpmn_id="write_requested_feedback", status="ready")

    client.cookies.clear()
    await login(standard["manager"])
    theirs = await client.get("/feedback")
    assert f'/tasks/{task.id}"' in theirs.text
    assert "Ada Lovelace asks for your feedback" in theirs.text
    form = await client.get(f"/tasks/{task.id}")
    assert "Was my RFC clear?" in form.text
    await _answer(client, page_csrf, task.id, "Clear, but add a rollout plan.", "shared")
    record = await Record.get(kind="feedback")
    assert record.data["requested_by"] == record.person_id

    client.cookies.clear()
    await login(standard["employee"])
    mine = await client.get("/feedback")
    assert "Clear, but add a rollout plan." in mine.text
    assert "Waiting for:" not in mine.text


async def test_feedback_for_managers_only_stays_hidden_from_its_subject(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["manager"])
    token = await page_csrf("/feedback")
    started = await _ask(client, token, mode="give", colleague="E300")
    task_id = int(started.headers["location"].rsplit("/", 1)[1])
    await _answer(client, page_csrf, task_id, "Needs more tests before merging.", "manager")
    client.cookies.clear()
    await login(standard["employee"])
    mine = await client.get("/feedback")
    assert "Needs more tests before merging." not in mine.text
    assert "Nothing yet" in mine.text


async def test_a_colleague_must_be_chosen_from_the_directory_and_not_oneself(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["employee"])
    token = await page_csrf("/feedback")
    for colleague in ("E300", "Ada Lovelace", "nobody", ""):
        refused = await _ask(client, token, mode="give", colleague=colleague)
        assert refused.status_code == 422
        assert 'aria-invalid="true"' in refused.text
    assert await ProcessInstance.filter(process_id="feedback").count() == 0


async def test_the_feedback_page_needs_a_login(client: httpx.AsyncClient, db: str) -> None:
    answer = await client.get("/feedback")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


async def test_a_feedback_process_stays_between_the_people_in_it(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    """Feedback is `visible_to = "participants"`: the author's manager and HR can open
    neither the instance nor, through its timeline, what was written."""
    await login(standard["employee"])
    token = await page_csrf("/feedback")
    started = await _ask(client, token, mode="give", colleague="E500", topic="Review")
    task_id = int(started.headers["location"].rsplit("/", 1)[1])
    await _answer(client, page_csrf, task_id, "Only for my own notes", "private")
    instance = await ProcessInstance.filter(process_id="feedback").order_by("-id").first()
    assert instance is not None
    own = await client.get(f"/instances/{instance.id}")
    assert own.status_code == 200 and "Only for my own notes" in own.text
    for outsider in (standard["manager"], standard["hr"], standard["director"]):
        client.cookies.clear()  # a fresh session for each person
        await login(outsider)
        hidden = await client.get(f"/instances/{instance.id}")
        assert hidden.status_code == 404
        assert "Only for my own notes" not in hidden.text


async def test_a_name_that_fits_several_colleagues_offers_them_and_keeps_what_was_typed(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, standard: dict[str, str]
) -> None:
    await login(standard["employee"])
    token = await page_csrf("/feedback")
    # Every email holds "example"; Ada (the viewer) is never offered.
    unclear = await _ask(client, token, mode="request", colleague="example", topic="My RFC",
                         request_message="Was it clear?")
    assert unclear.status_code == 422
    assert "people match “example”: choose one below." in unclear.text
    assert 'name="colleague_pick" value="E100"' in unclear.text  # Maria Okafor
    assert 'name="colleague_pick" value="E300"' not in unclear.text
    assert 'value="example"' in unclear.text and 'value="My RFC"' in unclear.text
    assert "Was it clear?" in unclear.text
    assert await ProcessInstance.filter(process_id="feedback").count() == 0

    chosen = await _ask(client, token, mode="request", colleague="example", colleague_pick="E100",
                        topic="My RFC", request_message="Was it clear?")
    assert chosen.status_code == 303
    task = await HumanTask.get(process_id="feedback", status="ready")
    maria = await task.assignee
    assert maria is not None and maria.key == "E100"
