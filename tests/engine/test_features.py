"""[features] in pack.toml: what pages act on by id, inherited key by key, and checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.packs.loading import Features, discover_packs, load_pack
from engine.packs.validation import validate_pack

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"
RUNTIME_PACK = Path(__file__).parent / "runtime_pack"


@pytest.fixture
def standard(tmp_path: Path) -> Path:
    """A private copy of the standard pack (without its BPMN unit tests, for speed)."""
    folder = tmp_path / "standard"
    shutil.copytree(STANDARD, folder, ignore=shutil.ignore_patterns("tests"))
    return folder


def set_feature(folder: Path, line: str, new: str) -> None:
    manifest = folder / "pack.toml"
    text = manifest.read_text(encoding="utf-8")
    assert line in text
    manifest.write_text(text.replace(line, new, 1), encoding="utf-8")


def manifest_line(folder: Path, needle: str) -> int:
    lines = (folder / "pack.toml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


def test_a_pack_without_features_gets_the_conventional_ids() -> None:
    pack = load_pack(RUNTIME_PACK)
    assert pack.features == Features()
    assert pack.features.feedback.process == "feedback"
    assert pack.features.calibration.release_signal == "ratings_released"
    assert pack.features.records.potential_field == "potential"
    assert pack.features.overrides() == {}


def test_the_standard_pack_declares_every_feature() -> None:
    features = load_pack(STANDARD).features
    # A roll-out programme is run by a pack installed beside it (processes/rollout), not by it.
    every = {f"{section}.{key}" for section, keys in Features().as_table().items()
             for key in keys if section != "rollout"}
    assert features.declared == every
    assert features.overrides() == {}  # it declares the conventional ids


def test_an_extending_pack_overrides_features_key_by_key(tmp_path: Path) -> None:
    shutil.copytree(STANDARD, tmp_path / "standard", ignore=shutil.ignore_patterns("tests"))
    child = tmp_path / "client"
    child.mkdir()
    (child / "pack.toml").write_text(
        '[pack]\nname = "client"\nextends = "standard"\n\n'
        '[features.records]\nfinal_rating = "overall_rating"\n',
        encoding="utf-8",
    )
    pack = load_pack(child, discover_packs([tmp_path]))
    assert pack.features.records.final_rating == "overall_rating"
    assert pack.features.records.proposed_rating == "proposed_rating"  # the parent's
    assert pack.features.feedback.process == "feedback"
    assert pack.features.overrides() == {"records": {"final_rating": "overall_rating"}}


def test_the_standard_pack_and_its_copy_validate(standard: Path) -> None:
    assert validate_pack(standard) == []


@pytest.mark.parametrize(("line", "new", "message"), [
    ('process = "feedback"', 'process = "peer_notes"',
     "features.feedback.process: no BPMN process 'peer_notes' in the pack"),
    ('agree_task = "agree_plan"', 'agree_task = "settle_plan"',
     "features.development.agree_task: no user task 'settle_plan' in process "
     "'development_plan' (features.development.plan_process)"),
    # A script task is not a step a page can open.
    ('choose_task = "choose_feedback"', 'choose_task = "find_colleague"',
     "features.feedback.choose_task: no user task 'find_colleague' in process 'feedback'"),
    # A user task of another process.
    ('checkin_task = "record_checkin"', 'checkin_task = "agree_plan"',
     "features.development.checkin_task: no user task 'agree_plan' in process 'checkin'"),
    ('release_signal = "ratings_released"', 'release_signal = "ratings_relased"',
     "features.calibration.release_signal: no event of the pack catches the signal "
     "'ratings_relased'"),
    # Training, talent and gaps: the pages start and open these by id.
    ('process = "training_request"', 'process = "course_request"',
     "features.training.process: no BPMN process 'course_request' in the pack"),
    ('request_task = "request_training"', 'request_task = "ask_for_course"',
     "features.training.request_task: no user task 'ask_for_course' in process "
     "'training_request'"),
    ('review_process = "talent_review"', 'review_process = "talent_meeting"',
     "features.talent.review_process: no BPMN process 'talent_meeting' in the pack"),
    ('plan_task = "agree_plan"', 'plan_task = "draw_up_plan"',
     "features.gaps.plan_task: no user task 'draw_up_plan' in process 'development_plan'"),
    ('catalog = "courses"', 'catalog = "trainings"',
     "features.training.catalog: no catalog catalogs/trainings.toml in the pack"),
    ('manager_course = "appraisal_coaching_skills"', 'manager_course = "coaching_101"',
     "features.training.manager_course: no course 'coaching_101' in catalogs/courses.toml"),
    ('feedback = "feedback"', 'feedbak = "feedback"',
     "features.records.feedbak is not a key of [features.records]"),
    ('potential_field = "potential"', "potential_field = 3",
     "features.records.potential_field must be a non-empty string"),
])
def test_a_wrong_declared_id_is_reported_on_its_key(
    standard: Path, line: str, new: str, message: str
) -> None:
    set_feature(standard, line, new)
    problems = validate_pack(standard)
    assert len(problems) == 1, problems
    [problem] = problems
    assert problem.file == "pack.toml"
    assert problem.line == manifest_line(standard, new)
    assert message in problem.message


def test_a_process_that_is_not_executable_cannot_be_a_feature(standard: Path) -> None:
    bpmn = standard / "checkin.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(
        'id="checkin" name="Check-in" isExecutable="true"',
        'id="checkin" name="Check-in" isExecutable="false"',
    ), encoding="utf-8")
    messages = [p.message for p in validate_pack(standard) if p.file == "pack.toml"]
    assert ("features.development.checkin_process: process 'checkin' is not executable, so "
            "it cannot be started") in messages


def test_an_unknown_features_table_is_reported(standard: Path) -> None:
    with (standard / "pack.toml").open("a", encoding="utf-8") as manifest:
        manifest.write("\n[features.goals]\nprocess = \"okrs\"\n")
    [problem] = validate_pack(standard)
    assert problem.line == manifest_line(standard, "[features.goals]")
    assert "[features.goals] is not a feature" in problem.message
