"""The engine's faster task-tree walks find exactly what SpiffWorkflow's own walks find.

Every pack test of the standard and acme packs is run with each walk checked against
SpiffWorkflow's at the moment the engine makes it: parallel branches, multi-instance peers,
subprocesses, timers and signals all pass through these packs' processes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine import stepping
from engine.pack_tests import run_pack_tests

ROOT = Path(__file__).resolve().parents[2]
PACKS = [ROOT / "processes" / "standard", ROOT / "processes" / "acme"]


def _names(tasks: list[Any]) -> list[str]:
    return [f"{t.task_spec.name}#{t.id}" for t in tasks]


@pytest.fixture
def checked_walks(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Replace the engine's walks by versions that compare themselves with SpiffWorkflow's."""
    seen: Counter[str] = Counter()
    fast_ready, fast_waiting = stepping.ready_engine_tasks, stepping.waiting_tasks

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

    monkeypatch.setattr(stepping, "ready_engine_tasks", ready)
    monkeypatch.setattr(stepping, "waiting_tasks", waiting)
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
