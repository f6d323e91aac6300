"""The pack unit-test runner: SpiffArena's BPMN unit-test format against real packs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.packs.pack_tests import format_report, run_pack_tests

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"
SPIFFARENA_MODEL = Path(__file__).resolve().parent / "spiffarena_model"
STANDARD_TESTS = "tests/test_objective_setting.json"

SCRIPT_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_greeting" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="greeting" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="look_up" />
    <bpmn:scriptTask id="look_up" name="Look up the manager">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="look_up" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def standard_copy(tmp_path: Path) -> Path:
    """A scratch copy of the standard pack whose tests a test may rewrite."""
    return Path(shutil.copytree(STANDARD, tmp_path / "standard"))


def read_cases(pack: Path) -> dict[str, Any]:
    return json.loads((pack / STANDARD_TESTS).read_text())


def write_cases(pack: Path, cases: dict[str, Any], rel: str = STANDARD_TESTS) -> None:
    (pack / rel).parent.mkdir(parents=True, exist_ok=True)
    (pack / rel).write_text(json.dumps(cases, indent=2))


def script_pack(tmp_path: Path, script: str, cases: dict[str, Any]) -> Path:
    """A one-process pack whose only step is a script task."""
    pack = tmp_path / "greetings"
    pack.mkdir()
    (pack / "pack.toml").write_text(
        '[pack]\nname = "greetings"\nversion = "1"\ntitle = "Greetings"\n'
        '[processes.greeting]\ntitle = "Greeting"\nstart = "self"\n'
    )
    (pack / "greeting.bpmn").write_text(SCRIPT_PROCESS.format(script=script))
    write_cases(pack, cases, "tests/test_greeting.json")
    return pack


def test_the_standard_pack_passes_its_own_tests() -> None:
    report = run_pack_tests(STANDARD)

    assert report.failed == 0, format_report(report)
    assert report.passed >= 3
    approved = report.result("approve_first_time")
    assert approved.records == [
        {
            "kind": "objectives",
            "data": {"objectives": approved.records[0]["data"]["objectives"]},
            "person": None,
        }
    ]
    assert len(approved.records[0]["data"]["objectives"]) == 2
    lines = format_report(report).splitlines()
    assert "PASS test_objective_setting.json::return_once_then_approve" in lines
    assert lines[-1] == f"{report.passed} passed, 0 failed"


def test_standard_cases_walk_every_branch_of_the_review_decision() -> None:
    report = run_pack_tests(STANDARD)

    paths = [r.path for r in report.results]
    assert ["draft_objectives", "review_objectives", "acknowledge_objectives"] in paths
    assert [
        "draft_objectives",
        "review_objectives",
        "draft_objectives",
        "review_objectives",
        "acknowledge_objectives",
    ] in paths
    assert ["draft_objectives", "escalated_review", "acknowledge_objectives"] in paths


def test_wrong_expected_output_fails_with_both_sides_shown(standard_copy: Path) -> None:
    cases = read_cases(standard_copy)
    cases["approve_first_time"]["expected_output_json"]["decision"] = "return"
    write_cases(standard_copy, cases)

    report = run_pack_tests(standard_copy)

    assert report.failed == 1
    failed = report.result("approve_first_time")
    assert failed.expected["decision"] == "return"
    assert failed.actual["decision"] == "approve"
    text = format_report(report)
    assert "FAIL test_objective_setting.json::approve_first_time: end_objective_setting" in text
    differing = [line for line in text.splitlines() if '"decision"' in line]
    assert len(differing) == 1
    assert '"return"' in differing[0] and '"approve"' in differing[0] and " | " in differing[0]
    assert text.splitlines()[-1] == f"{report.passed} passed, 1 failed"


def test_a_task_without_data_fails_the_case_naming_the_task(standard_copy: Path) -> None:
    cases = read_cases(standard_copy)
    del cases["approve_first_time"]["tasks"]["acknowledge_objectives"]
    cases["return_once_then_approve"]["tasks"]["draft_objectives"]["data"].pop()
    write_cases(standard_copy, cases)

    report = run_pack_tests(standard_copy)

    missing = report.result("approve_first_time")
    assert not missing.passed
    assert missing.task == "acknowledge_objectives"
    assert "no data given for task acknowledge_objectives" in missing.message
    exhausted = report.result("return_once_then_approve")
    assert exhausted.task == "draft_objectives"
    assert "came up 2 times" in exhausted.message
    text = format_report(report)
    assert "FAIL test_objective_setting.json::approve_first_time: acknowledge_objectives" in text


def test_a_different_path_than_expected_fails(standard_copy: Path) -> None:
    cases = read_cases(standard_copy)
    cases["approve_first_time"]["expected_path"] = ["draft_objectives", "acknowledge_objectives"]
    write_cases(standard_copy, cases)

    failed = run_pack_tests(standard_copy).result("approve_first_time")

    assert not failed.passed
    assert "expected_path" in failed.message
    assert failed.actual == ["draft_objectives", "review_objectives", "acknowledge_objectives"]


def test_a_mock_replaces_a_library_function(tmp_path: Path) -> None:
    script = 'manager_name = manager_of("ana")["name"]'
    expected = {"manager_name": "Bo Manager"}
    pack = script_pack(
        tmp_path,
        script,
        {
            "mocked": {
                "mocks": {"manager_of": {"name": "Bo Manager"}},
                "expected_output_json": expected,
            },
            "unmocked": {"expected_output_json": expected},
        },
    )

    report = run_pack_tests(pack)

    assert report.result("mocked").passed, format_report(report)
    unmocked = report.result("unmocked")
    assert not unmocked.passed
    assert unmocked.task == "look_up"
    assert "no directory" in unmocked.message


def test_a_subject_gives_scripts_a_directory_and_the_start_data(tmp_path: Path) -> None:
    script = 'manager_name = manager_of(subject)["name"]'
    pack = script_pack(
        tmp_path,
        script,
        {
            "with_subject": {
                "subject": {
                    "key": "ana",
                    "name": "Ana Silva",
                    "manager": {"key": "bo", "name": "Bo Manager"},
                },
                "expected_output_json": {
                    "subject": {
                        "id": 1,
                        "key": "ana",
                        "name": "Ana Silva",
                        "email": "",
                        "title": "",
                        "job_family": "",
                        "org_unit_id": None,
                        "manager_id": 2,
                    },
                    "manager_name": "Bo Manager",
                },
            },
        },
    )

    report = run_pack_tests(pack)

    assert report.failed == 0, format_report(report)


def test_a_failing_script_fails_its_case_with_the_task_and_message(tmp_path: Path) -> None:
    pack = script_pack(tmp_path, "ratio = 1 / 0", {"divides": {"expected_output_json": {}}})

    failed = run_pack_tests(pack).result("divides")

    assert not failed.passed
    assert failed.task == "look_up"
    assert "ZeroDivisionError" in failed.message
    assert "FAIL test_greeting.json::divides: look_up" in format_report(run_pack_tests(pack))


def test_a_spiffarena_process_model_folder_runs_as_it_is() -> None:
    report = run_pack_tests(SPIFFARENA_MODEL)

    assert report.failed == 0, format_report(report)
    assert [r.case for r in report.results] == ["colleague_available", "colleague_away"]
    assert report.result("colleague_available").path == ["ask_for_feedback", "give_feedback"]
    assert report.result("colleague_away").path == ["ask_for_feedback"]


def test_a_service_task_without_a_mocked_result_fails_naming_it(tmp_path: Path) -> None:
    model = Path(shutil.copytree(SPIFFARENA_MODEL, tmp_path / "model"))
    cases = json.loads((model / "test_peer_feedback.json").read_text())
    del cases["colleague_away"]["tasks"]["Process_peer_feedback_x7k2m9q:check_availability"]
    (model / "test_peer_feedback.json").write_text(json.dumps(cases))

    failed = run_pack_tests(model).result("colleague_away")

    assert not failed.passed
    assert failed.task == "check_availability"
    assert "no data given for task check_availability" in failed.message


PEERS_SCRIPT = """lin = person("lin")
sam = person("sam")
peers = [[lin["id"], lin["name"]], [sam["id"], sam["name"]]]
nobody = person("zoe")
del lin, sam"""


def test_people_are_colleagues_that_scripts_find_by_key(tmp_path: Path) -> None:
    lin = {"key": "lin", "name": "Lin Chen"}
    sam = {"key": "sam", "name": "Sam Rivera", "id": 1}
    pack = script_pack(
        tmp_path,
        PEERS_SCRIPT,
        {
            "without_subject": {
                "people": [lin, sam],
                "expected_output_json": {"peers": [[2, "Lin Chen"], [1, "Sam Rivera"]],
                                         "nobody": None},
            },
            "beside_the_subject": {
                "subject": {"key": "ana", "name": "Ana Silva", "manager": {"key": "bo"}},
                "people": [lin, {**sam, "id": 9}],
                "expected_output_json": {
                    "subject": {"id": 1, "key": "ana", "name": "Ana Silva", "email": "",
                                "title": "", "job_family": "", "org_unit_id": None,
                                "manager_id": 2},
                    "peers": [[3, "Lin Chen"], [9, "Sam Rivera"]],
                    "nobody": None,
                },
            },
        },
    )

    report = run_pack_tests(pack)

    assert report.failed == 0, format_report(report)


def test_a_manager_given_by_key_joins_the_management_chain(tmp_path: Path) -> None:
    script = """chain = [manager_of("lin")["name"], skip_level_of("lin")["name"]]
sam_manager = manager_of("sam")["name"]
team = [p["key"] for p in people_in_group("platform")]"""
    pack = script_pack(
        tmp_path,
        script,
        {
            "peers_under_the_subjects_manager": {
                "subject": {"key": "ana", "manager": {"key": "bo", "name": "Bo Manager",
                                                      "manager": {"key": "cy", "name": "Cy"}}},
                "people": [
                    {"key": "lin", "manager": "bo", "groups": ["platform"]},
                    {"key": "sam", "manager": "dee", "groups": ["platform"]},
                    {"key": "dee", "name": "Dee Lead",
                     "manager": {"key": "eve", "name": "Eve Head"}},
                ],
                "expected_output_json": {
                    "subject": {"id": 1, "key": "ana", "name": "ana", "email": "",
                                "title": "", "job_family": "", "org_unit_id": None,
                                "manager_id": 2},
                    "chain": ["Bo Manager", "Cy"],
                    "sam_manager": "Dee Lead",
                    "team": ["lin", "sam"],
                },
            },
        },
    )

    report = run_pack_tests(pack)

    assert report.failed == 0, format_report(report)


@pytest.mark.parametrize(
    ("people", "message"),
    [
        ([{"key": "lin"}, {"key": "lin"}], "two people in the case have the key 'lin'"),
        ([{"key": "ana"}], "two people in the case have the key 'ana'"),
        ([{"key": "lin", "id": 7}, {"key": "sam", "id": 7}],
         "two people in the case have the id 7"),
        ([{"key": "lin", "manager": "zoe"}],
         "the manager of 'lin' is 'zoe', but nobody in the case has that key"),
        ([{"key": "lin", "manager": 2}],
         "the manager of 'lin' must be a person key or object, not 2"),
        ([{"key": "lin", "id": "seven"}], "the id of 'lin' must be a whole number, not 'seven'"),
        ([{"key": "lin"}, "sam"], "\"people\" entry 2 is not a person object: 'sam'"),
        ({"lin": {}}, '"people" must be a list of person objects'),
    ],
)
def test_a_bad_people_list_fails_its_case_naming_the_problem(
    tmp_path: Path, people: Any, message: str
) -> None:
    cases = {
        "broken": {"subject": {"key": "ana"}, "people": people, "expected_output_json": {}},
        "sound": {"people": [{"key": "lin", "name": "Lin"}, {"key": "sam", "name": "Sam"}],
                  "expected_output_json": {"peers": [[1, "Lin"], [2, "Sam"]], "nobody": None}},
    }
    pack = script_pack(tmp_path, PEERS_SCRIPT, cases)

    report = run_pack_tests(pack)

    broken = report.result("broken")
    assert not broken.passed
    assert broken.message.startswith(message)
    assert f"FAIL test_greeting.json::broken: - {message}" in format_report(report)
    assert report.result("sound").passed, format_report(report)


def test_a_mock_defines_a_backend_function_for_its_case_only(tmp_path: Path) -> None:
    script = 'link = get_frontend_url() + "/tasks"'
    pack = script_pack(
        tmp_path,
        script,
        {
            "mocked": {
                "mocks": {"get_frontend_url": "https://hr.example.com"},
                "expected_output_json": {"link": "https://hr.example.com/tasks"},
            },
            "not_mocked": {"expected_output_json": {"link": "https://hr.example.com/tasks"}},
        },
    )

    report = run_pack_tests(pack)

    assert report.result("mocked").passed, format_report(report)
    other = report.result("not_mocked")
    assert not other.passed and other.task == "look_up"
    assert "get_frontend_url" in other.message
    # Nor does it reach the engine live instances use.
    from engine.scripts import sandbox
    from engine.scripts.context import script_functions

    assert "get_frontend_url" not in script_functions()
    assert "get_frontend_url" not in sandbox.make_script_engine().environment.globals


OBJECTIVES_TESTS = "tests/test_objective_setting.json"
TEAM = {
    "subject": {"id": 3, "key": "ada", "name": "Ada", "manager": {
        "id": 2, "key": "sam", "name": "Sam", "manager": {"id": 1, "key": "max", "name": "Max"}}},
    "people": [{"id": 4, "key": "lin", "name": "Lin", "manager": "sam"}],
}


def objectives_case(acting: Any) -> dict[str, Any]:
    """The standard pack's first objective-setting case, acted by the case's team."""
    cases = json.loads((STANDARD / OBJECTIVES_TESTS).read_text())
    case = dict(cases["approve_first_time"])
    case.update(TEAM, **{"as": acting})
    expected = dict(case["expected_output_json"])
    expected["subject"] = {"id": 3, "key": "ada", "name": "Ada", "email": "", "title": "",
                           "job_family": "", "org_unit_id": None, "manager_id": 2}
    case["expected_output_json"] = expected
    return case


def run_objectives_case(pack: Path, acting: Any) -> Any:
    write_cases(pack, {"acted": objectives_case(acting)}, OBJECTIVES_TESTS)
    return run_pack_tests(pack).result("acted")


def test_as_passes_when_each_task_is_submitted_by_someone_its_lane_names(
    standard_copy: Path,
) -> None:
    result = run_objectives_case(standard_copy, {
        "draft_objectives": "ada", "review_objectives": ["sam"], "acknowledge_objectives": "ada",
    })
    assert result.passed, result.message


def test_as_fails_the_case_when_that_person_may_not_act_on_the_task(
    standard_copy: Path,
) -> None:
    result = run_objectives_case(standard_copy, {"review_objectives": "lin"})
    assert not result.passed
    assert result.task == "review_objectives"
    assert "lin may not act on review_objectives" in result.message
    assert "lane 'Manager' goes to sam" in result.message


def test_as_names_someone_outside_the_case(standard_copy: Path) -> None:
    result = run_objectives_case(standard_copy, {"draft_objectives": "E1001"})
    assert not result.passed
    assert "'E1001'" in result.message and "nobody in the case has that key" in result.message
