"""Results: records and score cards (read, by cycle), and KPI actuals (write, in-year).

Records follow engine.performance.result_records (only what the pages would show the token's
person); a score card is the score card page's (engine.performance.scorecard: 404 for someone
the person may not see); a KPI actual is recorded by engine.performance.progress.record_update
with source "api" — the checks of the score card's update form and of `sightline kpi import`.
"""

from __future__ import annotations

from typing import Any

from engine.performance import progress
from engine.performance.cycle_choice import scorecard_cycle
from engine.performance.result_records import visible_records
from engine.performance.scorecard import scorecard
from webapp.api.core import (
    LIMIT,
    READ,
    WRITE,
    Answer,
    Call,
    Endpoint,
    Param,
    decode_cursor,
    not_found,
    page,
    page_schema,
)
from webapp.api.schemas import ref
from webapp.input import find_person

TAG = "Results"
ID_RANGE = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
CYCLE = Param("cycle", "query", ID_RANGE, "A cycle's id (GET /cycles).")
KPI_ACTUAL = {
    "type": "object",
    "required": ["person", "cycle", "objective"],
    "additionalProperties": False,
    "properties": {
        "person": {"type": "string", "minLength": 1, "maxLength": 64,
                   "description": "The objective owner's employee id."},
        "cycle": {**ID_RANGE, "description": "The cycle's id."},
        "objective": {"type": "string", "minLength": 1, "maxLength": 255,
                      "description": "The objective's key, or its exact title."},
        "actual": {"type": ["number", "null"], "description": "The KPI's value so far."},
        "status": {"type": "string", "enum": ["", "on_track", "at_risk", "off_track"]},
        "comment": {"type": "string", "maxLength": progress.COMMENT_MAX},
    },
}


async def list_records(call: Call) -> Answer:
    """GET /records."""
    person_id = None
    if call.params.get("person"):
        person = find_person(call.directory, call.params["person"])
        if person is None:
            return Answer(200, page([], None))
        person_id = person.id
    found = await visible_records(
        call.viewer, cycle_id=call.params.get("cycle"), kind=call.params.get("kind") or None,
        person_id=person_id, after_id=decode_cursor(call.params["cursor"]),
        limit=call.params["limit"],
    )
    items = []
    for line in found.records:
        person = call.directory.person(line.person_id)
        items.append({
            "id": line.id, "kind": line.kind, "person": person.key if person else "",
            "cycle_id": line.cycle_id, "instance_id": line.instance_id, "data": line.data,
            "created_at": line.created_at,
        })
    return Answer(200, page(items, found.next_after))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


async def get_scorecard(call: Call) -> Answer:
    """GET /scorecards/{person_key}."""
    person = find_person(call.directory, call.params["person_key"])
    if person is None:
        raise not_found()
    cycle_id = call.params.get("cycle")
    if cycle_id is None:
        default = await scorecard_cycle(person.id)
        cycle_id = default.id if default else None
    card = await scorecard(person.id, cycle_id, call.viewer)
    body = {
        "person": {"key": person.key, "name": card.name},
        "cycle": {"id": card.cycle_id, "name": card.cycle_name} if card.cycle_id else None,
        "objectives": [
            {"title": o.title, "kra": o.kra, "kpi": o.kpi, "measure_type": o.measure_type,
             "baseline": o.baseline, "target": o.target, "actual": o.actual, "weight": o.weight,
             "achievement": _number(o.achievement), "score": o.score}
            for o in card.objectives
        ],
        "weighted_total": _number(card.weighted_total),
        "final_rating": card.final_rating,
        "rating_label": card.rating_label,
        "competencies": [
            {"key": c.key, "name": c.name, "rating": c.rating, "self_rating": c.self_rating,
             "level_label": c.level_label}
            for c in card.competencies
        ],
        "trend": [
            {"cycle_id": t.cycle_id, "cycle_name": t.cycle_name, "rating": t.rating,
             "label": t.label, "weighted_score": _number(t.weighted_score)}
            for t in card.trend
        ],
    }
    return Answer(200, body)


async def record_kpi_actual(call: Call) -> Answer:
    """POST /kpi-actuals."""
    body = call.body
    person = find_person(call.directory, body["person"])
    if person is None:
        raise not_found()
    latest = await progress.record_update(
        call.viewer, person.id, body["cycle"], body["objective"], actual=body.get("actual"),
        status=body.get("status", ""), comment=body.get("comment", ""), source="api",
    )
    return Answer(201, {
        "person": person.key, "cycle_id": body["cycle"], "objective_key": latest.objective_key,
        "title": latest.title, "actual": latest.actual, "status": latest.status,
        "comment": latest.comment, "updates": latest.updates, "updated_at": latest.updated_at,
        "updated_by": latest.updated_by,
    })


endpoints = [
    Endpoint(
        "GET", "/records", list_records, "listRecords", "List records",
        "Results the processes recorded (objectives, ratings, feedback, praise …), oldest "
        "first, that the token's person could read on the pages.", TAG, READ,
        {200: ("A page of records.", page_schema(ref("Record")))},
        params=(CYCLE,
                Param("kind", "query", {"type": "string", "maxLength": 64},
                      "A record kind, e.g. final_rating, objectives, feedback."),
                Param("person", "query", {"type": "string", "maxLength": 64},
                      "Only this person's (employee id)."),
                LIMIT,
                Param("cursor", "query", {"type": "string", "maxLength": 64},
                      "Where the page starts: the `next_cursor` of the page before.")),
    ),
    Endpoint(
        "GET", "/scorecards/{person_key}", get_scorecard, "getScorecard", "Read a score card",
        "A person's score card for a cycle (default: their newest): objectives with targets, "
        "actuals and scores, the final rating, competencies and the trend. 404 for someone the "
        "token's person may not see.", TAG, READ,
        {200: ("The score card.", ref("ScoreCard"))},
        params=(Param("person_key", "path", {"type": "string", "maxLength": 64},
                      "The employee id.", required=True), CYCLE),
        errors=(404,),
    ),
    Endpoint(
        "POST", "/kpi-actuals", record_kpi_actual, "recordKpiActual",
        "Record a KPI actual",
        "An in-year update of one objective: its actual so far and/or a status, with a "
        "comment. The owner or a manager above them may record it (404 otherwise); the same "
        "checks as the score card and `sightline kpi import` (422 with the reason).",
        TAG, WRITE, {201: ("Recorded: the objective's latest state.", ref("KpiActual"))},
        body=KPI_ACTUAL,
        body_example={"person": "E1021", "cycle": 1, "objective": "obj-1", "actual": 42,
                      "status": "on_track", "comment": "From the BI export"},
        errors=(404, 422),
    ),
]
