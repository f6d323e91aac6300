"""Potential and the talent review: the process's records, the 9-box a meeting calibrates,
moves with reasons, talent pools and who may see any of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.models import AuditEvent, HumanTask, Record, TalentPoolMember
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.performance.team_status import team_status
from engine.talent.talent_review import (
    TalentInvalid,
    add_to_pool,
    create_pool,
    move_on_nine_box,
    remove_from_pool,
    talent_pools,
    talent_profile,
    talent_review,
)
from engine.workflow import runtime
from engine.workflow.history import instance_history
from tests.engine.test_dashboards import Org, build_org, new_cycle, record, start, task
from tests.support.org import ORG_TEAM

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"


@pytest.fixture
async def org(db: str) -> Org:
    return await build_org()


async def written_at(kind: str, key: str, org: Org, when: int) -> None:
    """Date the person's newest record of a kind `when` days from now."""
    row = await Record.filter(kind=kind, person_id=org.ids[key]).order_by("-id").first()
    assert row is not None
    await Record.filter(id=row.id).update(created_at=clock.now() + timedelta(days=when))


async def rated_cycle(org: Org) -> int:
    """Dora: final 4, potential high from a talent review newer than her appraisal's "low";
    Dan: proposed 3, the appraisal's answer "low"; Rita: nothing yet."""
    cycle = await new_cycle()
    await record(org, cycle, "D1", "final_rating", {"rating": 4, "potential": "low"})
    await written_at("final_rating", "D1", org, -10)
    await record(org, None, "D1", "potential", {"potential": "high", "average": 2.75})
    await record(org, cycle, "D2", "proposed_rating", {"rating": 3})
    appraisal = await start(org, cycle, "D2")
    await task(org, appraisal, "manager_appraisal", "Manager appraisal", "EM",
               status="completed", submitted={"manager_rating": 3, "potential": "low"})
    await HumanTask.filter(instance_id=appraisal).update(completed_at=clock.now())
    await start(org, cycle, "R1")
    return cycle


def box_of(review, name: str) -> tuple[str, str] | None:
    for box in review.boxes:
        if any(card.name == name for card in box.cards):
            return (box.performance, box.potential)
    return None


async def test_the_nine_box_places_people_by_rating_and_the_newest_potential(org):
    cycle = await rated_cycle(org)
    review = await talent_review(cycle, "all", org.viewer("HA"))
    assert box_of(review, "Dora Dev") == ("high", "high")  # the review is newer than "low"
    assert box_of(review, "Dan Dev") == ("medium", "low")  # proposed rating, appraisal answer
    assert "Rita Rep" in [card.name for card in review.unplaced]
    dora = next(c for box in review.boxes for c in box.cards if c.name == "Dora Dev")
    assert (dora.rating, dora.rating_source, dora.potential_source) == (4, "final", "review")
    # High potential, high performance is the top-right box: first row, last column.
    assert [(b.performance, b.potential) for b in review.boxes[:3]] == [
        ("low", "high"), ("medium", "high"), ("high", "high")]


async def test_an_older_talent_review_gives_way_to_the_appraisal_answer(org):
    cycle = await rated_cycle(org)
    await written_at("potential", "D1", org, -30)  # before the appraisal's "low"
    review = await talent_review(cycle, "all", org.viewer("HA"))
    assert box_of(review, "Dora Dev") == ("high", "low")


async def test_hr_moves_someone_with_a_reason_and_the_move_is_kept_and_audited(org):
    cycle = await rated_cycle(org)
    hugo = org.viewer("HA")
    await move_on_nine_box(cycle, org.ids["D2"], "medium", "medium",
                           "Led the migration alone in Q4", hugo, "person:HA",
                           population="all")
    review = await talent_review(cycle, "all", hugo)
    assert box_of(review, "Dan Dev") == ("medium", "medium")
    assert review.moved == 1
    dan = next(c for box in review.boxes for c in box.cards if c.name == "Dan Dev")
    assert dan.moved and dan.assessed_potential == "low"
    move = dan.moves[-1]
    assert (move.from_potential, move.to_potential, move.reason, move.by) == (
        "low", "medium", "Led the migration alone in Q4", "Hugo Admin")
    event = await AuditEvent.get(action="talent_placement_moved")
    assert event.actor == "person:HA" and event.detail["reason"] == "Led the migration alone in Q4"
    assert event.stream == "talent"
    # Moving back to where the assessments put him is a move too, and he is no longer "moved".
    await move_on_nine_box(cycle, org.ids["D2"], "medium", "low", "Second look", hugo, "person:HA")
    review = await talent_review(cycle, "all", hugo)
    dan = next(c for box in review.boxes for c in box.cards if c.name == "Dan Dev")
    assert len(dan.moves) == 2 and not dan.moved


async def test_a_move_needs_a_real_box_a_new_box_and_a_reason_and_loses_nothing(org):
    cycle = await rated_cycle(org)
    hugo = org.viewer("HA")
    with pytest.raises(TalentInvalid) as refused:
        await move_on_nine_box(cycle, org.ids["D2"], "top", "medium", "", hugo, "person:HA")
    assert set(refused.value.problems) == {"performance", "reason"}
    with pytest.raises(TalentInvalid) as refused:
        await move_on_nine_box(cycle, org.ids["D1"], "high", "high", "Why not", hugo,
                               "person:HA")
    assert "already in that box" in refused.value.problems["box"]
    with pytest.raises(TalentInvalid) as refused:
        await move_on_nine_box(cycle, org.ids["D1"], "high", "medium", "x" * 1001, hugo,
                               "person:HA")
    assert "reason" in refused.value.problems
    assert not await Record.filter(kind="talent_placement").exists()
    assert not await AuditEvent.filter(action="talent_placement_moved").exists()


async def test_an_hr_partner_reviews_and_moves_only_the_people_of_their_units(org):
    cycle = await rated_cycle(org)
    hana = org.viewer("HP")  # partners Engineering (and Platform below it)
    review = await talent_review(cycle, "all", hana)
    names = {c.name for box in review.boxes for c in box.cards} | {
        c.name for c in review.unplaced}
    assert "Dora Dev" in names and "Rita Rep" not in names
    with pytest.raises(NotAllowed):
        await move_on_nine_box(cycle, org.ids["R1"], "high", "high", "Great year", hana,
                               "person:HP")


async def test_managers_and_employees_never_open_the_talent_review(org):
    cycle = await rated_cycle(org)
    for key in ("EM", "D1"):
        with pytest.raises(NotAllowed):
            await talent_review(cycle, "all", org.viewer(key))
        with pytest.raises(NotAllowed):
            await move_on_nine_box(cycle, org.ids["D2"], "high", "high", "Because",
                                   org.viewer(key), f"person:{key}")


async def test_the_team_nine_box_reads_the_talent_review_when_it_is_newer(org):
    cycle = await rated_cycle(org)
    team = await team_status(org.ids["EM"], cycle, org.viewer("EM"))
    assert {r.name: r.potential for r in team.reports}["Dora Dev"] == "high"


async def test_the_talent_profile_shows_hr_everything_the_manager_no_moves_and_the_person_nothing(
    org,
):
    cycle = await rated_cycle(org)
    await record(org, None, "D1", "risk_of_loss", {"risk": "high", "impact": "high",
                                                   "reasons": "Offer from a rival"})
    await move_on_nine_box(cycle, org.ids["D1"], "medium", "high", "Calibrated down",
                           org.viewer("HA"), "person:HA")
    pool = await create_pool("Future leaders", "", org.viewer("HA"), "person:HA")
    await add_to_pool(pool, org.ids["D1"], "Leads the guild", org.viewer("HA"), "person:HA")
    hr = await talent_profile(org.ids["D1"], org.viewer("HA"))
    assert hr.potential is not None and hr.potential.band == "high"
    assert hr.risk is not None and hr.risk.risk == "high"
    assert [m.reason for _, m in hr.moves] == ["Calibrated down"]
    assert [name for name, _, _ in hr.pools] == ["Future leaders"]
    manager = await talent_profile(org.ids["D1"], org.viewer("EM"))
    assert manager.view == "manager" and manager.potential is not None
    assert manager.risk is not None and manager.moves == [] and manager.pools == []
    for key in ("D1", "D2", "SM", "R1"):  # herself, a peer, another unit's manager
        with pytest.raises(NotFound):
            await talent_profile(org.ids["D1"], org.viewer(key))


async def test_talent_pools_take_people_with_a_reason_and_let_them_go(org):
    hugo = org.viewer("HA")
    pool = await create_pool("  Future   leaders ", "Ready for a team in two years", hugo,
                             "person:HA")
    with pytest.raises(TalentInvalid) as refused:
        await create_pool("Future leaders", "", hugo, "person:HA")
    assert "already" in refused.value.problems["name"]
    with pytest.raises(TalentInvalid):
        await create_pool(" ", "", hugo, "person:HA")
    await add_to_pool(pool, org.ids["D1"], "Leads the guild", hugo, "person:HA")
    with pytest.raises(TalentInvalid) as refused:
        await add_to_pool(pool, org.ids["D1"], "Again", hugo, "person:HA")
    assert "already" in refused.value.problems["person"]
    with pytest.raises(TalentInvalid) as refused:
        await add_to_pool(pool, org.ids["R1"], "  ", hugo, "person:HA")
    assert "reason" in refused.value.problems
    await add_to_pool(pool, org.ids["R1"], "Top seller", hugo, "person:HA")
    [listed] = await talent_pools(hugo)
    assert listed.name == "Future leaders"
    assert [(m.name, m.reason) for m in listed.members] == [
        ("Dora Dev", "Leads the guild"), ("Rita Rep", "Top seller")]
    # The Engineering partner sees Dora, not Rita, and may not add or remove Rita.
    [partnered] = await talent_pools(org.viewer("HP"))
    assert [m.name for m in partnered.members] == ["Dora Dev"] and partnered.hidden == 1
    with pytest.raises(NotAllowed):
        await remove_from_pool(pool, org.ids["R1"], org.viewer("HP"), "person:HP")
    await remove_from_pool(pool, org.ids["D1"], hugo, "person:HA")
    assert not await TalentPoolMember.filter(person_id=org.ids["D1"]).exists()
    actions = await AuditEvent.filter(stream="talent").order_by("seq").values_list(
        "action", flat=True)
    assert actions == ["talent_pool_created", "talent_pool_member_added",
                       "talent_pool_member_added", "talent_pool_member_removed"]
    with pytest.raises(NotAllowed):
        await talent_pools(org.viewer("EM"))


# -- the talent review process on the engine --------------------------------------------------


@pytest.fixture
async def deployed(db: str) -> None:
    await import_org(ORG_TEAM)
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])


ASSESSMENT = {
    "potential_ratings": {"learning_agility": 3, "drive": 3, "leadership": 3,
                          "adaptability": 1},
    "aspiration": "Lead the platform team", "mobility": "national",
    "risk_of_loss": "high", "impact_of_loss": "high", "risk_reasons": "Offer from a rival",
    "potential_comments": "",
}


async def test_the_talent_review_records_potential_and_risk_and_hides_them_from_the_employee(
    deployed,
):
    hana = await runtime.actor_for("H1")
    instance = await runtime.start_process("talent_review", subject="E1", actor=hana)
    assess = await HumanTask.get(instance_id=instance.id, bpmn_id="assess_potential",
                                 status="ready")
    morgan = await runtime.actor_for("M1")
    assert assess.assignee_id == morgan.person_id
    await runtime.complete_task(assess.id, morgan, ASSESSMENT)
    eve = (await runtime.actor_for("E1")).person_id
    potential = await Record.get(kind="potential", person_id=eve)
    assert potential.data["potential"] == "medium"  # strong, but one criterion limited
    risk = await Record.get(kind="risk_of_loss", person_id=eve)
    assert (risk.data["risk"], risk.data["impact"]) == ("high", "high")
    plan = await HumanTask.get(instance_id=instance.id, bpmn_id="plan_retention", status="ready")
    assert plan.candidate_group == "hr"
    told_to_eve = await instance_history(instance.id, viewer_id=eve)
    [submitted] = [e for e in told_to_eve.timeline if e.bpmn_id == "assess_potential"
                   and e.is_submission]
    assert submitted.fields == ()  # every answer of the form is private
    assert "rival" not in repr(told_to_eve.timeline)
    told_to_morgan = await instance_history(instance.id, viewer_id=morgan.person_id)
    labels = {value.label for entry in told_to_morgan.timeline for value in entry.fields}
    assert "Risk of loss" in labels
