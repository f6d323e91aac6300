"""The positions and gap pages: HR edits a profile (in place and without JavaScript), bad
input keeps what was typed, heat maps for HR and managers, a person's gaps for whoever may
see them, and the development plan's suggestions accepted into the draft or dismissed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base.models import HumanTask, Person, Record
from engine.packs.definitions import deploy_pack
from engine.people.directory import forget_directory
from engine.people.org_import import import_org
from engine.talent import positions

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"

LoginHelper = Callable[..., Awaitable[httpx.Response]]
Csrf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def standard(people: dict[str, str]) -> dict[str, str]:
    """The standard pack; Ada (E300) a software engineer whose manager rated her."""
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
    units = await import_org(
        "employee_id,name,org_unit_code,org_unit_name,parent_org_unit_code\n"
        "E100,Maria Okafor,CO,Company,\nE200,Sam Patel,ENG,Engineering,CO\n"
        "E300,Ada Lovelace,ENG,Engineering,CO\nE400,Hal Ruiz,CO,Company,\n"
        "E500,Dee Nakamura,CO,Company,\n")
    assert units.ok, units.errors
    await positions.list_positions()
    await Person.filter(key="E300").update(position="software_engineer")
    await Person.filter(key="E200").update(job_family="people_manager")
    forget_directory()
    ada = await Person.get(key="E300")
    await Record.create(kind="competency_ratings", person_id=ada.id, data={
        "job_family": "engineering",
        "ratings": {"communication": 2, "collaboration": 3, "delivering_results": 3,
                    "technical_mastery": 1, "problem_solving": 4},
        "self_ratings": {"communication": 3, "technical_mastery": 3}})
    return people


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


async def test_hr_edits_a_profile_in_place_and_a_bad_level_keeps_what_was_typed(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["hr"])
    page = await client.get("/positions")
    assert page.status_code == 200
    assert "Senior software engineer" in page.text and "Key position" in page.text
    token = await page_csrf("/positions")

    form = await client.get("/positions/finance_analyst/edit", headers={"HX-Request": "true"})
    assert 'name="req-problem_solving"' in form.text and "<html" not in form.text
    bad = await client.post("/positions/finance_analyst", headers={"HX-Request": "true"}, data={
        "csrf_token": token, "title": "Senior finance analyst", "req-problem_solving": "9",
        "req-communication": "3", "knowledge": "IFRS"})
    assert bad.status_code == 422
    assert "Problem solving: choose a level from 1 to 5, not 9." in bad.text
    assert 'value="Senior finance analyst"' in bad.text and "IFRS" in bad.text
    assert (await positions.get_position("finance_analyst")).title == "Finance analyst"  # type: ignore[union-attr]

    good = await client.post("/positions/finance_analyst", headers={"HX-Request": "true"}, data={
        "csrf_token": token, "title": "Senior finance analyst", "req-problem_solving": "5",
        "req-communication": "3", "knowledge": "IFRS\nGroup reporting", "is_key": "y"})

    assert good.status_code == 200 and "Senior finance analyst" in good.text
    assert "Edited in the app by E400" in good.text
    saved = await positions.get_position("finance_analyst")
    assert saved is not None and saved.requirements == {"problem_solving": 5, "communication": 3}
    assert saved.is_key and saved.knowledge == ("IFRS", "Group reporting")


async def test_without_javascript_hr_creates_and_retires_a_position(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["hr"])
    token = await page_csrf("/positions/new")

    blank = await client.post("/positions", data={"csrf_token": token, "code": "data_scientist",
                                                  "title": " ", "req-astrology": "3"})
    assert blank.status_code == 422
    assert "Give the position a title." in blank.text
    assert "astrology is not a competency of the framework." in blank.text
    assert 'value="data_scientist"' in blank.text

    made = await client.post("/positions", data={
        "csrf_token": token, "code": "data_scientist", "title": "Data scientist",
        "job_family": "engineering", "req-problem_solving": "4"})
    assert made.status_code == 303 and made.headers["location"].endswith("#position-data_scientist")
    retired = await client.post("/positions/data_scientist/retire", data={"csrf_token": token})
    assert retired.status_code == 303
    listed = await client.get("/positions")
    assert 'id="position-data_scientist"' not in listed.text
    shown = await client.get("/positions?retired=1")
    assert 'id="position-data_scientist"' in shown.text and "Retired" in shown.text


async def test_positions_are_for_hr_only(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["manager"])
    assert (await client.get("/positions")).status_code == 404
    assert (await client.get("/positions/software_engineer/edit")).status_code == 404


async def test_hr_sees_a_units_heat_map_and_a_manager_their_teams(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["manager"])
    team = await client.get("/gaps")
    assert team.status_code == 200
    assert "My team" in team.text and "Ada Lovelace" in team.text
    # Technical mastery: required 3, assessed 1 — said in words, not only in colour.
    assert "Technical mastery: 2 below the required level" in team.text
    assert "gap-large" in team.text

    await _as(client, login, standard["hr"])
    hr = await client.get("/gaps")
    assert hr.status_code == 200 and "Heat map of Company" in hr.text
    # Engineering: Ada below on technical mastery; Sam (generic manager profile) not assessed.
    assert "Technical mastery: 1 of 1 assessed below the required level, mean gap 2" in hr.text
    assert "Leading people: nobody assessed yet" in hr.text
    engineering = await client.get("/gaps?unit=ENG")
    assert "Heat map of Engineering" in engineering.text


async def test_a_person_sees_their_own_gaps_and_a_colleague_gets_nothing(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["employee"])
    own = await client.get("/gaps", follow_redirects=True)
    assert "My competency gaps" in own.text
    assert "Measured against the position Software engineer." in own.text
    assert "Keeps stakeholders informed of progress and problems before they ask." in own.text

    assert (await client.get("/gaps/person/E200")).status_code == 404
    await _as(client, login, standard["director"])
    assert (await client.get("/gaps/person/E300")).status_code == 200


async def test_a_manager_accepts_one_suggestion_into_the_plan_and_dismisses_another(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["manager"])
    token = await page_csrf("/development")
    started = await client.post("/development/plan", data={"person": "E300",
                                                           "csrf_token": token})
    task_id = int(started.headers["location"].rsplit("/", 1)[1])
    task_page = await client.get(f"/tasks/{task_id}")
    assert f'hx-get="/tasks/{task_id}/gap-suggestions"' in task_page.text
    panel = await client.get(f"/tasks/{task_id}/gap-suggestions",
                             headers={"HX-Request": "true"})
    assert "Technical mastery" in panel.text and "Add to plan" in panel.text

    # The form as typed comes along with the click (htmx includes it).
    added = await client.post(
        f"/tasks/{task_id}/gap-suggestions", headers={"HX-Request": "true"},
        data={"csrf_token": token, "suggestion": "technical_mastery:action:1",
              "decision": "accept", "goals": "Grow in depth"})
    assert added.status_code == 204 and added.headers["HX-Refresh"] == "true"
    dismissed = await client.post(f"/tasks/{task_id}/gap-suggestions", data={
        "csrf_token": token, "suggestion": "communication:action:2", "decision": "dismiss"})
    assert dismissed.status_code == 303

    form = await client.get(f"/tasks/{task_id}")
    assert "Grow in depth" in form.text
    assert "Technical mastery: reach level 3 (Meets expectations)" in form.text
    draft = (await HumanTask.get(id=task_id)).draft["posted"]
    assert draft["actions-0-goal"] == ["Technical mastery: reach level 3 (Meets expectations)"]
    assert not any(v == ["Listens to the end before answering and checks that they understood."]
                   for v in draft.values())
    panel = await client.get(f"/tasks/{task_id}/gap-suggestions",
                             headers={"HX-Request": "true"})
    assert "1 added, 1 dismissed" in panel.text
    assert "Listens to the end before answering" not in panel.text
    # Someone else's plan task offers them nothing.
    await _as(client, login, standard["employee"])
    assert (await client.get(f"/tasks/{task_id}/gap-suggestions")).status_code == 404


async def test_hr_sets_a_position_over_the_api_and_a_bad_code_is_refused(
    client: httpx.AsyncClient, standard: dict[str, str],
) -> None:
    from engine.base.models import User
    from engine.people import tokens

    async def token(username: str) -> dict[str, str]:
        user = await User.get(username=username)
        made = await tokens.make_token(f"test {username}", kind="personal", scopes=["api"],
                                       user_id=user.id)
        return {"Authorization": f"Bearer {made.token}"}

    hr, manager = await token(standard["hr"]), await token(standard["manager"])
    url = "/api/v1/people/E300/position"

    unknown = await client.put(url, json={"position": "astronaut"}, headers=hr)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_position"
    assert (await client.put(url, json={"position": "finance_analyst"},
                             headers=manager)).status_code == 404
    moved = await client.put(url, json={"position": "senior_software_engineer"}, headers=hr)

    assert moved.status_code == 200, moved.text
    assert moved.json()["position"] == "senior_software_engineer"
    read = await client.get("/api/v1/people/E300", headers=manager)
    assert read.json()["position"] == "senior_software_engineer"
    cleared = await client.put(url, json={"position": None}, headers=hr)
    assert cleared.json()["position"] is None


async def test_an_identity_provider_sets_a_position_through_scim(
    client: httpx.AsyncClient, standard: dict[str, str],
) -> None:
    from engine.people import tokens

    sightline = "urn:sightline:params:scim:schemas:extension:sightline:2.0:User"
    made = await tokens.make_token("Entra ID", kind=tokens.SERVICE, scopes=["scim"])
    client.headers["Authorization"] = f"Bearer {made.token}"
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", sightline],
        "userName": "grace@example.com", "displayName": "Grace Hopper",
        "emails": [{"value": "grace@example.com", "primary": True}],
        sightline: {"position": "astronaut"},
    }

    refused = await client.post("/scim/v2/Users", json=user)
    assert refused.status_code == 400 and "'astronaut' is not a position" in refused.text

    user[sightline] = {"position": "engineering_manager"}
    created = await client.post("/scim/v2/Users", json=user)
    assert created.status_code == 201, created.text
    assert created.json()[sightline] == {"position": "engineering_manager"}
    uid = created.json()["id"]
    # A change without the extension leaves the position as it was ...
    renamed = await client.patch(f"/scim/v2/Users/{uid}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Grace B. Hopper"}]})
    assert renamed.json()[sightline] == {"position": "engineering_manager"}
    assert (await Person.get(id=int(uid))).position == "engineering_manager"
    # ... and removing it clears it.
    removed = await client.patch(f"/scim/v2/Users/{uid}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": f"{sightline}:position"}]})
    assert sightline not in removed.json()
    assert (await Person.get(id=int(uid))).position == ""
    # The schema offers the positions there are.
    schema = await client.get(f"/scim/v2/Schemas/{sightline}")
    assert "senior_software_engineer" in schema.json()["attributes"][0]["canonicalValues"]
