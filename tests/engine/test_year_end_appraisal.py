"""The standard year-end appraisal run through the pack-test runner: what it records, how HR's
release reaches it (the `signals` case key) and what happens when it never comes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.base.models import HumanTask, Record
from engine.packs.definitions import deploy_pack
from engine.packs.pack_tests import CaseResult, run_pack_tests
from engine.people.org_import import import_org
from engine.workflow import runtime
from tests.support.org import ORG_DANA, ORG_ELI, ORG_EVE_SALES, ORG_HANA, ORG_MORGAN, org_csv

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"
CASES = "tests/test_year_end_appraisal.json"
ORG = org_csv(ORG_DANA, ORG_MORGAN, ORG_EVE_SALES, ORG_ELI, ORG_HANA)
AGREED = [
    {"kra": "Revenue", "title": "Grow bookings", "kpi": "Bookings", "measure_type":
     "higher_is_better", "baseline": 0, "target": 100, "weight": 60},
    {"kra": "Deal quality", "title": "Hold discounts", "kpi": "Average discount",
     "measure_type": "lower_is_better", "baseline": 20, "target": 10, "weight": 40},
]


@pytest.fixture(scope="module")
def results() -> dict[str, CaseResult]:
    report = run_pack_tests(STANDARD)
    return {r.case: r for r in report.results if r.file == "test_year_end_appraisal.json"}


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    """A scratch copy of the standard pack whose year-end cases a test may rewrite."""
    return Path(shutil.copytree(STANDARD, tmp_path / "standard"))


def records(result: CaseResult, kind: str) -> list[dict[str, Any]]:
    return [r["data"] for r in result.records if r["kind"] == kind]


def rewrite_case(pack: Path, case: str, **changes: Any) -> None:
    path = pack / CASES
    cases = json.loads(path.read_text())
    cases = {case: {**cases[case], **changes}}
    for key, value in changes.items():
        if value is None:
            del cases[case][key]
    path.write_text(json.dumps(cases))


def test_every_year_end_case_passes(results):
    assert results and all(r.passed for r in results.values()), [
        (r.case, r.task, r.message) for r in results.values() if not r.passed
    ]


def test_final_rating_record_carries_the_scores_behind_it(results):
    [final] = records(results["agree_without_gap"], "final_rating")
    # KPI 3.2 and manager competencies 3.2 blend 70/30 to 3.2 again.
    assert final == {
        "rating": 3,
        "label": "Meets expectations",
        "kpi_score": 3.2,
        "manager_rating": 3,
        "calibrated_rating": 3,
        "self_competency_avg": 3.8,
        "manager_competency_avg": 3.2,
        "blended_score": 3.2,
        "signoff": "agree",
    }
    [competencies] = records(results["agree_without_gap"], "competency_ratings")
    assert competencies["job_family"] == "engineering"
    assert competencies["ratings"]["problem_solving"] == 4
    [kpis] = records(results["agree_without_gap"], "kpi_results")
    assert [o["kpi_score"] for o in kpis["objectives"]] == [4, 2, 3]


def test_hr_amendment_becomes_the_final_rating(results):
    [final] = records(results["disagree_and_hr_amends_the_rating"], "final_rating")
    assert (final["rating"], final["label"], final["signoff"]) == (4, "Exceeds expectations",
                                                                   "disagree")


def test_calibrated_rating_from_the_release_replaces_the_managers(results):
    [final] = records(results["gap_mediated_then_revised_by_the_manager"], "final_rating")
    assert (final["manager_rating"], final["calibrated_rating"], final["rating"]) == (4, 3, 3)


def test_an_unsigned_appraisal_is_recorded_as_not_signed(results):
    [final] = records(results["unsigned_appraisal_goes_to_hr_after_14_days"], "final_rating")
    assert final["signoff"] == "not_signed"


def test_without_the_release_the_appraisal_waits_for_calibration(pack_copy):
    rewrite_case(pack_copy, "agree_without_gap", signals=None)
    [result] = [r for r in run_pack_tests(pack_copy).results if r.case == "agree_without_gap"]
    assert not result.passed
    assert result.message == "the process did not finish; it waits at wait_for_calibration"


def test_a_signal_nobody_waits_for_fails_the_case(pack_copy):
    rewrite_case(pack_copy, "agree_without_gap", signals=["ratings_released", "year_closed"])
    [result] = [r for r in run_pack_tests(pack_copy).results if r.case == "agree_without_gap"]
    assert not result.passed
    assert result.message == "signal year_closed was never waited for, so it was not delivered"


def test_a_malformed_signal_entry_is_reported(pack_copy):
    rewrite_case(pack_copy, "agree_without_gap", signals=[{"payload": {}}])
    [result] = [r for r in run_pack_tests(pack_copy).results if r.case == "agree_without_gap"]
    assert not result.passed
    assert result.message.startswith("a signal must be a name or")


# --------------------------------------------------------------------------- on the runtime


@pytest.fixture
async def deployed_standard(db: str) -> None:
    report = await import_org(ORG)
    assert not report.errors, report.errors
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])


async def open_task(instance_id: int, bpmn_id: str) -> HumanTask:
    return await HumanTask.get(instance_id=instance_id, bpmn_id=bpmn_id, status="ready")


async def test_a_year_end_appraisal_runs_on_the_engine_to_a_final_rating_record(
    deployed_standard: None,
) -> None:
    hr, eve, morgan = [await runtime.actor_for(key) for key in ("H1", "E1", "M1")]
    inst, other = [
        await runtime.start_process(
            "year_end_appraisal", subject=key, actor=hr, data={"objectives": AGREED}
        )
        for key in ("E1", "E2")
    ]
    own = await open_task(inst.id, "self_appraisal")
    assert (own.assignee_id, own.lane) == (eve.person_id, "Employee")
    sales = ["communication", "collaboration", "customer_focus", "delivering_results",
             "negotiation"]
    actuals = [{**AGREED[0], "actual": 130}, {**AGREED[1], "actual": 15}]
    await runtime.complete_task(own.id, eve, {
        "objectives": actuals, "self_ratings": dict.fromkeys(sales, 4),
        "self_summary": "Record quarter.", "development_wishes": "",
    })

    appraisal = await open_task(inst.id, "manager_appraisal")
    assert appraisal.assignee_id == morgan.person_id
    await runtime.complete_task(appraisal.id, morgan, {
        "manager_ratings": dict.fromkeys(sales, 4), "manager_rating": 4,
        "override_reason": "Opened two strategic accounts.", "manager_comments": "Great year.",
    })
    assert await HumanTask.filter(instance_id=inst.id, status="ready").count() == 0

    # HR releases the calibrated population: only the chosen instance moves on.
    released = await runtime.send_signal(
        "ratings_released", [inst.id], hr, payload={"ratings": {"E1": 5}}
    )
    assert released == [inst.id]
    assert await HumanTask.filter(instance_id=other.id, bpmn_id="appraisal_discussion").count() \
        == 0
    discussion = await open_task(inst.id, "appraisal_discussion")
    await runtime.complete_task(discussion.id, morgan, {
        "discussion_date": "2027-01-20", "discussion_notes": "Talked it through.",
    })
    signoff = await open_task(inst.id, "employee_signoff")
    await runtime.complete_task(signoff.id, eve, {
        "signoff_decision": "agree", "signoff_comments": "",
        "signoff_signature": {"acknowledged": True, "name": "Eve Employee"},
    })
    approval = await open_task(inst.id, "hr_final_approval")
    assert approval.candidate_group == "hr"
    done = await runtime.complete_task(approval.id, hr, {"final_approval": True})

    assert done.status == "completed", done.error
    record = await Record.get(instance_id=inst.id, kind="final_rating")
    assert record.person_id == eve.person_id
    # Bookings at 130 % score 5; a discount of 15 (from 20 towards 10) is 50 %, a 1:
    # (5 * 60 + 1 * 40) / 100 = 3.4. The manager rated 4; calibration made it 5.
    assert (record.data["kpi_score"], record.data["manager_rating"], record.data["rating"]) \
        == (3.4, 4, 5)
    assert record.data["label"] == "Outstanding"


def test_blended_score_weighs_kpis_70_and_competencies_30(results):
    [final] = records(results["manager_overrides_the_proposal_with_a_reason"], "final_rating")
    # KPI score 3.2, the manager's competency average 4.0: 0.7 * 3.2 + 0.3 * 4.0.
    assert final["blended_score"] == 3.44
