"""Earlier year-end cycles for the demo, so HR's trends across cycles have a past to show.

Running three years of appraisals step by step for everyone would take the demo seed minutes;
a past cycle is only read (nobody acts on a closed appraisal), so its rows are written
straight into their tables in one batch, as the history a migration from an earlier system
would bring: a cycle per year, each person's year-end appraisal completed (a few cancelled —
people who left before the end), its four steps with due dates (some done late) and a final
rating with its label. Completion and punctuality improve year on year and the ratings drift
from generous towards the pack's guideline: the trend an HR manager hopes to see.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from engine.base import clock
from engine.base.models import Cycle, HumanTask, ProcessDefinition, ProcessInstance, Record
from engine.people.directory import current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.workflow import store

PROCESS = "year_end_appraisal"
# The completed steps of each past appraisal: (step id, name, lane, days after the start due).
STEPS = (
    ("self_appraisal", "Self-appraisal", "Employee", 14),
    ("manager_appraisal", "Manager appraisal", "Manager", 28),
    ("appraisal_discussion", "Hold the appraisal discussion", "Manager", 42),
    ("employee_signoff", "Sign off the appraisal", "Employee", 49),
)
# Per year, oldest first: share of appraisals completed, share of steps done late, and the
# weights of the ratings 5..1 (generous at first, nearer the guideline later).
YEARS = (
    (0.86, 0.32, (14, 38, 36, 9, 3)),
    (0.92, 0.21, (10, 30, 45, 12, 3)),
    (0.97, 0.12, (7, 25, 52, 12, 4)),
)


async def seed_history(years: int = len(YEARS), seed: int = 2026) -> list[str]:
    """Closed year-end cycles for the `years` years before this one, for everyone in the
    directory; a line per cycle. Nothing when the year-end appraisal is not deployed or a
    cycle of that name exists already."""
    definition = await ProcessDefinition.filter(process_id=PROCESS).order_by("-id").first()
    if definition is None:
        return []
    rng = random.Random(seed)
    directory = await current_directory()
    people = sorted((p for p in directory.people.values() if p.active), key=lambda p: p.key)
    pack = await cycle_pack(None)
    scale = pack.catalogs.get("rating_scale", {})
    labels = {int(lv["value"]): str(lv.get("label", "")) for lv in scale.get("levels", [])}
    this_year = clock.now().year
    lines = []
    for n, (completion, lateness, weights) in enumerate(YEARS[-years:] if years else ()):
        year = this_year - years + n
        name = f"{year} year-end"
        if await Cycle.exists(name=name):
            continue
        starts = date(year, 11, 1)  # closed before this year began
        start_at = datetime.combine(starts, time(9), tzinfo=UTC)
        cycle = await Cycle.create(name=name, starts_on=starts,
                                   due_on=starts + timedelta(days=60), created_at=start_at)
        batch = store.Batch()
        done = 0
        for person in people:
            completed = rng.random() < completion
            finished = start_at + timedelta(days=52)
            instance = batch.insert(ProcessInstance, {
                "definition_id": definition.id, "process_id": PROCESS,
                "subject_id": person.id, "cycle_id": cycle.id, "title": "Year-end appraisal",
                "status": "completed" if completed else "cancelled", "state": b"",
                "started_by": "demo-history", "started_at": start_at,
                "updated_at": finished, "completed_at": finished if completed else None,
            })
            for bpmn_id, step, lane, due_days in STEPS if completed else STEPS[:1]:
                holder = person.manager_id if lane == "Manager" and person.manager_id else person.id
                due = start_at + timedelta(days=due_days)
                at = due + (timedelta(days=rng.randint(1, 9)) if rng.random() < lateness
                            else -timedelta(days=rng.randint(0, 6), hours=3))
                batch.insert(HumanTask, {
                    "instance_id": instance, "spiff_task_id": str(uuid.uuid4()),
                    "bpmn_id": bpmn_id, "process_id": PROCESS, "name": step, "lane": lane,
                    "assignee_id": holder, "candidates": [str(holder)],
                    "subject_id_cache": person.id, "due_at": due, "status": "completed",
                    "created_at": due - timedelta(days=14), "completed_at": at,
                    "completed_by_id": holder, "submitted": {},
                })
            if completed:
                done += 1
                rating = rng.choices((5, 4, 3, 2, 1), weights=weights)[0]
                batch.insert(Record, {
                    "kind": pack.features.records.final_rating, "person_id": person.id,
                    "cycle_id": cycle.id, "instance_id": instance, "created_at": finished,
                    "created_by": "demo-history",
                    "data": {"rating": rating, "label": labels.get(rating, "")},
                })
        await store.apply(batch)
        lines.append(f"{name}: {done} of {len(people)} appraisals completed (history)")
    return lines
