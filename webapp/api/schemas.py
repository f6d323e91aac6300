"""The JSON Schemas of what the API answers, shared by the endpoints that return them; the
OpenAPI document lists them under components/schemas."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

TEXT = {"type": "string"}
OPTIONAL_TEXT = {"type": ["string", "null"]}
MOMENT = {"type": "string", "format": "date-time"}
OPTIONAL_MOMENT = {"type": ["string", "null"], "format": "date-time"}
OPTIONAL_DAY = {"type": ["string", "null"], "format": "date"}
ID = {"type": "integer"}
OPTIONAL_ID = {"type": ["integer", "null"]}
ANY_OBJECT = {"type": "object"}


def ref(name: str) -> JSON:
    """A reference to a schema of components/schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: JSON, required: list[str] | None = None) -> JSON:
    """An object with these properties, all required unless said otherwise."""
    return {"type": "object", "required": required if required is not None else list(properties),
            "properties": properties}


PERSON_REF = obj({"key": TEXT, "name": TEXT})
OPTIONAL_PERSON_REF = {"oneOf": [PERSON_REF, {"type": "null"}]}

COMPONENTS: dict[str, JSON] = {
    "Error": obj({
        "error": obj({
            "code": {"type": "string", "description": "Stable, for programs."},
            "message": {"type": "string", "description": "For people."},
            "details": {"description": "More about what went wrong (field errors …), or null."},
        }),
    }),
    "Person": obj({
        "key": {"type": "string", "description": "The employee id."},
        "name": TEXT,
        "email": TEXT,
        "title": TEXT,
        "job_family": TEXT,
        "unit": {"type": ["string", "null"], "description": "The org unit's code."},
        "manager": {"type": ["string", "null"], "description": "The manager's employee id."},
        "active": {"type": "boolean"},
        "position": {"type": ["string", "null"],
                     "description": "The code of the person's position (a position profile)."},
    }),
    "Unit": obj({
        "code": TEXT,
        "name": TEXT,
        "parent": OPTIONAL_TEXT,
        "head": {"type": ["string", "null"], "description": "The head's employee id."},
    }),
    "TaskLine": obj({
        "id": ID,
        "name": TEXT,
        "process_id": TEXT,
        "process_title": TEXT,
        "instance_id": ID,
        "subject": OPTIONAL_PERSON_REF,
        "cycle": OPTIONAL_TEXT,
        "due_at": OPTIONAL_MOMENT,
        "overdue": {"type": "boolean"},
        "shared": {"type": "boolean", "description": "A group's task, or several people's."},
        "claimed": {"type": "boolean"},
    }),
    "Task": obj({
        "id": ID,
        "name": TEXT,
        "status": {"type": "string", "enum": ["open", "completed", "closed"]},
        "process_id": TEXT,
        "process_title": TEXT,
        "instance_id": ID,
        "subject": OPTIONAL_PERSON_REF,
        "due_at": OPTIONAL_MOMENT,
        "instructions": {"type": ["string", "null"],
                         "description": "The step's instructions (Markdown, as the pack wrote "
                         "them with this task's data)."},
        "form": {"oneOf": [obj({
            "schema": {"type": "object", "description": "The form's JSON Schema."},
            "uischema": {"type": "object", "description": "How the page lays it out."},
        }), {"type": "null"}]},
        "data": {"type": "object", "description": "The form's current values (what the page "
                 "would show in it)."},
        "draft": {"oneOf": [obj({"saved_at": OPTIONAL_MOMENT}), {"type": "null"}],
                  "description": "A draft saved from the page or the API (its values are in "
                  "`data`)."},
    }),
    "Completion": obj({
        "task_id": ID,
        "instance": obj({"id": ID, "status": TEXT}),
        "next_steps": {"type": "array", "items": obj({"name": TEXT, "holder": TEXT})},
        "waiting_for": {"type": "array", "items": TEXT},
    }),
    "Draft": obj({"task_id": ID, "saved_at": MOMENT}),
    "Instance": obj({
        "id": ID,
        "process_id": TEXT,
        "process_title": TEXT,
        "pack": TEXT,
        "version": ID,
        "status": TEXT,
        "subject": OPTIONAL_PERSON_REF,
        "cycle": OPTIONAL_TEXT,
        "started_at": OPTIONAL_MOMENT,
        "completed_at": OPTIONAL_MOMENT,
        "open_steps": {"type": "array", "items": obj({
            "task_id": ID, "name": TEXT, "holder": TEXT, "due_at": OPTIONAL_MOMENT,
        })},
    }),
    "TimelineEntry": obj({
        "at": MOMENT,
        "action": TEXT,
        "actor": OPTIONAL_TEXT,
        "headline": TEXT,
        "step": OPTIONAL_TEXT,
        "summary": TEXT,
        "fields": {"type": "array", "items": obj({"label": TEXT, "text": TEXT})},
    }),
    "Record": obj({
        "id": ID,
        "kind": TEXT,
        "person": TEXT,
        "cycle_id": OPTIONAL_ID,
        "instance_id": OPTIONAL_ID,
        "data": ANY_OBJECT,
        "created_at": MOMENT,
    }),
    "ScoreCard": obj({
        "person": PERSON_REF,
        "cycle": {"oneOf": [obj({"id": ID, "name": TEXT}), {"type": "null"}]},
        "objectives": {"type": "array", "items": obj({
            "title": TEXT, "kra": TEXT, "kpi": TEXT, "measure_type": TEXT,
            "baseline": {}, "target": {}, "actual": {}, "weight": {},
            "achievement": {"type": ["number", "null"]},
            "score": {"type": ["integer", "null"]},
        })},
        "weighted_total": {"type": ["number", "null"]},
        "final_rating": {"type": ["integer", "null"]},
        "rating_label": TEXT,
        "competencies": {"type": "array", "items": obj({
            "key": TEXT, "name": TEXT, "rating": {"type": ["integer", "null"]},
            "self_rating": {"type": ["integer", "null"]}, "level_label": TEXT,
        })},
        "trend": {"type": "array", "items": obj({
            "cycle_id": ID, "cycle_name": TEXT, "rating": {"type": ["integer", "null"]},
            "label": TEXT, "weighted_score": {"type": ["number", "null"]},
        })},
    }),
    "KpiActual": obj({
        "person": TEXT,
        "cycle_id": ID,
        "objective_key": TEXT,
        "title": TEXT,
        "actual": {"type": ["number", "null"]},
        "status": TEXT,
        "comment": TEXT,
        "updates": ID,
        "updated_at": MOMENT,
        "updated_by": TEXT,
    }),
    "Cycle": obj({
        "id": ID,
        "name": TEXT,
        "due_on": OPTIONAL_DAY,
        "created_at": OPTIONAL_MOMENT,
    }),
    "ProcessProgress": obj({
        "process_id": TEXT, "title": TEXT, "open": ID, "completed": ID, "error": ID,
        "cancelled": ID, "percent_done": ID,
    }),
    "Launch": obj({
        "id": ID,
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "process_title": TEXT,
        "cycle_name": TEXT,
        "population": TEXT,
        "total": ID,
        "done": ID,
        "percent": ID,
        "cycle_id": OPTIONAL_ID,
        "started": OPTIONAL_ID,
        "skipped": {"type": ["integer", "null"]},
        "error": OPTIONAL_TEXT,
    }),
    "CycleProgress": obj({
        "cycle": ref("Cycle"),
        "instances": ID,
        "processes": {"type": "array", "items": ref("ProcessProgress")},
        "launches": {"type": "array", "items": ref("Launch")},
    }),
}
