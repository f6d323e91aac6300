"""Migrating running instances between versions: preview, success, refusal, all of a process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.base.errors import NotFound
from engine.base.models import AuditEvent, HumanTask, ProcessInstance
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.workflow import runtime
from engine.workflow.audit import verify_chain
from engine.workflow.migration import (
    MigrationRefused,
    migrate_all,
    migrate_instance,
    preview_migration,
    target_definition,
    target_for_instance,
)
from tests.support.org import ORG_ELI, ORG_EVE, ORG_MORGAN_TOP, org_csv

LAB = Path(__file__).parent / "archives" / "review_lab"
ORG = org_csv(ORG_MORGAN_TOP, ORG_EVE, ORG_ELI)
CHECK_STEP = """<bpmn:sequenceFlow id="flow_drafted" sourceRef="draft_goals"
      targetRef="check_goals" />
    <bpmn:manualTask id="check_goals" name="Check goals">
      <bpmn:incoming>flow_drafted</bpmn:incoming>
      <bpmn:outgoing>flow_checked</bpmn:outgoing>
    </bpmn:manualTask>
    <bpmn:sequenceFlow id="flow_checked" sourceRef="check_goals" targetRef="review_goals" />"""
GOALS = {"goals": [{"title": "Ship billing", "weight": 100}]}


@pytest.fixture
async def lab(db: str, tmp_path: Path) -> Path:
    assert not (await import_org(ORG)).errors
    pack = tmp_path / "review_lab"
    shutil.copytree(LAB, pack)
    await deploy_pack(pack, "consultant", search=[tmp_path])
    return pack


async def deploy_edit(pack: Path, old: str, new: str) -> int:
    """Edit goal_review.bpmn, deploy, return the new version's definition id."""
    bpmn = pack / "goal_review.bpmn"
    text = bpmn.read_text()
    assert old in text
    bpmn.write_text(text.replace(old, new))
    await deploy_pack(pack, "designer", search=[pack.parent])
    return (await target_definition("goal_review", 2)).id


async def insert_check_step(pack: Path) -> int:
    bpmn = pack / "goal_review.bpmn"
    bpmn.write_text(bpmn.read_text().replace(
        "<bpmn:incoming>flow_drafted</bpmn:incoming>\n      <bpmn:outgoing>flow_reviewed",
        "<bpmn:incoming>flow_checked</bpmn:incoming>\n      <bpmn:outgoing>flow_reviewed",
    ))
    return await deploy_edit(
        pack,
        '<bpmn:sequenceFlow id="flow_drafted" sourceRef="draft_goals" targetRef="review_goals" />',
        CHECK_STEP,
    )


async def start(subject: str = "E1") -> ProcessInstance:
    return await runtime.start_process("goal_review", subject=subject,
                                       actor=runtime.Actor.system())


async def open_task(instance_id: int) -> HumanTask:
    return await HumanTask.get(instance_id=instance_id, status="ready")


async def test_an_instance_moves_to_the_new_version_and_its_open_task_carries_on(
    lab: Path,
) -> None:
    instance = await start()
    draft = await open_task(instance.id)
    v2 = await insert_check_step(lab)

    preview = await preview_migration(instance.id, v2)
    assert preview.allowed, preview.refusals
    assert preview.added == ["Check goals"]
    assert [(c.bpmn_id, c.aspects, c.status) for c in preview.changed] == [
        ("draft_goals", ["outputs"], "ran"), ("review_goals", ["inputs"], "pending"),
    ]

    result = await migrate_instance(instance.id, v2, runtime.Actor.system("ada"))
    assert result.migrated
    row = await ProcessInstance.get(id=instance.id).prefetch_related("definition")
    assert row.definition.version == 2
    # The same open task row stays in the inbox and completing it reaches the new step.
    assert (await open_task(instance.id)).id == draft.id
    eve = await runtime.actor_for("E1")
    await runtime.complete_task(draft.id, eve, GOALS)
    assert (await open_task(instance.id)).bpmn_id == "check_goals"

    event = await AuditEvent.get(action="instance_migrated", instance_id=instance.id)
    assert event.actor == "ada"
    assert (event.detail["from_version"], event.detail["to_version"]) == (1, 2)
    assert event.detail["added"] == ["Check goals"]
    assert (await verify_chain()).ok


async def test_a_task_that_already_ran_and_changed_refuses_the_migration(lab: Path) -> None:
    instance = await start()
    eve = await runtime.actor_for("E1")
    await runtime.complete_task((await open_task(instance.id)).id, eve, GOALS)
    shutil.copy(lab / "forms" / "goals-schema.json", lab / "forms" / "goals-v2-schema.json")
    v2 = await deploy_edit(lab, 'value="goals-schema.json"', 'value="goals-v2-schema.json"')

    preview = await preview_migration(instance.id, v2)
    assert not preview.allowed
    assert preview.refusals == ["'Draft goals' already ran and changed in version 2: form"]
    before = await ProcessInstance.get(id=instance.id)
    with pytest.raises(MigrationRefused, match="'Draft goals' already ran and changed"):
        await migrate_instance(instance.id, v2, runtime.Actor.system())
    after = await ProcessInstance.get(id=instance.id)
    assert (after.definition_id, after.version) == (before.definition_id, before.version)
    assert not await AuditEvent.filter(action="instance_migrated").exists()


async def test_an_open_task_that_was_removed_refuses_the_migration(lab: Path) -> None:
    instance = await start()
    eve = await runtime.actor_for("E1")
    await runtime.complete_task((await open_task(instance.id)).id, eve, GOALS)
    bpmn = lab / "goal_review.bpmn"
    text = bpmn.read_text()
    start_at = text.index('<bpmn:userTask id="review_goals"')
    end_at = text.index("</bpmn:userTask>", start_at) + len("</bpmn:userTask>")
    text = text[:start_at] + text[end_at:]
    text = text.replace("<bpmn:flowNodeRef>review_goals</bpmn:flowNodeRef>", "")
    text = text.replace('targetRef="review_goals"', 'targetRef="end"').replace(
        '<bpmn:sequenceFlow id="flow_reviewed" sourceRef="review_goals" targetRef="end" />', ""
    ).replace("<bpmn:incoming>flow_reviewed</bpmn:incoming>",
              "<bpmn:incoming>flow_drafted</bpmn:incoming>")
    bpmn.write_text(text)
    await deploy_pack(lab, "designer", search=[lab.parent])
    v2 = (await target_definition("goal_review", 2)).id
    preview = await preview_migration(instance.id, v2)
    assert "'Review goals' is open now and was removed in version 2" in preview.refusals


async def test_a_dry_run_shows_the_outcome_and_writes_nothing(lab: Path) -> None:
    instance = await start()
    v2 = await insert_check_step(lab)
    before = await ProcessInstance.get(id=instance.id)
    preview = await migrate_instance(instance.id, v2, runtime.Actor.system(), dry_run=True)
    assert preview.allowed and not preview.migrated
    after = await ProcessInstance.get(id=instance.id)
    assert (after.definition_id, after.version, after.state) == (
        before.definition_id, before.version, before.state
    )


async def test_migrating_all_moves_what_it_can_and_reports_the_refusals(lab: Path) -> None:
    waiting = await start("E1")
    reviewed = await start("E2")
    eli = await runtime.actor_for("E2")
    await runtime.complete_task((await open_task(reviewed.id)).id, eli, GOALS)
    await deploy_edit(lab, 'name="Review goals"', 'name="Approve goals"')

    report = await migrate_all("goal_review", None, 2, runtime.Actor.system())
    assert [p.instance_id for p in report.migrated] == [waiting.id]
    assert [p.instance_id for p in report.refused] == [reviewed.id]
    assert report.summary()[-1] == "goal_review → version 2: migrated 1, refused 1"
    # Only the second instance has reached the renamed review; the first moves and will show
    # the new name when it gets there.
    assert report.refused[0].refusals == [
        "'Review goals' is open now and changed in version 2: name"
    ]


async def test_an_instance_names_the_version_to_move_to_in_its_own_pack(lab: Path) -> None:
    instance = await start()
    # The same process deployed by another pack: the instance's pack decides.
    other = lab.parent / "other" / "review_lab"
    shutil.copytree(lab, other)
    toml = other / "pack.toml"
    toml.write_text(toml.read_text().replace('name = "review-lab"', 'name = "review-copy"'))
    await deploy_pack(other, "elsewhere", search=[other.parent])
    second = await insert_check_step(lab)
    bpmn = other / "goal_review.bpmn"
    bpmn.write_text(bpmn.read_text().replace('name="Review goals"', 'name="Review the goals"'))
    await deploy_pack(other, "elsewhere", search=[other.parent])  # its version 2 too

    target = await target_for_instance(instance.id, 2)

    assert (target.id, target.process_id, target.version) == (second, "goal_review", 2)
    with pytest.raises(NotFound, match="no instance 999"):
        await target_for_instance(999, 2)


def test_the_migrate_command_previews_then_moves_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from config import settings
    from engine.base import db as engine_db
    from webapp.cli import main

    url = f"sqlite://{tmp_path / 'cli.db'}"
    monkeypatch.setattr(settings, "DATABASE_URL", url)
    pack = tmp_path / "packs" / "review_lab"
    shutil.copytree(LAB, pack)

    async def prepare() -> None:
        await engine_db.create_schema(url)
        try:
            assert not (await import_org(ORG)).errors
            await deploy_pack(pack, "consultant", search=[pack.parent])
            await start("E1")
            await insert_check_step(pack)
        finally:
            await engine_db.disconnect()

    asyncio.run(prepare())
    assert main(["migrate", "1", "--to", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "instance 1: version 1 → 2: can migrate" in out
    assert "new step: Check goals" in out
    assert main(["migrate", "--all-of", "goal_review", "--to", "2"]) == 0
    assert "goal_review → version 2: migrated 1, refused 0" in capsys.readouterr().out
    assert main(["migrate", "1", "--to", "2"]) == 1
    assert "already on version 2" in capsys.readouterr().err
    assert main(["migrate", "--to", "2"]) == 1
    assert "give an INSTANCE id or --all-of" in capsys.readouterr().err


async def test_a_waiting_timer_keeps_its_moment_across_a_migration(
    db: str, tmp_path: Path
) -> None:
    from datetime import timedelta

    from engine.base import clock

    standard = tmp_path / "standard"
    shutil.copytree(Path(__file__).parents[2] / "processes" / "standard", standard)
    assert not (await import_org(ORG)).errors
    await deploy_pack(standard, "consultant", search=[tmp_path])
    with clock.frozen_at(clock.now() - timedelta(days=3)):
        instance = await runtime.start_process(
            "mid_year_review", subject="E1", actor=runtime.Actor.system()
        )
    assert instance.next_timer_at is not None
    bpmn = standard / "mid_year_review.bpmn"
    bpmn.write_text(bpmn.read_text() + "\n<!-- layout only -->\n")
    await deploy_pack(standard, "designer", search=[tmp_path])
    report = await migrate_all("mid_year_review", 1, 2, runtime.Actor.system())
    assert [p.instance_id for p in report.migrated] == [instance.id]
    row = await ProcessInstance.get(id=instance.id)
    assert row.next_timer_at == instance.next_timer_at
