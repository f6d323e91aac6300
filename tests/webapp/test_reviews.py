"""My reviews: a person's own processes, past and present, with links to each and its print."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.base import clock
from engine.base.models import Cycle, HumanTask, ProcessInstance
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def deployed_pack(people: dict[str, str]) -> runtime.Actor:
    """The standard pack on the conftest organisation; returns HR (Hal) as the starter."""
    from engine.packs.definitions import deploy_pack

    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    return await runtime.actor_for("E400")


async def finish(instance_id: int) -> None:
    """Draft, approve and sign Ada's objectives."""
    ada = await runtime.actor_for("E300")
    steps = [
        ("E300", {"objectives": [{"kra": "Delivery", "title": "Ship", "target": 1,
                                  "weight": 100}]}),
        ("E200", {"decision": "approve"}),
        ("E300", {"acknowledgement": {"acknowledged": True, "name": "Ada Lovelace",
                                      "signer_id": ada.person_id, "comment": "",
                                      "signed_at": "2026-03-05T10:00:00+00:00"}}),
    ]
    for key, data in steps:
        task = await HumanTask.get(instance_id=instance_id, status="ready")
        await runtime.complete_task(task.id, await runtime.actor_for(key), data)


async def test_my_reviews_lists_my_processes_newest_first_with_links(client, login,
                                                                     deployed_pack):
    cycle = await Cycle.create(name="2026 objectives")
    with clock.frozen_at(START):
        last_year = await runtime.start_process(
            "objective_setting", subject="E300", actor=deployed_pack
        )
        await finish(last_year.id)
        current = await runtime.start_process(
            "objective_setting", subject="E300", actor=deployed_pack, cycle_id=cycle.id
        )
        someone_else = await runtime.start_process(
            "objective_setting", subject="E200", actor=deployed_pack
        )
    await ProcessInstance.filter(id=last_year.id).update(started_at=datetime(2025, 3, 1,
                                                                             tzinfo=UTC))
    await login("e300")
    page = await client.get("/reviews")
    assert page.status_code == 200
    html = page.text
    links = [int(n) for n in re.findall(r'href="/instances/(\d+)"', html)]
    assert links == [current.id, last_year.id]
    assert someone_else.id not in links
    assert f'href="/instances/{last_year.id}/print"' in html
    assert f'href="/instances/{current.id}/print"' not in html
    assert "2026 objectives" in html
    assert "In progress" in html and "Completed" in html
    assert "Draft objectives — you" in html  # where the current one stands
    assert 'aria-current="page">My reviews' in html


async def test_my_reviews_explains_itself_when_there_is_nothing_yet(client, login,
                                                                    deployed_pack):
    await runtime.start_process("objective_setting", subject="E300", actor=deployed_pack)
    await login("e200")  # Sam is Ada's manager: her process is not one of *his* reviews
    html = (await client.get("/reviews")).text
    assert "No reviews yet" in html
    assert "/instances/" not in html
    assert 'href="/inbox"' in html


async def test_my_reviews_needs_a_login(client, people):
    response = await client.get("/reviews")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/reviews"


async def test_everyday_processes_fold_below_the_cycles_reviews(client, login, deployed_pack):
    """Feedback Ada started herself is hers too, but it must not bury her appraisal: the
    cycle's processes lead, everyday ones are folded below with their count."""
    cycle = await Cycle.create(name="2026 objectives")
    ada = await runtime.actor_for("E300")
    with clock.frozen_at(START):
        review = await runtime.start_process(
            "objective_setting", subject="E300", actor=deployed_pack, cycle_id=cycle.id
        )
    feedback = await runtime.start_process("feedback", subject="E300", actor=ada)
    await login("e300")
    html = (await client.get("/reviews")).text
    table, folded = html.split('<details class="reviews-everyday">')
    assert f'href="/instances/{review.id}"' in table
    assert f'href="/instances/{feedback.id}"' not in table
    assert f'href="/instances/{feedback.id}"' in folded
    assert "outside the cycles (1)" in folded
