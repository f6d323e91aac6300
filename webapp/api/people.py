"""People and org units (read): the directory as the pages' person pickers show it."""

from __future__ import annotations

from typing import Any

from engine.people.directory import DirectorySnapshot, PersonInfo, current_directory
from engine.talent import positions
from engine.workflow.access import hr_population
from webapp.api.core import (
    PAGE_PARAMS,
    READ,
    WRITE,
    Answer,
    ApiError,
    Call,
    Endpoint,
    Param,
    decode_cursor,
    page,
    page_schema,
)
from webapp.api.core import not_found as nothing_here
from webapp.api.schemas import ref
from webapp.input import find_person

TAG = "People"


def person_body(directory: DirectorySnapshot, person: PersonInfo) -> dict[str, Any]:
    """A person as the API shows them."""
    unit = directory.unit(person.org_unit_id)
    manager = directory.person(person.manager_id)
    return {
        "key": person.key,
        "name": person.name,
        "email": person.email,
        "title": person.title,
        "job_family": person.job_family,
        "unit": unit.code if unit else None,
        "manager": manager.key if manager else None,
        "active": person.active,
        "position": person.position or None,
    }


def person_ref(directory: DirectorySnapshot, person_id: int | None) -> dict[str, str] | None:
    """{key, name} of a person, or None."""
    person = directory.person(person_id)
    return {"key": person.key, "name": person.name} if person else None


async def list_people(call: Call) -> Answer:
    """GET /people."""
    directory = call.directory
    wanted = (call.params.get("q") or "").strip().casefold()
    unit_code = call.params.get("unit")
    people = sorted((p for p in directory.people.values() if p.active),
                    key=lambda p: (p.key.casefold(), p.id))
    if unit_code:
        unit = directory.unit_by_code(unit_code)
        if unit is None:
            return Answer(200, page([], None))
        people = [p for p in people if p.org_unit_id == unit.id]
    if wanted:
        people = [p for p in people if any(wanted in v.casefold()
                                           for v in (p.name, p.key, p.email))]
    start, limit = decode_cursor(call.params["cursor"]), call.params["limit"]
    chosen = people[start:start + limit]
    more = start + limit < len(people)
    return Answer(200, page([person_body(directory, p) for p in chosen],
                            start + limit if more else None))


async def get_person(call: Call) -> Answer:
    """GET /people/{key}."""
    person = find_person(call.directory, call.params["key"])
    if person is None or not person.active:
        raise nothing_here()
    return Answer(200, person_body(call.directory, person))


async def set_position(call: Call) -> Answer:
    """PUT /people/{key}/position (HR)."""
    if not call.viewer.is_hr:
        raise nothing_here()
    person = find_person(call.directory, call.params["key"])
    if person is None or not person.active:
        raise nothing_here()
    covered = hr_population(call.viewer, call.directory)
    if covered is not None and person.id not in covered:
        raise nothing_here()
    code = call.body.get("position")
    try:
        await positions.assign_position(person.id, code, call.viewer.actor_label)
    except positions.PositionMissing:
        raise ApiError(422, "unknown_position", f"There is no position {code!r}.",
                       [{"path": "/position", "message": "no such position"}]) from None
    except positions.PositionRetired:
        raise ApiError(422, "retired_position", f"The position {code!r} is retired.",
                       [{"path": "/position", "message": "retired"}]) from None
    directory = await current_directory()
    return Answer(200, person_body(directory, directory.person(person.id) or person))


async def list_units(call: Call) -> Answer:
    """GET /units."""
    directory = call.directory
    units = sorted(directory.units.values(), key=lambda u: (u.code.casefold(), u.id))
    start, limit = decode_cursor(call.params["cursor"]), call.params["limit"]
    chosen = units[start:start + limit]
    body = []
    for unit in chosen:
        parent = directory.unit(unit.parent_id)
        head = directory.person(unit.head_id)
        body.append({"code": unit.code, "name": unit.name,
                     "parent": parent.code if parent else None,
                     "head": head.key if head else None})
    more = start + limit < len(units)
    return Answer(200, page(body, start + limit if more else None))


endpoints = [
    Endpoint(
        "GET", "/people", list_people, "listPeople", "List people",
        "Active people of the directory, by employee id; `q` matches name, id or email, "
        "`unit` keeps the members of one org unit (not its sub-units).",
        TAG, READ, {200: ("A page of people.", page_schema(ref("Person")))},
        params=(Param("q", "query", {"type": "string", "maxLength": 100},
                      "Text the name, employee id or email contains."),
                Param("unit", "query", {"type": "string", "maxLength": 64},
                      "An org unit's code."),
                *PAGE_PARAMS),
    ),
    Endpoint(
        "GET", "/people/{key}", get_person, "getPerson", "Read a person",
        "One active person, by employee id.", TAG, READ,
        {200: ("The person.", ref("Person"))},
        params=(Param("key", "path", {"type": "string", "maxLength": 64},
                      "The employee id.", required=True),),
        errors=(404,),
    ),
    Endpoint(
        "PUT", "/people/{key}/position", set_position, "setPersonPosition",
        "Set a person's position (HR)",
        "Give an active person a position (the code of a position profile HR keeps at "
        "/positions), or none with null; gap analysis measures them against it. 404 outside "
        "HR or an HR partner's units; 422 for an unknown or retired position.", TAG, WRITE,
        {200: ("The person.", ref("Person"))},
        params=(Param("key", "path", {"type": "string", "maxLength": 64},
                      "The employee id.", required=True),),
        body={"type": "object", "additionalProperties": False, "required": ["position"],
              "properties": {"position": {"type": ["string", "null"], "maxLength": 64,
                                          "description": "A position's code, or null."}}},
        body_example={"position": "senior_software_engineer"},
        errors=(404, 422),
    ),
    Endpoint(
        "GET", "/units", list_units, "listUnits", "List org units",
        "Every org unit, by code, with its parent and head.", TAG, READ,
        {200: ("A page of units.", page_schema(ref("Unit")))},
        params=PAGE_PARAMS,
    ),
]
