"""My review pages: the employee's home, a manager's team, who may see a review, the tracker
instead of the diagram, and coming back to a task one completed oneself."""

from __future__ import annotations

from typing import Any

import pytest

from engine.base import clock
from engine.base.models import Cycle, HumanTask
from engine.workflow import runtime
from tests.webapp.test_instances import OBJECTIVES, ROOT, START, TEAMS_CSV

__all__ = ["TEAMS_CSV"]


@pytest.fixture
async def cycle_org(people: dict[str, str]) -> dict[str, Any]:
    """The teams of test_instances, objective setting launched in a cycle for Ada and Cy."""
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org

    report = await import_org(TEAMS_CSV)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026 objectives")
    hr = await runtime.actor_for("E400")
    instances = {}
    with clock.frozen_at(START):
        for key in ("E300", "E320"):
            row = await runtime.start_process("objective_setting", subject=key, actor=hr,
                                              cycle_id=cycle.id)
            instances[key] = row.id
    return {"cycle": cycle.id, "instances": instances}


async def test_the_employees_home_is_their_review_with_the_step_waiting_on_them(
    client, login, cycle_org
):
    await login("e300")
    home = await client.get("/")
    assert home.headers["location"] == "/review"
    page = await client.get("/review")
    assert page.status_code == 200
    assert "My review" in page.text and "2026 objectives" in page.text
    assert "Objectives" in page.text and "waiting on you" in page.text
    task = await HumanTask.get(instance_id=cycle_org["instances"]["E300"], status="ready")
    assert f'href="/tasks/{task.id}"' in page.text


async def test_an_employee_opening_their_process_sees_the_tracker_not_the_diagram(
    client, login, cycle_org
):
    await login("e300")
    html = (await client.get(f"/instances/{cycle_org['instances']['E300']}")).text
    assert "Where the review stands" in html and 'class="review-steps"' in html
    assert 'id="bpmn-diagram"' not in html


async def test_a_manager_sees_each_report_and_opens_their_review(client, login, cycle_org):
    await login("e200")
    page = await client.get("/review")
    assert "Your team in 2026 objectives" in page.text
    assert f'href="/reviews/{cycle_org["cycle"]}/E300"' in page.text
    ada = await client.get(f"/reviews/{cycle_org['cycle']}/E300")
    assert ada.status_code == 200 and "Ada Lovelace’s review" in ada.text
    assert "with Ada Lovelace" in ada.text


async def test_someone_elses_review_is_404_for_a_peer_manager(client, login, cycle_org):
    await login("e210")
    assert (await client.get(f"/reviews/{cycle_org['cycle']}/E300")).status_code == 404
    assert (await client.get(f"/reviews/{cycle_org['cycle']}/nobody")).status_code == 404
    assert (await client.get("/reviews/x/E300")).status_code == 404


async def test_hr_starts_on_the_inbox(client, login, cycle_org):
    await login("e400")
    assert (await client.get("/")).headers["location"] == "/inbox"


async def test_back_to_a_task_one_completed_says_so_not_someone_got_there_first(
    client, login, cycle_org
):
    task = await HumanTask.get(instance_id=cycle_org["instances"]["E300"], status="ready")
    with clock.frozen_at(START):
        await runtime.complete_task(task.id, await runtime.actor_for("E300"),
                                    {"objectives": OBJECTIVES})
    await login("e300")
    page = await client.get(f"/tasks/{task.id}")
    assert page.status_code == 409
    assert "You completed this" in page.text and "Someone got there first" not in page.text
    assert "2 Mar 2026" in page.text
    assert f'href="/instances/{task.instance_id}"' in page.text
