"""The task page on the real standard pack: showing, drafting, submitting, live validation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base.models import Cycle, HumanTask, ProcessInstance
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime
from tests.support.html import cell_texts
from tests.support.org import TEAM as ORG

ROOT = Path(__file__).resolve().parents[2]


OBJECTIVE = {
    "kra": "Delivery",
    "title": "Ship billing",
    "kpi": "Release on time",
    "measure_type": "higher_is_better",
    "baseline": 0,
    "target": 1,
    "weight": 100,
}

# The `login` fixture of tests/webapp/conftest.py.
Login = Callable[..., Awaitable[httpx.Response]]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def objective_setting(db: str) -> ProcessInstance:
    """The org with logins, the standard pack deployed, and Eve's objective setting started."""
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026 objectives")
    hr = await runtime.actor_for("H1")
    return await runtime.start_process(
        "objective_setting", subject="E1", actor=hr, cycle_id=cycle.id
    )


async def open_task(instance: ProcessInstance, bpmn_id: str) -> HumanTask:
    return await HumanTask.get(instance_id=instance.id, bpmn_id=bpmn_id, status="ready")


async def as_user(client: httpx.AsyncClient, login: Login, username: str) -> None:
    """Log in as `username` (leaving any earlier session behind)."""
    client.cookies.clear()
    answer = await login(username)
    assert answer.status_code == 303, answer.text


async def page_token(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, str]:
    page = await client.get(path)
    match = CSRF.search(page.text)
    assert match, page.text
    return page, match.group(1)


def objective_rows(*rows: dict[str, str]) -> dict[str, str]:
    """Form fields for the objectives table, as the browser posts them."""
    posted: dict[str, str] = {}
    for index, row in enumerate(rows):
        for key, value in row.items():
            posted[f"objectives-{index}-{key}"] = value
    return posted


OBJECTIVE_FORM = {"kra": "Delivery", "title": "Ship billing", "target": "1", "weight": "100"}
ROW_A = {"kra": "Delivery", "title": "Ship billing", "target": "1", "weight": "50"}
ROW_B = {"kra": "People", "title": "Mentor two juniors", "target": "2", "weight": "40"}


async def draft_done(instance: ProcessInstance) -> HumanTask:
    """Eve submitted her objectives; returns Morgan's review task."""
    draft = await open_task(instance, "draft_objectives")
    eve = await runtime.actor_for("E1")
    await runtime.complete_task(
        draft.id, eve, {"objectives": [OBJECTIVE], "comments": "Open to a quality goal."}
    )
    return await open_task(instance, "review_objectives")


async def test_page_shows_who_instructions_context_and_form(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    review = await draft_done(objective_setting)
    await as_user(client, login, "m1")

    page = await client.get(f"/tasks/{review.id}")

    assert page.status_code == 200
    html = page.text
    assert "<h1>Review objectives</h1>" in html
    assert "Eve Employee" in html and "Software Engineer, Engineering" in html
    assert "2026 objectives" in html and "Objective setting" in html
    assert "due in 7 days" in html
    # Instructions: Markdown rendered with the task data.
    assert "Review objectives (round 1)" in html and "Ship billing" in cell_texts(html)
    # Context: the employee's step, readable (column titles and enum labels, not JSON).
    context = html[html.index('id="task-context"') : html.index('id="task-form"')]
    assert "Draft objectives" in context and "Eve Employee" in context
    assert "Key result area" in context and "Higher is better" in context
    assert "Open to a quality goal." in context
    assert "higher_is_better" not in context
    # The form, with live validation and a draft button.
    assert 'name="decision"' in html and "Approve the objectives" in html
    assert f'hx-post="/tasks/{review.id}/validate"' in html
    assert 'value="draft"' in html and "Save draft" in html


async def test_people_who_may_not_act_get_404(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    draft = await open_task(objective_setting, "draft_objectives")
    for username in ("e2", "m1", "h1"):
        await as_user(client, login, username)
        assert (await client.get(f"/tasks/{draft.id}")).status_code == 404
    assert (await client.get("/tasks/999999")).status_code == 404
    await as_user(client, login, "e2")
    _, token = await page_token(client, "/inbox")  # any page carries the session token
    refused = await client.post(
        f"/tasks/{draft.id}", data={"csrf_token": token, **objective_rows(OBJECTIVE_FORM)}
    )
    assert refused.status_code == 404
    assert (await open_task(objective_setting, "draft_objectives")).id == draft.id



async def test_weights_totalling_90_are_refused_with_the_input_kept(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    draft = await open_task(objective_setting, "draft_objectives")
    await as_user(client, login, "e1")
    page, token = await page_token(client, f"/tasks/{draft.id}")
    assert "Weights must add up to <strong>100</strong>" in page.text

    answer = await client.post(
        f"/tasks/{draft.id}",
        data={"csrf_token": token, "_submit": "submit", "comments": "First go",
              **objective_rows(ROW_A, ROW_B)},
    )

    assert answer.status_code == 422
    assert "The weights of your objectives must add up to 100. They total 90." in answer.text
    assert '>Mentor two juniors</textarea>' in answer.text and 'value="40"' in answer.text
    assert "First go</textarea>" in answer.text
    assert (await HumanTask.get(id=draft.id)).status == "ready"


async def test_valid_submission_redirects_with_what_is_next(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    draft = await open_task(objective_setting, "draft_objectives")
    await as_user(client, login, "e1")
    _, token = await page_token(client, f"/tasks/{draft.id}")
    fixed = {**ROW_B, "weight": "50"}

    answer = await client.post(
        f"/tasks/{draft.id}",
        data={"csrf_token": token, "_submit": "submit", **objective_rows(ROW_A, fixed)},
    )

    assert answer.status_code == 303 and answer.headers["location"] == "/inbox"
    shown = await client.get("/inbox")
    assert (
        "Submitted &#39;Draft objectives&#39;. Next: Review objectives — with Morgan Manager."
        in shown.text
    )
    review = await open_task(objective_setting, "review_objectives")
    morgan = await runtime.actor_for("M1")
    assert review.assignee_id == morgan.person_id
    done = await HumanTask.get(id=draft.id)
    assert [o["weight"] for o in done.submitted["objectives"]] == [50, 50]
    assert done.submitted["objectives"][1]["title"] == "Mentor two juniors"


async def test_htmx_submission_gets_hx_redirect(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    review = await draft_done(objective_setting)
    await as_user(client, login, "m1")
    _, token = await page_token(client, f"/tasks/{review.id}")

    answer = await client.post(
        f"/tasks/{review.id}",
        data={"csrf_token": token, "_submit": "submit", "decision": "approve"},
        headers={"HX-Request": "true"},
    )

    assert answer.status_code == 200
    assert answer.headers["HX-Redirect"] == "/inbox"
    ack = await open_task(objective_setting, "acknowledge_objectives")
    assert ack.name == "Acknowledge objectives"


async def test_returning_without_comments_is_refused(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    review = await draft_done(objective_setting)
    await as_user(client, login, "m1")
    _, token = await page_token(client, f"/tasks/{review.id}")

    answer = await client.post(
        f"/tasks/{review.id}",
        data={"csrf_token": token, "_submit": "submit", "decision": "return"},
        headers={"HX-Request": "true"},
    )

    assert answer.status_code == 422
    # htmx gets the form section alone, errors inline.
    assert answer.text.lstrip().startswith('<section id="task-form"')
    assert "Required when Decision is" in answer.text


async def test_add_and_remove_rows_without_javascript_keep_input(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    draft = await open_task(objective_setting, "draft_objectives")
    await as_user(client, login, "e1")
    _, token = await page_token(client, f"/tasks/{draft.id}")

    added = await client.post(
        f"/tasks/{draft.id}",
        data={"csrf_token": token, "_form_action": "add:objectives", "comments": "kept",
              **objective_rows(ROW_A)},
    )
    assert added.status_code == 200
    assert 'name="objectives-1-kra"' in added.text
    assert '>Ship billing</textarea>' in added.text and "kept</textarea>" in added.text

    removed = await client.post(
        f"/tasks/{draft.id}",
        data={"csrf_token": token, "_form_action": "remove:objectives:0",
              **objective_rows(ROW_A, ROW_B)},
    )
    assert removed.status_code == 200
    assert '>Mentor two juniors</textarea>' in removed.text
    assert '>Ship billing</textarea>' not in removed.text
    assert 'name="objectives-1-kra"' not in removed.text
    assert (await HumanTask.get(id=draft.id)).status == "ready"


async def test_draft_is_saved_and_restored_on_reopen(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    draft = await open_task(objective_setting, "draft_objectives")
    await as_user(client, login, "e1")
    _, token = await page_token(client, f"/tasks/{draft.id}")
    half_done = {"kra": "Customer", "title": "Halve response time", "weight": "sixty"}

    saved = await client.post(
        f"/tasks/{draft.id}",
        data={"csrf_token": token, "_submit": "draft", "comments": "to finish",
              **objective_rows(ROW_A, half_done)},
    )

    assert saved.status_code == 303 and saved.headers["location"] == f"/tasks/{draft.id}"
    reopened = await client.get(f"/tasks/{draft.id}")
    assert "Draft saved" in reopened.text and "Showing your draft saved on" in reopened.text
    assert '>Halve response time</textarea>' in reopened.text
    assert 'value="sixty"' in reopened.text  # exactly what was typed, even if not valid yet
    assert "to finish</textarea>" in reopened.text
    assert (await HumanTask.get(id=draft.id)).status == "ready"


async def test_post_without_csrf_token_is_refused(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    draft = await open_task(objective_setting, "draft_objectives")
    await as_user(client, login, "e1")

    answer = await client.post(
        f"/tasks/{draft.id}", data={"_submit": "submit", **objective_rows(OBJECTIVE_FORM)}
    )

    assert answer.status_code == 403
    assert (await HumanTask.get(id=draft.id)).status == "ready"


async def test_task_completed_meanwhile_is_a_409_that_keeps_the_input(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    review = await draft_done(objective_setting)
    await as_user(client, login, "m1")
    _, token = await page_token(client, f"/tasks/{review.id}")
    # Meanwhile, in another tab, the review is approved.
    morgan = await runtime.actor_for("M1")
    await runtime.complete_task(review.id, morgan, {"decision": "approve"})

    answer = await client.post(
        f"/tasks/{review.id}",
        data={"csrf_token": token, "_submit": "submit", "decision": "return",
              "manager_comments": "Please add a quality objective"},
    )

    assert answer.status_code == 409
    # Morgan completed it himself (in another tab): he is told so, not "someone got there".
    assert "You completed “Review objectives”" in answer.text
    assert "Someone got there first" not in answer.text
    assert "Please add a quality objective" in answer.text
    assert 'href="/inbox"' in answer.text
    again = await client.get(f"/tasks/{review.id}")
    assert again.status_code == 409 and "You completed this" in again.text


async def test_live_validation_returns_the_field_with_its_error(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    draft = await open_task(objective_setting, "draft_objectives")
    await as_user(client, login, "e1")
    _, token = await page_token(client, f"/tasks/{draft.id}")

    answer = await client.post(
        f"/tasks/{draft.id}/validate",
        data={"csrf_token": token, "_field": "objectives-1-weight",
              **objective_rows(ROW_A, ROW_B)},
        headers={"HX-Request": "true", "HX-Trigger-Name": "objectives-1-weight"},
    )

    assert answer.status_code == 200
    html = answer.text
    assert html.lstrip().startswith('<div id="field-objectives"')
    assert "They total 90." in html
    assert re.search(r"<output[^>]*data-sl-total>90</output>", html)
    assert "<html" not in html

    comments = await client.post(
        f"/tasks/{draft.id}/validate",
        data={"csrf_token": token, **objective_rows(ROW_A)},
        headers={"HX-Request": "true", "HX-Trigger-Name": "comments"},
    )
    assert comments.status_code == 200 and 'id="field-comments"' in comments.text

    added = await client.post(
        f"/tasks/{draft.id}/validate",
        data={"csrf_token": token, "_form_action": "add:objectives", **objective_rows(ROW_A)},
        headers={"HX-Request": "true", "HX-Trigger-Name": "_form_action"},
    )
    assert added.status_code == 200
    assert 'name="objectives-1-kra"' in added.text and '>Ship billing</textarea>' in added.text

    unknown = await client.post(
        f"/tasks/{draft.id}/validate",
        data={"csrf_token": token, "_field": "salary"},
        headers={"HX-Request": "true"},
    )
    assert unknown.status_code == 400


async def test_signature_with_a_wrong_name_is_refused(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    review = await draft_done(objective_setting)
    morgan = await runtime.actor_for("M1")
    await runtime.complete_task(review.id, morgan, {"decision": "approve"})
    ack = await open_task(objective_setting, "acknowledge_objectives")
    await as_user(client, login, "e1")
    page, token = await page_token(client, f"/tasks/{ack.id}")
    assert "Your full name" in page.text
    # The pack decides the property's name; the widget's inputs are <name>-acknowledged/-name.
    box = re.search(r'name="([A-Za-z_]+)-acknowledged"', page.text)
    assert box, page.text
    signature = box.group(1)

    wrong = await client.post(
        f"/tasks/{ack.id}",
        data={"csrf_token": token, "_submit": "submit", f"{signature}-acknowledged": "y",
              f"{signature}-name": "Morgan Manager"},
    )
    assert wrong.status_code == 422
    assert "The name does not match yours; type “Eve Employee”." in wrong.text
    assert (await HumanTask.get(id=ack.id)).status == "ready"

    signed = await client.post(
        f"/tasks/{ack.id}",
        data={"csrf_token": token, "_submit": "submit", f"{signature}-acknowledged": "y",
              f"{signature}-name": "eve  employee"},
    )
    assert signed.status_code == 303
    shown = await client.get("/inbox")
    assert "Objective setting is complete." in shown.text
    assert (await ProcessInstance.get(id=objective_setting.id)).status == "completed"


POLICY_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="read_policy" name="Read the policy" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_employee" name="Employee">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>read</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>broken</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="read" />
    <bpmn:manualTask id="read" name="Read the bonus policy">
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser>Hello {{ subject.name }}, read the
**bonus policy** before your review. &lt;script&gt;alert(1)&lt;/script&gt;
</spiffworkflow:instructionsForEndUser>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:manualTask>
    <bpmn:sequenceFlow id="f2" sourceRef="read" targetRef="broken" />
    <bpmn:scriptTask id="broken" name="Count readers">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>readers = readers_so_far + 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="broken" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""

POLICY_PACK = """[pack]
name = "policy"
version = "1"
title = "Policy reading"

[lanes]
"Employee" = "subject"

[processes.read_policy]
title = "Read the policy"
start = "per-employee"
starters = ["group:hr"]
"""


async def test_manual_task_is_marked_done_and_an_engine_error_is_explained(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance,
    tmp_path: Path,
) -> None:
    pack = tmp_path / "policy"
    pack.mkdir()
    (pack / "pack.toml").write_text(POLICY_PACK)
    (pack / "read_policy.bpmn").write_text(POLICY_BPMN)
    await deploy_pack(pack, "test", search=[tmp_path])
    hr = await runtime.actor_for("H1")
    started = await runtime.start_process("read_policy", subject="E1", actor=hr)
    task = await open_task(started, "read")
    await as_user(client, login, "e1")

    page, token = await page_token(client, f"/tasks/{task.id}")
    assert "Hello Eve Employee" in page.text and "<strong>bonus policy</strong>" in page.text
    assert "<script>alert(1)" not in page.text
    assert "Mark as done" in page.text

    done = await client.post(f"/tasks/{task.id}", data={"csrf_token": token, "_submit": "done"})

    assert done.status_code == 303
    assert (await HumanTask.get(id=task.id)).status == "completed"
    assert (await ProcessInstance.get(id=started.id)).status == "error"
    shown = await client.get("/inbox")
    assert "was saved, but the process then stopped on an error" in shown.text
    assert "HR dashboard" in shown.text
