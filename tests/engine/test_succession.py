"""Succession: key positions with their incumbents and successors, bench strength per unit,
and promotions that move a person and close their candidacy."""

from __future__ import annotations

import pytest

from engine.base import clock
from engine.base.errors import NotAllowed, NotFound
from engine.base.models import AuditEvent, Person, Position, Record, Successor
from engine.talent.succession import (
    COVERED,
    NO_READY_SUCCESSOR,
    NO_SUCCESSOR,
    add_successor,
    change_successor,
    key_position,
    promotions,
    record_promotion,
    remove_successor,
    succession_of,
    succession_plan,
)
from engine.talent.talent_review import TalentInvalid
from tests.engine.test_dashboards import Org, build_org, record


async def position(org: Org, code: str, title: str, unit: str, *, key: bool = True) -> None:
    await Position.create(code=code, title=title, is_key=key, org_unit_id=org.units[unit],
                          updated_at=clock.now())


@pytest.fixture
async def org(db: str) -> Org:
    """The dashboards' organisation with positions: Emil leads engineering (a key position),
    Sara sales (key), Dora and Dan are engineers (not key)."""
    org = await build_org()
    await position(org, "eng_lead", "Engineering lead", "ENG")
    await position(org, "sales_lead", "Sales lead", "SALES")
    await position(org, "engineer", "Engineer", "ENG", key=False)
    for key, code in (("EM", "eng_lead"), ("SM", "sales_lead"), ("D1", "engineer"),
                      ("D2", "engineer")):
        await Person.filter(id=org.ids[key]).update(position=code)
    return org


async def test_a_succession_plan_lists_key_positions_with_incumbents_and_ready_successors(org):
    hugo = org.viewer("HA")
    await add_successor("eng_lead", org.ids["D1"], "ready_now", "Runs the team when Emil is away",
                        hugo, "person:HA")
    await add_successor("eng_lead", org.ids["D2"], "one_to_two_years", "", hugo, "person:HA")
    plan = await succession_plan(hugo)
    assert [p.code for p in plan.positions] == ["eng_lead", "sales_lead"]  # "engineer" is no key
    eng = plan.positions[0]
    assert [h.name for h in eng.incumbents] == ["Emil Engman"]
    assert [(s.holder.name, s.readiness) for s in eng.successors] == [
        ("Dora Dev", "ready_now"), ("Dan Dev", "one_to_two_years")]
    assert (eng.count("ready_now"), eng.count("one_to_two_years"), eng.coverage) == (1, 1, COVERED)
    assert plan.positions[1].coverage == NO_SUCCESSOR
    benches = {b.unit: b for b in plan.units}
    assert (benches["Engineering"].covered, benches["Engineering"].ready_now) == (1, 1)
    assert (benches["Sales"].positions, benches["Sales"].no_successor,
            benches["Sales"].coverage_percent) == (1, 1, 0)


async def test_nobody_succeeds_to_their_own_position_twice_or_at_an_unknown_readiness(org):
    hugo = org.viewer("HA")
    with pytest.raises(TalentInvalid) as refused:
        await add_successor("eng_lead", org.ids["EM"], "ready_now", "", hugo, "person:HA")
    assert "own position" in refused.value.problems["person"]
    with pytest.raises(TalentInvalid) as refused:
        await add_successor("eng_lead", org.ids["D1"], "soon", "", hugo, "person:HA")
    assert "readiness" in refused.value.problems
    await add_successor("eng_lead", org.ids["D1"], "later", "", hugo, "person:HA")
    with pytest.raises(TalentInvalid) as refused:
        await add_successor("eng_lead", org.ids["D1"], "ready_now", "", hugo, "person:HA")
    assert "already" in refused.value.problems["person"]
    with pytest.raises(NotFound):  # not a key position
        await add_successor("engineer", org.ids["R1"], "later", "", hugo, "person:HA")
    assert await Successor.all().count() == 1


async def test_a_successor_s_readiness_changes_and_they_can_be_removed(org):
    hugo = org.viewer("HA")
    await add_successor("eng_lead", org.ids["D1"], "later", "", hugo, "person:HA")
    await change_successor("eng_lead", org.ids["D1"], "one_to_two_years", "After the course",
                           hugo, "person:HA")
    plan = await key_position("eng_lead", hugo)
    assert [(s.readiness, s.notes) for s in plan.successors] == [
        ("one_to_two_years", "After the course")]
    assert plan.coverage == NO_READY_SUCCESSOR
    with pytest.raises(TalentInvalid):
        await change_successor("eng_lead", org.ids["D1"], "tomorrow", "", hugo, "person:HA")
    await remove_successor("eng_lead", org.ids["D1"], hugo, "person:HA")
    with pytest.raises(NotFound):
        await remove_successor("eng_lead", org.ids["D1"], hugo, "person:HA")
    actions = await AuditEvent.filter(stream="talent").order_by("seq").values_list(
        "action", flat=True)
    assert actions == ["successor_added", "successor_changed", "successor_removed"]


async def test_a_position_whose_holder_may_leave_and_nobody_is_ready_is_at_risk(org):
    hugo = org.viewer("HA")
    await record(org, None, "SM", "risk_of_loss", {"risk": "high", "impact": "high"})
    await add_successor("sales_lead", org.ids["R1"], "one_to_two_years", "", hugo, "person:HA")
    plan = await succession_plan(hugo)
    sales = next(p for p in plan.positions if p.code == "sales_lead")
    assert sales.incumbents[0].risk is not None and sales.incumbents[0].risk.risk == "high"
    assert sales.at_risk and sales.coverage == NO_READY_SUCCESSOR
    assert {b.unit: b.at_risk for b in plan.units} == {"Engineering": 0, "Sales": 1}


async def test_a_promotion_moves_the_person_records_it_and_closes_their_candidacy(org):
    hugo = org.viewer("HA")
    await add_successor("eng_lead", org.ids["D1"], "ready_now", "", hugo, "person:HA")
    await add_successor("eng_lead", org.ids["D2"], "later", "", hugo, "person:HA")
    promotion = await record_promotion(org.ids["D1"], "eng_lead", "2027-01-01",
                                       "Emil moves to the platform", hugo, "person:HA")
    assert (promotion.from_position, promotion.to_position, promotion.was_successor) == (
        "engineer", "eng_lead", "ready_now")
    assert (await Person.get(id=org.ids["D1"])).position == "eng_lead"
    record_row = await Record.get(kind="promotion", person_id=org.ids["D1"])
    assert record_row.data["effective_on"] == "2027-01-01"
    plan = await key_position("eng_lead", hugo)
    assert [s.holder.name for s in plan.successors] == ["Dan Dev"]
    assert "Dora Dev" in [h.name for h in plan.incumbents]
    event = await AuditEvent.get(action="promotion_recorded")
    assert event.detail["to_position"] == "eng_lead" and event.actor == "person:HA"
    listed = await promotions(hugo, org.units["ENG"])
    assert [(p.name, p.to_title) for p in listed] == [("Dora Dev", "Engineering lead")]
    assert await promotions(hugo, org.units["SALES"]) == []
    mine = await succession_of(org.ids["D1"], org.viewer("EM"))
    assert [p.to_position for p in mine.promotions] == ["eng_lead"] and mine.candidacies == []


async def test_a_promotion_needs_another_position_and_a_date_and_loses_nothing(org):
    hugo = org.viewer("HA")
    with pytest.raises(TalentInvalid) as refused:
        await record_promotion(org.ids["D1"], "engineer", "1 January", "", hugo, "person:HA")
    assert set(refused.value.problems) == {"to_position", "effective_on"}
    with pytest.raises(TalentInvalid) as refused:
        await record_promotion(org.ids["D1"], "cto", "2027-01-01", "", hugo, "person:HA")
    assert "to_position" in refused.value.problems
    assert (await Person.get(id=org.ids["D1"])).position == "engineer"
    assert not await Record.filter(kind="promotion").exists()


async def test_an_hr_partner_plans_their_units_and_others_plan_nothing(org):
    hana = org.viewer("HP")  # partners Engineering
    plan = await succession_plan(hana)
    assert [p.code for p in plan.positions] == ["eng_lead"]
    with pytest.raises(NotFound):
        await add_successor("sales_lead", org.ids["D1"], "later", "", hana, "person:HP")
    with pytest.raises(NotAllowed):
        await record_promotion(org.ids["R1"], "sales_lead", "2027-01-01", "", hana, "person:HP")
    for key in ("EM", "D1"):
        with pytest.raises(NotAllowed):
            await succession_plan(org.viewer(key))
    with pytest.raises(NotFound):  # the person's own succession side is not theirs to read
        await succession_of(org.ids["D1"], org.viewer("D1"))


async def test_an_hr_partner_sees_a_successor_from_another_unit_without_their_talent_data(org):
    hugo, hana = org.viewer("HA"), org.viewer("HP")  # Hana partners Engineering only
    await record(org, None, "R1", "risk_of_loss", {"risk": "high", "impact": "high"})
    await record(org, None, "EM", "risk_of_loss", {"risk": "medium", "impact": "high"})
    await add_successor("eng_lead", org.ids["R1"], "one_to_two_years", "Sales engineer",
                        hugo, "person:HA")

    [outsider] = (await key_position("eng_lead", hana)).successors
    # Hana plans the position, so she sees who is lined up and how ready — but not the
    # risk of losing someone she does not look after.
    assert (outsider.holder.name, outsider.holder.unit, outsider.readiness) == (
        "Rita Rep", "Sales", "one_to_two_years")
    assert (outsider.holder.covered, outsider.holder.risk) == (False, None)
    [emil] = (await key_position("eng_lead", hana)).incumbents
    assert emil.covered and emil.risk is not None and emil.risk.risk == "medium"
    [seen_by_hugo] = (await key_position("eng_lead", hugo)).successors
    assert seen_by_hugo.holder.covered and seen_by_hugo.holder.risk is not None


async def test_the_demo_assesses_the_rated_people_and_plans_successors(db):
    from engine.operations.demo_talent import seed_demo_talent
    from engine.talent.talent_review import talent_pools, talent_review
    from tests.engine.test_dashboards import new_cycle

    org = await build_org()
    cycle = await new_cycle()
    for key, rating in (("D1", 4), ("D2", 3), ("R1", 5), ("EM", 3)):
        await record(org, cycle, key, "final_rating", {"rating": rating})
    await seed_demo_talent()
    hugo = org.viewer("HA")
    review = await talent_review(cycle, "all", hugo)
    placed = {c.name for box in review.boxes for c in box.cards}
    assert {"Dora Dev", "Dan Dev", "Rita Rep", "Emil Engman"} <= placed
    [pool] = await talent_pools(hugo)
    assert pool.name == "Future leaders" and pool.members
    plan = await succession_plan(hugo)
    assert plan.positions and all(p.successors for p in plan.positions)
    assert all(s.holder.name not in [h.name for h in p.incumbents]
               for p in plan.positions for s in p.successors)
