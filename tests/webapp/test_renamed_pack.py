"""A pack that renames everything pages act on: feedback, development, calibration and score
card pages work unchanged when its `[features]` says what the new ids are."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from engine.base.models import Cycle, HumanTask, ProcessInstance, Record
from tests.support.html import row_cells
from tests.webapp.test_dashboards import FAMILY, OBJECTIVES, ORG, LoginHelper, TokenOf

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"

PROCESSES = {"feedback": "peer_notes", "development_plan": "growth_plan",
             "checkin": "one_to_one"}
TASKS = {"choose_feedback": "pick_note_kind", "write_feedback": "compose_note",
         "write_requested_feedback": "compose_asked_note", "agree_plan": "settle_growth_plan",
         "complete_action": "finish_growth_step", "record_checkin": "note_one_to_one"}
KINDS = {"final_rating": "overall_rating", "proposed_rating": "suggested_rating",
         "kpi_results": "kpi_outcome", "development_plan": "growth_record",
         "feedback": "peer_note"}
SIGNAL = ("ratings_released", "calibration_done")
POTENTIAL = "talent_outlook"

FEATURES = f"""
[features.feedback]
process = "peer_notes"
choose_task = "pick_note_kind"
write_task = "compose_note"
requested_task = "compose_asked_note"

[features.development]
plan_process = "growth_plan"
agree_task = "settle_growth_plan"
action_task = "finish_growth_step"
checkin_process = "one_to_one"
checkin_task = "note_one_to_one"

[features.calibration]
release_signal = "calibration_done"

[features.records]
final_rating = "overall_rating"
proposed_rating = "suggested_rating"
kpi_results = "kpi_outcome"
development_plan = "growth_record"
feedback = "peer_note"
potential_field = "{POTENTIAL}"
"""


def renamed_copy(into: Path) -> Path:
    """The standard pack with every process, task, signal and record kind pages use renamed
    (its own BPMN unit tests, which name the old ids, are left out)."""
    pack = into / "renamed"
    shutil.copytree(STANDARD, pack, ignore=shutil.ignore_patterns("tests"))
    for bpmn in pack.glob("*.bpmn"):
        text = bpmn.read_text(encoding="utf-8")
        for old, new in KINDS.items():
            text = text.replace(f'write_record("{old}"', f'write_record("{new}"')
        for old, new in TASKS.items():
            # Attributes (id, sourceRef, bpmnElement …) and lanes' flowNodeRef elements.
            text = text.replace(f'"{old}"', f'"{new}"').replace(f">{old}<", f">{new}<")
        if bpmn.stem in PROCESSES:
            text = text.replace(f'"{bpmn.stem}"', f'"{PROCESSES[bpmn.stem]}"')
        text = text.replace(f'name="{SIGNAL[0]}"', f'name="{SIGNAL[1]}"')
        bpmn.write_text(text, encoding="utf-8")
    manifest = (pack / "pack.toml").read_text(encoding="utf-8")
    manifest = manifest.replace('name = "standard"', 'name = "renamed"')
    for old, new in PROCESSES.items():
        manifest = manifest.replace(f"[processes.{old}]", f"[processes.{new}]")
    manifest = manifest.replace("record:final_rating.", "record:overall_rating.")
    manifest = manifest[: manifest.index("[features")] + FEATURES
    (pack / "pack.toml").write_text(manifest, encoding="utf-8")
    return pack


def test_the_copy_keeps_none_of_the_conventional_ids(tmp_path: Path) -> None:
    pack = renamed_copy(tmp_path)
    text = "\n".join(p.read_text(encoding="utf-8") for p in pack.glob("*.bpmn"))
    for old in PROCESSES:
        assert f'processRef="{old}"' not in text
    for old in TASKS:
        assert f'id="{old}"' not in text and f">{old}<" not in text
    for old in KINDS:
        assert f'write_record("{old}"' not in text
    assert f'name="{SIGNAL[0]}"' not in text


@pytest.fixture
async def renamed(db: str, tmp_path: Path) -> Cycle:
    """The organisation of the dashboard tests, the renamed pack deployed, and a year-end
    cycle: Eve's appraisal waits for the (renamed) release signal."""
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    pack = renamed_copy(tmp_path)
    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins()
    deployed = await deploy_pack(pack, "test", search=[tmp_path])
    assert deployed.pack == "renamed"
    assert {pid for pid, _ in deployed.deployed} >= set(PROCESSES.values())
    cycle = await Cycle.create(name="2026 year-end")
    hr, eve, morgan = [await runtime.actor_for(key) for key in ("H1", "E1", "M1")]
    instance = await runtime.start_process(
        "year_end_appraisal", subject="E1", actor=hr, cycle_id=cycle.id,
        data={"objectives": OBJECTIVES},
    )
    own = await HumanTask.get(instance_id=instance.id, bpmn_id="self_appraisal")
    actuals = [{**OBJECTIVES[0], "actual": 4}, {**OBJECTIVES[1], "actual": 6}]
    await runtime.complete_task(own.id, eve, {
        "objectives": actuals, "self_ratings": dict.fromkeys(FAMILY, 4),
        "self_summary": "Good year.", "development_wishes": "",
    })
    appraisal = await HumanTask.get(instance_id=instance.id, bpmn_id="manager_appraisal")
    await runtime.complete_task(appraisal.id, morgan, {
        "manager_ratings": dict.fromkeys(FAMILY, 4), "manager_rating": 3,
        "override_reason": "", "manager_comments": "Solid.",
    })
    return cycle


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


async def test_feedback_runs_on_the_renamed_process(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, renamed: Cycle
) -> None:
    await _as(client, login, "e1")
    token = await page_csrf("/feedback")
    given = await client.post("/feedback", data={
        "csrf_token": token, "mode": "give", "colleague": "M1", "topic": "Sprint demo",
    })
    assert given.status_code == 303
    write = await HumanTask.get(id=int(given.headers["location"].rsplit("/", 1)[1]))
    assert (write.process_id, write.bpmn_id) == ("peer_notes", "compose_note")
    token = await page_csrf(f"/tasks/{write.id}")
    done = await client.post(f"/tasks/{write.id}", data={
        "csrf_token": token, "feedback_text": "Clear demo, well paced.", "visibility": "shared",
    })
    assert done.status_code in (200, 303)
    assert (await Record.get(kind="peer_note")).data["text"] == "Clear demo, well paced."
    mine = await client.get("/feedback")
    assert "Feedback you gave" in mine.text and "Clear demo, well paced." in mine.text

    token = await page_csrf("/feedback")
    asked = await client.post("/feedback", data={
        "csrf_token": token, "mode": "request", "colleague": "E2",
        "request_message": "Was my RFC clear?",
    })
    assert asked.status_code == 303 and asked.headers["location"] == "/feedback"
    assert "Waiting for:" in (await client.get("/feedback")).text
    await _as(client, login, "e2")
    answer = await client.get("/feedback")
    assert "Eve Employee asks for your feedback" in answer.text

    # The score card reads the renamed feedback kind too.
    await _as(client, login, "m1")
    assert "Clear demo, well paced." in (await client.get("/scorecard")).text


async def test_development_runs_on_the_renamed_processes(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, renamed: Cycle
) -> None:
    from engine.workflow import runtime

    await _as(client, login, "m1")
    token = await page_csrf("/development")
    started = await client.post("/development/plan", data={"csrf_token": token, "person": "E1"})
    assert started.status_code == 303
    agree = await HumanTask.get(id=int(started.headers["location"].rsplit("/", 1)[1]))
    assert (agree.process_id, agree.bpmn_id) == ("growth_plan", "settle_growth_plan")
    await runtime.complete_task(agree.id, await runtime.actor_for("M1"), {
        "goals": "Lead design reviews.", "career_aspiration": "Tech lead",
        "actions": [{"goal": "Reviews", "action": "Write the review checklist",
                     "owner": "employee", "due_date": "2099-01-10", "training": ""}],
        "plan_review_date": "2099-07-01",
    })
    assert await Record.exists(kind="growth_record")
    team = await client.get("/development")
    assert 'id="team-development"' in team.text and "Eve Employee" in team.text

    await _as(client, login, "e1")
    page = await client.get("/development")
    assert "Write the review checklist" in page.text
    assert "Complete a development action" in page.text  # the renamed action step, listed

    token = await page_csrf("/development")
    checkin = await client.post("/development/checkin", data={"csrf_token": token})
    assert checkin.status_code == 303
    task = await HumanTask.get(id=int(checkin.headers["location"].rsplit("/", 1)[1]))
    assert (task.process_id, task.bpmn_id) == ("one_to_one", "note_one_to_one")


async def test_calibration_releases_with_the_renamed_signal_and_kinds(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, renamed: Cycle
) -> None:
    eve = await ProcessInstance.get(subject__key="E1")
    assert "|calibration_done|" in (eve.waiting_for or "")
    assert await Record.exists(kind="suggested_rating")
    await _as(client, login, "h1")
    board = await client.get(f"/hr/dashboard?cycle={renamed.id}")
    assert "Release ratings (1 waiting)" in board.text
    assert "Calibrate (1 waiting)" in board.text
    path = f"/hr/calibration?cycle={renamed.id}&population=all"
    page = await client.get(path)
    assert '<option value="3" selected>3 Meets expectations (proposed)</option>' in page.text
    token = await page_csrf(path)
    field, reason = f"rating-{eve.subject_id}", f"reason-{eve.subject_id}"  # type: ignore[attr-defined]
    released = await client.post(path, data={
        "csrf_token": token, field: "4", reason: "Carried the platform migration.",
    })
    assert released.status_code == 303
    after = await client.get(released.headers["location"])
    assert "Released 1 rating in organisation, 1 changed in calibration." in after.text
    assert await HumanTask.exists(instance_id=eve.id, bpmn_id="appraisal_discussion")

    token = await page_csrf(f"/hr/dashboard?cycle={renamed.id}")
    again = await client.post(f"/hr/dashboard/release?cycle={renamed.id}",
                              data={"csrf_token": token, "population": "all"})
    assert "No appraisal in organisation was waiting" in (
        await client.get(again.headers["location"])
    ).text


async def test_score_card_and_team_read_the_renamed_record_kinds(
    client: httpx.AsyncClient, login: LoginHelper, renamed: Cycle
) -> None:
    from engine.people.directory import person_by_key

    eve = await person_by_key("E1")
    assert eve is not None
    await Record.create(kind="kpi_outcome", person_id=eve.id, cycle=renamed, data={
        "objectives": [{**OBJECTIVES[0], "actual": 5}, {**OBJECTIVES[1], "actual": 5}],
        "weighted_score": 4.2,
    })
    await Record.create(kind="overall_rating", person_id=eve.id, cycle=renamed, data={
        "rating": 4, "label": "Exceeds expectations", POTENTIAL: "high",
    })
    await _as(client, login, "e1")
    card = await client.get("/scorecard")
    assert "Ship the appraisal module" in card.text and "125 %" in card.text
    assert "Exceeds expectations" in card.text

    await _as(client, login, "m1")
    team = await client.get("/team")
    assert row_cells(team.text, "Eve Employee", within="ninebox-table")[:2] == ["High", "High"]

    await _as(client, login, "h1")
    export = await client.get(f"/hr/dashboard/export.csv?cycle={renamed.id}")
    assert export.status_code == 200
    assert "Exceeds expectations" in export.text
