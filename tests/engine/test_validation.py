"""Pack validation: each problem kind is found, with file, line and element, all at once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.packs.validation import Problem, validate_pack

FIXTURES = Path(__file__).parent / "bad_packs"
VALID = FIXTURES / "valid"


def edit(folder: Path, rel: str, old: str, new: str) -> None:
    path = folder / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(folder: Path, rel: str, needle: str) -> int:
    lines = (folder / rel).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A private copy of the valid pack to break one way per test."""
    folder = tmp_path / "valid"
    shutil.copytree(VALID, folder)
    return folder


def test_valid_packs_have_no_problems() -> None:
    assert validate_pack(VALID) == []
    assert validate_pack(FIXTURES / "spiff_model") == []


def test_problem_reads_file_line_element_message() -> None:
    problem = Problem("a.bpmn", 12, "review", "user task has no form")
    assert str(problem) == "a.bpmn:12: review: user task has no form"


def test_a_pack_with_many_problems_reports_all_of_them() -> None:
    reported = [str(p) for p in validate_pack(FIXTURES / "many_problems")]
    expected = [
        "pack.toml:5: -: extends unknown pack 'no-such-pack'",
        "pack.toml:9: Manager: resolver 'subject.boss': unknown step 'boss'",
        "pack.toml:16: ghost_process: [processes] key is not a BPMN process of the pack",
        "appraisal.bpmn:11: HR: lane 'HR' is not mapped in [lanes] of pack.toml",
        "appraisal.bpmn:19: self_appraisal: user task has no form",
        "appraisal.bpmn:21: self_appraisal: preScript: import is not allowed",
        "appraisal.bpmn:27: manager_appraisal: form file 'missing-schema.json' not found",
        "appraisal.bpmn:31: manager_appraisal: dueIn 'two weeks' is not an ISO 8601 duration",
        "appraisal.bpmn:55: f_high: condition: syntax error",
        "appraisal.bpmn:63: compute: script: \"__class__\" is an invalid attribute name",
        "appraisal.bpmn:68: merit: calledDecisionId 'merit_matrix' is unknown (known: bonus)",
        "appraisal.bpmn:78: wait: timer timeDuration: syntax error",
        "appraisal.bpmn:82: sign_off: calls 'no_such_process', which is not a process",
        "broken.bpmn:5: -: malformed XML: Opening and ending tag mismatch",
        "broken.dmn:5: -: malformed XML: Opening and ending tag mismatch",
        "catalogs/rating_scale.toml:3: -: invalid TOML",
        "drawing_only.bpmn:2: Definitions_drawing: no executable process in this file",
        "forms/broken-schema.json:4: properties/rating/type: not a valid JSON Schema",
        "forms/calibrate-uischema.json:1: -: not valid JSON",
        "tests/test_appraisal.json:2: -: not valid JSON",
        "two_tables.dmn:15: bonus_value: DMN does not parse: Malformed Output Expression",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in reported), (start, reported)
    assert len(reported) == len(expected), reported


Breakage = Callable[[Path], None]

BREAKAGES: dict[str, tuple[Breakage, str, str, str]] = {
    # name: (how to break the pack, file, element, message start); the line is checked too.
    "malformed bpmn": (
        lambda p: edit(p, "sub/sign_off.bpmn", "</bpmn:manualTask>", ""),
        "sub/sign_off.bpmn", "-", "malformed XML",
    ),
    "no start event": (
        lambda p: edit(p, "sub/sign_off.bpmn", "bpmn:startEvent id=\"sign_start\">",
                       "bpmn:intermediateThrowEvent id=\"sign_start\">")
        or edit(p, "sub/sign_off.bpmn", "</bpmn:startEvent>", "</bpmn:intermediateThrowEvent>"),
        "sub/sign_off.bpmn", "sign_off_process", "No start event found",
    ),
    "user task without form": (
        lambda p: edit(p, "sub/sign_off.bpmn",
                       '<spiffworkflow:property name="formJsonSchemaFilename" '
                       'value="sign-schema.json" />', ""),
        "sub/sign_off.bpmn", "sign", "user task has no form",
    ),
    "form not json": (
        lambda p: (p / "sub" / "sign-schema.json").write_text('{"type": "object",\n}'),
        "sub/sign-schema.json", "-", "not valid JSON",
    ),
    "form not a json schema": (
        lambda p: (p / "sub" / "sign-schema.json").write_text(
            '{\n  "type": "object",\n  "required": "agree"\n}'),
        "sub/sign-schema.json", "required", "not a valid JSON Schema",
    ),
    "form template error": (
        lambda p: (p / "sub" / "sign-schema.json").write_text(
            '{\n  "title": "{% if %}"\n}'),
        "sub/sign-schema.json", "-", "template error",
    ),
    "unmapped lane": (
        lambda p: edit(p, "pack.toml", '"Manager" = "subject.manager"\n', ""),
        "objective_setting.bpmn", "Manager", "lane 'Manager' is not mapped",
    ),
    "bad resolver": (
        lambda p: edit(p, "pack.toml", '"subject.manager"', '"subject.org_unit"'),
        "pack.toml", "Manager", "resolver 'subject.org_unit': org_unit must be followed",
    ),
    "dmn without decision table parse": (
        lambda p: edit(p, "rating_band.dmn", "<text>\"partial\"</text>", "<text>\"part</text>"),
        "rating_band.dmn", "LiteralExpression_partial", "DMN does not parse",
    ),
    "unknown decision": (
        lambda p: edit(p, "objective_setting.bpmn", ">rating_band_decision<", ">bands<"),
        "objective_setting.bpmn", "rating_band", "calledDecisionId 'bands' is unknown",
    ),
    "restricted script": (
        lambda p: edit(p, "objective_setting.bpmn",
                       'total = sum(o["weight"] for o in objectives)',
                       'total = sum(o["weight"] for o in objectives)\nopen("/etc/passwd")\n'
                       'x = ().__class__'),
        "objective_setting.bpmn", "total_weight", "script:",
    ),
    "unknown called process": (
        lambda p: edit(p, "objective_setting.bpmn", 'calledElement="sign_off_process"',
                       'calledElement="sign_of_process"'),
        "objective_setting.bpmn", "sign_off", "calls 'sign_of_process'",
    ),
    "bad pack.toml": (
        lambda p: edit(p, "pack.toml", 'title = "A small valid pack"', 'title = A small'),
        "pack.toml", "-", "invalid TOML",
    ),
    "unknown process key": (
        lambda p: edit(p, "pack.toml", "[processes.objective_setting]",
                       "[processes.objectives]"),
        "pack.toml", "objectives", "[processes] key is not a BPMN process",
    ),
}

LINE_NEEDLES = {
    "no start event": ("sub/sign_off.bpmn", 'id="sign_off_process"'),
    "user task without form": ("sub/sign_off.bpmn", 'userTask id="sign"'),
    "form not a json schema": ("sub/sign-schema.json", '"required"'),
    "form template error": ("sub/sign-schema.json", "{% if %}"),
    "unmapped lane": ("objective_setting.bpmn", 'name="Manager"'),
    "bad resolver": ("pack.toml", '"Manager"'),
    "unknown decision": ("objective_setting.bpmn", ">bands<"),
    "restricted script": ("objective_setting.bpmn", "open("),
    "unknown called process": ("objective_setting.bpmn", 'callActivity id="sign_off"'),
    "bad pack.toml": ("pack.toml", "title = A small"),
    "unknown process key": ("pack.toml", "[processes.objectives]"),
}


@pytest.mark.parametrize("kind", sorted(BREAKAGES))
def test_each_problem_kind_is_reported_where_it_is(pack: Path, kind: str) -> None:
    breakage, file, element, message = BREAKAGES[kind]
    breakage(pack)
    problems = validate_pack(pack)
    matching = [p for p in problems
                if (p.file, p.element_id) == (file, element) and p.message.startswith(message)]
    assert matching, [str(p) for p in problems]
    # One mistake is one report: nothing else in the pack is blamed for it.
    assert len(matching) == len(problems), [str(p) for p in problems]
    if kind in LINE_NEEDLES:
        assert matching[0].line == line_of(pack, *LINE_NEEDLES[kind])


def test_script_problems_point_at_the_offending_line(pack: Path) -> None:
    BREAKAGES["restricted script"][0](pack)
    lines = sorted(p.line for p in validate_pack(pack) if p.element_id == "total_weight")
    assert lines == [line_of(pack, "objective_setting.bpmn", "open("),
                     line_of(pack, "objective_setting.bpmn", "__class__")]


def test_form_templates_render_leniently_before_checking(pack: Path) -> None:
    (pack / "sub" / "sign-schema.json").write_text(
        '{"title": "Sign for {{ employee.name }}", "type": "object",'
        ' "properties": {"agree": {"type": "boolean",'
        ' "default": {% if agreed %}true{% else %}false{% endif %}}}}'
    )
    assert validate_pack(pack) == []


def test_inherited_lanes_and_files_count_for_the_child(tmp_path: Path) -> None:
    shutil.copytree(VALID, tmp_path / "valid")
    child = tmp_path / "child"
    child.mkdir()
    (child / "pack.toml").write_text(
        '[pack]\nname = "child"\nextends = "valid"\n[lanes]\n"Manager" = "group:hr"\n'
    )
    assert validate_pack(child) == []
    assert validate_pack(child, available={}) == [
        Problem("pack.toml", 3, "-", "extends unknown pack 'valid' (known: none)")
    ]
