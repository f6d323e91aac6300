"""People acting at the same moment: parallel steps both go through, a real conflict is named,
and writers of different instances never wait on each other."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.base.errors import Conflict
from engine.base.metrics import actions_reapplied
from engine.base.models import HumanTask, ProcessInstance
from engine.workflow import offload, runtime
from engine.workflow.instance import recent_workflows
from engine.workflow.store import Batch

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"
MID_YEAR = json.loads((STANDARD / "tests" / "test_mid_year_review.json").read_text())[
    "checkin_without_revision"]["tasks"]


async def holder_of(task: HumanTask) -> runtime.Actor:
    return await runtime.actor_for(task.assignee_id)  # type: ignore[arg-type]


async def at_the_sign_offs(subject: str) -> tuple[int, list[HumanTask]]:
    """A mid-year review for `subject` run up to its two parallel sign-offs."""
    hr = await runtime.actor_for("H1")
    objectives = MID_YEAR["update_actuals"]["data"][0]["objectives"]
    inst = await runtime.start_process("mid_year_review", subject=subject, actor=hr,
                                       data={"objectives": objectives})
    for step in ("update_actuals", "manager_checkin", "development_plan"):
        task = await HumanTask.get(instance_id=inst.id, bpmn_id=step, status="ready")
        await runtime.complete_task(task.id, await holder_of(task), MID_YEAR[step]["data"][0])
    signoffs = await HumanTask.filter(instance_id=inst.id, status="ready").order_by("bpmn_id")
    assert [t.bpmn_id for t in signoffs] == ["employee_signoff", "manager_signoff"]
    return inst.id, signoffs


def meeting_before(write: Callable[[Batch], Awaitable[None]], parties: int) -> Any:
    """`write`, except that its first `parties` callers wait for each other before writing."""
    met = asyncio.Barrier(parties)
    waiting = 0

    async def meet_then_write(batch: Batch) -> None:
        nonlocal waiting
        waiting += 1
        if waiting <= parties:
            await met.wait()
        await write(batch)

    return meet_then_write


def reapplied() -> float:
    return actions_reapplied._value.get()  # type: ignore[attr-defined, no-any-return]


async def test_parallel_sign_offs_at_the_same_moment_both_go_through(
    standard: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = reapplied()
    write = runtime.apply
    for subject in ("E1", "E2"):
        instance_id, signoffs = await at_the_sign_offs(subject)
        # "At the same moment": each sign-off has read the instance before either writes.
        # (Left to chance, the first can commit on the database's thread before the second
        # reads, and then the two never meet.)
        monkeypatch.setattr(runtime, "apply", meeting_before(write, 2))
        # Both load the instance at the same version; the second to save finds it changed,
        # and since its own task is still open, its sign-off is applied on the fresh state.
        await asyncio.gather(*[
            runtime.complete_task(task.id, await holder_of(task),
                                  MID_YEAR[task.bpmn_id]["data"][0])
            for task in signoffs
        ])
        monkeypatch.setattr(runtime, "apply", write)
        instance = await ProcessInstance.get(id=instance_id)
        assert instance.status == "completed"
        assert await HumanTask.filter(instance_id=instance_id, status="completed").count() == 5
    assert reapplied() > before, "the two sign-offs never met: the test proved nothing"


async def test_the_same_task_completed_twice_at_once_names_who_was_first(
    standard: None,
) -> None:
    _, signoffs = await at_the_sign_offs("E1")
    task = signoffs[1]  # the manager's
    morgan = await holder_of(task)
    data = MID_YEAR["manager_signoff"]["data"][0]
    outcomes = await asyncio.gather(
        runtime.complete_task(task.id, morgan, data),
        runtime.complete_task(task.id, morgan, data),
        return_exceptions=True,
    )
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(conflicts) == 1, outcomes
    assert "'Sign the check-in (manager)' was already completed by Morgan Manager" in str(
        conflicts[0])


async def test_a_writer_of_one_instance_never_waits_for_another_instance(
    pg_db: str,
) -> None:
    """While one instance's transaction holds its row and appends to its audit chain, an
    action on another instance completes: the deployment has no global write lock."""
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from tests.engine.conftest import STANDARD as PACK
    from tests.engine.conftest import TEAM_CSV

    await import_org(TEAM_CSV)
    await deploy_pack(PACK, "test", search=[PACK.parent])
    hr = await runtime.actor_for("H1")
    busy = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    other = await runtime.start_process("objective_setting", subject="E2", actor=hr)
    draft = await HumanTask.get(instance_id=other.id, bpmn_id="draft_objectives")
    eli = await runtime.actor_for("E2")

    holder: Any = await asyncpg.connect(pg_db.replace("postgres://", "postgresql://", 1))
    try:
        async with holder.transaction():
            await holder.execute(
                'UPDATE "process_instance" SET "audit_seq" = "audit_seq" WHERE "id" = $1',
                busy.id,
            )
            await holder.execute(
                'INSERT INTO "audit_stream" ("name", "seq", "head") VALUES (\'system\', 0, '
                "'x') ON CONFLICT DO NOTHING"
            )
            objectives = [{"kra": "Delivery", "title": "Ship", "kpi": "Releases",
                           "measure_type": "higher_is_better", "baseline": 0, "target": 2,
                           "weight": 100}]
            await asyncio.wait_for(
                runtime.complete_task(draft.id, eli, {"objectives": objectives,
                                                      "comments": ""}),
                timeout=10,
            )
            # Meanwhile the other transaction is still open, holding its rows.
            assert not holder.is_closed()
    finally:
        await holder.close()
    assert (await HumanTask.get(id=draft.id)).status == "completed"


async def test_workflows_run_on_threads_at_once_stay_apart(
    standard: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big instances are restored, run and saved on threads, several at once: each keeps its
    own tasks and data."""
    monkeypatch.setattr(offload, "OFFLOAD_STATE_BYTES", 0)
    hr = await runtime.actor_for("H1")
    started = [await runtime.start_process("objective_setting", subject=key, actor=hr)
               for key in ("E1", "E2", "E1", "E2", "E1", "E2")]
    drafts = [await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
              for inst in started]
    recent_workflows.clear()  # each is restored from the database, on a thread

    async def submit(task: HumanTask, n: int) -> None:
        objectives = [{"kra": "Delivery", "title": f"Objective {n}", "kpi": "Releases",
                       "measure_type": "higher_is_better", "baseline": 0, "target": n,
                       "weight": 100}]
        await runtime.complete_task(task.id, await holder_of(task),
                                    {"objectives": objectives, "comments": f"draft {n}"})

    await asyncio.gather(*[submit(task, n) for n, task in enumerate(drafts, start=1)])
    for n, inst in enumerate(started, start=1):
        review = await HumanTask.get(instance_id=inst.id, bpmn_id="review_objectives")
        assert review.status == "ready"
        completed = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
        assert completed.submitted["comments"] == f"draft {n}"
