"""SCIM 2.0 at /scim/v2: what an identity provider does to the directory, seen as the directory
and the people in it see it (docs/scim.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.base.models import AuditEvent, GroupMembership, HumanTask, OrgUnit, Person, User
from engine.packs.definitions import deploy_pack
from engine.people import tokens
from engine.people.directory import current_directory
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"
BASE = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
async def scim(client: httpx.AsyncClient, people: dict[str, str]) -> httpx.AsyncClient:
    """The client with a service token of scope scim on every request."""
    made = await tokens.make_token("Entra ID", kind=tokens.SERVICE, scopes=["scim"])
    client.headers["Authorization"] = f"Bearer {made.token}"
    return client


async def person_id(key: str) -> int:
    return (await Person.get(key=key)).id


def new_user(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER, ENTERPRISE],
        "userName": "grace@example.com",
        "externalId": "entra-0001",
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "displayName": "Grace Hopper",
        "title": "Staff Engineer",
        "emails": [{"value": "grace@example.com", "type": "work", "primary": True}],
        "active": True,
        ENTERPRISE: {"employeeNumber": "E900", "department": "Compilers"},
    }
    body.update(extra)
    return body


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


async def test_a_user_made_by_the_identity_provider_is_a_person_in_the_directory(
    scim: httpx.AsyncClient,
) -> None:
    sam = await person_id("E200")
    body = new_user()
    body[ENTERPRISE]["manager"] = {"value": str(sam)}
    answer = await scim.post(f"{BASE}/Users", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("application/scim+json")
    user = answer.json()
    assert answer.headers["location"] == user["meta"]["location"]
    assert answer.headers["etag"] == user["meta"]["version"]
    assert user["meta"]["resourceType"] == "User" and user["meta"]["created"]
    assert user["name"] == {"givenName": "Grace", "familyName": "Hopper"}
    assert user[ENTERPRISE] == {
        "employeeNumber": "E900", "department": "Compilers",
        "manager": {"value": str(sam), "$ref": f"http://testserver{BASE}/Users/{sam}"},
    }

    directory = await current_directory()
    grace = directory.by_key["E900"]
    assert str(grace.id) == user["id"]
    assert (grace.name, grace.email, grace.title) == (
        "Grace Hopper", "grace@example.com", "Staff Engineer")
    assert directory.manager_of(grace.id).key == "E200"  # type: ignore[union-attr]
    assert directory.unit(grace.org_unit_id).name == "Compilers"  # type: ignore[union-attr]
    assert (await Person.get(key="E900")).external_id == "entra-0001"
    # The login has no password: nobody signs in with one.
    login = await User.get(person_id=grace.id)
    assert login.username == "grace@example.com" and login.password_hash == ""
    refused = await scim.post("/login", data={"username": "grace@example.com", "password": ""})
    assert refused.status_code != 303

    fetched = await scim.get(f"{BASE}/Users/{user['id']}")
    assert fetched.json() == user


async def test_the_identity_provider_changes_a_manager(scim: httpx.AsyncClient) -> None:
    ada, maria = await person_id("E300"), await person_id("E100")
    answer = await scim.patch(f"{BASE}/Users/{ada}", json=patch(
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": str(maria)}},
        {"op": "replace", "path": "title", "value": "Principal Engineer"},
    ))
    assert answer.status_code == 200, answer.text
    directory = await current_directory()
    assert directory.manager_of("E300").key == "E100"  # type: ignore[union-attr]
    assert directory.by_key["E300"].title == "Principal Engineer"
    assert answer.json()[ENTERPRISE]["manager"]["value"] == str(maria)


async def test_a_deactivated_user_is_a_leaver_whose_open_task_is_routed_again(
    scim: httpx.AsyncClient,
) -> None:
    await deploy_pack(STANDARD, "test", search=[ROOT / "processes"])
    inst = await runtime.start_process(
        "objective_setting", subject="E300", actor=await runtime.actor_for("E400")
    )
    ada = await person_id("E300")
    task = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
    assert task.assignee_id == ada

    answer = await scim.patch(f"{BASE}/Users/{ada}",
                              json=patch({"op": "replace", "path": "active", "value": False}))
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    assert not (await current_directory()).by_key["E300"].active
    task = await HumanTask.get(id=task.id)
    # Her lane (the subject) names a leaver now: HR has the task, with a note saying why.
    assert (task.assignee_id, task.candidate_group) == (None, "hr")
    assert "inactive" in (task.routing_note or "")
    event = await AuditEvent.get(action="task_rerouted", task_id=task.id)
    assert event.instance_id == inst.id
    assert event.detail["leaver"] == "E300" and event.detail["to"] == "group:hr"
    assert event.actor.startswith("token:")
    left = await AuditEvent.get(action="person_left")
    assert left.detail == {"person": "E300", "tasks_rerouted": [task.id]}


async def test_a_deleted_user_leaves_and_loses_their_login(scim: httpx.AsyncClient) -> None:
    ada = await person_id("E300")
    assert (await scim.delete(f"{BASE}/Users/{ada}")).status_code == 204
    assert (await scim.get(f"{BASE}/Users/{ada}")).status_code == 404
    assert not await User.exists(person_id=ada)
    assert not (await Person.get(id=ada)).active  # the person and their history stay


async def test_the_org_import_makes_leavers_the_same_way(people: dict[str, str]) -> None:
    from engine.workflow.directory_changes import import_org_chart

    await deploy_pack(STANDARD, "test", search=[ROOT / "processes"])
    inst = await runtime.start_process(
        "objective_setting", subject="E300", actor=await runtime.actor_for("E400")
    )
    report = await import_org_chart("employee_id,name,active\nE300,Ada Lovelace,no\n", "cli")
    assert report.ok and report.leavers == [await person_id("E300")]
    task = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
    assert task.candidate_group == "hr"
    assert await AuditEvent.exists(action="task_rerouted", task_id=task.id, actor="cli")


async def test_filters_find_users_by_what_the_identity_provider_knows(
    scim: httpx.AsyncClient,
) -> None:
    made = (await scim.post(f"{BASE}/Users", json=new_user())).json()

    async def found(filter_text: str) -> list[str]:
        answer = await scim.get(f"{BASE}/Users", params={"filter": filter_text})
        assert answer.status_code == 200, answer.text
        return [r["userName"] for r in answer.json()["Resources"]]

    assert await found('userName eq "GRACE@example.com"') == ["grace@example.com"]
    assert await found('externalId eq "entra-0001"') == ["grace@example.com"]
    assert await found('emails.value eq "ada@example.com"') == ["e300"]
    assert await found("userName eq \"nobody\"") == []
    await scim.patch(f"{BASE}/Users/{made['id']}",
                     json=patch({"op": "replace", "value": {"active": False}}))
    assert await found("active eq false") == ["grace@example.com"]
    assert await found('active eq true and userName eq "e100"') == ["e100"]
    for bad in ('userName xx "a"', 'userName eq', 'nickName eq "a"', 'userName eq "a" or'):
        answer = await scim.get(f"{BASE}/Users", params={"filter": bad})
        assert answer.status_code == 400
        assert answer.json()["scimType"] == "invalidFilter"


async def test_users_come_in_pages(scim: httpx.AsyncClient) -> None:
    first = (await scim.get(f"{BASE}/Users", params={"startIndex": 1, "count": 2})).json()
    rest = (await scim.get(f"{BASE}/Users", params={"startIndex": 3, "count": 10})).json()
    assert first["totalResults"] == rest["totalResults"] == 5
    assert (first["itemsPerPage"], first["startIndex"]) == (2, 1)
    assert (rest["itemsPerPage"], rest["startIndex"]) == (3, 3)
    names = [r["userName"] for r in first["Resources"] + rest["Resources"]]
    assert sorted(names) == ["e100", "e200", "e300", "e400", "e500"]
    only = (await scim.get(f"{BASE}/Users", params={"attributes": "userName"})).json()
    assert set(only["Resources"][0]) == {"schemas", "id", "userName"}


async def test_patch_adds_replaces_and_removes(scim: httpx.AsyncClient) -> None:
    user = (await scim.post(f"{BASE}/Users", json=new_user())).json()
    url = f"{BASE}/Users/{user['id']}"
    answer = await scim.patch(url, json=patch(
        {"op": "add", "path": "emails", "value": [{"value": "g@example.org", "type": "home"}]},
        {"op": "replace", "path": 'emails[type eq "work"].value',
         "value": "grace.hopper@example.com"},
        {"op": "remove", "path": f"{ENTERPRISE}:department"},
        {"op": "replace", "path": "name.givenName", "value": "Amazing Grace"},
    ))
    assert answer.status_code == 200, answer.text
    patched = answer.json()
    assert [e["value"] for e in patched["emails"]] == [
        "grace.hopper@example.com", "g@example.org"]
    assert "department" not in patched[ENTERPRISE]
    assert patched["name"]["givenName"] == "Amazing Grace"
    grace = (await current_directory()).by_key["E900"]
    assert grace.email == "grace.hopper@example.com" and grace.org_unit_id is None
    # The unit SCIM created stays: other people may join it.
    assert await OrgUnit.exists(name="Compilers")


async def test_a_scim_group_named_hr_gives_hr_rights(
    scim: httpx.AsyncClient, login: Any
) -> None:
    sam = await person_id("E200")
    assert (await scim.get("/admin/outbox", headers={"Authorization": ""})).status_code in (
        303, 401)
    answer = await scim.post(f"{BASE}/Groups", json={
        "schemas": [GROUP], "displayName": "HR", "externalId": "grp-1",
        "members": [{"value": str(sam)}],
    })
    assert answer.status_code == 201, answer.text
    group = answer.json()
    assert [m["value"] for m in group["members"]] == [str(sam)]
    assert (await current_directory()).in_group(sam, "hr")
    found = await scim.get(f"{BASE}/Groups", params={"filter": 'displayName eq "hr"'})
    assert [g["id"] for g in found.json()["Resources"]] == [group["id"]]
    user = (await scim.get(f"{BASE}/Users/{sam}")).json()
    assert user["groups"][0]["display"] == "HR"

    del scim.headers["Authorization"]
    await login("e200")
    assert (await scim.get("/admin/outbox")).status_code == 200
    made = await tokens.make_token("again", kind=tokens.SERVICE, scopes=["scim"])
    removed = await scim.patch(
        f"{BASE}/Groups/{group['id']}",
        json=patch({"op": "remove", "path": f'members[value eq "{sam}"]'}),
        headers={"Authorization": f"Bearer {made.token}"},
    )
    assert removed.status_code == 200 and "members" not in removed.json()
    assert (await scim.get("/admin/outbox")).status_code == 404
    gone = await scim.delete(f"{BASE}/Groups/{group['id']}",
                             headers={"Authorization": f"Bearer {made.token}"})
    assert gone.status_code == 204
    assert not await GroupMembership.exists(group="hr", person_id=sam)


async def test_requests_without_a_scim_token_are_refused(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    answer = await client.get(f"{BASE}/Users")
    assert answer.status_code == 401
    assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert answer.headers["www-authenticate"].startswith("Bearer")
    wrong = await client.post(f"{BASE}/Users", json=new_user(),
                              headers={"Authorization": "Bearer sl_svc_not-a-token"})
    assert wrong.status_code == 401
    api = await tokens.make_token("BI tool", kind=tokens.SERVICE, scopes=["api"])
    forbidden = await client.post(f"{BASE}/Users", json=new_user(),
                                  headers={"Authorization": f"Bearer {api.token}"})
    assert forbidden.status_code == 403 and forbidden.json()["status"] == "403"
    scim_token = await tokens.make_token("old", kind=tokens.SERVICE, scopes=["scim"])
    await tokens.revoke_token(scim_token.info.id)
    revoked = await client.get(f"{BASE}/Users",
                               headers={"Authorization": f"Bearer {scim_token.token}"})
    assert revoked.status_code == 401
    assert not await Person.exists(key="E900")


async def test_bad_input_gets_a_scim_error_and_changes_nothing(scim: httpx.AsyncClient) -> None:
    before = await Person.all().count(), await User.all().count()
    ada = await person_id("E300")
    cases: list[tuple[Any, int, str | None]] = [
        (new_user(userName="E300"), 409, "uniqueness"),  # userName is case-insensitive
        (new_user(**{ENTERPRISE: {"employeeNumber": "E100"}}), 409, "uniqueness"),
        (new_user(emails=[{"value": "not an address", "primary": True}]), 400, "invalidValue"),
        (new_user(**{ENTERPRISE: {"manager": {"value": "999999"}}}), 400, "invalidValue"),
        (new_user(active="yes"), 400, "invalidValue"),
        (new_user(userName=""), 400, "invalidValue"),
        ({"userName": "x"}, 400, "invalidValue"),
    ]
    for body, status, scim_type in cases:
        answer = await scim.post(f"{BASE}/Users", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json().get("scimType") == scim_type, answer.text
    broken = await scim.post(f"{BASE}/Users", content=b"{not json",
                             headers={"Content-Type": "application/scim+json"})
    assert broken.status_code == 400 and broken.json()["scimType"] == "invalidSyntax"
    cycle = await scim.patch(f"{BASE}/Users/{await person_id('E200')}", json=patch(
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": str(ada)}}))
    assert cycle.status_code == 400 and "cycle" in cycle.json()["detail"]
    bad_op = await scim.patch(f"{BASE}/Users/{ada}", json=patch({"op": "move", "path": "x"}))
    assert bad_op.status_code == 400
    stale = await scim.put(f"{BASE}/Users/{ada}", json=new_user(userName="e300"),
                           headers={"If-Match": 'W/"old"'})
    assert stale.status_code == 412
    assert (await scim.get(f"{BASE}/Users/12345")).status_code == 404
    unknown = await scim.get(f"{BASE}/Nothing")
    assert unknown.status_code == 404 and unknown.json()["status"] == "404"
    assert (await scim.delete(f"{BASE}/ServiceProviderConfig")).status_code == 405
    assert (await Person.all().count(), await User.all().count()) == before
    assert (await current_directory()).manager_of("E200").key == "E100"  # type: ignore[union-attr]
    assert not await OrgUnit.exists(name="Compilers")


async def test_discovery_describes_what_the_server_keeps(scim: httpx.AsyncClient) -> None:
    config = (await scim.get(f"{BASE}/ServiceProviderConfig")).json()
    assert config["patch"]["supported"] and config["filter"]["supported"]
    types = (await scim.get(f"{BASE}/ResourceTypes")).json()
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    user_schema = (await scim.get(f"{BASE}/Schemas/{USER}")).json()
    assert "userName" in {a["name"] for a in user_schema["attributes"]}
