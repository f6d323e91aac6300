"""Demo data for positions and gap analysis: the standard pack's position profiles, a position
for the demo people whose title matches one, last year's competency ratings (self and
manager) for everyone no other part of the demo rated, and two colleagues' feedback rating
the demo employee's competencies — so `/gaps` shows HR a heat map and the manager a team with
gaps to plan for.

Last year's ratings belong to the newest closed year-end (engine.operations.demo_history),
written straight into the record table as that history is; each unit leans a little on one
competency (the Platform team on communication, the Product team on technical mastery, the
South region on negotiation), which is what a heat map is for finding.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from engine.base.models import Cycle, Person, Record
from engine.people.directory import bump_directory_version, current_directory
from engine.performance import feedback
from engine.talent.positions import seed_deployed, talent_pack
from engine.workflow import runtime, store

# Title (as the demo organisation writes it) -> position code of the standard pack.
POSITIONS = {
    "Software Engineer": "software_engineer",
    "Senior Software Engineer": "senior_software_engineer",
    "Engineering Manager, Platform": "engineering_manager",
    "Engineering Manager, Product": "engineering_manager",
    "Account Executive": "account_executive",
    "Regional Sales Manager, North": "sales_manager",
    "Regional Sales Manager, South": "sales_manager",
    "HR Business Partner": "hr_business_partner",
    "Finance Analyst": "finance_analyst",
    "Financial Analyst": "finance_analyst",
}
# Where a unit's people tend to fall short: unit code -> (competency, levels lower).
UNIT_LEAN = {
    "ENG-PLAT": ("communication", 1),
    "ENG-PROD": ("technical_mastery", 1),
    "SALES-S": ("negotiation", 1),
}
# The demo employee's (E1021) manager saw what the colleagues below saw: the gaps the
# development plan's suggestions are about.
DEMO_EMPLOYEE = ("E1021", {"communication": 2, "technical_mastery": 2})
# Colleagues of the demo employee (E1021) who rate some competencies in their feedback.
DEMO_FEEDBACK = (
    ("E1019", "E1021", "Incident review", {"communication": 2, "collaboration": 4},
     "You found the cause fast; the write-up came a week later and the team was guessing "
     "meanwhile."),
    ("E1020", "E1021", "Pairing on the API", {"communication": 3, "technical_mastery": 2},
     "Good to pair with. The caching design needed two rewrites: worth reading up on it."),
)


def _clamp(level: int) -> int:
    return max(1, min(5, level))


def _family_competencies(catalogs: Mapping[str, Any], job_family: str) -> list[str]:
    framework = catalogs.get("competencies") or {}
    families = framework.get("families") or {}
    family = job_family if job_family in families else framework.get("default_family", "")
    return list((families.get(family) or {}).get("competencies") or [])


async def seed_demo_positions(seed: int = 2026) -> list[str]:
    """Positions, last year's competency ratings and rated feedback for the demo; a line
    saying what was done (nothing when the pack ships no positions)."""
    report = await seed_deployed()
    if not report.created and not report.updated and not report.kept:
        return []
    assigned = 0
    for title, code in POSITIONS.items():
        assigned += await Person.filter(title=title).update(position=code)
    await bump_directory_version()
    directory = await current_directory()
    pack = await talent_pack()
    kind = pack.features.records.competency_ratings
    last = await Cycle.filter(name__endswith="year-end").order_by("-starts_on").first()
    rng = random.Random(seed)
    batch = store.Batch()
    rated = 0
    # Whoever another part of the demo rated already (training's before/after) keeps it.
    done: set[Any] = set()
    if last is not None:
        done = set(await Record.filter(kind=kind, cycle_id=last.id).values_list(
            "person_id", flat=True))
    for person in sorted(directory.people.values(), key=lambda p: p.key):
        if not person.active or last is None or person.id in done:
            continue
        unit = directory.unit(person.org_unit_id)
        lean = UNIT_LEAN.get(unit.code if unit else "")
        manager: dict[str, int] = {}
        own: dict[str, int] = {}
        for key in _family_competencies(pack.catalogs, person.job_family):
            level = 3 + rng.choice((-1, 0, 0, 0, 0, 1, 1))
            if lean and lean[0] == key:
                level -= lean[1] + rng.choice((0, 0, 1))
            manager[key] = _clamp(level)
            own[key] = _clamp(level + rng.choice((0, 0, 1, 1, -1)))
        if person.key == DEMO_EMPLOYEE[0]:
            manager.update(DEMO_EMPLOYEE[1])
        batch.insert(Record, {
            "kind": kind, "person_id": person.id, "cycle_id": last.id,
            "data": {"job_family": person.job_family, "ratings": manager, "self_ratings": own},
            "created_by": "demo-history",
        })
        rated += 1
    await store.apply(batch)
    for giver, about, topic, ratings, text in DEMO_FEEDBACK:
        if directory.person(giver) is None or directory.person(about) is None:
            continue
        actor = await runtime.actor_for(giver)
        write = await feedback.start_feedback(actor, {
            "mode": "give", "colleague": about, "topic": topic, "request_message": None,
        })
        if write is not None:
            await runtime.complete_task(write, actor, {
                "feedback_text": text, "visibility": "shared", "competency_ratings": ratings,
            })
    return [f"Positions: {assigned} people placed; {rated} more rated last year."]
