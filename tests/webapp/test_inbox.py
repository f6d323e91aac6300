"""The inbox page, the nav badge, and claiming / releasing group tasks, over HTTP."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from engine.base import clock
from engine.base.models import Cycle, HumanTask, ProcessInstance
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW = re.compile(r'<tr class="inbox-row[^"]*" id="task-(\d+)">')
OVERDUE_ROW = re.compile(r'<tr class="inbox-row is-overdue" id="task-(\d+)">')

Login = Callable[..., Awaitable[httpx.Response]]


@dataclass
class Inboxes:
    """Ada's objective setting (her own task) and Sam's, which HR shares as a group task."""

    ada: ProcessInstance
    sam: ProcessInstance
    ada_task: HumanTask
    hr_task: HumanTask


@pytest.fixture
async def inboxes(people: dict[str, str]) -> Inboxes:
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026 objectives")
    hal = await runtime.actor_for("E400")
    ada = await runtime.start_process(
        "objective_setting", subject="E300", actor=hal, cycle_id=cycle.id
    )
    sam = await runtime.start_process(
        "objective_setting", subject="E200", actor=hal, cycle_id=cycle.id,
        data={"lane_owners": {"Employee": ["group:hr"]}},
    )
    ada_task = await HumanTask.get(instance_id=ada.id, status="ready")
    hr_task = await HumanTask.get(instance_id=sam.id, status="ready")
    assert ada_task.assignee_id is not None and hr_task.candidate_group == "hr"
    return Inboxes(ada, sam, ada_task, hr_task)


async def as_user(client: httpx.AsyncClient, login: Login, username: str) -> None:
    client.cookies.clear()
    answer = await login(username)
    assert answer.status_code == 303, answer.text


def task_ids(html: str) -> list[int]:
    return [int(n) for n in ROW.findall(html)]


async def post_action(
    client: httpx.AsyncClient, task_id: int, action: str, *, htmx: bool = False,
    back: str = "/inbox",
) -> httpx.Response:
    page = await client.get("/inbox")
    token = CSRF.search(page.text)
    assert token, page.text
    headers = {"HX-Request": "true"} if htmx else {}
    return await client.post(
        f"/tasks/{task_id}/{action}",
        data={"csrf_token": token.group(1), "next": back},
        headers=headers,
    )


async def test_the_inbox_needs_a_login(client: httpx.AsyncClient) -> None:
    answer = await client.get("/inbox?due=overdue")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/inbox")


async def test_each_person_sees_their_tasks_and_their_groups_unclaimed_tasks(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    await as_user(client, login, "e300")
    ada = await client.get("/inbox")
    assert ada.status_code == 200
    assert task_ids(ada.text) == [inboxes.ada_task.id]
    assert "Draft objectives" in ada.text and "Ada Lovelace" in ada.text
    assert "Objective setting" in ada.text and "2026 objectives" in ada.text
    assert "Claim" not in ada.text and "due in 14 days" in ada.text

    await as_user(client, login, "e400")
    hal = await client.get("/inbox")
    assert task_ids(hal.text) == [inboxes.hr_task.id]
    assert "Sam Patel" in hal.text and f"/tasks/{inboxes.hr_task.id}/claim" in hal.text
    assert ">Claim</button>" in hal.text and "HR" in hal.text

    await as_user(client, login, "e100")
    maria = await client.get("/inbox")
    assert task_ids(maria.text) == []
    assert "Nothing waits on you" in maria.text and 'href="/reviews"' in maria.text


async def test_claim_then_release_without_javascript(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    await as_user(client, login, "e400")
    back = "/inbox?process=objective_setting"
    claimed = await post_action(client, inboxes.hr_task.id, "claim", back=back)
    assert claimed.status_code == 303 and claimed.headers["location"] == back
    page = await client.get(claimed.headers["location"])
    assert "You claimed &#39;Draft objectives&#39; for Sam Patel" in page.text
    assert f"/tasks/{inboxes.hr_task.id}/release" in page.text and "claimed by you" in page.text

    await as_user(client, login, "e500")
    assert task_ids((await client.get("/inbox")).text) == []

    await as_user(client, login, "e400")
    released = await post_action(client, inboxes.hr_task.id, "release")
    assert released.status_code == 303
    page = await client.get("/inbox")
    assert "back with the HR group" in page.text
    assert f"/tasks/{inboxes.hr_task.id}/claim" in page.text

    await as_user(client, login, "e500")
    assert task_ids((await client.get("/inbox")).text) == [inboxes.hr_task.id]


async def test_claim_with_htmx_answers_with_the_refreshed_list(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    await as_user(client, login, "e400")
    answer = await post_action(client, inboxes.hr_task.id, "claim", htmx=True)
    assert answer.status_code == 200
    assert "<html" not in answer.text and 'id="flash-region" hx-swap-oob="true"' in answer.text
    assert "You claimed" in answer.text
    assert f"/tasks/{inboxes.hr_task.id}/release" in answer.text


async def test_a_task_claimed_meanwhile_gives_a_clear_message(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    await as_user(client, login, "e500")
    page = await client.get("/inbox")
    token = CSRF.search(page.text)
    assert token and f"/tasks/{inboxes.hr_task.id}/claim" in page.text
    # Hal claims while Dee still looks at the Claim button.
    await runtime.claim_task(inboxes.hr_task.id, await runtime.actor_for("E400"))

    late = await client.post(
        f"/tasks/{inboxes.hr_task.id}/claim", data={"csrf_token": token.group(1), "next": "/inbox"}
    )
    assert late.status_code == 303
    page = await client.get("/inbox")
    assert "&#39;Draft objectives&#39; was already claimed by Hal Ruiz." in page.text
    assert task_ids(page.text) == []

    htmx = await post_action(client, inboxes.hr_task.id, "claim", htmx=True)
    assert htmx.status_code == 200 and "already claimed by Hal Ruiz" in htmx.text


async def test_claim_without_csrf_token_is_refused(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    await as_user(client, login, "e400")
    answer = await client.post(f"/tasks/{inboxes.hr_task.id}/claim", data={"next": "/inbox"})
    assert answer.status_code == 403
    assert await HumanTask.get(id=inboxes.hr_task.id).values_list("assignee_id", flat=True) is None


async def test_claiming_a_task_one_may_not_act_on_is_not_found(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    await as_user(client, login, "e200")
    for task_id in (inboxes.hr_task.id, inboxes.ada_task.id, 999_999):
        answer = await post_action(client, task_id, "claim")
        assert answer.status_code == 404, task_id
    await as_user(client, login, "e300")
    assert (await post_action(client, inboxes.ada_task.id, "release")).status_code == 303
    page = await client.get("/inbox")
    assert "cannot be released" in page.text
    assert task_ids(page.text) == [inboxes.ada_task.id] and "Release" not in page.text


async def test_nav_counts_and_overdue_rows(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    await as_user(client, login, "e300")
    counts = await client.get("/nav/counts")
    assert counts.status_code == 200
    assert re.search(r'class="badge"[^>]*>1</span>', counts.text)
    assert OVERDUE_ROW.findall((await client.get("/inbox")).text) == []

    with clock.frozen_at(clock.now() + timedelta(days=20)):
        counts = await client.get("/nav/counts")
        assert re.search(r'class="badge badge-late"[^>]*title="1 waiting, 1 overdue"', counts.text)
        page = await client.get("/inbox")
        assert OVERDUE_ROW.findall(page.text) == [str(inboxes.ada_task.id)]
        assert "6 days overdue" in page.text and "1 overdue" in page.text

    await as_user(client, login, "e100")
    assert "badge" not in (await client.get("/nav/counts")).text


async def test_filters_order_and_pages(
    client: httpx.AsyncClient, login: Login, inboxes: Inboxes
) -> None:
    noon = clock.now().replace(hour=12, minute=0, second=0, microsecond=0)
    ada_id = inboxes.ada_task.assignee_id
    await HumanTask.filter(id=inboxes.ada_task.id).update(due_at=noon + timedelta(days=40))
    extra = [
        HumanTask(
            instance_id=inboxes.ada.id, spiff_task_id=f"extra-{n}", bpmn_id="extra",
            process_id="objective_setting", name=f"Check-in {n:02d}", assignee_id=ada_id,
            candidates=[str(ada_id)], subject_id_cache=ada_id,
            # Three are late, two have no due date, the rest spread over the coming weeks.
            due_at=None if n >= 28 else noon + timedelta(days=n - 3, hours=1),
        )
        for n in range(30)
    ]
    await HumanTask.bulk_create(extra)
    await as_user(client, login, "e300")

    with clock.frozen_at(noon):
        first = await client.get("/inbox")
        assert names_on(first.text) == [f"Check-in {n:02d}" for n in range(25)]
        assert len(OVERDUE_ROW.findall(first.text)) == 3
        assert "1–25 of 31" in first.text and 'href="/inbox?page=2"' in first.text
        second = await client.get("/inbox?page=2")
        assert names_on(second.text) == [
            "Check-in 25", "Check-in 26", "Check-in 27", "Draft objectives", "Check-in 28",
            "Check-in 29",
        ]
        assert second.text.count("No due date") == 2

        late = await client.get("/inbox?due=overdue")
        assert names_on(late.text) == ["Check-in 00", "Check-in 01", "Check-in 02"]
        assert "Clear filters" in late.text
        week = await client.get("/inbox?due=week")
        assert names_on(week.text) == [f"Check-in {n:02d}" for n in range(3, 10)]

        nobody = await client.get("/inbox?subject=Maria")
        assert "No task matches these filters" in nobody.text and 'href="/inbox"' in nobody.text
        other = await client.get("/inbox?process=mid_year_review")
        assert task_ids(other.text) == []
        assert len(task_ids((await client.get("/inbox?subject=lovelace&page=2")).text)) == 6

        fragment = await client.get("/inbox?due=overdue", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert len(task_ids(fragment.text)) == 3 and 'id="inbox-filters"' not in fragment.text
        beyond = await client.get("/inbox?page=9")
        assert "There is no page 9" in beyond.text


def names_on(html: str) -> list[str]:
    return re.findall(r'<a href="/tasks/\d+">([^<]+)</a>', html)
