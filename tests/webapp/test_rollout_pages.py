"""/rollout: HR starts a programme and works its first step through the task form (a missing
checklist item refused with the input kept), the steering committee reads the steps and the
adoption figures, everyone else gets 404; in German too."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base.models import GroupMembership, HumanTask
from engine.people.directory import bump_directory_version
from tests.webapp.test_tasks import as_user, page_token

ROOT = Path(__file__).resolve().parents[2]
Login = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def installed(people: dict[str, str]) -> None:
    """The login fixture's five people, Maria (E100) on the steering committee, and the
    standard and roll-out packs deployed side by side."""
    from engine.packs.definitions import deploy_pack
    from engine.people.directory import person_by_key

    for name in ("standard", "rollout"):
        await deploy_pack(ROOT / "processes" / name, "test", search=[ROOT / "processes"])
    maria = await person_by_key("E100")
    assert maria is not None
    await GroupMembership.create(group="steering", person_id=maria.id)
    await bump_directory_version()


async def start(client: httpx.AsyncClient) -> int:
    _, token = await page_token(client, "/rollout")
    answer = await client.post("/rollout/start", data={"csrf_token": token})
    assert answer.status_code == 303
    found = re.fullmatch(r"/tasks/(\d+)", answer.headers["location"])
    assert found
    return int(found.group(1))


URGENCY = {"case_written": "y", "current_figures": "y", "leadership_briefed": "y",
           "evidence-0-item": "The case for change", "evidence-0-link": "https://intra/case",
           "notes": "Heard by the leadership team."}


async def test_hr_starts_a_programme_and_completes_a_step_with_its_checklist(
    client: httpx.AsyncClient, login: Login, installed: None,
) -> None:
    await as_user(client, login, "e400")
    empty = await client.get("/rollout")
    assert empty.status_code == 200
    assert "No roll-out programme is running" in empty.text
    setup = await start(client)
    _, token = await page_token(client, f"/tasks/{setup}")
    done = await client.post(f"/tasks/{setup}", data={
        "csrf_token": token, "_submit": "submit", "programme_name": "Performance that matters",
        "sponsor": "E400", "pilot_units": "Engineering", "target_go_live": "2999-01-01"})
    assert done.status_code in (200, 303), done.text
    urgency = await HumanTask.get(bpmn_id="create_urgency", status="ready")
    page, token = await page_token(client, f"/tasks/{urgency.id}")
    assert "Create a sense of urgency" in page.text
    missing = await client.post(f"/tasks/{urgency.id}", data={
        "csrf_token": token, "_submit": "submit", **{**URGENCY, "leadership_briefed": ""}})
    assert missing.status_code == 422
    assert "Heard by the leadership team.</textarea>" in missing.text  # nothing lost
    assert (await HumanTask.get(id=urgency.id)).status == "ready"
    ok = await client.post(f"/tasks/{urgency.id}", data={
        "csrf_token": token, "_submit": "submit", **URGENCY})
    assert ok.status_code in (200, 303), ok.text

    shown = (await client.get("/rollout")).text
    assert "Performance that matters" in shown
    assert '<a href="https://intra/case" rel="noopener noreferrer">The case for change</a>' in shown
    assert "Heard by the leadership team." in shown
    assert shown.count("ro-step ro-step-done") == 1
    assert shown.count("ro-step ro-step-current") == 1
    assert shown.count("ro-step ro-step-upcoming") == 6


async def test_the_steering_committee_reads_it_and_nobody_else_does(
    client: httpx.AsyncClient, login: Login, installed: None,
) -> None:
    await as_user(client, login, "e400")
    await start(client)
    await as_user(client, login, "e100")  # Maria, on the steering committee, not in HR
    page = await client.get("/rollout")
    assert page.status_code == 200
    assert "Roll-out programme" in page.text and "Set up the programme" not in page.text
    assert "Start a roll-out programme" not in page.text  # starting is HR's
    assert (await client.get("/rollout?cycle=999999")).status_code == 404
    assert (await client.get("/rollout?programme=nonsense")).status_code == 404
    for username in ("e300", "e200"):
        await as_user(client, login, username)
        assert (await client.get("/rollout")).status_code == 404
        _, token = await page_token(client, "/inbox")
        refused = await client.post("/rollout/start", data={"csrf_token": token})
        assert refused.status_code == 404


async def test_the_page_speaks_german(
    client: httpx.AsyncClient, login: Login, installed: None,
) -> None:
    from engine.performance.cycles import Population, launch_cycle
    from engine.workflow import runtime

    await launch_cycle("objective_setting", Population.of_people(["E300", "E200"]),
                       cycle_name="Ziele", due_on=None, actor=await runtime.actor_for("E400"))
    await as_user(client, login, "e400")
    await start(client)
    page = await client.get("/rollout", headers={"Accept-Language": "de"})
    assert "Einführung und Akzeptanz" in page.text
    assert "Dringlichkeit erzeugen" in page.text and "Verantwortlich: Programmleitung" in page.text
    assert "Ziele rechtzeitig vereinbart" in page.text and "Im Rückstand" in page.text
    assert "0 von 2" in page.text  # neither has agreed their objectives yet
    assert "Roll-out and adoption" not in page.text
