"""Score cards, the team and HR dashboards, goals: what each role sees, and 404 for the rest."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.base.models import Cycle, HumanTask, ProcessInstance, Record
from tests.support.org import TEAM as ORG

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the appraisal module", "kpi": "Modules shipped",
     "measure_type": "higher_is_better", "baseline": 0, "target": 4, "weight": 60,
     "aligned_goal": "Launch Sightline 1.0"},
    {"kra": "Quality", "title": "Cut incident count", "kpi": "Incidents",
     "measure_type": "lower_is_better", "baseline": 10, "target": 5, "weight": 40},
]
FAMILY = ["communication", "collaboration", "delivering_results", "technical_mastery",
          "problem_solving"]

LoginHelper = Callable[..., Awaitable[httpx.Response]]
TokenOf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def org(db: str) -> Cycle:
    """A small engineering unit, the standard pack, and a year-end cycle started for both
    engineers: Eve's appraisal waits for HR's calibration release, Eli's for his self-review."""
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026 year-end")
    hr, eve, morgan = [await runtime.actor_for(key) for key in ("H1", "E1", "M1")]
    instances = [
        await runtime.start_process(
            "year_end_appraisal", subject=key, actor=hr, cycle_id=cycle.id,
            data={"objectives": OBJECTIVES},
        )
        for key in ("E1", "E2")
    ]
    own = await HumanTask.get(instance_id=instances[0].id, bpmn_id="self_appraisal")
    actuals = [{**OBJECTIVES[0], "actual": 4}, {**OBJECTIVES[1], "actual": 6}]
    await runtime.complete_task(own.id, eve, {
        "objectives": actuals, "self_ratings": dict.fromkeys(FAMILY, 4),
        "self_summary": "Good year.", "development_wishes": "",
    })
    appraisal = await HumanTask.get(instance_id=instances[0].id, bpmn_id="manager_appraisal")
    await runtime.complete_task(appraisal.id, morgan, {
        "manager_ratings": dict.fromkeys(FAMILY, 4), "manager_rating": 3,
        "override_reason": "", "manager_comments": "Solid.",
    })
    return cycle


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    answer = await login(username)
    assert answer.status_code == 303


async def _records(person_key: str, cycle: Cycle, **kinds: dict[str, Any]) -> None:
    from engine.people.directory import person_by_key

    person = await person_by_key(person_key)
    assert person is not None
    for kind, data in kinds.items():
        await Record.create(kind=kind, person_id=person.id, cycle=cycle, data=data)


# --- score card ------------------------------------------------------------------------------


async def test_an_employee_reads_their_score_card_with_kpis_rating_and_shared_feedback(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle
) -> None:
    await _records(
        "E1", org,
        kpi_results={"objectives": [{**OBJECTIVES[0], "actual": 5}, {**OBJECTIVES[1],
                                                                    "actual": 5}]},
        final_rating={"rating": 4, "label": "Exceeds expectations"},
        feedback={"from_id": 2, "about_id": 3, "text": "Great demo.", "visibility": "shared"},
    )
    await _records("E1", org, feedback={"from_id": 2, "about_id": 3,
                                        "text": "Watch the deadlines.", "visibility": "manager"})
    await _as(client, login, "e1")
    page = await client.get("/scorecard")
    assert page.status_code == 200
    assert "My score card" in page.text
    assert "Ship the appraisal module" in page.text and "125 %" in page.text
    assert "Exceeds expectations" in page.text
    assert "Great demo." in page.text
    assert "Watch the deadlines." not in page.text  # for managers only
    assert 'id="trend-chart"' in page.text and "chart.umd.min.js" in page.text


async def test_managers_and_hr_open_a_reports_score_card_and_peers_get_404(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle
) -> None:
    await _records("E1", org, feedback={"from_id": 4, "about_id": 3,
                                        "text": "Watch the deadlines.", "visibility": "manager"})
    await _as(client, login, "m1")
    page = await client.get("/scorecard/E1")
    assert page.status_code == 200 and "Eve Employee" in page.text
    assert "Watch the deadlines." in page.text
    await _as(client, login, "h1")
    assert (await client.get("/scorecard/E1")).status_code == 200
    await _as(client, login, "e2")
    assert (await client.get("/scorecard/E1")).status_code == 404
    assert (await client.get("/scorecard/nobody")).status_code == 404
    assert (await client.get("/scorecard/E1?cycle=999")).status_code == 404


# --- team ------------------------------------------------------------------------------------


async def test_the_team_page_shows_where_each_report_stands(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle
) -> None:
    await _as(client, login, "m1")
    page = await client.get("/team")
    assert page.status_code == 200
    assert "Eve Employee" in page.text and "Eli Other" in page.text
    assert "Self-appraisal" in page.text  # Eli's step, waiting on Eli
    assert 'id="ninebox"' in page.text
    await _as(client, login, "e1")
    assert (await client.get("/team")).status_code == 404


# --- HR dashboard ----------------------------------------------------------------------------


async def test_hr_releases_a_populations_ratings_from_the_dashboard(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _as(client, login, "h1")
    page = await client.get(f"/hr/dashboard?cycle={org.id}")
    assert page.status_code == 200
    assert "Year-end appraisal" in page.text
    assert "Release ratings (1 waiting)" in page.text
    token = await page_csrf("/hr/dashboard")
    released = await client.post(
        f"/hr/dashboard/release?cycle={org.id}",
        data={"csrf_token": token, "population": "all", "label": "organisation"},
    )
    assert released.status_code == 303
    after = await client.get(released.headers["location"])
    assert "Ratings released for 1 appraisal" in after.text
    assert "Release ratings (0 waiting)" in after.text
    eve = await ProcessInstance.get(subject__key="E1")
    assert await HumanTask.exists(instance_id=eve.id, bpmn_id="appraisal_discussion")


async def _eve() -> ProcessInstance:
    return await ProcessInstance.get(subject__key="E1", process_id="year_end_appraisal")


async def test_the_calibration_page_lists_the_appraisals_waiting_for_the_release(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle
) -> None:
    await _as(client, login, "h1")
    board = await client.get(f"/hr/dashboard?cycle={org.id}")
    assert "Proposed, waiting for the release" in board.text
    assert f"/hr/calibration?cycle={org.id}&amp;population=all" in board.text
    assert "Calibrate (1 waiting)" in board.text
    page = await client.get(f"/hr/calibration?cycle={org.id}&population=all")
    assert page.status_code == 200
    eve = await _eve()
    assert "Eve Employee" in page.text and "Morgan Manager" in page.text
    assert "Eli Other" not in page.text  # still at his self-appraisal
    # Eve's KPIs: 4 of 4 modules (100 %, a 3) and 6 incidents from 10 towards 5 (80 %, a 2).
    assert "2.60" in page.text and "4.00" in page.text
    assert f'name="rating-{eve.subject_id}"' in page.text
    assert '<option value="3" selected>3 Meets expectations (proposed)</option>' in page.text
    assert "1 Does not meet expectations" in page.text
    assert "Release 1 rating" in page.text
    assert 'id="calibration-proposed"' in page.text


async def test_hr_changes_a_proposed_rating_with_a_reason_and_releases_it(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    from engine.base.models import AuditEvent
    from engine.workflow import runtime

    eve = await _eve()
    field = f"rating-{eve.subject_id}"
    reason = f"reason-{eve.subject_id}"
    await _as(client, login, "h1")
    path = f"/hr/calibration?cycle={org.id}&population=all"
    token = await page_csrf(path)
    released = await client.post(path, data={
        "csrf_token": token, field: "4", reason: "Carried the platform migration.",
    })
    assert released.status_code == 303
    after = await client.get(released.headers["location"])
    assert "Released 1 rating in organisation, 1 changed in calibration." in after.text
    assert "Nothing to calibrate" in after.text

    event = await AuditEvent.get(action="ratings_calibrated")
    assert event.actor == "person:H1"
    assert event.detail["changes"] == [{
        "person_id": eve.subject_id, "name": "Eve Employee",
        "instance_id": eve.id, "proposed": 3, "calibrated": 4,
        "reason": "Carried the platform migration.",
    }]

    # The manager's discussion says calibration changed the rating; the final rating is it.
    discussion = await HumanTask.get(instance_id=eve.id, bpmn_id="appraisal_discussion")
    await _as(client, login, "m1")
    task_page = await client.get(f"/tasks/{discussion.id}")
    assert "calibration changed it from your proposed" in task_page.text
    hr, employee, morgan = [await runtime.actor_for(key) for key in ("H1", "E1", "M1")]
    await runtime.complete_task(discussion.id, morgan, {
        "discussion_date": "2027-01-20", "discussion_notes": "Explained the calibration.",
    })
    signoff = await HumanTask.get(instance_id=eve.id, bpmn_id="employee_signoff")
    await runtime.complete_task(signoff.id, employee, {
        "signoff_decision": "agree", "signoff_comments": "",
        "signoff_signature": {"acknowledged": True, "name": "Eve Employee"},
    })
    approval = await HumanTask.get(instance_id=eve.id, bpmn_id="hr_final_approval")
    await runtime.complete_task(approval.id, hr, {"final_approval": True})
    final = await Record.get(instance_id=eve.id, kind="final_rating")
    assert (final.data["manager_rating"], final.data["calibrated_rating"],
            final.data["rating"]) == (3, 4, 4)


async def test_a_change_without_a_reason_or_off_the_scale_releases_nothing_and_keeps_the_input(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    eve = await _eve()
    field = f"rating-{eve.subject_id}"
    reason = f"reason-{eve.subject_id}"
    await _as(client, login, "h1")
    path = f"/hr/calibration?cycle={org.id}&population=all"
    token = await page_csrf(path)

    no_reason = await client.post(path, data={"csrf_token": token, field: "5", reason: " "})
    assert no_reason.status_code == 422
    assert "Say why the rating changes." in no_reason.text
    assert "Nothing was released" in no_reason.text
    assert '<option value="5" selected>5 Outstanding</option>' in no_reason.text

    off_scale = await client.post(path, data={
        "csrf_token": token, field: "9", reason: "Best ever.",
    })
    assert off_scale.status_code == 422
    assert "Choose a rating from the scale." in off_scale.text
    assert 'value="Best ever."' in off_scale.text
    assert '<option value="9" selected>9 (not on the scale)</option>' in off_scale.text

    stranger = await client.post(path, data={
        "csrf_token": token, field: "4", reason: "Strong year.", "rating-999": "3",
    })
    assert stranger.status_code == 422
    assert "not waiting for the release in this population" in stranger.text
    assert 'value="Strong year."' in stranger.text

    eli = await ProcessInstance.get(subject__key="E2")
    not_waiting = await client.post(path, data={
        "csrf_token": token, f"rating-{eli.subject_id}": "3",
    })
    assert not_waiting.status_code == 422

    assert not await HumanTask.exists(bpmn_id="appraisal_discussion")
    assert (await client.get(path)).text.count("Eve Employee") >= 1


async def test_the_calibration_page_is_404_for_others_and_for_unknown_populations(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    eve = await _eve()
    await _as(client, login, "m1")
    path = f"/hr/calibration?cycle={org.id}&population=all"
    assert (await client.get(path)).status_code == 404
    token = await page_csrf("/team")
    refused = await client.post(path, data={
        "csrf_token": token, f"rating-{eve.subject_id}": "3",
    })
    assert refused.status_code == 404
    assert not await HumanTask.exists(bpmn_id="appraisal_discussion")
    await _as(client, login, "h1")
    for population in ("unit:999", "team:1", "unit:x"):
        answer = await client.get(f"/hr/calibration?cycle={org.id}&population={population}")
        assert answer.status_code == 404
    assert (await client.get("/hr/calibration?cycle=999&population=all")).status_code == 404


async def test_the_hr_dashboard_and_its_actions_are_404_for_everyone_else(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _as(client, login, "m1")
    for path in ("/hr/dashboard", "/hr/dashboard/export.csv", "/hr/dashboard/export.xlsx"):
        assert (await client.get(path)).status_code == 404
    token = await page_csrf("/team")
    refused = await client.post(
        "/hr/dashboard/release", data={"csrf_token": token, "population": "all"}
    )
    assert refused.status_code == 404
    eve = await ProcessInstance.get(subject__key="E1")
    assert (await client.post(f"/hr/dashboard/retry/{eve.id}",
                              data={"csrf_token": token})).status_code == 404
    assert not await HumanTask.exists(bpmn_id="appraisal_discussion")


async def test_hr_exports_the_cycle_as_csv_and_xlsx(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle
) -> None:
    from openpyxl import load_workbook

    await _as(client, login, "h1")
    csv = await client.get(f"/hr/dashboard/export.csv?cycle={org.id}")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "sightline-2026-year-end.csv" in csv.headers["content-disposition"]
    assert "Eve Employee" in csv.text and "Eli Other" in csv.text
    xlsx = await client.get(f"/hr/dashboard/export.xlsx?cycle={org.id}")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert {"Funnel", "Calibration"} <= set(book.sheetnames)
    results = [row for row in book.worksheets[0].values]
    assert any("Eve Employee" in row for row in results)


async def test_a_retry_from_the_dashboard_reports_an_instance_that_is_not_in_error(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _as(client, login, "h1")
    token = await page_csrf("/hr/dashboard")
    eve = await ProcessInstance.get(subject__key="E1")
    answer = await client.post(f"/hr/dashboard/retry/{eve.id}", data={"csrf_token": token})
    assert answer.status_code == 303
    page = await client.get(answer.headers["location"])
    assert "Retry failed" in page.text and "not in error" in page.text


# --- goals -----------------------------------------------------------------------------------


async def test_hr_adds_a_goal_and_everyone_sees_its_progress(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _records("E1", org, kpi_results={"objectives": [{**OBJECTIVES[0], "actual": 4}]})
    await _as(client, login, "h1")
    token = await page_csrf("/goals")
    added = await client.post(f"/goals?cycle={org.id}", data={
        "csrf_token": token, "title": "Launch Sightline 1.0", "org_unit_id": "", "weight": "2",
    })
    assert added.status_code == 303
    page = await client.get(added.headers["location"])
    assert "Goal “Launch Sightline 1.0” added." in page.text
    assert 'id="goal-tree"' in page.text and "100 %" in page.text
    blank = await client.post(f"/goals?cycle={org.id}", data={"csrf_token": token, "title": " "})
    assert blank.status_code == 422 and "Give the goal a title." in blank.text

    await _as(client, login, "e1")
    mine = await client.get("/goals")
    assert mine.status_code == 200 and "Launch Sightline 1.0" in mine.text
    assert "Add a goal" not in mine.text
    token = await page_csrf("/goals")
    refused = await client.post(f"/goals?cycle={org.id}", data={"csrf_token": token,
                                                              "title": "Mine"})
    assert refused.status_code == 404
