"""The REST API on the real standard pack: tokens and scopes, the pages' authorization (404),
tasks completed through the form's own checks, idempotent writes, rate limits, KPI actuals."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from config import settings
from engine.base.models import Cycle, HumanTask, KpiUpdate, ProcessInstance, User
from engine.packs.definitions import deploy_pack
from engine.people import tokens
from engine.workflow import runtime
from tests.support.org import TEAM

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
OBJECTIVE = {"kra": "Delivery", "title": "Ship billing", "kpi": "Release on time",
             "measure_type": "higher_is_better", "baseline": 0, "target": 10, "weight": 100}


@pytest.fixture
async def team(db: str) -> ProcessInstance:
    """The engineering team with logins, the standard pack, Eve's objective setting."""
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    assert not (await import_org(TEAM)).errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026 objectives")
    return await runtime.start_process("objective_setting", subject="E1",
                                       actor=await runtime.actor_for("H1"), cycle_id=cycle.id)


async def token_for(username: str, *scopes: str) -> str:
    user = await User.get(username=username)
    made = await tokens.make_token(f"test {username}", kind="personal",
                                   scopes=list(scopes or ["api"]), user_id=user.id)
    return made.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def draft_task(instance: ProcessInstance) -> HumanTask:
    return await HumanTask.get(instance_id=instance.id, bpmn_id="draft_objectives",
                               status="ready")


def assert_error(answer: httpx.Response, status: int, code: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code is not None:
        assert error["code"] == code
    return error


async def test_no_token_a_bad_token_and_a_revoked_one_are_401(client, team):
    assert_error(await client.get(f"{API}/people"), 401, "unauthenticated")
    assert_error(await client.get(f"{API}/people", headers=bearer("sl_pat_nonsense")), 401,
                 "invalid_token")
    token = await token_for("e1")
    assert (await client.get(f"{API}/people", headers=bearer(token))).status_code == 200
    await tokens.revoke_token((await tokens.list_tokens())[0].id)
    answer = await client.get(f"{API}/people", headers=bearer(token))
    assert_error(answer, 401, "invalid_token")
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_an_expired_token_is_401(client, team):
    user = await User.get(username="e1")
    now = tokens.wall_clock()
    made = await tokens.make_token("soon", kind="personal", scopes=["api"], user_id=user.id,
                                   expires_at=now.replace(year=now.year + 1))
    assert (await client.get(f"{API}/people", headers=bearer(made.token))).status_code == 200
    from engine.base.models import ApiToken

    await ApiToken.filter(id=made.info.id).update(expires_at=now.replace(year=now.year - 1))
    assert_error(await client.get(f"{API}/people", headers=bearer(made.token)), 401)


async def test_a_browser_session_does_not_reach_the_api(client, team, login):
    await login("e1")
    assert (await client.get("/inbox")).status_code == 200
    assert_error(await client.get(f"{API}/tasks"), 401)
    task = await draft_task(team)
    answer = await client.post(f"{API}/tasks/{task.id}/complete", json={"data": {}})
    assert_error(answer, 401)


async def test_a_read_only_token_cannot_write(client, team):
    token = await token_for("e1", "api:read")
    task = await draft_task(team)
    assert (await client.get(f"{API}/tasks/{task.id}", headers=bearer(token))).status_code == 200
    error = assert_error(await client.put(f"{API}/tasks/{task.id}/draft", headers=bearer(token),
                                          json={"data": {}}), 403, "insufficient_scope")
    assert error["details"]["required"] == "api"


async def test_tasks_list_and_read_with_the_form_schema(client, team):
    token = await token_for("e1")
    listed = (await client.get(f"{API}/tasks", headers=bearer(token))).json()
    assert [t["name"] for t in listed["items"]] == ["Draft objectives"]
    task_id = listed["items"][0]["id"]
    task = (await client.get(f"{API}/tasks/{task_id}", headers=bearer(token))).json()
    assert task["status"] == "open" and task["subject"] == {"key": "E1", "name": "Eve Employee"}
    assert task["form"]["schema"]["properties"]["objectives"]["type"] == "array"


async def test_a_task_someone_may_not_act_on_is_404_as_on_the_page(client, team):
    task = await draft_task(team)
    for username in ("e2", "m1", "h1"):
        token = await token_for(username)
        assert_error(await client.get(f"{API}/tasks/{task.id}", headers=bearer(token)), 404,
                     "not_found")
        assert_error(await client.post(f"{API}/tasks/{task.id}/complete", headers=bearer(token),
                                       json={"data": {"objectives": [OBJECTIVE]}}), 404)
    assert (await draft_task(team)).id == task.id
    token = await token_for("e1")
    assert_error(await client.get(f"{API}/tasks/999999", headers=bearer(token)), 404)


async def test_bad_answers_get_the_forms_errors_and_the_task_stays_open(client, team):
    token = await token_for("e1")
    task = await draft_task(team)
    answer = await client.post(f"{API}/tasks/{task.id}/complete", headers=bearer(token),
                               json={"data": {"objectives": [{**OBJECTIVE, "weight": 90}]}})
    error = assert_error(answer, 422, "invalid_answers")
    messages = " ".join(e["message"] for e in error["details"]["errors"])
    assert "100" in messages  # the weights must add up to 100, as the page says
    wrong_type = await client.post(f"{API}/tasks/{task.id}/complete", headers=bearer(token),
                                   json={"data": {"objectives": "all of them", "nope": 1}})
    fields = [e["message"] for e in assert_error(wrong_type, 422)["details"]["errors"]]
    assert "Give a list of rows." in fields and "The form has no field 'nope'." in fields
    assert (await draft_task(team)).status == "ready"


async def test_completing_a_task_through_the_api(client, team):
    token = await token_for("e1")
    task = await draft_task(team)
    answer = await client.post(f"{API}/tasks/{task.id}/complete", headers=bearer(token),
                               json={"data": {"objectives": [OBJECTIVE]}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["task_id"] == task.id and body["instance"]["status"] == "running"
    assert [s["holder"] for s in body["next_steps"]] == ["Morgan Manager"]
    again = await client.post(f"{API}/tasks/{task.id}/complete", headers=bearer(token),
                              json={"data": {"objectives": [OBJECTIVE]}})
    assert_error(again, 409, "task_closed")


async def test_a_draft_saved_through_the_api_shows_on_the_page(client, team, login):
    token = await token_for("e1")
    task = await draft_task(team)
    saved = await client.put(f"{API}/tasks/{task.id}/draft", headers=bearer(token),
                             json={"data": {"objectives": [{**OBJECTIVE, "title": "Half"}]}})
    assert saved.status_code == 200, saved.text
    read = (await client.get(f"{API}/tasks/{task.id}", headers=bearer(token))).json()
    assert read["draft"] is not None and read["data"]["objectives"][0]["title"] == "Half"
    await login("e1")
    page = (await client.get(f"/tasks/{task.id}")).text
    assert ">Half</textarea>" in page  # the draft, as the page shows it


async def test_idempotency_replays_the_answer_and_refuses_another_body(client, team):
    token = await token_for("e1")
    task = await draft_task(team)
    headers = {**bearer(token), "Idempotency-Key": "key-1"}
    first = await client.post(f"{API}/tasks/{task.id}/complete", headers=headers,
                              json={"data": {"objectives": [OBJECTIVE]}})
    assert first.status_code == 200, first.text
    replay = await client.post(f"{API}/tasks/{task.id}/complete", headers=headers,
                               json={"data": {"objectives": [OBJECTIVE]}})
    assert replay.status_code == 200 and replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    other = await client.post(f"{API}/tasks/{task.id}/complete", headers=headers,
                              json={"data": {"objectives": [{**OBJECTIVE, "weight": 50}]}})
    error = assert_error(other, 422, "idempotency_key_reused")
    assert "different request" in error["message"]
    assert await HumanTask.filter(instance_id=team.id, bpmn_id="draft_objectives").count() == 1


async def test_the_rate_limit_answers_429_with_retry_after(client, team, monkeypatch):
    monkeypatch.setattr(settings, "API_RATE_LIMIT", 3)
    token = await token_for("e1")
    remaining = []
    for _ in range(3):
        answer = await client.get(f"{API}/units", headers=bearer(token))
        assert answer.status_code == 200
        remaining.append(answer.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    refused = await client.get(f"{API}/units", headers=bearer(token))
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= settings.API_RATE_WINDOW_SECONDS
    other = await token_for("e2")  # per token
    assert (await client.get(f"{API}/units", headers=bearer(other))).status_code == 200


async def test_people_units_and_pagination(client, team):
    token = await token_for("e1", "api:read")
    first = (await client.get(f"{API}/people?limit=2", headers=bearer(token))).json()
    assert [p["key"] for p in first["items"]] == ["D1", "E1"]
    second = (await client.get(f"{API}/people?limit=2&cursor={first['next_cursor']}",
                               headers=bearer(token))).json()
    assert [p["key"] for p in second["items"]] == ["E2", "H1"]
    eve = (await client.get(f"{API}/people/E1", headers=bearer(token))).json()
    assert eve["manager"] == "M1" and eve["unit"] == "ENG"
    assert_error(await client.get(f"{API}/people?cursor=bogus", headers=bearer(token)), 400)
    assert_error(await client.get(f"{API}/people?limit=0", headers=bearer(token)), 400)
    assert_error(await client.get(f"{API}/people/NOBODY", headers=bearer(token)), 404)


async def test_instances_follow_the_instance_pages_rules(client, team):
    mine = await client.get(f"{API}/instances/{team.id}", headers=bearer(await token_for("e1")))
    assert mine.status_code == 200 and mine.json()["open_steps"][0]["name"] == "Draft objectives"
    manager = await client.get(f"{API}/instances/{team.id}/timeline",
                               headers=bearer(await token_for("m1")))
    assert manager.status_code == 200 and manager.json()["items"][0]["action"]
    peer = await client.get(f"{API}/instances/{team.id}", headers=bearer(await token_for("e2")))
    assert_error(peer, 404)


async def test_starting_a_process_the_pack_lets_the_person_start(client, team):
    token = await token_for("e2")
    started = await client.post(f"{API}/instances", headers=bearer(token),
                                json={"process": "checkin"})
    assert started.status_code == 201, started.text
    assert started.headers["location"] == f"{API}/instances/{started.json()['id']}"
    launched = await client.post(f"{API}/instances", headers=bearer(token),
                                 json={"process": "objective_setting"})
    assert_error(launched, 422, "not_self_started")
    assert_error(await client.post(f"{API}/instances", headers=bearer(token),
                                   json={"process": "no_such_process"}), 404)
    assert_error(await client.post(f"{API}/instances", headers=bearer(token),
                                   json={"process": "checkin", "extra": True}), 422,
                 "invalid_body")


async def _objectives_recorded(client: httpx.AsyncClient, team: ProcessInstance) -> None:
    """Eve's objectives agreed through the API: drafted by Eve, approved by Morgan,
    acknowledged (signed) by Eve."""
    eve, morgan = await token_for("e1"), await token_for("m1")
    steps = [(eve, "Eve Employee", {"objectives": [OBJECTIVE]}),
             (morgan, "Morgan Manager", {"decision": "approve"}),
             (eve, "Eve Employee", {"acknowledgement": {"acknowledged": True,
                                                        "name": "Eve Employee"}})]
    for token, _name, answers in steps:
        listed = (await client.get(f"{API}/tasks", headers=bearer(token))).json()["items"]
        assert len(listed) == 1, listed
        answer = await client.post(f"{API}/tasks/{listed[0]['id']}/complete",
                                   headers=bearer(token), json={"data": answers})
        assert answer.status_code == 200, answer.text
    assert (await ProcessInstance.get(id=team.id)).status == "completed"


async def test_kpi_actuals_are_recorded_with_the_score_cards_checks(client, team):
    await _objectives_recorded(client, team)
    cycle = await Cycle.get(name="2026 objectives")
    records = (await client.get(f"{API}/records?cycle={cycle.id}",
                                headers=bearer(await token_for("e1")))).json()["items"]
    objectives = next(r for r in records if isinstance(r["data"].get("objectives"), list))
    key = objectives["data"]["objectives"][0].get("key") or "Ship billing"

    eve = await token_for("e1")
    wrote = await client.post(f"{API}/kpi-actuals", headers=bearer(eve), json={
        "person": "E1", "cycle": cycle.id, "objective": key, "actual": 4,
        "status": "on_track", "comment": "Four of ten shipped"})
    assert wrote.status_code == 201, wrote.text
    assert wrote.json()["actual"] == 4 and wrote.json()["updated_by"] == "E1"
    assert (await KpiUpdate.get()).source == "api"

    refused = await client.post(f"{API}/kpi-actuals", headers=bearer(eve), json={
        "person": "E1", "cycle": cycle.id, "objective": "No such objective", "actual": 1})
    assert "no objective" in assert_error(refused, 422)["message"]
    peer = await client.post(f"{API}/kpi-actuals", headers=bearer(await token_for("e2")),
                             json={"person": "E1", "cycle": cycle.id, "objective": key,
                                   "actual": 5})
    assert_error(peer, 404)
    assert await KpiUpdate.all().count() == 1

    card = (await client.get(f"{API}/scorecards/E1?cycle={cycle.id}",
                             headers=bearer(await token_for("m1")))).json()
    assert card["objectives"][0]["actual"] == 4
    assert_error(await client.get(f"{API}/scorecards/E1", headers=bearer(
        await token_for("e2"))), 404)


async def test_hr_launches_a_cycle_and_reads_its_progress(client, team):
    hr = await token_for("h1")
    launched = await client.post(f"{API}/cycles", headers=bearer(hr), json={
        "process": "mid_year_review", "cycle": "2026 mid-year", "due_on": "2026-07-31",
        "population": {"people": ["E2"]}})
    assert launched.status_code == 202, launched.text
    launch = launched.json()
    assert launch["status"] == "queued" and launch["total"] == 1
    followed = await client.get(launched.headers["location"], headers=bearer(hr))
    assert followed.json()["id"] == launch["id"]
    cycles = (await client.get(f"{API}/cycles", headers=bearer(hr))).json()["items"]
    cycle_id = next(c["id"] for c in cycles if c["name"] == "2026 objectives")
    progress = (await client.get(f"{API}/cycles/{cycle_id}/progress", headers=bearer(hr))).json()
    assert progress["processes"][0]["open"] == 1
    employee = await token_for("e1")
    assert_error(await client.post(f"{API}/cycles", headers=bearer(employee), json={
        "process": "mid_year_review", "cycle": "x", "population": {"unit": "ENG"}}), 404)
    assert_error(await client.get(f"{API}/cycles/{cycle_id}/progress",
                                  headers=bearer(employee)), 404)


async def test_a_service_token_reads_as_hr_and_writes_nothing(client, team):
    made = await tokens.make_token("BI", kind="service", scopes=["api"])
    headers = bearer(made.token)
    assert (await client.get(f"{API}/scorecards/E1", headers=headers)).status_code == 200
    assert (await client.get(f"{API}/records", headers=headers)).status_code == 200
    assert_error(await client.get(f"{API}/tasks", headers=headers), 403,
                 "personal_token_required")
    scim = await tokens.make_token("IdP", kind="service", scopes=["scim"])
    assert_error(await client.get(f"{API}/people", headers=bearer(scim.token)), 403,
                 "insufficient_scope")


async def test_the_openapi_document_and_the_docs_page(client, team):
    document = (await client.get(f"{API}/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert {"/people", "/tasks/{task_id}/complete", "/kpi-actuals", "/cycles"} <= set(
        document["paths"])
    page = await client.get(f"{API}/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "curl -sS -X POST" in page.text and "Idempotency-Key" in page.text
    assert "https://" not in page.text.split("<body>")[0]  # nothing from a CDN
    assert_error(await client.get(f"{API}/nowhere"), 404)
    assert_error(await client.delete(f"{API}/people"), 405)
