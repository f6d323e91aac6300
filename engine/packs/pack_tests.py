"""The pack unit-test runner: SpiffArena's BPMN unit-test format, run in memory.

Each `tests/test_*.json` of a pack (or `test_*.json` at the root of a SpiffArena process-model
folder) holds named cases. A case runs its process from the start with nothing in the task
data but what the case gives, feeds each user/manual task the next entry of its `data` list,
mocks service tasks with their entry, and finally compares `BpmnWorkflow.data` with
`expected_output_json` exactly, as SpiffArena's ProcessModelTestRunner does.

Sightline's optional case keys:
- `"mocks"`: {function name: value} — that script function returns the value instead of running.
  A name the library does not define (SpiffArena models call backend functions such as
  `get_frontend_url()`) is defined for that case only, taking any arguments.
- `"as"`: {task id: person key, or a list of keys one per time the task comes up} — who submits
  the task. The task's lane is resolved against the case's directory (`subject`, `people`)
  exactly as the runtime assigns it, and the case fails when that person may not act on it.
- `"subject"`: the instance's subject as a person dict (`key`, `name`, optional `manager`
  nested the same way, `groups`, ...). It joins the directory the scripts see and is put in
  the start data as `subject`, exactly as the runtime does when HR launches the process.
- `"people"`: more person dicts for that directory (colleagues, peers); a `manager` there, or
  in `subject`, is a nested person dict or the key of anyone in the case.
- `"starter"`: the key of the case person who started the instance (a person other than the
  subject: a manager asking for a course for their report) — whom a `starter` lane names.
  Without it the instance has no starter, as when HR launches it for a population.
- `"start_data"`: what the instance starts with besides `subject`, as a page that starts the
  process passes it to `runtime.start_process` (the course a training request is for).
- `"now"`: an ISO datetime the script clock (`today()`, `now()`) is frozen at.
- `"timers"`: bpmn ids of timer events to fire, in order, each as soon as it is waiting.
- `"signals"`: signals to deliver, in order, each as soon as the instance waits for it — a
  name (`"ratings_released"`) or `{"name": ..., "payload": ...}`, as `runtime.send_signal`
  delivers HR's release to chosen instances.
- `"expected_path"`: bpmn ids of the user/manual tasks in the order they must be completed.
  When several tasks are ready at once, the runner completes the one the path names next.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path, PurePosixPath
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    SignalEventDefinition as BaseSignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.base import clock
from engine.base.internals import EngineWorkflow, fire_timer
from engine.base.side_branches import forget_ended_side_branches
from engine.packs.loading import Pack, PackError, discover_packs, load_pack
from engine.packs.specs import build_spec, executable_processes, process_sources
from engine.people.assignment import Assignment, may_act, resolve_lane
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.scripts import sandbox
from engine.scripts.context import script_functions

# Column width of one side of the expected/actual comparison in a failure report.
SIDE_WIDTH = 48
# Unchanged lines shown around each difference; long data is elided beyond them.
CONTEXT_LINES = 3


@dataclass
class CaseResult:
    """The outcome of one test case."""

    file: str
    case: str
    passed: bool
    task: str | None = None
    message: str = ""
    expected: Any = None
    actual: Any = None
    path: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """`test_file.json::case_name`, as the report prints it."""
        return f"{self.file}::{self.case}"


@dataclass
class PackTestReport:
    """Every case result of one pack, in file and case order."""

    pack: str
    results: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        """How many cases passed."""
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        """How many cases failed."""
        return sum(1 for r in self.results if not r.passed)

    def result(self, case: str) -> CaseResult:
        """The result of the case with this name (the first, if files repeat a name)."""
        for r in self.results:
            if r.case == case:
                return r
        raise KeyError(case)


class CaseFailure(Exception):
    """A case cannot go on; carries the task it stopped at."""

    def __init__(self, message: str, task: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.task = task


class _ServiceTaskReached(Exception):
    """Stops the engine steps just before a service task, which the case mocks."""

    def __init__(self, task: Task) -> None:
        super().__init__(task.task_spec.bpmn_id)
        self.task = task


def run_pack_tests(path: Path, available: Mapping[str, Path] | None = None) -> PackTestReport:
    """Run every BPMN unit-test case of the pack at `path`; packs it extends come from
    `available` (default: the pack folders next to it)."""
    path = Path(path).resolve()
    if available is None:
        available = discover_packs([path.parent])
    pack = load_pack(path, available)
    report = PackTestReport(pack=pack.name)
    for rel in pack.test_files():
        report.results.extend(_run_test_file(pack, rel))
    return report


def format_report(report: PackTestReport) -> str:
    """One PASS/FAIL line per case, failure details indented under it, and a closing count."""
    lines: list[str] = []
    for r in report.results:
        if r.passed:
            lines.append(f"PASS {r.label}")
            continue
        lines.append(f"FAIL {r.label}: {r.task or '-'} {r.message}")
        if r.expected is not None or r.actual is not None:
            lines.extend("    " + line for line in side_by_side(r.expected, r.actual))
    if not report.results:
        lines.append(f"no test cases in pack {report.pack!r}")
    lines.append(f"{report.passed} passed, {report.failed} failed")
    return "\n".join(lines)


def side_by_side(expected: Any, actual: Any, width: int = SIDE_WIDTH) -> list[str]:
    """Expected and actual JSON in two aligned columns around each difference (marked `|`)."""
    left = _pretty(expected).splitlines()
    right = _pretty(actual).splitlines()
    out = [f"{'expected':<{width}}   actual"]

    def row(a: str, b: str, mark: str) -> None:
        out.append(f"{_clip(a, width):<{width}} {mark} {b}".rstrip())

    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for number, group in enumerate(matcher.get_grouped_opcodes(CONTEXT_LINES)):
        if number or group[0][1] > 0:
            row("...", "...", " ")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for a, b in zip(left[i1:i2], right[j1:j2], strict=True):
                    row(a, b, " ")
                continue
            for k in range(max(i2 - i1, j2 - j1)):
                a = left[i1 + k] if i1 + k < i2 else ""
                b = right[j1 + k] if j1 + k < j2 else ""
                row(a, b, "|")
    return out


# -- one test file ---------------------------------------------------------------------------


def _run_test_file(pack: Pack, rel: str) -> list[CaseResult]:
    name = PurePosixPath(rel).name
    try:
        cases = json.loads(pack.read_text(rel))
    except json.JSONDecodeError as error:
        return [CaseResult(name, "*", False, message=f"not valid JSON: {error}")]
    if not isinstance(cases, dict) or not cases:
        return [CaseResult(name, "*", False, message="expected an object of named test cases")]
    try:
        process_id = _process_under_test(pack, rel)
        built = build_spec(process_sources(pack, process_id), process_id)
    except (PackError, SpiffWorkflowException, ValueError, KeyError) as error:
        return [CaseResult(name, case, False, message=f"cannot build the process: {error}")
                for case in cases]
    catalogs = pack.catalogs()
    results = []
    for case_name, case in cases.items():
        result = CaseResult(name, case_name, False)
        try:
            if not isinstance(case, dict):
                raise CaseFailure("a test case must be a JSON object")
            _run_case(built.spec, built.subprocess_specs, case, catalogs, result, pack.lanes)
        except CaseFailure as failure:
            result.task = failure.task or result.task
            result.message = failure.message
        except SpiffWorkflowException as error:
            task, result.message = _describe_engine_error(error)
            result.task = task or result.task
        except Exception as error:  # a broken pack must fail its case, not the whole run
            result.message = f"{type(error).__name__}: {error}"
        results.append(result)
    return results


def _process_under_test(pack: Pack, rel: str) -> str:
    """The process a test file is about: named after `test_`, else the pack's only one."""
    stem = re.sub(r"^test_", "", PurePosixPath(rel).stem)
    processes = executable_processes(pack)
    if stem in processes:
        return stem
    # SpiffArena names the test after the BPMN file rather than the process.
    in_file = _processes_in_file(pack, stem, processes)
    if len(in_file) == 1:
        return in_file[0]
    if len(processes) == 1:
        return processes[0]
    primary = [pid for pid in pack.processes if pid in processes]
    if len(primary) == 1:
        return primary[0]
    raise PackError(
        f"cannot tell which process {rel} tests: no process or BPMN file named {stem!r}"
        f" (processes: {', '.join(processes) or 'none'})",
        file=rel,
    )


def _processes_in_file(pack: Pack, stem: str, processes: list[str]) -> list[str]:
    files = [r for r in pack.bpmn_files() if PurePosixPath(r).stem == stem]
    found: list[str] = []
    for candidate in files:
        text = pack.read_text(candidate)
        found.extend(pid for pid in processes if f'id="{pid}"' in text)
    return found


# -- one case --------------------------------------------------------------------------------


def _run_case(
    spec: Any,
    subprocess_specs: dict[str, Any],
    case: dict[str, Any],
    catalogs: Mapping[str, dict[str, Any]],
    result: CaseResult,
    lanes: Mapping[str, str] | None = None,
) -> None:
    tasks = case.get("tasks") or {}
    if not isinstance(tasks, dict):
        raise CaseFailure('"tasks" must map task ids to {"data": [...]}')
    if "expected_output_json" not in case:
        raise CaseFailure('the case has no "expected_output_json"')
    directory, subject = _case_directory(case.get("subject"), case.get("people"))
    timers = list(case.get("timers") or [])
    signals = _case_signals(case.get("signals"))
    feeder = _TaskFeeder(tasks)
    mocks = case.get("mocks") or {}
    if not isinstance(mocks, dict):
        raise CaseFailure('"mocks" must map script function names to the value each returns')
    acting = _Acting(case.get("as"), lanes or {}, directory, subject,
                     _case_starter(case.get("starter"), directory))
    workflow = EngineWorkflow(spec, subprocess_specs, script_engine=_case_script_engine(mocks))
    with sandbox.script_context(
        directory=directory,
        catalogs=catalogs,
        now=_case_now(case.get("now")),
        mocks=mocks,
    ) as ctx:
        if subject is not None:
            workflow.task_tree.data.update(subject=subject.as_data())
            workflow.data.update(subject=subject.as_data())
        start_data = case.get("start_data") or {}
        if not isinstance(start_data, dict):
            raise CaseFailure('"start_data" must be an object of task data')
        workflow.task_tree.data.update(copy.deepcopy(start_data))
        workflow.data.update(copy.deepcopy(start_data))
        _advance(workflow, feeder)
        while True:
            if _fire_waiting_timer(workflow, timers) or _send_waiting_signal(workflow, signals):
                _advance(workflow, feeder)
                continue
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = _next_ready(ready, case.get("expected_path"), len(result.path))
            entry = feeder.next_entry(task)
            result.task = task.task_spec.bpmn_id
            result.path.append(task.task_spec.bpmn_id)
            acting.check(task, feeder.key_for(task))
            task.set_data(**entry)
            task.run()
            _advance(workflow, feeder)
        result.records = list(ctx.records)
    result.task = None
    _check_outcome(workflow, case, timers, signals, result)


def _next_ready(ready: list[Task], expected_path: Any, done: int) -> Task:
    """The ready task to complete next: when several are ready at once (a manager's and a
    report's step in parallel), the one `expected_path` names next; else the first."""
    if isinstance(expected_path, list) and done < len(expected_path):
        for task in ready:
            if task.task_spec.bpmn_id == expected_path[done]:
                return task
    return ready[0]


def _check_outcome(
    workflow: BpmnWorkflow,
    case: dict[str, Any],
    timers: list[str],
    signals: list[tuple[str, Any]],
    result: CaseResult,
) -> None:
    actual = _json_round_trip(workflow.data)
    if not workflow.is_completed():
        waiting = [t.task_spec.bpmn_id or t.task_spec.name
                   for t in workflow.get_tasks(state=TaskState.WAITING | TaskState.READY)]
        result.actual = actual
        raise CaseFailure(
            "the process did not finish; it waits at " + (", ".join(waiting) or "nothing")
        )
    if timers:
        raise CaseFailure(f"timer {timers[0]} was never waiting, so it could not fire",
                          task=timers[0])
    if signals:
        raise CaseFailure(f"signal {signals[0][0]} was never waited for, so it was not delivered")
    expected_path = case.get("expected_path")
    if expected_path is not None and expected_path != result.path:
        result.expected, result.actual = expected_path, result.path
        raise CaseFailure("the tasks were completed in a different order than expected_path")
    expected = _json_round_trip(case["expected_output_json"])
    if expected != actual:
        result.expected, result.actual = expected, actual
        raise CaseFailure("expected output did not match the final workflow data",
                          task=_last_task(workflow))
    result.passed = True


def _case_script_engine(mocks: Mapping[str, Any]) -> Any:
    """The shared script engine, or — when the case mocks functions the library does not
    define — an engine of the case's own with those functions, so they reach no other case
    and no live instance."""
    unknown = {name: _returns(value) for name, value in mocks.items()
               if name not in script_functions()}
    if not unknown:
        return sandbox.make_script_engine()
    for name in unknown:
        if not name.isidentifier():
            raise CaseFailure(f'"mocks": {name!r} is not a function name')
    engine = sandbox.SightlineScriptEngine()
    engine.environment.globals.update(unknown)
    return engine


def _returns(value: Any) -> Any:
    def mocked(*args: Any, **kwargs: Any) -> Any:
        # A copy, so a script that mutates the result cannot change the next call's.
        return copy.deepcopy(value)

    return mocked


class _Acting:
    """The case's `as`: who submits each task, checked against the task's lane."""

    def __init__(self, value: Any, lanes: Mapping[str, str],
                 directory: DirectorySnapshot | None, subject: PersonInfo | None,
                 starter_id: int | None = None) -> None:
        if value is not None and not isinstance(value, dict):
            raise CaseFailure('"as" must map task ids to a person key (or a list of keys)')
        self.value: dict[str, Any] = value or {}
        if self.value and directory is None:
            raise CaseFailure('"as" needs the case\'s "subject" or "people" to know who is who')
        self.lanes = lanes
        self.directory = directory
        self.subject_id = subject.id if subject is not None else None
        self.starter_id = starter_id
        self.seen: dict[str, int] = {}

    def check(self, task: Task, key: str | None) -> None:
        bpmn_id = task.task_spec.bpmn_id
        name = key if key in self.value else (bpmn_id if bpmn_id in self.value else None)
        if name is None or self.directory is None:
            return
        index = self.seen.get(name, 0)
        self.seen[name] = index + 1
        who = self.value[name]
        if isinstance(who, list):
            if index >= len(who):
                return  # nobody named for this time: not checked
            who = who[index]
        label = f"{bpmn_id} ({task.task_spec.bpmn_name})" if task.task_spec.bpmn_name else bpmn_id
        if not isinstance(who, str | int) or isinstance(who, bool):
            raise CaseFailure(f'"as" for {bpmn_id} must be a person key, not {who!r}',
                              task=bpmn_id)
        person = self.directory.person(who)
        if person is None:
            raise CaseFailure(f'"as" names {who!r} for {label}, but nobody in the case has'
                              " that key", task=bpmn_id)
        lane = _lane_of(task)
        lane_owners = task.data.get("lane_owners") if isinstance(task.data, dict) else None
        assignment = resolve_lane(lane, self.lanes, self.directory, self.subject_id,
                                  self.starter_id, lane_owners)
        if not may_act(person.id, assignment.assignee_id, assignment.candidate_group,
                       assignment.candidates, self.directory):
            where = f"lane {lane!r}" if lane else "the task (no lane)"
            raise CaseFailure(
                f"{person.key} may not act on {label}: {where} goes to"
                f" {_describe(assignment, self.directory)}", task=bpmn_id)


def _lane_of(task: Task) -> str | None:
    """The task's lane; in a call activity without lanes, the calling task's lane."""
    lane = getattr(task.task_spec, "lane", None)
    while lane is None and task.workflow.parent_task_id is not None:
        parent = task.workflow.top_workflow.get_task_from_id(task.workflow.parent_task_id)
        if parent is None:
            break
        task = parent
        lane = getattr(task.task_spec, "lane", None)
    return lane


def _describe(assignment: Assignment, directory: DirectorySnapshot) -> str:
    """Who an assignment names, in words (with the reason when it fell back to HR)."""
    if assignment.assignee_id is not None:
        person = directory.people.get(assignment.assignee_id)
        text = person.key if person is not None else f"person {assignment.assignee_id}"
    elif assignment.candidate_group:
        text = f"group {assignment.candidate_group}"
    else:
        names = []
        for candidate in assignment.candidates:
            found = None if isinstance(candidate, str) and candidate.startswith("group:") \
                else directory.person(candidate)
            names.append(found.key if found is not None else str(candidate))
        text = ", ".join(names) or "nobody"
    return f"{text} ({assignment.note})" if assignment.note else text


class _TaskFeeder:
    """Hands out each task's data entries in order, keyed `bpmn_id` or `Process:bpmn_id`."""

    def __init__(self, tasks: Mapping[str, Any]) -> None:
        self.tasks = tasks
        self.used: dict[str, int] = {}

    def key_for(self, task: Task) -> str | None:
        bpmn_id = task.task_spec.bpmn_id
        qualified = f"{task.workflow.spec.name}:{bpmn_id}"
        for key in (qualified, bpmn_id):
            if key in self.tasks:
                return key
        return None

    def next_entry(self, task: Task) -> dict[str, Any]:
        key = self.key_for(task)
        bpmn_id = task.task_spec.bpmn_id
        label = f"{bpmn_id} ({task.task_spec.bpmn_name})" if task.task_spec.bpmn_name else bpmn_id
        entries = (self.tasks.get(key) or {}).get("data") if key else None
        if not isinstance(entries, list):
            raise CaseFailure(f"no data given for task {label}", task=bpmn_id)
        index = self.used.get(key, 0)  # type: ignore[arg-type]
        if index >= len(entries):
            raise CaseFailure(
                f"no data left for task {label}: {len(entries)} entries given,"
                f" but the task came up {index + 1} times",
                task=bpmn_id,
            )
        self.used[key] = index + 1  # type: ignore[index]
        entry = entries[index]
        if not isinstance(entry, dict):
            raise CaseFailure(f"data entry {index + 1} for {bpmn_id} is not an object",
                              task=bpmn_id)
        return entry


def _advance(workflow: BpmnWorkflow, feeder: _TaskFeeder) -> None:
    """Run the engine steps; service tasks are never called, they take the case's entry."""

    def stop_at_service(task: Task) -> None:
        if isinstance(task.task_spec, ServiceTask):
            raise _ServiceTaskReached(task)

    while True:
        try:
            workflow.do_engine_steps(will_complete_task=stop_at_service)
            forget_ended_side_branches(workflow)
            return
        except _ServiceTaskReached as reached:
            task = reached.task
            # Merged, not replaced, like SpiffArena: the entry is what the service returned.
            task.set_data(**feeder.next_entry(task))
            task.complete()


def _fire_waiting_timer(workflow: BpmnWorkflow, timers: list[str]) -> bool:
    """Fire the next timer the case names if it is waiting now; True when one fired."""
    if not timers:
        return False
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and task.task_spec.bpmn_id == timers[0]:
            # The same switch the runtime flips when a timer falls due.
            fire_timer(task)
            workflow.refresh_timers()
            timers.pop(0)
            return True
    return False


def _case_signals(value: Any) -> list[tuple[str, Any]]:
    """The case's `signals` as (name, payload) pairs, in delivery order."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise CaseFailure('"signals" must be a list of names or {"name", "payload"} objects')
    signals: list[tuple[str, Any]] = []
    for entry in value:
        if isinstance(entry, str) and entry:
            signals.append((entry, None))
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]:
            signals.append((entry["name"], entry.get("payload")))
        else:
            raise CaseFailure(f'a signal must be a name or {{"name", "payload"}}, not {entry!r}')
    return signals


def _send_waiting_signal(workflow: BpmnWorkflow, signals: list[tuple[str, Any]]) -> bool:
    """Deliver the next signal the case names if a task waits for it now; True when sent."""
    if not signals:
        return False
    name, payload = signals[0]
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, BaseSignalEventDefinition) and definition.name == name:
            # The event the runtime's send_signal builds, so the payload lands the same way.
            workflow.send_event(BpmnEvent(SignalEventDefinition(name), payload))
            signals.pop(0)
            return True
    return False


def _case_directory(
    subject: Any, people: Any
) -> tuple[DirectorySnapshot | None, PersonInfo | None]:
    """The case's directory: the subject with their management chain, and the case's `people`."""
    if subject is None and people is None:
        return None, None
    if subject is not None and not isinstance(subject, dict):
        raise CaseFailure('"subject" must be a person object such as {"key": "ana", ...}')
    if people is not None and not isinstance(people, list):
        raise CaseFailure('"people" must be a list of person objects such as {"key": "lin", ...}')
    entries: list[dict[str, Any]] = []
    managers: list[int | str | None] = []
    if subject is not None:
        _add_case_person(subject, entries, managers)
    for number, entry in enumerate(people or [], start=1):
        if not isinstance(entry, dict):
            raise CaseFailure(f'"people" entry {number} is not a person object: {entry!r}')
        _add_case_person(entry, entries, managers)
    ids = _case_person_ids(entries)
    keys = [str(p.get("key") or f"person{pid}") for p, pid in zip(entries, ids, strict=True)]
    twice = _first_repeated(keys)
    if twice is not None:
        raise CaseFailure(f"two people in the case have the key {twice!r}")
    id_of_key = dict(zip(keys, ids, strict=True))
    directory_people: dict[int, PersonInfo] = {}
    for p, pid, key, manager in zip(entries, ids, keys, managers, strict=True):
        if isinstance(manager, str) and manager not in id_of_key:
            raise CaseFailure(f"the manager of {key!r} is {manager!r}, but nobody in the case"
                              " has that key")
        manager_id = id_of_key[manager] if isinstance(manager, str) else (
            None if manager is None else ids[manager])
        directory_people[pid] = PersonInfo(
            id=pid,
            key=key,
            name=str(p.get("name", key)),
            email=str(p.get("email", "")),
            title=str(p.get("title", "")),
            job_family=str(p.get("job_family", "")),
            manager_id=manager_id,
            groups=frozenset(p.get("groups", [])),
            attributes=dict(p.get("attributes", {})),
        )
    directory = DirectorySnapshot(version=1, people=directory_people)
    return directory, directory_people[ids[0]] if subject is not None else None


def _case_starter(value: Any, directory: DirectorySnapshot | None) -> int | None:
    """The id of the case's `starter` (a person key), or None when the case names none."""
    if value is None:
        return None
    person = directory.person(value) if directory is not None and isinstance(value, str) else None
    if person is None:
        raise CaseFailure(f'"starter" must be the key of a person in the case, not {value!r}')
    return person.id


def _add_case_person(
    person: dict[str, Any], entries: list[dict[str, Any]], managers: list[int | str | None]
) -> None:
    """Append a case's person, then their nested managers; each one's manager is the index of
    the nested entry, a key to look up once everyone is known, or None."""
    index = len(entries)
    entries.append(person)
    managers.append(None)
    manager = person.get("manager")
    if isinstance(manager, dict):
        managers[index] = len(entries)
        _add_case_person(manager, entries, managers)
    elif isinstance(manager, str):
        managers[index] = manager
    elif manager is not None:
        raise CaseFailure(f"the manager of {_who(person)} must be a person key or object,"
                          f" not {manager!r}")


def _case_person_ids(entries: list[dict[str, Any]]) -> list[int]:
    """Each case person's id: the one given, else the next id nobody was given."""
    given: list[int | None] = []
    for p in entries:
        value = p.get("id")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise CaseFailure(f"the id of {_who(p)} must be a whole number, not {value!r}")
        given.append(value)
    taken = [pid for pid in given if pid is not None]
    twice = _first_repeated(taken)
    if twice is not None:
        raise CaseFailure(f"two people in the case have the id {twice}")
    free = (n for n in count(1) if n not in taken)
    return [pid if pid is not None else next(free) for pid in given]


def _who(person: dict[str, Any]) -> str:
    """A case person as a message names them: their key, quoted, if they have one."""
    return repr(person["key"]) if person.get("key") else "a person without a key"


def _first_repeated(values: list[Any]) -> Any:
    """The first value that occurs a second time, or None."""
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


def _case_now(value: Any) -> datetime:
    if value is None:
        return clock.now()
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise CaseFailure(f'"now" is not an ISO datetime: {value!r}') from None


def _describe_engine_error(error: SpiffWorkflowException) -> tuple[str | None, str]:
    spec = getattr(error, "task_spec", None)
    task = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
    message = str(error)
    line = getattr(error, "line_number", None)
    if line:
        message += f" (line {line}: {getattr(error, 'error_line', '').strip()})"
    notes = [n for n in getattr(error, "notes", []) if n not in message]
    if notes:
        message += " — " + "; ".join(notes)
    return task, message


def _last_task(workflow: BpmnWorkflow) -> str | None:
    """The bpmn id of the element that completed last (usually the end event reached)."""
    done = [t for t in workflow.get_tasks(state=TaskState.COMPLETED, skip_subprocesses=True)
            if t.task_spec.bpmn_id is not None]
    return max(done, key=lambda t: t.last_state_change).task_spec.bpmn_id if done else None


def _json_round_trip(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def _pretty(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.packs.pack_tests <pack folder>`: run the pack's tests, exit 1 on
    failure."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m engine.packs.pack_tests <pack folder>", file=sys.stderr)
        return 2
    report = run_pack_tests(Path(args[0]))
    print(format_report(report))
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
