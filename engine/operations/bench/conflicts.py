"""Pairs of parallel sign-offs submitted at the same moment from two processes: how many end
in a false conflict (`sightline bench --conflicts`)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from engine.operations.bench.common import (
    STANDARD,
    Child,
    Parent,
    bench_database,
    latencies,
    migrated,
)

CONFLICT_PAIRS = 300


_MID_YEAR_CASE = ("tests", "test_mid_year_review.json")


_SIGN_OFFS = ("employee_signoff", "manager_signoff")


def _mid_year_steps() -> dict[str, dict[str, Any]]:
    """The data of each mid-year step in the standard pack's own scenario test (pack data)."""
    tasks = json.loads(STANDARD.joinpath(*_MID_YEAR_CASE).read_text())[
        "checkin_without_revision"]["tasks"]
    return {step: tasks[step]["data"][0] for step in tasks}


def _conflicts_org_csv(employees: int) -> str:
    """HR, and a manager for every ten employees."""
    lines = ["employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
             "parent_org_unit_code,manager_id,groups",
             "H1,Hana HR,hana@example.com,HR partner,individual_contributor,ORG,Org,,,hr"]
    for m in range((employees + 9) // 10):
        lines.append(f"M{m},Manager {m},m{m}@example.com,Team lead,people_manager,ORG,Org,,H1,")
    for i in range(employees):
        lines.append(f"E{i},Employee {i},e{i}@example.com,Engineer,engineering,ORG,Org,,"
                     f"M{i // 10},")
    return "\n".join(lines) + "\n"


async def conflicts_bench(pairs: int, database_url: str | None = None) -> dict[str, Any]:
    """Parallel sign-offs submitted at the same moment from two processes: false conflicts.

    Measured: `pairs` mid-year reviews (the standard pack), each run up to its two parallel
    sign-offs with the data of the pack's own scenario test; then, pair after pair, the
    employee's sign-off and the manager's are handed to two child processes at the same moment
    (one message written to each, back to back, the order alternating), each submitting its own
    through `runtime.complete_task` on the same database. The two tasks are different, so a
    Conflict for either is false: `false_conflicts` (the goal is 0). `reapplied` counts the
    sign-offs that found their instance changed under them and were applied again on the fresh
    state — the proof that the pairs really met; `pairs_completed` the reviews that ended.
    """
    from engine.base import db
    from engine.base.models import HumanTask, ProcessInstance
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    steps = _mid_year_steps()
    async with bench_database(database_url, "conflicts") as (db_url, label):
        await migrated(db_url)
        try:
            report = await import_org(_conflicts_org_csv(pairs))
            if report.errors:
                raise RuntimeError("; ".join(report.errors))
            await deploy_pack(STANDARD, "bench", search=[STANDARD.parent])
            hr = await runtime.actor_for("H1")
            ids: list[int] = []
            signers: dict[str, list[tuple[int, int | None]]] = {step: [] for step in _SIGN_OFFS}
            for i in range(pairs):
                inst = await runtime.start_process(
                    "mid_year_review", subject=f"E{i}", actor=hr,
                    data={"objectives": steps["update_actuals"]["objectives"]},
                )
                ids.append(inst.id)
                for step in ("update_actuals", "manager_checkin", "development_plan"):
                    task = await HumanTask.get(instance_id=inst.id, bpmn_id=step,
                                               status="ready")
                    assert task.assignee_id is not None  # each step sits with one person
                    holder = await runtime.actor_for(task.assignee_id)
                    await runtime.complete_task(task.id, holder, steps[step])
                for task in await HumanTask.filter(instance_id=inst.id, status="ready"):
                    signers[task.bpmn_id].append((task.id, task.assignee_id))
            if any(len(signers[step]) != pairs for step in _SIGN_OFFS):
                raise RuntimeError("the mid-year reviews did not reach their two sign-offs")

            children = [
                await Child.start("signoff", {"url": db_url, "tasks": signers[step],
                                               "data": steps[step]})
                for step in _SIGN_OFFS
            ]
            outcomes: list[dict[str, Any]] = []
            reapplied = 0
            try:
                for child in children:
                    await child.flush()
                    await child.hear()  # connected, the version parsed
                for i in range(pairs):
                    for child in (children if i % 2 == 0 else children[::-1]):
                        child.send({"go": i})
                    await asyncio.gather(*(child.flush() for child in children))
                    for child in children:
                        outcomes.append(await child.hear())
                for child in children:
                    child.send({"stop": True})
                    await child.flush()
                    reapplied += int((await child.hear())["reapplied"])
            finally:
                for child in children:
                    await child.close()
            completed = await ProcessInstance.filter(id__in=ids, status="completed").count()
        finally:
            await db.disconnect()
    ms = [o["ms"] for o in outcomes]
    examples = [o["detail"] for o in outcomes if o["outcome"] != "ok"][:3]
    return {
        "pairs": pairs,
        "false_conflicts": sum(1 for o in outcomes if o["outcome"] == "conflict"),
        "other_errors": sum(1 for o in outcomes if o["outcome"] == "error"),
        "pairs_completed": completed,
        "reapplied": reapplied,
        **latencies(ms, "signoff"),
        "examples": examples,
        "database": label,
    }


async def signoff_child(spec: dict[str, Any], parent: Parent) -> None:
    """One signer's process: on each word, submit that pair's sign-off and say how it went."""
    from prometheus_client import REGISTRY

    from engine.base import db
    from engine.base.errors import Conflict
    from engine.packs import definitions
    from engine.people.directory import current_directory
    from engine.workflow import runtime

    await db.connect(spec["url"])
    try:
        await current_directory()
        await definitions.latest("mid_year_review")
        actors = {pid: await runtime.actor_for(pid) for _, pid in spec["tasks"]}
        parent.say({"ready": True})
        while "go" in (message := await parent.hear()):
            task_id, person_id = spec["tasks"][message["go"]]
            outcome, detail = "ok", ""
            started = time.perf_counter()
            try:
                await runtime.complete_task(task_id, actors[person_id], spec["data"])
            except Conflict as exc:
                outcome, detail = "conflict", str(exc)
            except Exception as exc:  # reported with the pair, not fatal to the bench
                outcome, detail = "error", f"{type(exc).__name__}: {exc}"
            parent.say({"outcome": outcome, "detail": detail,
                        "ms": (time.perf_counter() - started) * 1000})
        parent.say({"reapplied": REGISTRY.get_sample_value(
            "sightline_actions_reapplied_total") or 0})
    finally:
        await db.disconnect()
