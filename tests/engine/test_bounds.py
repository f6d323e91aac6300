"""A pack's scripts and templates run within limits: a runaway stops itself, not the server;
and what a script records is about the instance's subject, attributed to the process.

Every script, condition, DMN cell, due-date expression and form template gets a CPU budget and a
memory budget per evaluation (forms.limits); the operations that build a huge value in one step
are refused before they build it. Here the budget is cut to a fraction of a second so the
runaways stop quickly.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.base.metrics import actions_moved_off_loop
from engine.base.models import HumanTask, ProcessInstance, Record
from engine.packs.definitions import deploy_pack
from engine.scripts import sandbox
from engine.workflow import offload, runtime
from forms import FormDefinitionError, limits, render_schema_template

LAB = Path(__file__).resolve().parent / "runtime_pack"


@pytest.fixture(autouse=True)
def quick_limits() -> Iterator[None]:
    before = (limits.cpu_seconds, limits.memory_bytes)
    limits.configure(0.3, 256)
    yield
    limits.cpu_seconds, limits.memory_bytes = before


def run(script: str) -> dict:
    """Run a script in the restricted environment the way a script task does."""
    engine = sandbox.make_script_engine()
    data: dict = {}
    with sandbox.script_context():
        engine.environment.execute(script, data)
    return data


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("while True:\n    pass", "ran longer than 0.3 s"),
        ("x = 0\nwhile x >= 0:\n    x += 1", "ran longer than 0.3 s"),
        ("def f(n):\n    return f(n - 1) + f(n - 1) if n else 1\ny = f(60)",
         "ran longer than 0.3 s"),
        ("f = lambda n: f(n - 1) + f(n - 1) if n else 1\ny = f(60)", "ran longer than 0.3 s"),
        ("y = [i for i in range(1000) for j in range(1000) for k in range(1000)]",
         "ran longer than 0.3 s"),
        ("y = 10 ** (10 ** 8)", "would build a number of"),
        ("y = pow(10, 10 ** 8)", "would build a number of"),
        ("y = 1 << (10 ** 9)", "would build a number of"),
        ("y = [0] * (10 ** 9)", "would build a value of"),
        ("y = 'x' * (10 ** 10)", "would build a value of"),
        ("y = 'x' * 1000\nfor i in range(40):\n    y = y + y",
         "would build a value of|used more than 256 MB"),
        ("y = 'x'\nfor i in range(40):\n    y += y",
         "would build a value of|used more than 256 MB"),
        ("y = 'x'.ljust(10 ** 10)", "would build a value of"),
        ("y = ('a' * 10 ** 6).join(['b'] * 10 ** 3)", "would build a value of"),
        ("y = f'{1:>10000000000}'", "would build a value of"),
        ("y = '%10000000000d' % 1", "would build a value of"),
        ("y = list(range(10 ** 9))", "would build a range of"),
        ("y = math.factorial(10 ** 7)", r"factorial\(10000000\) would be too big"),
        ("y = re.match('(a|aa)+$', 'a' * 60 + 'b')", "a regular expression ran longer"),
    ],
)
def test_a_runaway_script_stops_itself_with_a_plain_message(script: str, message: str) -> None:
    with pytest.raises(limits.LimitExceeded, match=message):
        run(script)


def test_a_script_that_keeps_allocating_stops_at_the_memory_budget() -> None:
    limits.configure(30, 64)
    with pytest.raises(limits.LimitExceeded, match="used more than 64 MB|would build"):
        run("y = []\nwhile True:\n    y.append('z' * 100000)")


def test_ordinary_scripts_are_unaffected() -> None:
    data = run(
        "total = 0\n"
        "for i in range(10000):\n    total += i * 2\n"
        "words = ' '.join(str(i) for i in range(100))\n"
        "padded = 'x'.ljust(20, '-')\n"
        "big = 2 ** 64 + 10 ** 30\n"
        "label = f'{total:>12,}'\n"
        "m = re.match('(\\\\d+)-(\\\\d+)', '12-34').groups()\n"
        "fact = math.factorial(20)\n"
        "squares = [n * n for n in range(50)]\n"
        "text = 'abc' * 3 + '%05d' % 42\n"
    )
    assert data["total"] == 99990000
    assert data["padded"] == "x" + "-" * 19
    assert data["big"] == 2**64 + 10**30
    assert data["label"] == "  99,990,000"
    assert data["m"] == ("12", "34")
    assert data["fact"] == 2432902008176640000
    assert data["squares"][-1] == 2401
    assert data["text"] == "abcabcabc00042"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
         '{"type": "object"}', "ran longer than 0.3 s"),
        ('{{ "x" * 10 ** 10 }}{"type": "object"}', "would build"),
        ('{{ range(10 ** 9) | list }}{"type": "object"}', "would build a range"),
        ('{{ "x" | center(10 ** 10) }}{"type": "object"}', "would build"),
        ('{{ "%10000000000d" % 1 }}{"type": "object"}', "would build"),
    ],
)
def test_a_runaway_form_template_is_refused_with_a_plain_message(
    template: str, message: str
) -> None:
    with pytest.raises(FormDefinitionError, match=message):
        render_schema_template(template, {})


# --- in a running process ----------------------------------------------------------------------


def lab_with_script(tmp_path: Path, script: str) -> Path:
    """The runtime test pack, its "Compute score" script task replaced."""
    target = tmp_path / "packs" / "lab"
    shutil.copytree(LAB, target)
    bpmn = target / "scored.bpmn"
    bpmn.write_text(bpmn.read_text().replace("score = amount * 2 // divisor", script))
    return target


async def test_a_runaway_script_puts_its_instance_in_error_and_the_action_returns(
    org: None, tmp_path: Path
) -> None:
    lab = lab_with_script(tmp_path, "while True:\n    pass")
    await deploy_pack(lab, "test", search=[lab.parent])
    eve = await runtime.actor_for("E1")
    inst = await runtime.start_process("scored", subject="E1", actor=eve)
    task = await HumanTask.get(instance_id=inst.id, bpmn_id="enter_amount")
    before = actions_moved_off_loop._value.get()

    saved = await runtime.complete_task(task.id, eve, {"amount": 5, "divisor": 1})

    assert saved.status == "error"
    stored = await ProcessInstance.get(id=inst.id)
    assert stored.status == "error"
    assert "script 'Compute score' ran longer than 0.3 s" in stored.error["message"]
    # It was stopped on the event loop within the inline budget and run again on a thread.
    assert actions_moved_off_loop._value.get() == before + 1
    # Next time the instance goes straight to a thread.
    assert inst.id in offload.heavy_instances


async def test_a_slow_but_bounded_script_finishes_on_a_thread(
    org: None, tmp_path: Path
) -> None:
    lab = lab_with_script(
        tmp_path, "score = 0\nfor i in range(1000000):\n    score += 1\nscore = amount * 2"
    )
    await deploy_pack(lab, "test", search=[lab.parent])
    eve = await runtime.actor_for("E1")
    inst = await runtime.start_process("scored", subject="E1", actor=eve)
    task = await HumanTask.get(instance_id=inst.id, bpmn_id="enter_amount")
    limits.configure(10, 256)
    before = actions_moved_off_loop._value.get()

    saved = await runtime.complete_task(task.id, eve, {"amount": 5, "divisor": 1})

    assert saved.status == "running"
    assert await HumanTask.exists(instance_id=inst.id, bpmn_id="confirm", status="ready")
    assert actions_moved_off_loop._value.get() == before + 1
    # What the interrupted try had begun left nothing behind: one completion, one audit event.
    assert await HumanTask.filter(instance_id=inst.id, status="completed").count() == 1


def test_a_pack_test_of_a_runaway_or_a_memory_bomb_fails_the_case_and_goes_on(
    tmp_path: Path,
) -> None:
    from engine.packs.pack_tests import run_pack_tests

    lab = lab_with_script(tmp_path, "score = 'x' * (10 ** 10)")
    (lab / "tests").mkdir()
    (lab / "tests" / "test_scored.json").write_text(
        '{"bomb": {"tasks": {"enter_amount": {"data": [{"amount": 5, "divisor": 1}]}},'
        ' "expected_output_json": {}}}'
    )
    [result] = run_pack_tests(lab).results
    assert not result.passed
    assert "script 'Compute score' would build a value of" in result.message


# --- records: about whom, and by whom ---------------------------------------------------------


async def test_a_script_may_not_write_a_record_about_someone_else(
    org: None, tmp_path: Path
) -> None:
    lab = lab_with_script(tmp_path, "write_record('final_rating', {'rating': 1}, 'E2')")
    await deploy_pack(lab, "test", search=[lab.parent])
    eve = await runtime.actor_for("E1")
    inst = await runtime.start_process("scored", subject="E1", actor=eve)
    task = await HumanTask.get(instance_id=inst.id, bpmn_id="enter_amount")

    saved = await runtime.complete_task(task.id, eve, {"amount": 5, "divisor": 1})

    assert saved.status == "error"
    assert "may write only about the instance's subject" in saved.error["message"]
    assert "Eli Employee is neither" in saved.error["message"]
    assert await Record.all().count() == 0


async def test_a_record_is_the_processs_not_the_submitters(org: None, tmp_path: Path) -> None:
    lab = lab_with_script(tmp_path, "write_record('note', {'amount': amount})")
    await deploy_pack(lab, "test", search=[lab.parent])
    eve = await runtime.actor_for("E1")
    inst = await runtime.start_process("scored", subject="E1", actor=eve)
    task = await HumanTask.get(instance_id=inst.id, bpmn_id="enter_amount")

    await runtime.complete_task(task.id, eve, {"amount": 5, "divisor": 1})

    [record] = await Record.all()
    assert record.person_id == eve.person_id
    assert record.created_by == "process:scored (task enter_amount)"
    assert record.instance_id == inst.id


def test_a_few_big_values_in_a_few_turns_stop_at_the_memory_budget() -> None:
    limits.configure(30, 64)
    with pytest.raises(limits.LimitExceeded, match="used more than 64 MB"):
        run("y = []\nfor i in range(100):\n    y.append('x' * (40 * 1024 * 1024))")
