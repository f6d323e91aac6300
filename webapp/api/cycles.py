"""Cycles: list them; for HR, launch one and follow its progress.

Launching is the HR launch page's (webapp.routes.hr): engine.performance.cycles checks the
pack's `starters` and an HR partner's units, and queues the launch as a job a worker runs; the
answer is 202 with the launch, whose progress GET /launches/{id} follows. Anyone outside HR
gets 404 there, as on the HR pages.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.performance import cycles
from engine.performance.cycle_choice import cycles_newest_first
from engine.workflow import runtime
from webapp.api.core import (
    BASE,
    PAGE_PARAMS,
    READ,
    WRITE,
    Answer,
    ApiError,
    Call,
    Endpoint,
    Param,
    decode_cursor,
    not_found,
    page,
    page_schema,
)
from webapp.api.schemas import ref

TAG = "Cycles"
ID_RANGE = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
KEY = {"type": "string", "minLength": 1, "maxLength": 64}
LAUNCH = {
    "type": "object",
    "required": ["process", "cycle", "population"],
    "additionalProperties": False,
    "properties": {
        "process": {"type": "string", "minLength": 1, "maxLength": 128,
                    "description": "The BPMN process id, e.g. objective_setting."},
        "pack": {"type": "string", "minLength": 1, "maxLength": 64},
        "cycle": {"type": "string", "minLength": 1, "maxLength": 128,
                  "description": "The cycle's name (made when new)."},
        "due_on": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "population": {
            "description": "Exactly one of: an org unit, a job family, a list of people.",
            "oneOf": [
                {"type": "object", "required": ["unit"], "additionalProperties": False,
                 "properties": {"unit": KEY, "include_subunits": {"type": "boolean"}}},
                {"type": "object", "required": ["job_family"], "additionalProperties": False,
                 "properties": {"job_family": KEY}},
                {"type": "object", "required": ["people"], "additionalProperties": False,
                 "properties": {"people": {"type": "array", "minItems": 1, "maxItems": 100000,
                                           "items": KEY}}},
            ],
        },
    },
}


def _hr_only(call: Call) -> None:
    if not call.viewer.is_hr:
        raise not_found()


def cycle_body(cycle: Any) -> dict[str, Any]:
    """A cycle as the API shows it."""
    return {"id": cycle.id, "name": cycle.name, "due_on": cycle.due_on,
            "created_at": getattr(cycle, "created_at", None)}


def launch_body(status: cycles.LaunchStatus) -> dict[str, Any]:
    """A launch job as the API shows it."""
    report = status.report
    return {
        "id": status.id, "status": status.status, "process_title": status.process_title,
        "cycle_name": status.cycle_name, "population": status.population,
        "total": status.total, "done": status.done, "percent": status.percent,
        "cycle_id": report.cycle_id if report else None,
        "started": report.started if report else None,
        "skipped": len(report.skipped) if report else None,
        "error": status.error,
    }


async def list_cycles(call: Call) -> Answer:
    """GET /cycles."""
    found = await cycles_newest_first()
    start, limit = decode_cursor(call.params["cursor"]), call.params["limit"]
    chosen = found[start:start + limit]
    body = [{"id": c.id, "name": c.name, "due_on": c.due_on, "created_at": None}
            for c in chosen]
    return Answer(200, page(body, start + limit if start + limit < len(found) else None))


def _population(given: dict[str, Any]) -> cycles.Population:
    if "unit" in given:
        return cycles.Population.of_unit(given["unit"], given.get("include_subunits", True))
    if "job_family" in given:
        return cycles.Population.of_job_family(given["job_family"])
    return cycles.Population.of_people(given["people"])


async def launch_cycle(call: Call) -> Answer:
    """POST /cycles: queue a launch for a population (HR)."""
    _hr_only(call)
    body = call.body
    due = None
    if body.get("due_on"):
        try:
            due = date.fromisoformat(body["due_on"])
        except ValueError:
            raise ApiError(422, "invalid_body", "due_on is not a date (YYYY-MM-DD).",
                           [{"path": "/due_on", "message": "not a date"}]) from None
    actor = runtime.Actor(call.viewer.person_id, call.viewer.actor_label)
    job = await cycles.enqueue_launch(
        body["process"], _population(body["population"]), cycle_name=body["cycle"],
        due_on=due, actor=actor, pack=body.get("pack"),
    )
    status = await cycles.launch_status(job.id)
    assert status is not None  # just queued
    return Answer(202, launch_body(status), {"Location": f"{BASE}/launches/{job.id}"})


async def get_launch(call: Call) -> Answer:
    """GET /launches/{id} (HR)."""
    _hr_only(call)
    status = await cycles.launch_status(call.params["launch_id"])
    if status is None:
        raise not_found()
    return Answer(200, launch_body(status))


async def cycle_progress(call: Call) -> Answer:
    """GET /cycles/{id}/progress (HR)."""
    _hr_only(call)
    wanted = call.params["cycle_id"]
    found = next((c for c in await cycles.cycle_progress() if c.id == wanted), None)
    if found is None:
        raise not_found()
    launches = [launch_body(s) for s in await cycles.recent_launches(50)
                if s.cycle_name == found.name]
    return Answer(200, {
        "cycle": cycle_body(found),
        "instances": found.instances,
        "processes": [
            {"process_id": p.process_id, "title": p.title, "open": p.open,
             "completed": p.completed, "error": p.error, "cancelled": p.cancelled,
             "percent_done": p.percent_done}
            for p in found.processes
        ],
        "launches": launches,
    })


endpoints = [
    Endpoint(
        "GET", "/cycles", list_cycles, "listCycles", "List cycles",
        "Every cycle, newest first (their ids filter records and score cards).", TAG, READ,
        {200: ("A page of cycles.", page_schema(ref("Cycle")))}, params=PAGE_PARAMS,
    ),
    Endpoint(
        "POST", "/cycles", launch_cycle, "launchCycle", "Launch a cycle (HR)",
        "Start a per-employee process for a population, in a cycle (made when new), as the HR "
        "launch page does: everyone in it without an open instance of the process in the "
        "cycle gets one, or nobody does. The launch runs as a job: the answer is 202 with it, "
        "and GET /launches/{id} follows it. 404 outside HR; 422 when the pack does not let the "
        "person launch it, or someone is outside an HR partner's units.", TAG, WRITE,
        {202: ("Queued.", ref("Launch"))}, body=LAUNCH,
        body_example={"process": "objective_setting", "cycle": "2027 objectives",
                      "due_on": "2027-03-31", "population": {"unit": "ENG"}},
        errors=(404, 409, 422), personal_only=True,
    ),
    Endpoint(
        "GET", "/cycles/{cycle_id}/progress", cycle_progress, "getCycleProgress",
        "Read a cycle's progress (HR)",
        "How many instances of each process of the cycle are open, completed, in error or "
        "cancelled, and the cycle's launches. 404 outside HR.", TAG, READ,
        {200: ("The progress.", ref("CycleProgress"))},
        params=(Param("cycle_id", "path", ID_RANGE, "The cycle's id.", required=True),),
        errors=(404,), route_path="/cycles/{cycle_id:id}/progress",
    ),
    Endpoint(
        "GET", "/launches/{launch_id}", get_launch, "getLaunch", "Follow a launch (HR)",
        "A launch's progress (instances written of the total), then its outcome: the cycle, "
        "how many started and were skipped, or why it failed. 404 outside HR.", TAG, READ,
        {200: ("The launch.", ref("Launch"))},
        params=(Param("launch_id", "path", ID_RANGE, "The launch's id.", required=True),),
        errors=(404,), route_path="/launches/{launch_id:id}",
    ),
]
