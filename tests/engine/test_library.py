"""The script library, called from scripts as pack authors write them."""

from __future__ import annotations

from datetime import datetime

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.people.directory import DirectorySnapshot, PersonInfo, UnitInfo
from engine.scripts.sandbox import ScriptError, make_script_engine, script_context


@pytest.fixture
def directory() -> DirectorySnapshot:
    """A small company: Ada runs it, Bo manages engineering, Cy reports to Bo; Di is HR."""
    return DirectorySnapshot(
        version=7,
        people={
            1: PersonInfo(1, "ada", "Ada Lovelace", "ada@example.org", "CEO", org_unit_id=10),
            2: PersonInfo(
                2,
                "bo",
                "Bo Builder",
                title="Engineering manager",
                org_unit_id=20,
                manager_id=1,
                groups=frozenset({"managers"}),
            ),
            3: PersonInfo(
                3,
                "cy",
                "Cy Coder",
                title="Engineer",
                job_family="engineering",
                org_unit_id=20,
                manager_id=2,
            ),
            4: PersonInfo(
                4,
                "di",
                "Di Ruiz",
                title="HR partner",
                org_unit_id=10,
                manager_id=1,
                groups=frozenset({"hr", "managers"}),
            ),
        },
        units={
            10: UnitInfo(10, "EXEC", "Executive", head_id=1),
            20: UnitInfo(20, "ENG", "Engineering", parent_id=10, head_id=2),
        },
    )


CATALOGS = {
    "rating_scale": {"levels": [{"value": 1, "label": "Below"}, {"value": 3, "label": "Meets"}]},
    "competencies": {"items": ["Ownership", "Craft"]},
}


def run(script: str, data: dict | None = None) -> dict:
    """Execute a script as a script task would and return the task data."""
    data = {} if data is None else data
    make_script_engine().environment.execute(script, data)
    return data


def value(expression: str, data: dict | None = None):
    """Evaluate an expression as a condition would."""
    return make_script_engine().environment.evaluate(expression, data or {})


# --------------------------------------------------------------------------- directory


def test_person_accepts_every_kind_of_reference(directory) -> None:
    with script_context(directory=directory):
        for ref in ("3", "cy", "person:cy", "person:3", {"id": 3, "name": "whatever"}):
            assert value("person(ref)", {"ref": ref})["name"] == "Cy Coder", ref
        assert value("person(3)") == {
            "id": 3,
            "key": "cy",
            "name": "Cy Coder",
            "email": "",
            "title": "Engineer",
            "job_family": "engineering",
            "org_unit_id": 20,
            "manager_id": 2,
        }
        assert value("person('nobody')") is None
        assert value("person(None)") is None


def test_reporting_line_from_a_script(directory) -> None:
    with script_context(directory=directory):
        data = run(
            """
approver = manager_of(subject)["key"]
second = skip_level_of(subject)["key"]
top_manager = manager_of("ada")
ceo_skip = skip_level_of("bo")
""",
            {"subject": {"id": 3}},
        )
    assert data["approver"] == "bo"
    assert data["second"] == "ada"
    assert data["top_manager"] is None
    assert data["ceo_skip"] is None


def test_groups_and_org_units(directory) -> None:
    with script_context(directory=directory):
        assert [p["key"] for p in value("people_in_group('managers')")] == ["bo", "di"]
        assert value("people_in_group('nobody')") == []
        assert value("in_group('person:di', 'hr')") is True
        assert value("in_group(3, 'hr')") is False
        assert value("in_group('ghost', 'hr')") is False
        assert value("org_unit_of('cy')") == {
            "id": 20,
            "code": "ENG",
            "name": "Engineering",
            "parent_id": 10,
            "head_id": 2,
        }
        assert value("org_unit_of('ghost')") is None


def test_directory_functions_need_a_directory() -> None:
    with pytest.raises(ScriptError, match="no directory"):
        value("manager_of(3)")


# --------------------------------------------------------------------------- catalogs


def test_catalog_returns_a_copy_scripts_may_change() -> None:
    with script_context(catalogs=CATALOGS):
        data = run(
            "scale = catalog('rating_scale')\n"
            "scale['levels'].append({'value': 5})\n"
            "labels = [level['label'] for level in catalog('rating_scale')['levels']]"
        )
    assert data["labels"] == ["Below", "Meets"]
    assert len(CATALOGS["rating_scale"]["levels"]) == 2


def test_an_unknown_catalog_lists_the_known_ones() -> None:
    with script_context(catalogs=CATALOGS):
        with pytest.raises(
            ScriptError,
            match="unknown catalog 'ratings'; known catalogs: competencies, rating_scale",
        ):
            value("catalog('ratings')")


# --------------------------------------------------------------------------- dates


def test_today_and_now_follow_the_context_clock() -> None:
    with script_context(now=datetime(2026, 2, 27, 16, 45, 12, 999)):
        data = run("signed_on = today()\nsigned_at = now()\ndue = add_days(today(), 3)")
    assert data == {
        "signed_on": "2026-02-27",
        "signed_at": "2026-02-27T16:45:12",
        "due": "2026-03-02",
    }


def test_date_arithmetic_on_iso_strings() -> None:
    assert value("add_days('2026-03-30', -30)") == "2026-02-28"
    assert value("add_months('2026-01-31', 1)") == "2026-02-28"
    assert value("add_months('2024-01-31', 1)") == "2024-02-29"
    assert value("add_months('2026-11-15', 3)") == "2027-02-15"
    assert value("add_months('2026-01-15', -2)") == "2025-11-15"
    assert value("days_between('2026-01-01', '2026-03-01')") == 59
    assert value("days_between('2026-03-01T10:00:00', '2026-01-01')") == -59
    assert value("parse_date('2026-03-01') > parse_date('2026-02-28')") is True
    assert value("parse_date('2026-03-01').isoformat()") == "2026-03-01"
    assert value("format_date('2026-03-01')") == "01 Mar 2026"
    assert value("format_date(d, '%Y/%m')", {"d": "2026-03-01"}) == "2026/03"


def test_a_bad_date_says_what_was_expected() -> None:
    with pytest.raises(ScriptError, match=r"not a date: '31/03/2026' \(expected an ISO date"):
        value("add_days('31/03/2026', 1)")


@pytest.mark.parametrize(
    ("duration", "days"),
    [("P14D", 14), ("P2W", 14), ("P1M", 30), ("P1Y2D", 367), ("PT48H", 2), ("p3d", 3)],
)
def test_iso_duration_days(duration: str, days: int) -> None:
    assert value("iso_duration_days(d)", {"d": duration}) == days


def test_a_bad_duration_is_refused() -> None:
    for bad in ("14 days", "P", "PT"):
        with pytest.raises(ScriptError, match="not an ISO 8601 duration"):
            value("iso_duration_days(d)", {"d": bad})


# --------------------------------------------------------------------------- numbers


def test_number_helpers() -> None:
    assert value("percent(45, 60)") == 75.0
    assert value("percent(3, 0)") is None
    assert value("clamp(130, 0, 120)") == 120
    assert value("clamp(-5, 0, 120)") == 0
    objectives = [
        {"score": 4, "weight": 60},
        {"score": 2, "weight": 40},
        {"score": None, "weight": 100},
    ]
    assert value("weighted_average(o, 'score', 'weight')", {"o": objectives}) == 3.2
    assert value("weighted_average([], 'score', 'weight')") is None


# --------------------------------------------------------------------------- mocks and records


def test_mocks_replace_a_library_function_for_the_run(directory) -> None:
    mocked_manager = {"id": 99, "key": "mock", "name": "Mock Manager"}
    with script_context(directory=directory, mocks={"manager_of": mocked_manager}):
        data = run("approver = manager_of(3)\napprover['name'] = 'changed'\nagain = manager_of(3)")
        assert value("person(3)['key']") == "cy"
    assert data["again"] == mocked_manager
    assert mocked_manager["name"] == "Mock Manager"


def test_write_record_queues_a_detached_record_on_the_context(directory) -> None:
    with script_context(directory=directory) as ctx:
        run(
            "rating = {'value': 4, 'label': 'Strong'}\n"
            "write_record('final_rating', rating, person=person('cy'))\n"
            "rating['value'] = 1\n"
            "write_record('note', {'text': 'hi'})"
        )
    assert ctx.records == [
        {"kind": "final_rating", "data": {"value": 4, "label": "Strong"}, "person": 3},
        {"kind": "note", "data": {"text": "hi"}, "person": None},
    ]


def test_write_record_refuses_bad_input_and_missing_context() -> None:
    with pytest.raises(ScriptError, match="no script context"):
        run("write_record('final_rating', {'value': 4})")
    with script_context():
        with pytest.raises(ScriptError, match="must be a dict"):
            run("write_record('final_rating', 4)")
        with pytest.raises(ScriptError, match="not JSON"):
            run("write_record('final_rating', {'when': parse_date('2026-01-01')})")


RECORD_BPMN = """
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="close_review" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="store"/>
    <bpmn:scriptTask id="store" name="Store the rating">
      <bpmn:script>signed_on = today()
write_record("final_rating", {"value": rating}, person=subject)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="store" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_process_writes_a_record_under_the_runtime_context(directory) -> None:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(RECORD_BPMN, "close_review.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("close_review"), script_engine=make_script_engine())
    workflow.task_tree.data.update({"rating": 4, "subject": "person:cy"})
    with script_context(directory=directory, now=datetime(2026, 12, 1)) as ctx:
        workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["signed_on"] == "2026-12-01"
    assert ctx.records == [{"kind": "final_rating", "data": {"value": 4}, "person": "person:cy"}]
