"""Designer drafts: kept per designer, validated as a working copy, deployed to disk and DB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.base.errors import Conflict
from engine.base.models import ProcessDefinition, ProcessInstance
from engine.packs.definitions import deploy_pack
from engine.packs.designer import (
    DraftPathError,
    deploy_draft,
    discard_draft,
    draft_files,
    save_draft_file,
    validate_draft,
    working_copy,
)
from engine.packs.loading import load_pack
from engine.people.org_import import import_org
from engine.workflow import runtime

LAB = Path(__file__).parent / "archives" / "review_lab"
ORG = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups
M1,Morgan Manager,morgan@example.com,Team lead,people_manager,ORG,Org,,,
E1,Eve Employee,eve@example.com,Engineer,engineering,ORG,Org,,M1,
"""
FORM = "forms/goals-schema.json"


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    folder = tmp_path / "packs"
    shutil.copytree(LAB, folder / "review_lab")
    return folder


@pytest.fixture
async def deployed_lab(db: str, packs: Path) -> Path:
    assert not (await import_org(ORG)).errors
    await deploy_pack(packs / "review_lab", "consultant", search=[packs])
    return packs


def form_with_summary() -> str:
    schema = json.loads((LAB / FORM).read_text())
    schema["properties"]["summary"] = {"type": "string", "title": "Summary"}
    return json.dumps(schema, indent=2)


async def test_each_designer_keeps_their_own_drafts_until_discarded(db: str, packs: Path) -> None:
    await save_draft_file("review-lab", FORM, "ada", "{}", folders=[packs])
    await save_draft_file("review-lab", FORM, "ada", form_with_summary(), folders=[packs])
    await save_draft_file("review-lab", "goal_review.bpmn", "grace", "<x/>", folders=[packs])
    assert await draft_files("review-lab", "ada") == {FORM: form_with_summary()}
    assert list(await draft_files("review-lab", "grace")) == ["goal_review.bpmn"]
    assert await discard_draft("review-lab", "ada", FORM) == 1
    assert await draft_files("review-lab", "ada") == {}
    assert list(await draft_files("review-lab", "grace")) == ["goal_review.bpmn"]


@pytest.mark.parametrize(
    "path",
    ["../other/pack.toml", "/etc/goal.bpmn", "C:/goal.bpmn", "forms\\x.json", "forms/x.py",
     ".git/config.toml", ""],
)
async def test_drafts_outside_the_pack_or_of_other_file_types_are_refused(
    db: str, packs: Path, path: str
) -> None:
    with pytest.raises(DraftPathError):
        await save_draft_file("review-lab", path, "ada", "x", folders=[packs])
    assert await draft_files("review-lab", "ada") == {}


def test_the_working_copy_shows_drafts_over_the_pack_and_leaves_it_untouched(
    packs: Path,
) -> None:
    origin = packs / "review_lab"
    copy = working_copy(load_pack(origin), {FORM: form_with_summary()}, {})
    assert json.loads(copy.read_text(FORM))["properties"]["summary"]["title"] == "Summary"
    assert copy.read_text("goal_review.bpmn") == (origin / "goal_review.bpmn").read_text()
    assert copy.drafted == [FORM] and copy.origin == origin
    assert (origin / FORM).read_text() == (LAB / FORM).read_text()
    copy.close()


async def test_validation_runs_on_the_designers_drafts_only(db: str, packs: Path) -> None:
    broken = (LAB / "goal_review.bpmn").read_text().replace(
        'targetRef="end" />', 'targetRef="nowhere" />'
    )
    await save_draft_file("review-lab", "goal_review.bpmn", "ada", broken, folders=[packs])
    problems = await validate_draft("review-lab", "ada", folders=[packs])
    assert problems and {p.file for p in problems} == {"goal_review.bpmn"}
    assert any("nowhere" in p.message for p in problems)
    assert await validate_draft("review-lab", "grace", folders=[packs]) == []


async def test_deploy_is_refused_while_problems_remain_and_writes_nothing(
    deployed_lab: Path,
) -> None:
    await save_draft_file("review-lab", FORM, "ada", "{ not json", folders=[deployed_lab])
    outcome = await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    assert not outcome.ok and outcome.problems[0].file == FORM
    assert (deployed_lab / "review_lab" / FORM).read_text() == (LAB / FORM).read_text()
    assert await ProcessDefinition.filter(process_id="goal_review").count() == 1
    assert list(await draft_files("review-lab", "ada")) == [FORM]


async def test_deploy_writes_the_drafts_to_disk_and_stores_a_new_version_with_its_diff(
    deployed_lab: Path,
) -> None:
    await save_draft_file("review-lab", FORM, "ada", form_with_summary(), folders=[deployed_lab])
    outcome = await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    assert outcome.ok and outcome.written == [FORM]
    [version] = outcome.deployed
    assert (version.process_id, version.version) == ("goal_review", 2)
    assert version.diff is not None
    assert version.diff.summary() == ["form forms/goals-schema.json: added summary"]
    assert (deployed_lab / "review_lab" / FORM).read_text() == form_with_summary()
    row = await ProcessDefinition.get(id=version.definition_id)
    assert row.deployed_by == "ada"
    assert await draft_files("review-lab", "ada") == {}


async def test_unchanged_content_is_not_deployed_again(deployed_lab: Path) -> None:
    same = (LAB / FORM).read_text()
    await save_draft_file("review-lab", FORM, "ada", same, folders=[deployed_lab])
    outcome = await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    assert outcome.ok and not outcome.deployed
    assert outcome.unchanged == [("goal_review", 1)]
    assert outcome.summary() == ["goal_review: unchanged (version 1)"]


async def test_running_instances_stay_on_their_version_new_ones_take_the_new(
    deployed_lab: Path,
) -> None:
    system = runtime.Actor.system()
    before = await runtime.start_process("goal_review", subject="E1", actor=system)
    await save_draft_file("review-lab", FORM, "ada", form_with_summary(), folders=[deployed_lab])
    await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    after = await runtime.start_process("goal_review", subject="E1", actor=system)
    versions = {
        row.id: row.definition.version
        for row in await ProcessInstance.all().prefetch_related("definition")
    }
    assert versions == {before.id: 1, after.id: 2}


async def test_deploy_refuses_to_overwrite_a_file_changed_since_the_draft_began(
    deployed_lab: Path,
) -> None:
    await save_draft_file("review-lab", FORM, "ada", form_with_summary(), folders=[deployed_lab])
    on_disk = deployed_lab / "review_lab" / FORM
    on_disk.write_text(on_disk.read_text().replace("Comments", "Remarks"))
    with pytest.raises(Conflict, match="changed since you began editing"):
        await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    assert "Remarks" in on_disk.read_text()
    assert await ProcessDefinition.filter(process_id="goal_review").count() == 1
