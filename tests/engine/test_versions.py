"""Diffs between deployed versions, version history and sources of any version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.base.errors import NotFound
from engine.packs.definitions import deploy_pack, pack_sources
from engine.packs.loading import load_pack
from engine.packs.versions import diff_versions, version_history, version_sources
from engine.people.org_import import import_org
from engine.workflow import runtime
from tests.support.org import ORG_EVE, ORG_MORGAN_TOP, org_csv

LAB = Path(__file__).parent / "archives" / "review_lab"
ORG = org_csv(ORG_MORGAN_TOP, ORG_EVE)
CHECK_STEP = """<bpmn:sequenceFlow id="flow_drafted" sourceRef="draft_goals"
      targetRef="check_goals" />
    <bpmn:manualTask id="check_goals" name="Check goals">
      <bpmn:incoming>flow_drafted</bpmn:incoming>
      <bpmn:outgoing>flow_checked</bpmn:outgoing>
    </bpmn:manualTask>
    <bpmn:sequenceFlow id="flow_checked" sourceRef="check_goals" targetRef="review_goals" />"""


@pytest.fixture
def sources() -> dict[str, str]:
    return pack_sources(load_pack(LAB), "goal_review")


def with_check_step(bpmn: str) -> str:
    bpmn = bpmn.replace(
        '<bpmn:sequenceFlow id="flow_drafted" sourceRef="draft_goals" targetRef="review_goals" />',
        CHECK_STEP,
    )
    return bpmn.replace(
        "<bpmn:incoming>flow_drafted</bpmn:incoming>\n      <bpmn:outgoing>flow_reviewed",
        "<bpmn:incoming>flow_checked</bpmn:incoming>\n      <bpmn:outgoing>flow_reviewed",
    )


def test_an_inserted_step_shows_as_added_and_its_neighbours_as_rewired(sources) -> None:
    new = {**sources, "goal_review.bpmn": with_check_step(sources["goal_review.bpmn"])}
    diff = diff_versions(sources, new, "goal_review")
    assert [(e.element_id, e.type, e.name) for e in diff.added] == [
        ("check_goals", "manual task", "Check goals"), ("flow_checked", "sequence flow", ""),
    ]
    flow = diff.changed_element("flow_drafted")
    assert flow is not None and flow.changes["route"] == (
        "draft_goals → review_goals", "draft_goals → check_goals"
    )
    assert "added manual task 'Check goals' (check_goals)" in diff.summary()


def test_a_changed_task_lists_name_lane_form_and_scripts(sources) -> None:
    bpmn = sources["goal_review.bpmn"]
    bpmn = bpmn.replace('name="Review goals"', 'name="Approve goals"')
    bpmn = bpmn.replace('value="review-schema.json"', 'value="approval-schema.json"')
    bpmn = bpmn.replace(
        '<spiffworkflow:property name="formJsonSchemaFilename" value="approval-schema.json" />\n'
        "        </spiffworkflow:properties>",
        '<spiffworkflow:property name="formJsonSchemaFilename" value="approval-schema.json" />\n'
        "        </spiffworkflow:properties>\n"
        "        <spiffworkflow:postScript>approved = True</spiffworkflow:postScript>",
    )
    bpmn = bpmn.replace(
        "<bpmn:flowNodeRef>review_goals</bpmn:flowNodeRef>", ""
    ).replace(
        "<bpmn:flowNodeRef>end</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>end</bpmn:flowNodeRef><bpmn:flowNodeRef>review_goals</bpmn:flowNodeRef>",
    )
    diff = diff_versions(sources, {**sources, "goal_review.bpmn": bpmn}, "goal_review")
    change = diff.changed_element("review_goals")
    assert change is not None
    assert change.changes["name"] == ("Review goals", "Approve goals")
    assert change.changes["lane"] == ("Manager", "Employee")
    assert change.changes["form"] == ("review-schema.json", "approval-schema.json")
    assert change.changes["post-script"] == (None, "approved = True")
    assert not diff.added and not diff.removed


def test_form_fields_added_removed_and_changed_are_named(sources) -> None:
    schema = json.loads(sources["forms/goals-schema.json"])
    del schema["properties"]["comments"]
    schema["properties"]["summary"] = {"type": "string"}
    schema["properties"]["goals"]["items"]["properties"]["weight"]["maximum"] = 100
    new = {**sources, "forms/goals-schema.json": json.dumps(schema)}
    diff = diff_versions(sources, new, "goal_review")
    [form] = diff.forms
    assert form.file == "forms/goals-schema.json"
    assert form.added == ["summary"] and form.removed == ["comments"]
    assert form.changed == {"goals[].weight": ["maximum"]}
    assert not diff.changed  # the BPMN did not change


def test_a_layout_only_change_is_reported_as_such(sources) -> None:
    bpmn = sources["goal_review.bpmn"].replace("<bpmn:process", "\n\n  <bpmn:process")
    diff = diff_versions(sources, {**sources, "goal_review.bpmn": bpmn}, "goal_review")
    assert not diff.is_empty
    assert diff.summary() == ["goal_review.bpmn: changed (layout or text only)"]
    assert diff_versions(sources, sources, "goal_review").summary() == ["no changes"]


def test_decision_rules_are_compared() -> None:
    table = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x">
  <decision id="band" name="Band"><decisionTable id="t">
    <input id="i"><inputExpression id="ie"><text>score</text></inputExpression></input>
    <output id="o" name="band" />
    <rule id="r1"><inputEntry id="e1"><text>&gt;= 3</text></inputEntry>
      <outputEntry id="o1"><text>"high"</text></outputEntry></rule>
  </decisionTable></decision>
</definitions>"""
    changed = table.replace("&gt;= 3", "&gt;= 4")
    diff = diff_versions({"band.dmn": table}, {"band.dmn": changed}, "p")
    change = diff.changed_element("band")
    assert change is not None and list(change.changes) == ["rules"]
    assert change.changes["rules"] == ([[">= 3", '"high"']], [[">= 4", '"high"']])


@pytest.fixture
async def two_versions(db: str, tmp_path: Path) -> Path:
    assert not (await import_org(ORG)).errors
    pack = tmp_path / "review_lab"
    shutil.copytree(LAB, pack)
    await deploy_pack(pack, "ada", search=[tmp_path])
    await runtime.start_process("goal_review", subject="E1", actor=runtime.Actor.system())
    bpmn = pack / "goal_review.bpmn"
    bpmn.write_text(with_check_step(bpmn.read_text()))
    await deploy_pack(pack, "grace", search=[tmp_path])
    return pack


async def test_history_lists_versions_newest_first_with_who_changes_and_instances(
    two_versions: Path,
) -> None:
    second, first = await version_history("review-lab", "goal_review")
    assert (second.version, second.deployed_by, second.running) == (2, "grace", 0)
    assert (first.version, first.deployed_by, first.instances) == (1, "ada", {"running": 1})
    assert first.diff is None
    assert second.diff is not None
    assert [e.element_id for e in second.diff.added] == ["check_goals", "flow_checked"]


async def test_sources_of_any_version_can_be_read_again(two_versions: Path) -> None:
    second, first = await version_history("review-lab", "goal_review")
    old = await version_sources(first.definition_id)
    assert "check_goals" not in old["goal_review.bpmn"]
    assert "check_goals" in (await version_sources(second.definition_id))["goal_review.bpmn"]
    with pytest.raises(NotFound):
        await version_sources(9999)
