"""Designer drafts: kept per designer in the database, validated as a working copy, deployed
into the database (never onto disk), exported byte for byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.base.errors import Conflict, NotFound
from engine.base.models import ProcessDefinition, ProcessInstance
from engine.packs.archive import ExportRefused, write_pack_files
from engine.packs.definitions import deploy_pack, pack_version, version_files
from engine.packs.designer import (
    DraftPathError,
    base_pack,
    deploy_draft,
    discard_draft,
    draft_bytes,
    draft_files,
    file_bytes,
    save_draft_file,
    validate_draft,
    working_copy,
)
from engine.packs.loading import load_pack
from engine.people.org_import import import_org
from engine.workflow import runtime
from tests.support.org import ORG_EVE, ORG_MORGAN_TOP, org_csv

LAB = Path(__file__).parent / "archives" / "review_lab"
ORG = org_csv(ORG_MORGAN_TOP, ORG_EVE)
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


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


async def test_deploy_stores_a_new_version_in_the_database_and_leaves_the_folder_alone(
    deployed_lab: Path,
) -> None:
    before = _snapshot(deployed_lab)
    await save_draft_file("review-lab", FORM, "ada", form_with_summary(), folders=[deployed_lab])
    outcome = await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    assert outcome.ok and outcome.written == [FORM]
    [version] = outcome.deployed
    assert (version.process_id, version.version) == ("goal_review", 2)
    assert version.diff is not None
    assert version.diff.summary() == ["form forms/goals-schema.json: added summary"]
    assert _snapshot(deployed_lab) == before
    assert outcome.pack_version == 2
    stored = version_files(await pack_version("review-lab"))
    assert stored[FORM] == form_with_summary().encode()
    assert stored["goal_review.bpmn"] == (LAB / "goal_review.bpmn").read_bytes()
    # The next edit starts from what was deployed, not from the folder.
    base = await base_pack("review-lab", [deployed_lab])
    assert file_bytes(base, FORM) == form_with_summary().encode()
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


async def test_deploy_refuses_to_overwrite_a_file_another_designer_deployed_meanwhile(
    deployed_lab: Path,
) -> None:
    await save_draft_file("review-lab", FORM, "ada", form_with_summary(), folders=[deployed_lab])
    remarks = (LAB / FORM).read_text().replace("Comments", "Remarks")
    await save_draft_file("review-lab", FORM, "grace", remarks, folders=[deployed_lab])
    assert (await deploy_draft("review-lab", "grace", folders=[deployed_lab])).ok
    with pytest.raises(Conflict, match="changed since you began editing"):
        await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    assert version_files(await pack_version("review-lab"))[FORM] == remarks.encode()
    assert await ProcessDefinition.filter(process_id="goal_review").count() == 2
    assert list(await draft_files("review-lab", "ada")) == [FORM]


async def test_a_crlf_file_round_trips_byte_for_byte_through_draft_deploy_and_export(
    deployed_lab: Path, tmp_path: Path
) -> None:
    crlf = form_with_summary().replace("\n", "\r\n").encode() + b"\r\n"
    await save_draft_file("review-lab", FORM, "ada", crlf, folders=[deployed_lab])
    assert (await draft_bytes("review-lab", "ada"))[FORM] == crlf
    outcome = await deploy_draft("review-lab", "ada", folders=[deployed_lab])
    assert outcome.ok, outcome.problems
    out = write_pack_files(version_files(await pack_version("review-lab")), tmp_path / "out")
    assert (out / FORM).read_bytes() == crlf
    assert (out / "goal_review.bpmn").read_bytes() == (LAB / "goal_review.bpmn").read_bytes()
    # The first version (the folder as deployed before) is still there to export.
    first = version_files(await pack_version("review-lab", 1))
    assert first[FORM] == (LAB / FORM).read_bytes()


async def test_exporting_an_unknown_pack_or_version_says_what_exists(deployed_lab: Path) -> None:
    with pytest.raises(NotFound, match="pack 'nope' has no deployed version"):
        await pack_version("nope")
    with pytest.raises(NotFound, match=r"has no version 7 \(it has 1\)"):
        await pack_version("review-lab", 7)


async def test_export_refuses_a_non_empty_folder_unless_forced_and_loses_nothing(
    deployed_lab: Path, tmp_path: Path
) -> None:
    files = version_files(await pack_version("review-lab"))
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ExportRefused, match="is not empty"):
        write_pack_files(files, out)
    assert _snapshot(out) == {"notes.txt": b"keep me"}
    write_pack_files(files, out, force=True)
    assert _snapshot(out) == files
