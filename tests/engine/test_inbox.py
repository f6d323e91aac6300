"""The inbox queries: who sees which task, filters, order, pages, counts, claim and release."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.models import Cycle, HumanTask, ProcessDefinition, ProcessInstance
from engine.people.directory import current_directory
from engine.people.org_import import import_org
from engine.workflow import inbox

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

ORG = """employee_id,name,email,title,manager_id,groups
D1,Dana Director,dana@example.com,Director,,
M1,Morgan Manager,morgan@example.com,Team lead,D1,
E1,Eve Employee,eve@example.com,Engineer,M1,
E2,Eli Employee,eli@example.com,Engineer,M1,
H1,Hana HR,hana@example.com,HR partner,D1,hr
H2,Hugo HR,hugo@example.com,HR partner,D1,hr;comp
"""


@dataclass
class World:
    """People by employee key -> id, the two processes' instances per subject, a cycle."""

    ids: dict[str, int]
    instances: dict[tuple[str, str], int]
    cycle: str


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
async def world(db: str, frozen: None) -> World:
    report = await import_org(ORG)
    assert not report.errors, report.errors
    directory = await current_directory()
    ids = {p.key: p.id for p in directory.people.values()}
    cycle = await Cycle.create(name="2026 year-end")
    instances: dict[tuple[str, str], int] = {}
    for process_id, title in (("objective_setting", "Objective setting"),
                              ("appraisal", "Annual appraisal")):
        definition = await ProcessDefinition.create(
            pack="test", process_id=process_id, version=1, content_hash="x", title=title,
            sources={},
        )
        for key in ("E1", "E2", "M1"):
            row = await ProcessInstance.create(
                definition=definition, process_id=process_id, subject_id=ids[key],
                cycle=cycle, state=b"",
            )
            instances[(process_id, key)] = row.id
    return World(ids, instances, cycle.name)


async def add_task(
    world: World,
    name: str,
    *,
    subject: str = "E1",
    process: str = "objective_setting",
    assignee: str | None = None,
    group: str | None = None,
    candidates: list[str] | None = None,
    due: datetime | None = None,
    status: str = "ready",
) -> HumanTask:
    return await HumanTask.create(**task_fields(world, name, subject=subject, process=process,
                                                assignee=assignee, group=group,
                                                candidates=candidates, due=due, status=status))


def task_fields(
    world: World,
    name: str,
    *,
    subject: str = "E1",
    process: str = "objective_setting",
    assignee: str | None = None,
    group: str | None = None,
    candidates: list[str] | None = None,
    due: datetime | None = None,
    status: str = "ready",
) -> dict[str, object]:
    if candidates is None:
        candidates = [str(world.ids[assignee])] if assignee else [f"group:{group}"] if group else []
    return dict(
        instance_id=world.instances[(process, subject)], spiff_task_id=name, bpmn_id=name,
        process_id=process, name=name, assignee_id=world.ids[assignee] if assignee else None,
        candidate_group=group, candidates=candidates, subject_id_cache=world.ids[subject],
        due_at=due, status=status,
    )


async def names_for(world: World, key: str, groups: set[str], **filters: object) -> list[str]:
    page = await inbox.inbox_page(world.ids[key], groups, **filters)  # type: ignore[arg-type]
    return [row.name for row in page.rows]


async def test_a_person_sees_their_tasks_their_groups_unclaimed_tasks_and_candidacies(
    world: World,
) -> None:
    await add_task(world, "mine", assignee="H1")
    await add_task(world, "hr pool", group="hr")
    await add_task(world, "claimed by Hugo", group="hr", assignee="H2")
    await add_task(world, "comp pool", group="comp")
    await add_task(world, "Eve's own", assignee="E1")
    await add_task(world, "mine but done", assignee="H1", status="completed")
    await add_task(world, "shared with me", candidates=[str(world.ids["H1"]), str(world.ids["M1"])])
    await add_task(world, "shared with hr", candidates=["group:hr", str(world.ids["M1"])])
    await add_task(world, "shared elsewhere", candidates=[str(world.ids["E2"]), "group:comp"])

    hana = await names_for(world, "H1", {"hr"})
    assert sorted(hana) == ["hr pool", "mine", "shared with hr", "shared with me"]
    hugo = await names_for(world, "H2", {"hr", "comp"})
    assert sorted(hugo) == [
        "claimed by Hugo", "comp pool", "hr pool", "shared elsewhere", "shared with hr",
    ]
    assert await names_for(world, "E1", set()) == ["Eve's own"]
    assert await names_for(world, "D1", set()) == []


async def test_rows_say_who_may_claim_or_release(world: World) -> None:
    await add_task(world, "pool", group="hr")
    await add_task(world, "claimed", group="hr", assignee="H1")
    await add_task(world, "personal", assignee="H1")
    page = await inbox.inbox_page(world.ids["H1"], {"hr"})
    by_name = {row.name: row for row in page.rows}
    assert by_name["pool"].claimable and not by_name["pool"].releasable
    assert by_name["claimed"].releasable and not by_name["claimed"].claimable
    assert not by_name["personal"].releasable and not by_name["personal"].claimable
    assert by_name["pool"].group == "hr"
    assert by_name["pool"].subject_name == "Eve Employee"
    assert by_name["pool"].process_title == "Objective setting"
    assert by_name["pool"].cycle == "2026 year-end"


async def test_two_thousand_rows_are_counted_sorted_and_paged(world: World) -> None:
    rows = []
    for n in range(2000):
        # Every 10th task has no due date; the others spread from 30 days late to 70 ahead.
        due = None if n % 10 == 0 else NOW + timedelta(days=(n * 7) % 100 - 30, minutes=n)
        holder: dict[str, object] = (
            {"assignee": "M1"} if n % 4 == 0 else {"group": "hr"} if n % 4 == 1 else
            {"assignee": "E1"}
        )
        process = "appraisal" if n % 3 == 0 else "objective_setting"
        rows.append(HumanTask(**task_fields(
            world, f"task {n:04d}", subject=("E1", "E2", "M1")[n % 3], process=process,
            due=due, **holder,  # type: ignore[arg-type]
        )))
    await HumanTask.bulk_create(rows)

    mine = [r for n, r in enumerate(rows) if n % 4 == 0]
    today = NOW.replace(hour=0, minute=0)
    late = [r for r in mine if r.due_at is not None and r.due_at < today]
    page = await inbox.inbox_page(world.ids["M1"], set(), per_page=25)
    assert (page.total, page.waiting, page.overdue) == (500, 500, len(late))
    assert page.pages == 20
    assert [(c.process_id, c.title) for c in page.processes] == [
        ("appraisal", "Annual appraisal"), ("objective_setting", "Objective setting"),
    ]

    expected = sorted(mine, key=lambda r: (r.due_at is None, r.due_at or NOW, r.name))
    seen: list[str] = []
    for number in range(1, 21):
        page = await inbox.inbox_page(world.ids["M1"], set(), page=number, per_page=25)
        seen.extend(row.name for row in page.rows)
    assert seen == [r.name for r in expected]
    assert page.first_index == 476 and page.last_index == 500

    beyond = await inbox.inbox_page(world.ids["M1"], set(), page=21, per_page=25)
    assert beyond.rows == [] and beyond.total == 500

    hr = await inbox.inbox_page(world.ids["H1"], {"hr"}, due="overdue", per_page=1000)
    assert hr.total == sum(
        1 for n, r in enumerate(rows) if n % 4 == 1 and r.due_at is not None and r.due_at < today
    )
    assert all(row.overdue for row in hr.rows)
    assert await inbox.nav_counts(world.ids["M1"], set()) == {"inbox": 500, "overdue": len(late)}


async def test_filters_narrow_by_process_subject_and_due_state(world: World) -> None:
    await add_task(world, "late", assignee="M1", due=NOW - timedelta(days=2))
    await add_task(world, "due today", assignee="M1", due=NOW - timedelta(hours=1))
    await add_task(world, "in five days", assignee="M1", due=NOW + timedelta(days=5),
                   subject="E2")
    await add_task(world, "next month", assignee="M1", due=NOW + timedelta(days=30),
                   process="appraisal")
    await add_task(world, "undated", assignee="M1", process="appraisal", subject="E2")

    assert await names_for(world, "M1", set()) == [
        "late", "due today", "in five days", "next month", "undated",
    ]
    assert await names_for(world, "M1", set(), due="overdue") == ["late"]
    assert await names_for(world, "M1", set(), due="week") == ["due today", "in five days"]
    assert await names_for(world, "M1", set(), process="appraisal") == ["next month", "undated"]
    assert await names_for(world, "M1", set(), subject="eli") == ["in five days", "undated"]
    assert await names_for(world, "M1", set(), subject="eli", process="appraisal") == ["undated"]
    assert await names_for(world, "M1", set(), subject="nobody by that name") == []
    page = await inbox.inbox_page(world.ids["M1"], set(), subject="eli")
    assert (page.total, page.waiting, page.overdue) == (2, 5, 1)


async def test_claim_makes_a_group_task_personal_and_release_gives_it_back(world: World) -> None:
    task = await add_task(world, "Calibrate ratings", group="hr")
    hana, hugo = world.ids["H1"], world.ids["H2"]

    outcome = await inbox.claim(task.id, hana, "person:H1")
    assert outcome.done and "Eve Employee" in outcome.message
    assert await names_for(world, "H2", {"hr", "comp"}) == []

    late = await inbox.claim(task.id, hugo, "person:H2")
    assert not late.done
    assert late.message == "'Calibrate ratings' was already claimed by Hana HR."
    refused = await inbox.release(task.id, hugo, "person:H2")
    assert not refused.done and "held by Hana HR" in refused.message

    back = await inbox.release(task.id, hana, "person:H1")
    assert back.done and "HR group" in back.message
    page = await inbox.inbox_page(hugo, {"hr", "comp"})
    assert [(row.name, row.claimable) for row in page.rows] == [("Calibrate ratings", True)]


async def test_claiming_a_task_that_is_not_yours_to_see_is_not_found(world: World) -> None:
    other = await add_task(world, "Eve's draft", assignee="E1")
    pool = await add_task(world, "Compensation review", group="comp")
    with pytest.raises(NotFound):
        await inbox.claim(other.id, world.ids["H1"], "person:H1")
    with pytest.raises(NotFound):
        await inbox.claim(pool.id, world.ids["H1"], "person:H1")
    with pytest.raises(NotFound):
        await inbox.claim(999_999, world.ids["H1"], "person:H1")


async def test_a_completed_group_task_cannot_be_claimed(world: World) -> None:
    task = await add_task(world, "Calibrate ratings", group="hr", status="completed")
    outcome = await inbox.claim(task.id, world.ids["H1"], "person:H1")
    assert outcome == inbox.TaskAction(False, "'Calibrate ratings' was already completed.")


async def test_process_titles_fall_back_to_the_process_id(world: World) -> None:
    titles = await inbox.process_titles(["appraisal", "mid_year_review"])
    assert titles == {"appraisal": "Annual appraisal", "mid_year_review": "Mid year review"}
