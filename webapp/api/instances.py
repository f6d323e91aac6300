"""Process instances: start one a pack lets the person start, read it, read its timeline.

Reading follows the instance page (webapp.routes.instances): engine.workflow.access decides,
anyone else gets 404, and in a process the pack keeps between the people in it each person
sees only what they submitted. Starting follows the pack: a process whose `start = "self"`
the person starts for themselves, when its `starters` (if any) name them; processes HR
launches for a population go through POST /cycles.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.packs.definitions import latest
from engine.performance.cycles import may_launch
from engine.workflow import access, runtime
from engine.workflow.history import InstanceHistory, ShownValue, instance_history
from webapp.api.core import (
    BASE,
    READ,
    WRITE,
    Answer,
    ApiError,
    Call,
    Endpoint,
    Param,
)
from webapp.api.people import person_ref
from webapp.api.schemas import ref

TAG = "Instances"
INSTANCE_ID = Param("instance_id", "path", {"type": "integer", "minimum": 1,
                                            "maximum": 2**31 - 1},
                    "The instance's id.", required=True)
START = {
    "type": "object",
    "required": ["process"],
    "additionalProperties": False,
    "properties": {
        "process": {"type": "string", "minLength": 1, "maxLength": 128,
                    "description": "The BPMN process id, e.g. checkin."},
        "pack": {"type": "string", "minLength": 1, "maxLength": 64,
                 "description": "The pack, when several deploy the process."},
    },
}


async def _visible_history(call: Call) -> InstanceHistory:
    viewer = call.viewer
    instance_id = call.params["instance_id"]
    row = await access.visible_instance(instance_id, viewer.person_id, viewer.groups,
                                        call.directory)
    history = await instance_history(instance_id, viewer.person_id)
    if await access.participants_only(row):
        history.timeline = [
            entry if entry.actor_id == viewer.person_id else replace(entry, fields=(), summary="")
            for entry in history.timeline
        ]
    return history


def instance_body(call: Call, history: InstanceHistory) -> dict[str, Any]:
    """An instance as the API shows it."""
    return {
        "id": history.instance.id,
        "process_id": history.process_id,
        "process_title": history.process_title,
        "pack": history.pack,
        "version": history.version,
        "status": history.status,
        "subject": person_ref(call.directory, history.subject_id),
        "cycle": history.cycle_name,
        "started_at": history.started_at,
        "completed_at": history.completed_at,
        "open_steps": [
            {"task_id": step.task_id, "name": step.name, "holder": step.holder,
             "due_at": step.due_at}
            for step in history.open_steps
        ],
    }


def _field_lines(value: ShownValue, prefix: str = "") -> list[dict[str, str]]:
    label = f"{prefix}{value.label}"
    if value.kind == "group":
        return [line for child in value.children for line in _field_lines(child, label + " › ")]
    if value.kind == "table":
        rows = ["; ".join(f"{c}: {v}" for c, v in zip(value.columns, row, strict=False))
                for row in value.rows]
        return [{"label": label, "text": "\n".join(rows)}]
    if value.kind == "signature" and value.signature is not None:
        return [{"label": label, "text": f"Signed by {value.signature.name}"}]
    return [{"label": label, "text": value.text}]


async def get_instance(call: Call) -> Answer:
    """GET /instances/{id}."""
    return Answer(200, instance_body(call, await _visible_history(call)))


async def get_timeline(call: Call) -> Answer:
    """GET /instances/{id}/timeline."""
    history = await _visible_history(call)
    entries = [
        {
            "at": entry.at,
            "action": entry.action,
            "actor": entry.actor_name or None,
            "headline": entry.headline,
            "step": entry.step_name,
            "summary": entry.summary,
            "fields": [line for value in entry.fields for line in _field_lines(value)],
        }
        for entry in history.timeline
    ]
    return Answer(200, {"items": entries})


async def start_instance(call: Call) -> Answer:
    """POST /instances: start a process the pack lets the person start for themselves."""
    viewer = call.viewer
    process_id, pack = call.body["process"], call.body.get("pack")
    dep = await latest(process_id, pack)
    settings = dep.process_settings
    if settings.get("start", "per-employee") != "self":
        raise ApiError(422, "not_self_started",
                       f"{dep.title} is launched by HR for a population (POST /cycles), not "
                       "started by a person.")
    if not may_launch(settings, viewer.person_id, call.directory):
        raise ApiError(403, "not_a_starter", f"The pack does not let you start {dep.title}.")
    actor = runtime.Actor(viewer.person_id, viewer.actor_label)
    instance = await runtime.start_process(dep.process_id, subject=viewer.person_id,
                                           actor=actor, pack=dep.pack)
    history = await instance_history(instance.id, viewer.person_id)
    return Answer(201, instance_body(call, history),
                  {"Location": f"{BASE}/instances/{instance.id}"})


endpoints = [
    Endpoint(
        "POST", "/instances", start_instance, "startInstance", "Start a process",
        "Start a process the pack lets the token's person start for themselves (`start = "
        "\"self\"`: a check-in, feedback, a development plan …). The answer names its first "
        "steps; complete them through /tasks.", TAG, WRITE,
        {201: ("Started.", ref("Instance"))}, body=START, body_example={"process": "checkin"},
        errors=(404, 409, 422), personal_only=True,
    ),
    Endpoint(
        "GET", "/instances/{instance_id}", get_instance, "getInstance", "Read an instance",
        "Where a process stands: status, subject, cycle and who holds its open steps. 404 "
        "unless the token's person may see it (their own, their reports', HR's population, "
        "or one they take part in).", TAG, READ,
        {200: ("The instance.", ref("Instance"))}, params=(INSTANCE_ID,), errors=(404,),
        route_path="/instances/{instance_id:id}",
    ),
    Endpoint(
        "GET", "/instances/{instance_id}/timeline", get_timeline, "getInstanceTimeline",
        "Read an instance's timeline",
        "What happened, oldest first, with what each submission said (as the instance page "
        "shows it).", TAG, READ,
        {200: ("The timeline.", {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": ref("TimelineEntry")}}})},
        params=(INSTANCE_ID,), errors=(404,),
        route_path="/instances/{instance_id:id}/timeline",
    ),
]
