"""In-year progress on the score card and team page: the owner updates an objective inline,
the page and the goal tree move, bad input keeps what was typed, and a change of objectives
goes through the pack's approval process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base import clock
from engine.base.models import Cycle, HumanTask, KpiUpdate, Record
from tests.support.org import TEAM as ORG

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the appraisal module", "kpi": "Modules shipped",
     "measure_type": "higher_is_better", "baseline": 0, "target": 4, "weight": 60,
     "key": "ship-module", "aligned_goal": "Launch Sightline 1.0"},
    {"kra": "Quality", "title": "Cut incident count", "kpi": "Incidents",
     "measure_type": "lower_is_better", "baseline": 10, "target": 5, "weight": 40},
]
LoginHelper = Callable[..., Awaitable[httpx.Response]]
TokenOf = Callable[[str], Awaitable[str]]
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def cycle(db: str) -> Cycle:
    """The engineering team, the standard pack, and Eve's and Eli's agreed objectives."""
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.directory import person_by_key
    from engine.people.org_import import import_org

    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026")
    for key in ("E1", "E2"):
        person = await person_by_key(key)
        assert person is not None
        await Record.create(kind="objectives", person_id=person.id, cycle=cycle,
                            data={"objectives": OBJECTIVES}, created_at=clock.now())
    return cycle


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


async def test_the_owner_updates_progress_inline_and_the_goal_tree_moves(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, cycle: Cycle
) -> None:
    await _as(client, login, "e1")
    page = await client.get(f"/scorecard?cycle={cycle.id}")
    assert "Progress this year" in page.text and "Update progress" in page.text
    assert "Propose a change to my objectives" in page.text
    token = await page_csrf(f"/scorecard?cycle={cycle.id}")
    for actual, status in (("1", "on_track"), ("2", "at_risk")):
        saved = await client.post(
            f"/progress/E1/{cycle.id}/ship-module", headers=HTMX,
            data={"csrf_token": token, "actual": actual, "status": status,
                  "comment": "Reviews take longer"},
        )
        assert saved.status_code == 200
    assert 'id="progress-ship-module"' in saved.text and "At risk" in saved.text
    assert "Saved" in saved.text and "2 updates" in saved.text
    assert "Actual over 2 updates: from 1 to 2" in saved.text  # the sparkline's words
    card = await client.get(f"/scorecard?cycle={cycle.id}")
    assert "Reviews take longer" in card.text
    # The goal tree and the objectives table read the latest actual at once: 2 of 4 is 50 %.
    goals = await client.get(f"/goals?cycle={cycle.id}")
    assert "50 %" in goals.text


async def test_bad_input_says_what_is_wrong_and_keeps_what_was_typed(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, cycle: Cycle
) -> None:
    await _as(client, login, "e1")
    token = await page_csrf(f"/scorecard?cycle={cycle.id}")
    answer = await client.post(
        f"/progress/E1/{cycle.id}/ship-module", headers=HTMX,
        data={"csrf_token": token, "actual": "three-ish", "status": "at_risk",
              "comment": "Blocked on review"},
    )
    assert answer.status_code == 422
    assert "The actual must be a number, not “three-ish”." in answer.text
    assert 'value="three-ish"' in answer.text and "Blocked on review" in answer.text
    assert await KpiUpdate.all().count() == 0
    # Without htmx the page comes back with the message.
    plain = await client.post(f"/progress/E1/{cycle.id}/ship-module",
                              data={"csrf_token": token, "actual": "", "status": ""})
    assert plain.status_code == 303
    page = await client.get(plain.headers["location"])
    assert "Give an actual or a status (or both)." in page.text


async def test_the_manager_sees_who_is_at_risk_and_a_colleague_may_not_update(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, cycle: Cycle
) -> None:
    await _as(client, login, "e1")
    token = await page_csrf(f"/scorecard?cycle={cycle.id}")
    await client.post(f"/progress/E1/{cycle.id}/ship-module", headers=HTMX, data={
        "csrf_token": token, "actual": "1", "status": "off_track",
        "comment": "Lost two weeks to the outage"})
    refused = await client.post(f"/progress/E2/{cycle.id}/ship-module", headers=HTMX,
                                data={"csrf_token": token, "actual": "3"})
    assert refused.status_code == 404
    await _as(client, login, "m1")
    team = await client.get(f"/team?cycle={cycle.id}")
    assert 'id="team-at-risk"' in team.text
    assert "Lost two weeks to the outage" in team.text and "Off track" in team.text
    # Eve's manager may record an update for her too (after a 1:1, say).
    eve = await client.get(f"/scorecard/E1?cycle={cycle.id}")
    assert "Update progress" in eve.text and "Propose a change" not in eve.text


async def test_proposing_a_change_starts_the_packs_process_prefilled_with_keys(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, cycle: Cycle
) -> None:
    await _as(client, login, "e1")
    token = await page_csrf(f"/scorecard?cycle={cycle.id}")
    started = await client.post("/progress/change",
                                data={"csrf_token": token, "cycle": str(cycle.id)})
    assert started.status_code == 303 and started.headers["location"].startswith("/tasks/")
    task = await HumanTask.get(id=int(started.headers["location"].rsplit("/", 1)[1]))
    assert task.bpmn_id == "propose_change"
    form = await client.get(started.headers["location"])
    assert form.status_code == 200 and "Ship the appraisal module" in form.text
    # Asking again opens the same proposal rather than a second one.
    again = await client.post("/progress/change",
                              data={"csrf_token": token, "cycle": str(cycle.id)})
    assert again.headers["location"] == started.headers["location"]


async def test_an_approved_change_keeps_the_keys_so_progress_history_stays_attached(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, cycle: Cycle
) -> None:
    from engine.performance import progress
    from engine.workflow import runtime

    eve, morgan = await runtime.actor_for("E1"), await runtime.actor_for("M1")
    assert eve.person_id is not None
    await progress.record_update(eve, eve.person_id, cycle.id, "cut-incident-count", actual=8)
    step = await progress.start_objective_change(eve, eve.person_id, cycle.id)
    proposed = [{k: v for k, v in row.items() if k != "aligned_goal"} for row in OBJECTIVES]
    proposed[1] = {**proposed[1], "target": 3}  # no key typed: found again by its title
    await runtime.complete_task(step, eve, {"objectives": proposed,
                                            "change_reason": "Incidents matter more now."})
    review = await HumanTask.get(bpmn_id="review_change", status="ready")
    await runtime.complete_task(review.id, morgan, {"change_decision": "return",
                                                    "change_comments": "Say why 3."})
    again = await HumanTask.get(bpmn_id="propose_change", status="ready")
    await runtime.complete_task(again.id, eve, {"objectives": proposed,
                                                "change_reason": "3 is last year's best."})
    review = await HumanTask.get(bpmn_id="review_change", status="ready")
    await runtime.complete_task(review.id, morgan, {"change_decision": "approve"})
    newest = await Record.filter(kind="objectives", person_id=eve.person_id).order_by("-id").first()
    assert newest is not None and newest.data["changed_in_year"] is True
    assert [o.get("key") for o in newest.data["objectives"]] == ["ship-module",
                                                                 "cut-incident-count"]
    assert newest.data["objectives"][1]["target"] == 3
    outcome = await HumanTask.get(bpmn_id="see_change_outcome", status="ready")
    assert outcome.assignee_id == eve.person_id
    card = await progress.progress_card(eve.person_id, cycle.id, eve)
    assert [p.actual for p in card.objectives[1].history] == [8.0]


async def test_a_proposal_sent_back_can_be_withdrawn_and_the_objectives_stay(
    client: httpx.AsyncClient, login: LoginHelper, cycle: Cycle
) -> None:
    from engine.base.models import ProcessInstance
    from engine.performance import progress
    from engine.workflow import runtime

    eve, morgan = await runtime.actor_for("E1"), await runtime.actor_for("M1")
    assert eve.person_id is not None
    step = await progress.start_objective_change(eve, eve.person_id, cycle.id)
    await _as(client, login, "e1")
    first = await client.get(f"/tasks/{step}")
    assert "Why the objectives should change" in first.text
    proposed = [{k: v for k, v in row.items() if k != "aligned_goal"} for row in OBJECTIVES]
    await runtime.complete_task(step, eve, {"objectives": proposed,
                                            "change_reason": "Incidents matter less now."})
    review = await HumanTask.get(bpmn_id="review_change", status="ready")
    await runtime.complete_task(review.id, morgan, {"change_decision": "return",
                                                    "change_comments": "Not this year."})
    again = await HumanTask.get(bpmn_id="propose_change", status="ready")
    page = await client.get(f"/tasks/{again.id}")
    assert "Not this year." in page.text
    assert "Withdraw it: my objectives stay as they are" in page.text
    assert "Withdraw it" not in first.text  # the first proposal has nothing to withdraw
    await runtime.complete_task(again.id, eve, {"objectives": proposed, "proposal": "withdraw",
                                                "change_reason": "Incidents matter less now."})
    instance = await ProcessInstance.get(id=again.instance_id)
    assert instance.status == "completed"
    assert not await HumanTask.filter(instance_id=instance.id, status="ready").exists()
    newest = await Record.filter(kind="objectives", person_id=eve.person_id).order_by("-id").first()
    assert newest is not None and newest.data == {"objectives": OBJECTIVES}
