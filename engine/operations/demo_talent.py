"""Demo data for potential, the talent review and succession: a potential assessment and a risk
of loss for the people rated in the newest closed year-end, a "Future leaders" pool, and
successors for the key positions (two key positions of its own when the demo has none)."""

from __future__ import annotations

from engine.base import clock
from engine.base.models import (
    OrgUnit,
    Person,
    Position,
    Record,
    Successor,
    TalentPool,
    TalentPoolMember,
)
from engine.performance.deployed_pack import newest_pack

HR = "person:E1003"
CRITERIA = ("learning_agility", "drive", "leadership", "adaptability")
# A spread of assessments, repeated over the people: (criteria ratings, band).
ASSESSMENTS = (
    ((3, 3, 2, 3), "high"), ((2, 2, 2, 2), "medium"), ((2, 3, 2, 2), "medium"),
    ((1, 2, 1, 2), "low"), ((3, 2, 3, 3), "high"), ((2, 2, 1, 2), "medium"),
    ((2, 1, 1, 1), "low"), ((3, 3, 3, 2), "high"),
)
RISKS = (("low", "medium"), ("medium", "high"), ("low", "low"), ("high", "high"),
         ("low", "high"), ("medium", "medium"))
# Key positions the demo makes when no position is a key one yet: (code, title, unit code).
OWN_KEY_POSITIONS = (("demo_head_of_engineering", "Head of engineering", "ENG"),
                     ("demo_head_of_sales", "Head of sales", "SALES"))
READINESS = ("ready_now", "one_to_two_years", "later")


async def seed_demo_talent() -> None:
    """Potential, risk of loss, a talent pool and successors for the demo organisation."""
    talent = (await newest_pack()).features.talent
    finals = (await newest_pack()).features.records.final_rating
    newest = await Record.filter(kind=finals).order_by("-cycle_id").only("cycle_id").first()
    if newest is None:
        return
    rows = await Record.filter(kind=finals, cycle_id=newest.cycle_id).values("person_id")
    rated = sorted({int(row["person_id"]) for row in rows})
    high: list[int] = []
    for n, person_id in enumerate(rated):
        ratings, band = ASSESSMENTS[n % len(ASSESSMENTS)]
        risk, impact = RISKS[n % len(RISKS)]
        await Record.create(kind=talent.potential_record, person_id=person_id, created_by=HR,
                            data={"potential": band, "ratings": dict(zip(CRITERIA, ratings,
                                                                         strict=True)),
                                  "average": sum(ratings) / len(ratings),
                                  "lowest": min(ratings), "aspiration": "", "mobility": "national",
                                  "comments": "", "assessed_on": clock.now().date().isoformat()})
        await Record.create(kind=talent.risk_record, person_id=person_id, created_by=HR,
                            data={"risk": risk, "impact": impact,
                                  "reasons": "Recruiters call often" if risk == "high" else "",
                                  "assessed_on": clock.now().date().isoformat()})
        if band == "high":
            high.append(person_id)
    if high and not await TalentPool.exists():
        pool = await TalentPool.create(
            name="Future leaders", description="Ready for a team of their own within two years.",
            created_by=HR, created_at=clock.now())
        for person_id in high[:4]:
            await TalentPoolMember.create(pool=pool, person_id=person_id, added_by=HR,
                                          added_at=clock.now(),
                                          reason="High potential in the last talent review")
    await _successors(rated, high)


async def _key_positions() -> list[Position]:
    found = await Position.filter(is_key=True, active=True).order_by("code")
    if found:
        return list(found)
    for code, title, unit_code in OWN_KEY_POSITIONS:
        unit = await OrgUnit.get_or_none(code=unit_code)
        if unit is not None and not await Position.exists(code=code):
            await Position.create(code=code, title=title, is_key=True, org_unit_id=unit.id,
                                  origin="demo", updated_by=HR, updated_at=clock.now())
            if unit.head_id is not None:
                await Person.filter(id=unit.head_id, position="").update(position=code)
    return list(await Position.filter(is_key=True, active=True).order_by("code"))


async def _successors(rated: list[int], high: list[int]) -> None:
    """Up to two successors per key position, high potentials first; one position is left
    without anyone ready now, so the bench strength has something to show."""
    positions = await _key_positions()
    if not positions or await Successor.exists():
        return
    holders = dict(await Person.filter(position__in=[p.code for p in positions]).values_list(
        "id", "position"))
    candidates = [pid for pid in high + rated if pid not in holders]
    n = 0
    for index, position in enumerate(positions):
        for slot in range(2):
            if not candidates:
                return
            person_id = candidates[n % len(candidates)]
            n += 1
            readiness = READINESS[(index + slot) % len(READINESS)]
            if not await Successor.exists(position_id=position.id, person_id=person_id):
                await Successor.create(position=position, person_id=person_id,
                                       readiness=readiness, added_by=HR,
                                       notes="Acting lead during holidays"
                                       if readiness == "ready_now" else "",
                                       updated_at=clock.now())
