"""The instance page, its diagram XML and its print view: what each role may see, and what."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.base import clock
from engine.base.models import HumanTask, ProcessInstance
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
# Added to the conftest organisation: units (Engineering partnered by Dee, with a platform
# sub-unit; Sales without a partner), a peer for Ada and a second manager with a team.
# Hal (hr, partners nothing) is the HR administrator; Dee (hr) partners Engineering.
TEAMS_CSV = """\
employee_id,name,manager_id,org_unit_code,org_unit_name,parent_org_unit_code,unit.hr_partner
E200,Sam Patel,E100,ENG,Engineering,,E500
E300,Ada Lovelace,E200,ENG,Engineering,,E500
E320,Cy Young,E200,ENG-PLAT,Platform,ENG,
E210,Priya Raman,E100,SALES,Sales,,
E310,Ben Okoro,E210,SALES,Sales,,
"""
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the appraisal module", "target": 1, "weight": 60},
    {"kra": "People", "title": "Mentor two engineers", "target": 2, "weight": 40},
]


@pytest.fixture
async def org(people: dict[str, str]) -> dict[str, Any]:
    """The organisation with teams, the standard pack deployed, and one instance per report."""
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org

    report = await import_org(TEAMS_CSV)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    hr = await runtime.actor_for("E400")
    instances = {}
    with clock.frozen_at(START):
        for key in ("E300", "E320", "E310"):
            instance = await runtime.start_process("objective_setting", subject=key, actor=hr)
            instances[key] = instance.id
    return {"instances": instances, "ada": instances["E300"]}


async def submit(instance_id: int, key: str, data: dict[str, Any]) -> None:
    task = await HumanTask.get(instance_id=instance_id, status="ready")
    await runtime.complete_task(task.id, await runtime.actor_for(key), data)


async def complete_adas_objectives(instance_id: int) -> None:
    """Ada drafts, Sam returns, Ada redrafts, Sam approves, Ada signs."""
    with clock.frozen_at(START):
        await submit(instance_id, "E300", {"objectives": OBJECTIVES[:1]})
        await submit(instance_id, "E200", {"decision": "return",
                                           "manager_comments": "Add a people objective."})
        await submit(instance_id, "E300", {"objectives": OBJECTIVES})
        await submit(instance_id, "E200", {"decision": "approve"})
        ada = await runtime.actor_for("E300")
        await submit(instance_id, "E300", {"acknowledgement": {
            "acknowledged": True, "name": "Ada Lovelace", "signer_id": ada.person_id,
            "signed_at": "2026-11-21T10:30:00+00:00", "comment": "Happy with these."}})


def diagram_ids(html: str, kind: str) -> list[str]:
    match = re.search(rf"data-{kind}='(\[[^']*\])'", html)
    assert match, f"no data-{kind} on the diagram"
    return re.findall(r'"([^"]+)"', match.group(1))


# -- who sees what -------------------------------------------------------------------------

# (login, subjects visible, subjects hidden) for every role.
VISIBILITY = [
    ("e300", ["E300"], ["E320", "E310"]),  # employee: own only, not a peer's
    ("e200", ["E300", "E320"], ["E310"]),  # manager: own team, not a peer manager's
    ("e100", ["E300", "E320", "E310"], []),  # director: indirect reports too
    ("e210", ["E310"], ["E300", "E320"]),  # the peer manager
    ("e400", ["E300", "E320", "E310"], []),  # HR administrator: everyone
    ("e500", ["E300", "E320"], ["E310"]),  # HR partner of Engineering and its sub-unit
]


@pytest.mark.parametrize(("username", "visible", "hidden"), VISIBILITY)
async def test_each_role_sees_exactly_its_population(client, login, org, username, visible,
                                                      hidden):
    await login(username)
    for key in visible:
        instance_id = org["instances"][key]
        for path in ("", "/diagram.bpmn", "/print"):
            response = await client.get(f"/instances/{instance_id}{path}")
            assert response.status_code == 200, (username, key, path)
    for key in hidden:
        instance_id = org["instances"][key]
        for path in ("", "/diagram.bpmn", "/print"):
            response = await client.get(f"/instances/{instance_id}{path}")
            assert response.status_code == 404, (username, key, path)
            assert "objective_setting" not in response.text


async def test_a_missing_instance_is_404_like_a_hidden_one(client, login, org):
    await login("e400")
    response = await client.get("/instances/99999")
    assert response.status_code == 404


async def test_the_instance_page_needs_a_login(client, org):
    response = await client.get(f"/instances/{org['ada']}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


# -- the page --------------------------------------------------------------------------------


async def test_the_page_shows_subject_process_status_and_who_holds_the_task(client, login, org):
    await login("e300")
    with clock.frozen_at(datetime(2026, 6, 1, 9, 0, tzinfo=UTC)):  # months after the start
        page = await client.get(f"/instances/{org['ada']}")
    assert page.status_code == 200
    html = page.text
    assert "Objective setting — Ada Lovelace" in html
    assert "Version 1" in html and "In progress" in html
    now = html[html.index('id="instance-now"'):html.index('id="instance-timeline"')]
    assert "Draft objectives" in now and "Ada Lovelace" in now
    assert "16 Mar 2026" in now  # due 14 days after the start
    assert "is-overdue" in now and "days overdue" in now
    assert f'href="/tasks/{(await HumanTask.get(instance_id=org["ada"])).id}"' in now
    assert "Hal Ruiz started Objective setting for Ada Lovelace" in html


async def test_a_manager_sees_the_task_but_gets_no_open_link_for_the_employees_step(
    client, login, org
):
    await login("e200")
    page = await client.get(f"/instances/{org['ada']}")
    now = page.text[page.text.index('id="instance-now"'):page.text.index('id="instance-timeline"')]
    assert "Draft objectives" in now
    assert "/tasks/" not in now


async def test_the_timeline_lists_each_step_with_who_and_what_was_submitted(client, login, org):
    await complete_adas_objectives(org["ada"])
    await login("e200")
    html = (await client.get(f"/instances/{org['ada']}")).text
    timeline = html[html.index('id="instance-timeline"'):]
    steps = re.findall(r'<p class="timeline-headline">\s*([^<]+?)\s*<', timeline)
    assert steps == [
        "Hal Ruiz started Objective setting for Ada Lovelace",
        "Ada Lovelace completed Draft objectives",
        "Sam Patel completed Review objectives",
        "Ada Lovelace completed Draft objectives",
        "Sam Patel completed Review objectives",
        "Ada Lovelace completed Acknowledge objectives",
        "Objective setting completed",
    ]
    assert "— 2 objectives, weights 100%" in timeline
    assert "Decision: Return them to the employee" in timeline
    assert "earlier round" in timeline
    # Submitted data as a table and a definition list, not JSON.
    assert "<th scope=\"col\">Key result area</th>" in timeline
    assert "<dt>Comments for the employee</dt>" in timeline
    assert "Add a people objective." in timeline
    assert '"kra"' not in timeline and "{&#39;" not in timeline
    assert "Signed by <strong>Ada Lovelace</strong> on" in timeline
    assert "Nothing is waiting: this process was completed" in html


async def test_diagram_highlights_follow_a_return_for_rework(client, login, org):
    with clock.frozen_at(START):
        await submit(org["ada"], "E300", {"objectives": OBJECTIVES[:1]})
        await submit(org["ada"], "E200", {"decision": "return", "manager_comments": "More."})
    await login("e400")  # the diagram is HR's and designers' (others see the review tracker)
    html = (await client.get(f"/instances/{org['ada']}")).text
    assert diagram_ids(html, "current") == ["draft_objectives"]
    completed = diagram_ids(html, "completed")
    assert {"start_objective_setting", "review_objectives", "review_decision"} <= set(completed)
    assert "draft_objectives" not in completed
    assert "acknowledge_objectives" not in completed
    assert 'data-bpmn-src="/instances/{}/diagram.bpmn"'.format(org["ada"]) in html
    assert "bpmn-navigated-viewer.production.min.js" in html


async def test_the_diagram_xml_is_served_with_the_process(client, login, org):
    await login("e300")
    response = await client.get(f"/instances/{org['ada']}/diagram.bpmn")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert '<bpmn:process id="objective_setting"' in response.text
    assert 'bpmnElement="draft_objectives"' in response.text


async def test_an_error_shows_its_message_to_hr_only(client, login, org):
    await ProcessInstance.filter(id=org["ada"]).update(
        status="error",
        error={"task": "review_decision", "task_name": "Decision?",
               "message": "name 'decision' is not defined"},
    )
    await login("e400")
    html = (await client.get(f"/instances/{org['ada']}")).text
    assert "Stopped on an error" in html and "“Decision?”" in html
    assert "name &#39;decision&#39; is not defined" in html
    await client.post("/logout", data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', html).group(1)})
    await login("e300")
    html = (await client.get(f"/instances/{org['ada']}")).text
    assert "Stopped on an error" in html
    assert "is not defined" not in html
    assert "you do not need to do anything" in html


# -- print view ------------------------------------------------------------------------------


async def test_the_print_view_lays_out_each_step_and_its_signature(client, login, org):
    await complete_adas_objectives(org["ada"])
    await login("e300")
    response = await client.get(f"/instances/{org['ada']}/print")
    assert response.status_code == 200
    html = response.text
    assert "Signed by <strong>Ada Lovelace</strong> on" in html
    assert "21 Nov 2026</time> — <q>Happy with these.</q>" in html
    sections = re.findall(r'<section class="print-section[^"]*">\s*<h2>([^<]+)', html)
    assert [s.strip() for s in sections] == [
        "Draft objectives", "Review objectives", "Draft objectives", "Review objectives",
        "Acknowledge objectives",
    ]
    assert "(earlier round)" in html
    assert "Mentor two engineers" in html
    assert "Total weight: 100%" in html
    assert "not final" not in html
    assert "instance.css" in html  # the A4 print rules


async def test_printing_a_running_process_says_it_is_not_final(client, login, org):
    with clock.frozen_at(START):
        await submit(org["ada"], "E300", {"objectives": OBJECTIVES})
    await login("e300")
    html = (await client.get(f"/instances/{org['ada']}/print")).text
    assert "not final" in html
    assert "Ship the appraisal module" in html
