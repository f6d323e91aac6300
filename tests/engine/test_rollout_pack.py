"""The roll-out pack installed beside the standard pack: both deploy in one installation, the
pages that read "the pack" still read the standard one, and the programme's page shows where
each of its eight steps stands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.base.models import HumanTask
from engine.packs.definitions import deploy_pack, latest
from engine.packs.loading import discover_packs, load_pack
from engine.packs.translations import untranslated
from engine.people.org_import import import_org
from engine.performance.deployed_pack import current_features, cycle_pack, newest_pack
from engine.talent.programme import programme, programme_ids
from engine.workflow import runtime
from tests.engine.test_dashboards import ORG

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
ROLLOUT = PROCESSES / "rollout"
# The dashboards' org chart with Dora Dev on the steering committee.
STEERING_ORG = ORG.replace("D1,Dora Dev,,Engineer,engineering,ENG,Engineering,ROOT,EM,,,",
                           "D1,Dora Dev,,Engineer,engineering,ENG,Engineering,ROOT,EM,steering,,")


@pytest.fixture
async def installed(db: str) -> None:
    report = await import_org(STEERING_ORG)
    assert not report.errors
    await deploy_pack(PROCESSES / "standard", "test", search=[PROCESSES])


async def open_task(instance_id: int) -> HumanTask:
    task = await HumanTask.get_or_none(instance_id=instance_id, status="ready")
    assert task is not None
    return task


async def complete(instance_id: int, bpmn_id: str, key: str, data: dict[str, Any]) -> None:
    task = await open_task(instance_id)
    assert task.bpmn_id == bpmn_id
    await runtime.complete_task(task.id, await runtime.actor_for(key), data)


def step_data(checklist: list[str], what: str) -> dict[str, Any]:
    return {**{item: True for item in checklist},
            "evidence": [{"item": what, "link": "https://intranet.example.com/" + what}],
            "notes": f"{what} is done."}


def test_the_pack_is_valid_complete_in_german_and_declares_its_programme() -> None:
    pack = load_pack(ROLLOUT, discover_packs([PROCESSES]))
    assert pack.extends is None
    rollout = pack.features.rollout
    assert rollout.process == "rollout_programme"
    assert [s.label for s in rollout.steps] == [
        "Create urgency", "Guiding coalition", "Vision and policy", "Communication",
        "Empowerment", "Short-term wins", "Consolidation", "Anchoring"]
    assert [s.review for s in rollout.steps if s.review] == [
        "review_vision", "review_wins", "review_anchoring"]
    sources = {rel: pack.read_text(rel) for rel in pack.files
               if rel.endswith((".bpmn", ".json", ".toml"))}
    sources["pack.toml"] = (ROLLOUT / "pack.toml").read_text(encoding="utf-8")
    assert untranslated(sources, "de") == []


async def test_deployed_beside_the_standard_pack_it_changes_nothing_pages_read(
    installed: None,
) -> None:
    before = await newest_pack()
    assert before.name == "standard" and "rating_scale" in before.catalogs
    report = await deploy_pack(ROLLOUT, "test", search=[PROCESSES])
    assert report.deployed == [("rollout_programme", 1)]
    # The programme is started before any cycle's instance exists.
    lead = await runtime.actor_for("HA")
    started = await runtime.start_process("rollout_programme", subject="HA", actor=lead)
    assert (await latest("rollout_programme")).pack == "rollout"
    for pack in (await newest_pack(), await cycle_pack(None)):
        assert pack.name == "standard"
        assert pack.catalogs == before.catalogs
    assert await current_features() == before.features
    assert await programme_ids() == [started.id]


async def test_the_programme_page_follows_each_step_and_a_review_sending_one_back(
    installed: None,
) -> None:
    await deploy_pack(ROLLOUT, "test", search=[PROCESSES])
    started = await runtime.start_process(
        "rollout_programme", subject="HA", actor=await runtime.actor_for("HA"))
    await complete(started.id, "set_up_programme", "HA", {
        "programme_name": "Performance that matters", "sponsor": "CEO",
        "pilot_units": "Engineering", "target_go_live": "2099-01-01"})
    await complete(started.id, "create_urgency", "HA", step_data(
        ["case_written", "current_figures", "leadership_briefed"], "case-for-change"))
    coalition = await open_task(started.id)
    # The sponsor named on the set-up form holds the coalition step, not the programme lead.
    assert coalition.assignee_id == (await runtime.actor_for("CEO")).person_id
    await complete(started.id, "build_coalition", "CEO", step_data(
        ["members_named", "divisions_covered", "steering_group_set", "meeting_rhythm"],
        "coalition"))
    await complete(started.id, "form_vision", "HA", step_data(
        ["vision_written", "policy_written", "timeline_set"], "vision-draft"))
    review = await open_task(started.id)
    assert review.candidate_group == "steering"
    await complete(started.id, "review_vision", "D1", {
        "decision": "send_back", "reason": "Name the due dates of the mid-year review."})

    shown = await programme(started.id)
    assert [s.state for s in shown.steps] == [
        "done", "done", "current", "upcoming", "upcoming", "upcoming", "upcoming", "upcoming"]
    urgency, sponsor_step, vision, communication = shown.steps[:4]
    assert urgency.evidence[0].item == "case-for-change" and urgency.evidence[0].is_link
    assert urgency.notes == "case-for-change is done." and urgency.completed_by == "Hugo Admin"
    assert sponsor_step.completed_by == "Cleo Chief"  # the sponsor named at the set-up
    assert vision.sent_back == 1 and not vision.in_review and vision.due_at is not None
    assert vision.open_task_id == (await open_task(started.id)).id
    answers = {a.label: a.text for a in vision.reviews[0].answers}
    assert answers["Reason"] == "Name the due dates of the mid-year review."
    assert vision.reviews[0].by == "Dora Dev"
    assert (communication.owner, communication.owner_is_lane, communication.due_days) == (
        "HR", True, 21)
    assert {a.label: a.text for a in shown.about}["Programme name"] == "Performance that matters"
    assert shown.done == 2 and shown.current is vision

    await complete(started.id, "form_vision", "HA", step_data(
        ["vision_written", "policy_written", "timeline_set"], "vision"))
    await complete(started.id, "review_vision", "D1", {"decision": "approve", "reason": ""})
    again = await programme(started.id)
    assert [s.state for s in again.steps[:4]] == ["done", "done", "done", "current"]
    assert again.steps[2].evidence[0].item == "vision"
    assert again.steps[2].sent_back == 1 and len(again.steps[2].reviews) == 2
    assert again.steps[2].reviews[1].answers[0].text == "Approve: the programme moves on"


async def test_the_demo_runs_a_programme_three_steps_in_beside_the_standard_cycles(
    db: str,
) -> None:
    from engine.operations import demo
    from engine.people.directory import current_directory
    from engine.performance.cycle_choice import cycles_newest_first
    from engine.talent.adoption import adoption_dashboard
    from tests.engine.test_dashboards import Someone

    lines = await demo.seed([PROCESSES])
    assert any("Roll-out programme" in line for line in lines)
    [shown_id] = await programme_ids()
    shown = await programme(shown_id)
    assert [s.state for s in shown.steps[:4]] == ["done", "done", "done", "current"]
    assert all(s.evidence for s in shown.steps[:3])
    assert shown.steps[1].completed_by == "Ada Lovelace"  # the CEO, the sponsor
    assert (await newest_pack()).name == "standard"
    member = (await current_directory()).person("E1009")
    assert member is not None and "steering" in member.groups
    year_end = (await cycles_newest_first())[0]
    adoption = await adoption_dashboard(year_end.id, Someone(member.id, frozenset(member.groups)))
    assert adoption.rows[0].people > 50
    assert adoption.totals["objectives_on_time"].whole > 50
    assert adoption.previous is not None  # the demo's earlier year-ends
