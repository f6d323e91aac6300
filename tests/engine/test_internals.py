"""Every assumption engine/base/internals.py makes about SpiffWorkflow, Tortoise and aiosqlite.

Each test names the assumption it checks, so an upgrade of a pinned dependency that breaks one
fails here first, in words. The engine's task-tree walks are checked against SpiffWorkflow's
own through every pack test of the standard and acme packs: parallel branches, multi-instance
peers, subprocesses, timers and signals all pass through them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.base import clock, internals
from engine.base.models import Cycle, ProcessInstance
from engine.base.serialization import load_state
from engine.packs.definitions import deployed
from engine.packs.pack_tests import run_pack_tests
from engine.workflow import runtime
from engine.workflow.instance import script_engine

ROOT = Path(__file__).resolve().parents[2]
PACKS = [ROOT / "processes" / "standard", ROOT / "processes" / "acme"]


def _names(tasks: list[Any]) -> list[str]:
    return [f"{t.task_spec.name}#{t.id}" for t in tasks]


@pytest.fixture
def checked_walks(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Replace the engine's walks by versions that compare themselves with SpiffWorkflow's."""
    seen: Counter[str] = Counter()
    fast_ready, fast_waiting = internals.ready_engine_tasks, internals.waiting_tasks

    def ready(workflow: Any) -> list[Any]:
        found = fast_ready(workflow)
        assert _names(found) == _names(
            workflow.get_tasks(state=TaskState.READY, manual=False)
        )
        seen["ready walks"] += 1
        seen["ready walks with several tasks"] += len(found) > 1
        seen["ready walks inside subprocesses"] += bool(found) and (
            workflow is not workflow.top_workflow
        )
        return found

    def waiting(workflow: Any) -> Any:
        expected = list(TaskIterator(workflow.task_tree, state=TaskState.WAITING))
        assert _names(list(fast_waiting(workflow))) == _names(expected)
        seen["waiting walks"] += 1
        seen["waiting walks with tasks"] += bool(expected)
        return fast_waiting(workflow)

    monkeypatch.setattr(internals, "ready_engine_tasks", ready)
    monkeypatch.setattr(internals, "waiting_tasks", waiting)
    return seen


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_every_walk_matches_spiffworkflow_through_the_pack_tests(
    pack: Path, checked_walks: Counter[str]
) -> None:
    report = run_pack_tests(pack)
    failed = [f"{r.file}:{r.case}: {r.message}" for r in report.results if not r.passed]
    assert not failed
    assert len(report.results) > 10
    # The packs exercise what makes walk order matter, so the comparison above meant something.
    assert checked_walks["ready walks with several tasks"] > 0
    assert checked_walks["waiting walks with tasks"] > 0
    assert checked_walks["ready walks"] > 100


def test_steps_inside_subprocesses_are_walked_too(checked_walks: Counter[str]) -> None:
    report = run_pack_tests(ROOT / "processes" / "standard")
    assert all(r.passed for r in report.results)
    # development_plan runs each action in a subprocess.
    assert checked_walks["ready walks inside subprocesses"] > 0


# --- SpiffWorkflow's timers read the engine clock --------------------------------------------


async def test_a_duration_timer_is_due_from_the_engine_clock(standard: None) -> None:
    """Timers compute their moment from `engine.base.clock`, not the machine's clock."""
    hr = await runtime.actor_for("H1")
    frozen = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)
    with clock.frozen_at(frozen):
        inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    row = await ProcessInstance.get(id=inst.id)
    # The draft's reminder, ten days on from the simulated moment it opened.
    assert row.next_timer_at == frozen + timedelta(days=10)
    with clock.frozen_at(frozen + timedelta(days=9)):
        assert await runtime.fire_due_timers() == 0
    with clock.frozen_at(frozen + timedelta(days=10, seconds=1)):
        assert await runtime.fire_due_timers() == 1


def test_a_timestamp_without_a_zone_means_utc() -> None:
    """A zoneless timer moment in a pack is read as UTC, on any server."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    assert TimerEventDefinition.get_datetime("2031-05-04T09:00:00") == datetime(
        2031, 5, 4, 9, 0, tzinfo=UTC)


# --- SpiffWorkflow: a timer's moment, and firing it ------------------------------------------


async def test_a_waiting_timer_keeps_its_moment_and_fires_when_marked(standard: None) -> None:
    """A waiting timer's moment is in its internal data; marking it fired and refreshing the
    workflow's timers moves it on."""
    hr = await runtime.actor_for("H1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    dep = await deployed(inst.definition_id)  # type: ignore[attr-defined]
    row = await ProcessInstance.get(id=inst.id)
    workflow = load_state(row.state, dep.built.spec, dep.built.subprocess_specs,
                          script_engine())
    [timer] = [t for t in workflow.get_tasks(state=TaskState.WAITING)
               if t.task_spec.bpmn_id == "draft_reminder"]
    assert internals.timer_due(timer) == row.next_timer_at
    internals.fire_timer(timer)
    workflow.refresh_timers()
    assert timer.state != TaskState.WAITING


# --- SpiffWorkflow: a workflow's state without its spec --------------------------------------


async def test_a_state_round_trips_without_its_spec(standard: None) -> None:
    """What the converters write is what they restore: the same tasks, states and data."""
    hr = await runtime.actor_for("H1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    dep = await deployed(inst.definition_id)  # type: ignore[attr-defined]
    row = await ProcessInstance.get(id=inst.id)
    workflow = load_state(row.state, dep.built.spec, dep.built.subprocess_specs, None)
    again = internals.workflow_to_dict(workflow)
    restored = internals.workflow_from_dict(again, dep.built.spec, dep.built.subprocess_specs)
    assert {str(t.id): (t.task_spec.name, t.state, t.data) for t in restored.get_tasks()} == {
        str(t.id): (t.task_spec.name, t.state, t.data) for t in workflow.get_tasks()}
    assert "spec" not in again and isinstance(restored, internals.EngineWorkflow)


# --- Tortoise and aiosqlite --------------------------------------------------------------------


async def test_the_raw_connection_is_the_drivers_and_the_transactions_own(db: str) -> None:
    """Outside a transaction, the driver's own connection; inside in_transaction(), that
    transaction's connection, so what is written through it goes with its rollback."""
    from tortoise.transactions import in_transaction

    async with internals.raw_connection() as con:
        assert type(con).__module__.split(".")[0] in ("asyncpg", "aiosqlite")
    with pytest.raises(RuntimeError, match="rolled back"):
        async with in_transaction():
            assert internals.in_transaction()
            async with internals.raw_connection() as con:
                if db.startswith("postgres"):
                    await con.execute("INSERT INTO \"cycle\" (\"name\", \"created_at\") "
                                      "VALUES ('x', now())")
                else:
                    await con.execute("INSERT INTO \"cycle\" (\"name\", \"created_at\") "
                                      "VALUES ('x', '2031-01-01')")
            raise RuntimeError("rolled back")
    assert not internals.in_transaction()
    assert await Cycle.all().count() == 0


async def test_a_function_runs_on_the_sqlite_connection_thread(db: str) -> None:
    """aiosqlite runs a callable on its connection's thread, with the sqlite3 connection."""
    if not db.startswith("sqlite"):
        return  # PostgreSQL has no such thread: the batch there is one statement
    import sqlite3
    import threading

    seen: dict[str, Any] = {}

    def probe(raw: sqlite3.Connection, marker: str, own_transaction: bool) -> str:
        seen["thread"] = threading.current_thread()
        seen["own"] = own_transaction
        return str(raw.execute("SELECT ?", [marker]).fetchone()[0])

    assert await internals.on_sqlite_thread(probe, "hello") == "hello"
    assert seen["thread"] is not threading.current_thread() and seen["own"] is True


async def test_a_sqlite_transaction_holds_the_write_lock_from_its_start(db: str) -> None:
    """in_transaction() on SQLite begins IMMEDIATE: another connection cannot write meanwhile,
    even before the transaction wrote anything."""
    if not db.startswith("sqlite"):
        return  # PostgreSQL locks rows, not the database
    import sqlite3

    from tortoise.transactions import in_transaction

    other = sqlite3.connect(db.removeprefix("sqlite://"), timeout=0)
    try:
        async with in_transaction():
            await Cycle.all().count()  # only a read so far
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


async def test_a_row_becomes_a_model_as_a_query_would_build_it(standard: None) -> None:
    """A row's columns make the same model instance the ORM would read."""
    hr = await runtime.actor_for("H1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    fetched = await ProcessInstance.get(id=inst.id)
    names = {c.name: c.column for c in internals.columns(ProcessInstance)}
    assert names["definition_id"] == "definition_id" and "definition" not in names
    values = await ProcessInstance.filter(id=inst.id).values(*names)
    built = internals.model_from_row(ProcessInstance, values[0])
    assert (built.id, built.version, built.state, built.status) == (
        fetched.id, fetched.version, fetched.state, fetched.status)
    assert internals.table_name(ProcessInstance) == "process_instance"


def test_a_saved_state_is_what_spiffworkflows_own_converters_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The state writer builds, without the registry's dispatch for every task, the very dict
    SpiffWorkflow's converters build (subprocesses and their tasks included): checked after
    every engine step of every pack test."""
    from SpiffWorkflow.bpmn.serializer.default.workflow import WorkflowConverter

    reference = internals.SpeclessWorkflowConverter(BpmnWorkflow, internals._registry)
    compared: Counter[str] = Counter()
    steps = internals.EngineWorkflow._do_engine_steps

    def checked(workflow: Any, *args: Any, **kwargs: Any) -> Any:
        moved = steps(workflow, *args, **kwargs)
        expected = WorkflowConverter.to_dict(reference, workflow)
        expected["subprocesses"] = reference.mapping_to_dict(workflow.subprocesses)
        expected["bpmn_events"] = reference.registry.convert(workflow.bpmn_events)
        expected["typename"] = "BpmnWorkflow"
        assert internals.workflow_to_dict(workflow) == expected
        compared["states"] += 1
        compared["with subprocesses"] += bool(workflow.subprocesses)
        return moved

    monkeypatch.setattr(internals.EngineWorkflow, "_do_engine_steps", checked)
    for pack in PACKS:
        assert all(r.passed for r in run_pack_tests(pack).results)
    assert compared["states"] > 100 and compared["with subprocesses"] > 0
