"""The development page: own plan and actions, a manager's team, starting plans and check-ins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base.models import HumanTask, Person
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"

PLAN = {
    "goals": "Lead design reviews.",
    "career_aspiration": "Tech lead",
    "actions": [
        {"goal": "Reviews", "action": "Write the review checklist", "owner": "employee",
         "due_date": "2020-01-10", "training": ""},
        {"goal": "Reviews", "action": "Book the architecture course", "owner": "manager",
         "due_date": "2099-06-20", "training": "Software architecture"},
    ],
    "plan_review_date": "2099-07-01",
}

LoginHelper = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def standard(people: dict[str, str]) -> dict[str, str]:
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
    return people


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


async def _post(
    client: httpx.AsyncClient, page_csrf: Callable[[str], Awaitable[str]], path: str,
    data: dict[str, str] | None = None,
) -> httpx.Response:
    token = await page_csrf("/development")
    return await client.post(path, data={**(data or {}), "csrf_token": token})


async def test_a_manager_starts_a_plan_and_both_see_its_actions_with_the_overdue_one_marked(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Callable[[str], Awaitable[str]],
    standard: dict[str, str],
) -> None:
    await _as(client, login, standard["manager"])
    started = await _post(client, page_csrf, "/development/plan", {"person": "E300"})
    assert started.status_code == 303
    task_id = int(started.headers["location"].rsplit("/", 1)[1])
    agree = await HumanTask.get(id=task_id)
    assert agree.bpmn_id == "agree_plan"
    await runtime.complete_task(agree.id, await runtime.actor_for("E200"), PLAN)

    await _as(client, login, standard["employee"])
    page = await client.get("/development")
    assert page.status_code == 200
    assert "Write the review checklist" in page.text and "Book the architecture course" in page.text
    assert "1 overdue" in page.text and "<strong class=\"overdue\">Overdue</strong>" in page.text
    assert "Complete a development action" in page.text  # Ada's own action waits for her
    assert 'id="team-development"' not in page.text  # Ada has no team

    await _as(client, login, standard["manager"])
    team = await client.get("/development")
    assert 'id="team-development"' in team.text and "Ada Lovelace" in team.text
    assert '<span class="dash-late">1</span>' in team.text


async def test_plans_are_visible_to_the_person_and_their_managers_only(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Callable[[str], Awaitable[str]],
    standard: dict[str, str],
) -> None:
    await _as(client, login, standard["director"])
    assert (await client.get("/development/E300")).status_code == 200  # skip-level manager
    await _as(client, login, standard["employee"])
    assert (await client.get("/development/E300")).status_code == 200
    assert (await client.get("/development/E200")).status_code == 404
    # Only a person's manager starts their plan.
    refused = await _post(client, page_csrf, "/development/plan", {"person": "E200"})
    assert refused.status_code == 404
    await _as(client, login, standard["hr"])
    assert (await client.get("/development/E300")).status_code == 404
    assert (await client.get("/development/nobody")).status_code == 404


async def test_recording_a_check_in_opens_its_form_for_the_starter(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Callable[[str], Awaitable[str]],
    standard: dict[str, str],
) -> None:
    await _as(client, login, standard["manager"])
    started = await _post(client, page_csrf, "/development/checkin")
    assert started.status_code == 303
    task = await HumanTask.get(id=int(started.headers["location"].rsplit("/", 1)[1]))
    sam = await Person.get(key="E200")
    assert (task.bpmn_id, task.assignee_id) == ("record_checkin", sam.id)
    form = await client.get(started.headers["location"])
    assert form.status_code == 200 and "Check-in with" in form.text
    assert "data-sl-picker" in form.text, "the check-in asks for a person by name"


async def test_the_development_page_needs_a_login(client: httpx.AsyncClient) -> None:
    page = await client.get("/development")
    assert page.status_code in (302, 303, 401)
    assert "My development plan" not in page.text
