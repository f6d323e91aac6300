"""The standard pack's reward tables: merit_matrix.dmn and bonus.dmn under the restricted engine."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.base.models import HumanTask, Record
from engine.packs.definitions import deploy_pack
from engine.packs.loading import load_pack
from engine.packs.specs import build_spec, process_sources
from engine.people.org_import import import_org
from engine.scripts.sandbox import make_script_engine, script_context
from engine.workflow import runtime
from tests.support.org import ORG_DANA, ORG_EVE, ORG_HANA, ORG_MORGAN, org_csv

PACK = Path(__file__).resolve().parents[2] / "processes" / "standard"

# A process that only asks both tables, as the rewards process does after the pay data.
GUIDELINES_BPMN = """
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="guidelines" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merit"/>
    <bpmn:businessRuleTask id="merit">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>merit_increase</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f2" sourceRef="merit" targetRef="bonus"/>
    <bpmn:businessRuleTask id="bonus">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>bonus_percent</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f3" sourceRef="bonus" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

MERIT_KEYS = ("compa_ratio_band", "merit_guideline_low", "merit_guideline", "merit_guideline_high")
BONUS_KEYS = ("bonus_target_percent", "bonus_multiplier", "bonus_percent")

# Compa-ratios around both band edges (0.9 and 1.1: lower bound inclusive) and well inside.
COMPA_RATIOS = [
    (0.5, "below"),
    (0.899, "below"),
    (0.9, "within"),
    (1.0, "within"),
    (1.099, "within"),
    (1.1, "above"),
    (1.101, "above"),
    (1.6, "above"),
]


@pytest.fixture(scope="module")
def guidelines_spec(tmp_path_factory: pytest.TempPathFactory):
    """The two-table process, with the pack's own DMN files."""
    folder = tmp_path_factory.mktemp("guidelines")
    (folder / "guidelines.bpmn").write_text(GUIDELINES_BPMN)
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(folder / "guidelines.bpmn"))
    parser.add_dmn_file(str(PACK / "merit_matrix.dmn"))
    parser.add_dmn_file(str(PACK / "bonus.dmn"))
    return parser.get_spec("guidelines")


@pytest.fixture(scope="module")
def merit_catalog() -> dict:
    """catalogs/merit_guidelines.toml: the numbers HR publishes, which the table must follow."""
    return tomllib.loads((PACK / "catalogs" / "merit_guidelines.toml").read_text())


def decide(spec, **data) -> dict:
    """Run both tables for one employee; returns the final workflow data."""
    workflow = BpmnWorkflow(spec, script_engine=make_script_engine())
    workflow.task_tree.data.update(data)
    with script_context():
        workflow.do_engine_steps()
    assert workflow.is_completed()
    return workflow.data


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("compa_ratio", "band"), COMPA_RATIOS)
def test_every_merit_cell_gives_the_published_guideline(
    guidelines_spec, merit_catalog, rating, compa_ratio, band
) -> None:
    data = decide(guidelines_spec, final_rating=rating, compa_ratio=compa_ratio,
                  job_family="engineering")
    published = merit_catalog["guidelines"][str(rating)][band]
    assert tuple(data[k] for k in MERIT_KEYS) == (
        band, published["low"], published["target"], published["high"]
    )


@pytest.mark.parametrize(
    ("rating", "compa_ratio", "guideline"),
    [
        (5, 0.85, ("below", 6.0, 7.0, 8.0)),
        (5, 1.0, ("within", 4.5, 5.5, 6.5)),
        (4, 1.1, ("above", 2.0, 3.0, 3.5)),
        (3, 0.9, ("within", 2.0, 3.0, 3.5)),
        (3, 0.899, ("below", 3.0, 4.0, 4.5)),
        (2, 0.9, ("within", 0.0, 0.5, 1.0)),
        (1, 0.7, ("below", 0.0, 0.0, 0.0)),
    ],
)
def test_merit_guidelines_reward_rating_and_a_low_position_in_range(
    guidelines_spec, rating, compa_ratio, guideline
) -> None:
    data = decide(guidelines_spec, final_rating=rating, compa_ratio=compa_ratio,
                  job_family="sales")
    assert tuple(data[k] for k in MERIT_KEYS) == guideline


def test_a_better_rating_never_gets_a_lower_guideline(guidelines_spec) -> None:
    for compa_ratio, _ in COMPA_RATIOS:
        targets = [
            decide(guidelines_spec, final_rating=r, compa_ratio=compa_ratio,
                   job_family="sales")["merit_guideline"]
            for r in (1, 2, 3, 4, 5)
        ]
        assert targets == sorted(targets), compa_ratio


BONUS_TARGETS = {"people_manager": 15.0, "sales": 8.0, "engineering": 12.0,
                 "individual_contributor": 10.0, "unknown_family": 10.0}
MULTIPLIERS = {5: 1.5, 4: 1.25, 3: 1.0, 2: 0.5, 1: 0.0}


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("family", sorted(BONUS_TARGETS))
def test_every_bonus_cell_is_target_times_multiplier(guidelines_spec, rating, family) -> None:
    data = decide(guidelines_spec, final_rating=rating, compa_ratio=1.0, job_family=family)
    target, multiplier = BONUS_TARGETS[family], MULTIPLIERS[rating]
    assert tuple(data[k] for k in BONUS_KEYS) == (target, multiplier,
                                                  round(target * multiplier, 2))


def test_a_rating_off_the_scale_gets_no_guideline(guidelines_spec) -> None:
    data = decide(guidelines_spec, final_rating=6, compa_ratio=1.0, job_family="sales")
    assert not any(k in data for k in (*MERIT_KEYS, *BONUS_KEYS))


def test_the_rewards_process_refuses_a_rating_off_the_scale() -> None:
    pack = load_pack(PACK)
    built = build_spec(process_sources(pack, "rewards"), "rewards")
    workflow = BpmnWorkflow(built.spec, built.subprocess_specs,
                            script_engine=make_script_engine())
    with script_context(catalogs=pack.catalogs()):
        workflow.do_engine_steps()
        [pay_data] = workflow.get_tasks(state=TaskState.READY, manual=True)
        pay_data.set_data(final_rating=6, salary=50000, salary_midpoint=60000,
                          currency="EUR", job_family="sales", effective_date="2027-04-01")
        pay_data.run()
        with pytest.raises(WorkflowException, match="final_rating must be a whole number"):
            workflow.do_engine_steps()


# --------------------------------------------------------------------- the processes, end to end

ORG = org_csv(
    ORG_DANA, ORG_MORGAN, ORG_EVE,
    "C1,Cam Compensation,cam@example.com,Reward analyst,individual_contributor,ORG,Org,,D1,"
    "compensation",
    ORG_HANA,
)

PAY_DATA = {"final_rating": 5, "salary": 50000, "salary_midpoint": 60000, "currency": "EUR",
            "job_family": "people_manager", "effective_date": "2027-04-01"}


@pytest.fixture
async def standard_pack(db: str) -> None:
    """The org above with the standard pack deployed."""
    report = await import_org(ORG)
    assert not report.errors, report.errors
    await deploy_pack(PACK, "test", search=[PACK.parent])


async def ready_task(instance_id: int, bpmn_id: str) -> HumanTask:
    return await HumanTask.get(instance_id=instance_id, bpmn_id=bpmn_id, status="ready")


async def test_an_increase_above_the_guideline_is_approved_twice_then_announced(
    standard_pack: None,
) -> None:
    hr, comp = await runtime.actor_for("H1"), await runtime.actor_for("C1")
    morgan, dana, eve = [await runtime.actor_for(k) for k in ("M1", "D1", "E1")]
    inst = await runtime.start_process("rewards", subject="E1", actor=hr,
                                       data={"final_rating": 5})

    pay = await ready_task(inst.id, "confirm_pay_data")
    assert pay.candidate_group == "compensation" and pay.lane == "Compensation"
    await runtime.complete_task(pay.id, comp, PAY_DATA)

    proposal = await ready_task(inst.id, "propose_increase")
    assert proposal.assignee_id == morgan.person_id
    await runtime.complete_task(proposal.id, morgan, {"proposed_increase": 9.0,
                                                      "proposal_comments": "Retention risk."})
    skip = await ready_task(inst.id, "skip_level_approval")
    assert skip.assignee_id == dana.person_id
    approval = await ready_task(inst.id, "compensation_approval")
    await runtime.complete_task(skip.id, dana, {"skip_level_decision": "approve",
                                                "skip_level_comments": ""})
    await runtime.complete_task(approval.id, comp, {"compensation_decision": "approve",
                                                    "compensation_comments": ""})

    letter = await ready_task(inst.id, "read_reward_letter")
    assert letter.assignee_id == eve.person_id
    reward = await Record.get(instance_id=inst.id, kind="reward")
    assert reward.person_id == eve.person_id
    assert (reward.data["compa_ratio"], reward.data["compa_ratio_band"]) == (0.833, "below")
    assert reward.data["merit_guideline"] == {"low": 6.0, "target": 7.0, "high": 8.0}
    assert (reward.data["new_salary"], reward.data["bonus_amount"]) == (54500.0, 11250.0)
    assert reward.data["approval"] == "approved_outside_guideline"
    done = await runtime.complete_task(letter.id, eve, {"letter_read": True,
                                                        "employee_questions": ""})
    assert done.status == "completed", done.error
