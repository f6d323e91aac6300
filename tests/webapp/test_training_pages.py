"""The training pages: the catalog and a request through approval to an enrolment, HR's
courses, sessions, roster marks (htmx and plain), evaluations, the effect table and the
managers' course; bad input answered beside the field with what was typed kept."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from engine.base import clock
from engine.base.models import HumanTask
from engine.packs.definitions import deploy_pack

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"
LoginHelper = Callable[..., Awaitable[httpx.Response]]
Csrf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def standard(people: dict[str, str]) -> dict[str, str]:
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
    return people


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


async def _post(client: httpx.AsyncClient, page_csrf: Csrf, path: str,
                data: dict[str, str | list[str]] | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
    token = await page_csrf("/training")
    return await client.post(path, data={**(data or {}), "csrf_token": token}, headers=headers)


def _when(days: int) -> str:
    return (clock.now() + timedelta(days=days)).strftime("%Y-%m-%dT09:00")


async def _schedule(client: httpx.AsyncClient, page_csrf: Csrf, code: str, days: int,
                    seats: str = "12", location: str = "Berlin, room 3") -> int:
    done = await _post(client, page_csrf, f"/hr/training/courses/{code}/sessions",
                       {"starts_at": _when(days), "seats": seats, "location": location})
    assert done.status_code == 303, done.text
    page = await client.get(f"/hr/training/courses/{code}")
    return int(re.findall(r'href="/hr/training/sessions/(\d+)"', page.text)[-1])


async def _complete(client: httpx.AsyncClient, task_id: int, data: dict[str, str]) -> None:
    page = await client.get(f"/tasks/{task_id}")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    done = await client.post(f"/tasks/{task_id}", data={**data, "csrf_token": token.group(1)})
    assert done.status_code == 303, done.text


async def test_a_request_goes_from_the_catalog_through_both_approvals_to_an_evaluated_course(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["hr"])
    session_id = await _schedule(client, page_csrf, "leading_teams", 21)
    # The employee finds the course in the catalog and asks for it.
    await _as(client, login, standard["employee"])
    catalog = await client.get("/training")
    assert "Appraisal and coaching skills for managers" in catalog.text
    assert "Leading high-performing teams" in catalog.text
    assert "Request this course" in catalog.text
    asked = await _post(client, page_csrf, "/training/request", {"course": "leading_teams"})
    assert asked.status_code == 303
    task_id = int(asked.headers["location"].rsplit("/", 1)[1])
    form = await client.get(f"/tasks/{task_id}")
    assert f'value="session:{session_id}"' in form.text and "Berlin, room 3" in form.text
    assert "2,400 EUR" in form.text or "2400 EUR" in form.text
    await _complete(client, task_id, {"preferred_session": f"session:{session_id}",
                                      "target_competency": "leading_people",
                                      "reason": "I take over the platform team in spring."})
    task = await HumanTask.get(id=task_id)
    # The manager approves; the costly external course then waits on HR.
    await _as(client, login, standard["manager"])
    review = await HumanTask.get(instance_id=task.instance_id, bpmn_id="manager_review")
    page = await client.get(f"/tasks/{review.id}")
    assert "I take over the platform team in spring." in page.text
    await _complete(client, review.id, {"manager_decision": "approve", "manager_comment": ""})
    await _as(client, login, standard["hr"])
    hr = await HumanTask.get(instance_id=task.instance_id, bpmn_id="hr_review")
    assert "HR approves external courses above 500 EUR." in (await client.get(
        f"/tasks/{hr.id}")).text
    await _complete(client, hr.id, {"hr_decision": "approve", "hr_comment": "Enjoy it."})
    # HR marks attendance on the roster, with htmx: the roster comes back, marked.
    roster = await client.get(f"/hr/training/sessions/{session_id}")
    enrolment = re.search(r'name="enrolment" value="(\d+)"', roster.text)
    assert enrolment and "Ada Lovelace" in roster.text
    marked = await _post(client, page_csrf, f"/hr/training/sessions/{session_id}/marks",
                         {"enrolment": [enrolment.group(1)], "status": "completed"},
                         headers={"HX-Request": "true"})
    assert marked.status_code == 200
    assert "<html" not in marked.text and "1 participant marked." in marked.text
    assert "Completed" in marked.text
    # The employee sees the completed course and is asked to evaluate it.
    await _as(client, login, standard["employee"])
    mine = await client.get("/training")
    assert "How was “Leading high-performing teams”?" in mine.text
    path = f"/training/enrolments/{enrolment.group(1)}/evaluation"
    refused = await _post(client, page_csrf, path, {"rating": "5", "useful": "",
                                                    "applied": "Delegating the on-call plan"})
    assert refused.status_code == 422
    assert "Choose from 1 to 5." in refused.text and "Delegating the on-call plan" in refused.text
    sent = await _post(client, page_csrf, path, {"rating": "5", "useful": "4",
                                                 "applied": "Delegating the on-call plan"})
    assert sent.status_code == 303
    assert "How was" not in (await client.get("/training")).text
    # HR reads the completion and the evaluation.
    await _as(client, login, standard["hr"])
    course = await client.get("/hr/training/courses/leading_teams")
    assert "Ada Lovelace" in course.text and "5/5 overall, 4/5 useful" in course.text
    results = await client.get("/hr/training/results")
    assert "Delegating the on-call plan" in results.text
    assert "too few" in results.text or "Nobody has completed" not in results.text


async def test_hr_pages_are_hr_s_alone(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["employee"])
    for path in ("/hr/training", "/hr/training/results", "/hr/training/managers",
                 "/hr/training/courses/leading_teams"):
        assert (await client.get(path)).status_code == 404, path


async def test_bad_course_input_is_named_beside_the_field_and_kept(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["hr"])
    await client.get("/hr/training")
    refused = await _post(client, page_csrf, "/hr/training/courses", {
        "code": "excel_basics", "title": "Excel for analysts", "delivery": "internal",
        "cost": "a lot", "currency": "EUR", "duration_hours": "4",
        "competencies": ["problem_solving"]})
    assert refused.status_code == 422
    assert "The cost must be a number" in refused.text
    assert 'value="Excel for analysts"' in refused.text
    added = await _post(client, page_csrf, "/hr/training/courses", {
        "code": "excel_basics", "title": "Excel for analysts", "delivery": "internal",
        "cost": "120", "currency": "EUR", "duration_hours": "4",
        "competencies": ["problem_solving"]})
    assert added.status_code == 303
    late = await _post(client, page_csrf, "/hr/training/courses/excel_basics/sessions",
                       {"starts_at": _when(5), "ends_at": _when(4)})
    assert late.status_code == 422 and "The session must end after it starts." in late.text
    await _as(client, login, standard["employee"])
    assert "Excel for analysts" in (await client.get("/training")).text


async def test_a_manager_asks_for_a_report_and_hr_sees_the_managers_course_by_unit(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["manager"])
    catalog = await client.get("/training")
    assert '<option value="E300">Ada Lovelace</option>' in catalog.text
    asked = await _post(client, page_csrf, "/training/request",
                        {"course": "secure_coding", "person": "E300"})
    task_id = int(asked.headers["location"].rsplit("/", 1)[1])
    assert "as their manager, your request is your approval" in (
        await client.get(f"/tasks/{task_id}")).text
    # Asking for someone outside one's team: no such page.
    await _as(client, login, standard["employee"])
    assert (await _post(client, page_csrf, "/training/request",
                        {"course": "secure_coding", "person": "E200"})).status_code == 404
    await _as(client, login, standard["hr"])
    managers = await client.get("/hr/training/managers")
    assert "Appraisal and coaching skills for managers" in managers.text
    assert "Sam Patel" in managers.text and "0 completed" in managers.text
    enrolled = await _post(client, page_csrf, "/hr/training/managers/enrol", {"person": "E200"})
    assert enrolled.status_code == 303
    assert "1 enrolled" in (await client.get("/hr/training/managers")).text


async def test_the_training_pages_speak_german(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["hr"])
    german = {"Accept-Language": "de"}
    page = await client.get("/training", headers=german)
    assert "Beurteilungs- und Coachingkompetenz für Führungskräfte" in page.text
    assert "Kurs beantragen" in page.text or "Diesen Kurs beantragen" in page.text
    admin = await client.get("/hr/training", headers=german)
    assert "Weiterbildung verwalten" in admin.text
