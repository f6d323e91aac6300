"""The roll-out programme in the demo: the roll-out pack deployed beside the standard pack, a
steering committee, and a programme the HR admin leads, three steps in — the case for change
made, the guiding coalition formed by the CEO as sponsor, the vision and policy approved by
the steering committee — so /rollout shows a programme under way beside the adoption figures.

Everything goes through the pack's process as people would: the set-up form names the
sponsor, each step's checklist is ticked and its evidence recorded, a steering member approves.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.base import clock
from engine.base.models import GroupMembership, HumanTask, Person
from engine.packs.definitions import deploy_pack
from engine.packs.loading import discover_packs
from engine.people.directory import bump_directory_version
from engine.talent.programme import programme_ids, start_programme
from engine.workflow import runtime

ROLLOUT_PACK = "rollout"
LEAD = "E1003"  # the HR admin leads the programme
SPONSOR = "E1001"  # the CEO sponsors it
# The steering committee: the CEO, the Chief People Officer, the VP Engineering, the finance
# director and the demo manager (a respected manager on the guiding coalition).
STEERING = ("E1001", "E1002", "E1007", "E1050", "E1009")
INTRANET = "https://intranet.example.com/performance"

# The first three steps: (task, who completes it, its checklist, evidence, notes).
STEPS: tuple[tuple[str, str, tuple[str, ...], list[dict[str, str]], str], ...] = (
    ("create_urgency", LEAD, ("case_written", "current_figures", "leadership_briefed"), [
        {"item": "The case for change (slides)", "link": f"{INTRANET}/case-for-change"},
        {"item": "Last year's appraisal figures", "link": f"{INTRANET}/figures-last-year"},
    ], "Last year 14 % of appraisals finished late and a third of objectives had no "
       "measurable target. The leadership team heard the case on the offsite."),
    ("build_coalition", SPONSOR, (
        "members_named", "divisions_covered", "steering_group_set", "meeting_rhythm"), [
        {"item": "Steering committee members and charter", "link": f"{INTRANET}/steering"},
        {"item": "Meeting rhythm: first Monday of the month", "link": ""},
    ], "Five members: the CEO, the CPO, the VP Engineering, the finance director and the "
       "Product Team's engineering manager."),
    ("form_vision", LEAD, ("vision_written", "policy_written", "timeline_set"), [
        {"item": "Vision: Performance that matters", "link": f"{INTRANET}/vision"},
        {"item": "Performance-management policy 2026", "link": f"{INTRANET}/policy"},
        {"item": "The year's timeline", "link": f"{INTRANET}/timeline"},
    ], "Objectives agreed within 30 days of the start, with a measurable target and a "
       "goal they support; a check-in every month; mid-year and year-end as in the policy."),
)


async def _join_steering() -> None:
    """Put the steering committee's members in the steering group (idempotent)."""
    people = {p.key: p.id for p in await Person.filter(key__in=list(STEERING))}
    # Person ids (Tortoise types a flat values_list as tuples).
    have: set[Any] = set(await GroupMembership.filter(group="steering").values_list(
        "person_id", flat=True))
    added = [GroupMembership(group="steering", person_id=pid)
             for pid in people.values() if pid not in have]
    if added:
        await GroupMembership.bulk_create(added)
        await bump_directory_version()


async def _complete(task: HumanTask, key: str, data: dict[str, Any]) -> None:
    await runtime.complete_task(task.id, await runtime.actor_for(key), data)


async def _open(instance_id: int) -> HumanTask:
    task = await HumanTask.get_or_none(instance_id=instance_id, status="ready")
    if task is None:
        raise RuntimeError("the demo programme stopped before its fourth step")
    return task


async def seed_demo_rollout(pack_folders: list[Path]) -> str:
    """Deploy the roll-out pack, name the steering committee and run a programme to its
    fourth step; a line for the terminal (empty when the pack is not installed or a
    programme runs already)."""
    packs = discover_packs(pack_folders)
    if ROLLOUT_PACK not in packs:
        return ""
    await deploy_pack(Path(packs[ROLLOUT_PACK]), "demo", search=pack_folders)
    await _join_steering()
    if await programme_ids():
        return ""
    first = await HumanTask.get(id=await start_programme(await runtime.actor_for(LEAD)))
    await _complete(first, LEAD, {
        "programme_name": "Performance that matters", "sponsor": SPONSOR,
        "pilot_units": "Product Team, North",
        "target_go_live": (clock.now().date() + timedelta(days=180)).isoformat(),
    })
    instance_id = first.instance_id
    for bpmn_id, key, checklist, evidence, notes in STEPS:
        task = await _open(instance_id)
        if task.bpmn_id != bpmn_id:
            raise RuntimeError(f"the demo programme reached {task.bpmn_id}, not {bpmn_id}")
        await _complete(task, key, {**{item: True for item in checklist},
                                    "evidence": evidence, "notes": notes})
    review = await _open(instance_id)
    await _complete(review, "E1002", {"decision": "approve", "reason": ""})
    return "Roll-out programme 'Performance that matters' started: three steps done (/rollout)"
