"""The restricted script environment: sandbox refusals, ordinary data code, DMN, context."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.scripts.context import (
    ScriptError,
    current_context,
    script_context,
    script_function,
    script_functions,
)
from engine.scripts.sandbox import ScriptProblem, check_script, compile_script, make_script_engine


def run(script: str, data: dict | None = None) -> dict:
    """Execute a script the way a script task does and return the task data."""
    data = {} if data is None else data
    make_script_engine().environment.execute(script, data)
    return data


def value(expression: str, data: dict | None = None):
    """Evaluate an expression the way a gateway condition does."""
    return make_script_engine().environment.evaluate(expression, data or {})


# --------------------------------------------------------------------------- sandbox refusals


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("import os", "import is not allowed"),
        ("from os import path", "import is not allowed"),
        ("x = __import__('os')", "__import__"),
        ("x = ().__class__.__base__.__subclasses__()", '"__class__"'),
        ("x = open('/etc/passwd').read()", "open() is not allowed"),
        ("x = eval('1 + 1')", "eval() is not allowed"),
        ("exec('x = 1')", "exec() is not allowed"),
        ("c = compile('1', 'f', 'eval')", "compile() is not allowed"),
        ("x = getattr(1, '__class__')", "getattr() is not allowed"),
        ("setattr(x, 'y', 1)", "setattr() is not allowed"),
        ("delattr(x, 'y')", "delattr() is not allowed"),
        ("g = globals()", "globals() is not allowed"),
        ("l = locals()", "locals() is not allowed"),
        ("v = vars()", "vars() is not allowed"),
        ("t = type(1)", "type() is not allowed"),
        ("x = f'{y.__class__}'", '"__class__"'),
        ("_secret = 1", '"_secret"'),
        ("g = (i for i in [1])\nf = g.gi_frame", '"gi_frame"'),
        ("class Evil:\n    pass", "class definitions are not allowed"),
    ],
)
def test_sandbox_escapes_are_refused_before_running(source: str, fragment: str) -> None:
    problems = check_script(source, "exec")
    assert problems, source
    assert any(fragment in p.message for p in problems), problems
    with pytest.raises(ScriptError, match="^Line "):
        run(source)


def test_refusal_names_the_offending_line() -> None:
    source = "a = 1\nb = 2\nimport os\n"
    assert check_script(source, "exec") == [
        ScriptProblem(3, "import is not allowed in scripts; use the script library functions")
    ]
    with pytest.raises(ScriptError) as err:
        run(source)
    assert err.value.line == 3
    assert str(err.value).startswith("Line 3: import is not allowed")


@pytest.mark.parametrize(
    "source",
    [
        "x = '{0.__class__}'.format(n)",
        "x = '{n.__class__}'.format_map({'n': n})",
        "x = str.format('{0.__class__}', n)",
        "x = list(map('{0.__class__}'.format, [n]))",
    ],
)
def test_format_string_attribute_tricks_fail_at_run_time(source: str) -> None:
    with pytest.raises(ScriptError, match=r"Line 1: str\.format(_map)?\(\) is not allowed"):
        run(source, {"n": 1})


def test_no_module_reaches_the_operating_system() -> None:
    # json and re are stand-ins with a few functions, not the modules with their imports.
    for source in ("x = json.codecs", "x = re.enum", "x = re.sys"):
        with pytest.raises(AttributeError):
            run(source)
    with pytest.raises(ScriptError, match="invalid attribute name"):
        run("x = math.__loader__")


def test_objects_other_than_dicts_and_lists_cannot_be_written() -> None:
    with pytest.raises(TypeError):
        run("datetime.now = 1")
    with pytest.raises(TypeError):
        run("person.mocked = 1")


def test_missing_builtins_are_simply_undefined() -> None:
    with pytest.raises(NameError):
        run("f = open")


def test_syntax_errors_are_reported_with_their_line() -> None:
    assert check_script("x = 1\nif x\n    y = 2", "exec") == [
        ScriptProblem(2, "syntax error: expected ':'")
    ]
    assert check_script("score >=", "eval")[0].line == 1
    assert check_script("score >= 3 and grade == 'A'", "eval") == []


# --------------------------------------------------------------------------- ordinary data code


def test_ordinary_data_code_reads_and_writes_task_data() -> None:
    data = run(
        """
objectives = [o for o in objectives if o["weight"] > 0]
total = 0
for o in objectives:
    total += o["weight"]
summary["count"] = len(objectives)
summary["titles"] = sorted(o["title"] for o in objectives)
summary["count"] += 1
objectives.append({"title": "Extra", "weight": 0})
first, *rest = [o["title"] for o in objectives]
pairs = {k: v for k, v in zip(["a", "b"], [1, 2])}
label = f"{len(rest)} more after {first!r}, total {total:.1f}"
scores = [max(1, min(5, s)) for s in (0, 3, 9)]
top = dict(objectives[0])
top["weight"] *= 2
print("harmless")
""",
        {
            "objectives": [
                {"title": "Ship X", "weight": 60},
                {"title": "Hire", "weight": 40},
                {"title": "Drop", "weight": 0},
            ],
            "summary": {},
        },
    )
    assert data["total"] == 100
    assert data["summary"] == {"count": 3, "titles": ["Hire", "Ship X"]}
    assert data["objectives"][-1] == {"title": "Extra", "weight": 0}
    assert data["first"] == "Ship X" and data["rest"] == ["Hire", "Extra"]
    assert data["pairs"] == {"a": 1, "b": 2}
    assert data["label"] == "2 more after 'Ship X', total 100.0"
    assert data["scores"] == [1, 3, 5]
    assert data["top"] == {"title": "Ship X", "weight": 120}


def test_functions_modules_and_helpers_do_not_leak_into_task_data() -> None:
    data = run(
        """
def double(x):
    return x * 2
doubled = double(4)
due = (date(2026, 3, 1) + timedelta(days=14)).isoformat()
root = math.sqrt(16)
decoded = json.loads('{"a": 1}')
""",
        {"existing": 1},
    )
    assert data == {
        "existing": 1,
        "doubled": 8,
        "due": "2026-03-15",
        "root": 4.0,
        "decoded": {"a": 1},
    }


def test_task_data_named_like_a_library_value_wins_and_survives() -> None:
    data = run("label = date + ' / ' + type", {"date": "2026-03-31", "type": "annual"})
    assert data == {"date": "2026-03-31", "type": "annual", "label": "2026-03-31 / annual"}
    assert value("type == 'annual'", {"type": "annual"}) is True


def test_del_removes_a_variable_from_task_data() -> None:
    assert run("del scratch", {"scratch": 1, "keep": 2}) == {"keep": 2}


def test_compiled_code_is_reused_for_the_same_source() -> None:
    assert compile_script("score >= 3", "eval") is compile_script("score >= 3", "eval")
    assert compile_script("score >= 3", "eval") is not compile_script("score >= 3", "exec")


# --------------------------------------------------------------------------- SpiffWorkflow glue

SCRIPT_BPMN = """
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="scripted" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="gate"/>
    <bpmn:exclusiveGateway id="gate" default="f4"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gate" targetRef="high">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="gate" targetRef="low"/>
    <bpmn:endEvent id="high"/>
    <bpmn:endEvent id="low"/>
  </bpmn:process>
</bpmn:definitions>
"""


def run_process(script: str, condition: str = "total &gt; 10") -> BpmnWorkflow:
    """Parse and run the one-script process to its end (or error)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(SCRIPT_BPMN.format(script=script, condition=condition), "scripted.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("scripted"), script_engine=make_script_engine())
    workflow.do_engine_steps()
    return workflow


def test_a_script_task_and_a_gateway_condition_run_in_a_process() -> None:
    workflow = run_process("total = sum([4, 5, 6])")
    assert workflow.is_completed()
    assert workflow.data == {"total": 15}
    done = workflow.get_tasks(state=TaskState.COMPLETED)
    reached = {t.task_spec.bpmn_id for t in done}
    assert "high" in reached and "low" not in reached


def test_a_refused_script_surfaces_as_a_workflow_task_error_with_line() -> None:
    with pytest.raises(WorkflowTaskException) as err:
        run_process("a = 1\nimport os")
    assert err.value.task.task_spec.bpmn_id == "compute"
    assert err.value.line_number == 2
    assert "import is not allowed" in str(err.value)


def test_a_failing_script_reports_the_failing_line() -> None:
    with pytest.raises(WorkflowTaskException) as err:
        run_process("a = {}\nb = 1\nc = a['missing']")
    assert err.value.line_number == 3
    assert err.value.error_line == "c = a['missing']"


def test_a_failing_condition_names_expression_and_cause() -> None:
    with pytest.raises(WorkflowTaskException) as err:
        run_process("total = 1", condition="totl &gt; 10")
    assert "totl > 10" in str(err.value)
    assert "NameError" in str(err.value)


DMN_BPMN = """
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="rate" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:businessRuleTask id="decide">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>rating_band</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

DMN_TABLE = """
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs" name="bands"
  namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="rating_band" name="Rating band">
    <decisionTable id="table" hitPolicy="UNIQUE">
      <input id="in_score" label="Score">
        <inputExpression id="ie_score" typeRef="integer"><text>score</text></inputExpression>
      </input>
      <input id="in_grade" label="Grade">
        <inputExpression id="ie_grade" typeRef="string"><text>grade</text></inputExpression>
      </input>
      <output id="out_band" label="Band" name="band" typeRef="string"/>
      <output id="out_bonus" label="Bonus" name="bonus" typeRef="integer"/>
      <rule id="r1">
        <inputEntry id="r1a"><text>&gt;= 4</text></inputEntry>
        <inputEntry id="r1b"><text>"A"</text></inputEntry>
        <outputEntry id="r1c"><text>"Outstanding"</text></outputEntry>
        <outputEntry id="r1d"><text>salary * 10 // 100</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="r2a"><text>[1..3]</text></inputEntry>
        <inputEntry id="r2b"><text>-</text></inputEntry>
        <outputEntry id="r2c"><text>"Meets"</text></outputEntry>
        <outputEntry id="r2d"><text>0</text></outputEntry>
      </rule>
      <rule id="r3">
        <inputEntry id="r3a"><text>]3..5]</text></inputEntry>
        <inputEntry id="r3b"><text>? in ("B", "C")</text></inputEntry>
        <outputEntry id="r3c"><text>"Strong"</text></outputEntry>
        <outputEntry id="r3d"><text>clamp(score * 100, 0, 450)</text></outputEntry>
      </rule>
      <rule id="r4">
        <inputEntry id="r4a"><text>-</text></inputEntry>
        <inputEntry id="r4b"><text></text></inputEntry>
        <outputEntry id="r4c"><text>"Review"</text></outputEntry>
        <outputEntry id="r4d"><text>0</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


@pytest.fixture
def rating_spec(tmp_path):
    """The rating-band process with its DMN, parsed from files as a pack would be."""
    (tmp_path / "rate.bpmn").write_text(DMN_BPMN)
    (tmp_path / "bands.dmn").write_text(DMN_TABLE)
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(tmp_path / "rate.bpmn"))
    parser.add_dmn_file(str(tmp_path / "bands.dmn"))
    return parser.get_spec("rate")


@pytest.mark.parametrize(
    ("score", "grade", "band", "bonus"),
    [
        (5, "A", "Outstanding", 5000),
        (4, "A", "Outstanding", 5000),
        (2, "B", "Meets", 0),
        (1, "Z", "Meets", 0),
        (5, "B", "Strong", 450),
        (4, "C", "Strong", 400),
        (3.5, "D", "Review", 0),
        (0, "A", "Review", 0),
    ],
)
def test_a_dmn_table_decides_under_the_restricted_engine(
    rating_spec, score, grade, band, bonus
) -> None:
    workflow = BpmnWorkflow(rating_spec, script_engine=make_script_engine())
    workflow.task_tree.data.update({"score": score, "grade": grade, "salary": 50000})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert (workflow.data["band"], workflow.data["bonus"]) == (band, bonus)


def test_a_dmn_range_is_usable_in_any_expression() -> None:
    assert value("score == [1..3]", {"score": 3}) is True
    assert value("score == [1..3[", {"score": 3}) is False
    assert value("score in ]0..10]", {"score": 10}) is True
    assert value("'B' == ['A'..'C']") is True
    assert value("'..' == '..'") is True


# --------------------------------------------------------------------------- context and registry


def test_script_context_is_visible_only_inside_its_block() -> None:
    clock = datetime(2026, 3, 31, 9, 30)
    with script_context(now=clock) as ctx:
        assert current_context() is ctx
        assert ctx.clock() == clock
    with pytest.raises(ScriptError, match="no script context"):
        current_context()


async def test_concurrent_runs_each_see_their_own_context() -> None:
    async def review_date(day: int) -> str:
        with script_context(now=datetime(2026, 1, day)):
            await asyncio.sleep(0)
            return value("today()")

    assert await asyncio.gather(*(review_date(d) for d in (1, 2, 3))) == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]


def test_a_registered_function_is_visible_to_scripts_and_mockable() -> None:
    @script_function
    def scratch_bonus_points(actual: float, target: float) -> float:
        """Test-only scoring function."""
        return round(actual / target * 100)

    assert "scratch_bonus_points" in script_functions()
    assert run("k = scratch_bonus_points(45, 50)") == {"k": 90}
    with script_context(mocks={"scratch_bonus_points": 120}):
        assert run("k = scratch_bonus_points(45, 50)") == {"k": 120}
        assert value("scratch_bonus_points(1, 2) > 100") is True


def test_range_syntax_inside_quotes_is_left_alone() -> None:
    assert value("'see [1..3] here'") == "see [1..3] here"
    assert value('label == "it\'s [a..b]"', {"label": "it's [a..b]"}) is True
    assert value("name == ['A'..'C'] and note != '[1..2]'", {"name": "Bo", "note": ""}) is True


def test_a_range_does_not_match_a_missing_or_differently_typed_input() -> None:
    assert value("score == [1..3]", {"score": None}) is False
    assert value("score in [1..3]", {"score": "2"}) is False
