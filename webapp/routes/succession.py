"""Succession plans: key positions, their successors, bench strength per unit, promotions.

GET /succession (`?unit=<id>`: a unit and its sub-units) shows the bench strength per unit,
each key position with its incumbents (and their risk of loss) and successors, and the
promotions recorded. HR adds a successor (POST /succession/{code}/successors), changes their
readiness or notes (POST …/successors/{person_id}), removes them (…/remove), and records a
promotion (POST /succession/promotions). Only HR sees any of it (an HR partner: the key
positions of their units); others get 404. The data comes from engine.talent.succession.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import Conflict, NotAllowed, NotFound
from engine.people.directory import DirectorySnapshot
from engine.talent.succession import (
    READINESS,
    add_successor,
    change_successor,
    position_choices,
    promotions,
    record_promotion,
    remove_successor,
    succession_plan,
)
from engine.talent.talent_review import TalentInvalid
from webapp import i18n
from webapp.auth import require_hr
from webapp.input import database_id, path_id
from webapp.routes.people import choose_person, person_summary
from webapp.templating import flash, render

HOME = "/succession"


def _unit(request: Request) -> int | None:
    text = request.query_params.get("unit", "").strip()
    if not text:
        return None
    unit_id = database_id(text)
    if unit_id is None:
        raise HTTPException(404)
    return unit_id


async def _context(request: Request, unit_id: int | None, *, errors: dict[str, str] | None = None,
                   form: dict[str, str] | None = None, candidates: Any = (),
                   open_form: str = "") -> dict[str, Any]:
    viewer = require_hr(request)
    try:
        plan = await succession_plan(viewer, unit_id)
        promoted = await promotions(viewer, unit_id)
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    return {
        "plan": plan, "promotions": promoted, "unit_id": unit_id, "readiness": READINESS,
        "positions": await position_choices(), "errors": errors or {}, "form": form or {},
        "candidates": candidates, "open_form": open_form,
        "unit_query": f"?unit={unit_id}" if unit_id is not None else "",
    }


async def succession_page(request: Request) -> Response:
    """GET /succession?unit=: bench strength, key positions and promotions."""
    return render(request, "succession.html", await _context(request, _unit(request)))


def _back(request: Request, form_unit: str, anchor: str) -> RedirectResponse:
    unit = database_id(form_unit) if form_unit else None
    query = f"?unit={unit}" if unit is not None else ""
    return RedirectResponse(f"{HOME}{query}#{anchor}", status_code=303)


async def add(request: Request) -> Response:
    """POST /succession/{code}/successors: name a successor (employee ID or name)."""
    viewer = require_hr(request)
    code = request.path_params["code"]
    form = await request.form()
    typed = str(form.get("person_pick") or form.get("person", "")).strip()
    readiness, notes = str(form.get("readiness", "")), str(form.get("notes", ""))
    unit_text = str(form.get("unit", ""))
    directory: DirectorySnapshot = request.state.directory
    choice = choose_person(directory, typed)
    errors: dict[str, str] = {}
    try:
        if choice.person is None:
            errors["person"] = choice.problem()
        else:
            await add_successor(code, choice.person.id, readiness, notes, viewer,
                                f"person:{viewer.key}")
    except TalentInvalid as error:
        errors = {k: i18n.say(v) for k, v in error.problems.items()}
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    if errors:
        prefix = f"{code}-"
        context = await _context(
            request, database_id(unit_text) if unit_text else None,
            errors={prefix + k: v for k, v in errors.items()},
            form={prefix + "person": typed, prefix + "readiness": readiness,
                  prefix + "notes": notes},
            candidates=[(p.key, person_summary(directory, p)) for p in choice.candidates],
            open_form=code)
        return render(request, "succession.html", context, status=422)
    assert choice.person is not None
    flash(request, i18n.gettext("%(name)s is now a successor.", name=choice.person.name),
          "success")
    return _back(request, unit_text, f"position-{code}")


async def change(request: Request) -> Response:
    """POST /succession/{code}/successors/{person_id}: change readiness or notes."""
    viewer = require_hr(request)
    code, person_id = request.path_params["code"], path_id(request, "person_id")
    form = await request.form()
    unit_text = str(form.get("unit", ""))
    try:
        await change_successor(code, person_id, str(form.get("readiness", "")),
                               str(form.get("notes", "")), viewer, f"person:{viewer.key}")
    except TalentInvalid as error:
        for message in error.problems.values():
            flash(request, i18n.say(message), "error")
        return _back(request, unit_text, f"position-{code}")
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    flash(request, i18n.gettext("Successor updated."), "success")
    return _back(request, unit_text, f"position-{code}")


async def remove(request: Request) -> Response:
    """POST /succession/{code}/successors/{person_id}/remove."""
    viewer = require_hr(request)
    code, person_id = request.path_params["code"], path_id(request, "person_id")
    form = await request.form()
    try:
        await remove_successor(code, person_id, viewer, f"person:{viewer.key}")
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    flash(request, i18n.gettext("Successor removed."), "success")
    return _back(request, str(form.get("unit", "")), f"position-{code}")


async def promote(request: Request) -> Response:
    """POST /succession/promotions: record a promotion."""
    viewer = require_hr(request)
    form = await request.form()
    typed = str(form.get("person_pick") or form.get("person", "")).strip()
    values = {k: str(form.get(k, "")) for k in ("to_position", "effective_on", "note")}
    unit_text = str(form.get("unit", ""))
    directory: DirectorySnapshot = request.state.directory
    choice = choose_person(directory, typed)
    errors: dict[str, str] = {}
    try:
        if choice.person is None:
            errors["person"] = choice.problem()
        else:
            await record_promotion(choice.person.id, values["to_position"],
                                   values["effective_on"], values["note"], viewer,
                                   f"person:{viewer.key}")
    except TalentInvalid as error:
        errors = {k: i18n.say(v) for k, v in error.problems.items()}
    except NotAllowed as error:
        errors = {"person": i18n.say_error(error)}
    except Conflict as error:
        errors = {"person": i18n.say_error(error)}
    except NotFound:
        raise HTTPException(404) from None
    if errors:
        context = await _context(
            request, database_id(unit_text) if unit_text else None,
            errors={f"promotion-{k}": v for k, v in errors.items()},
            form={"promotion-person": typed, **{f"promotion-{k}": v for k, v in values.items()}},
            candidates=[(p.key, person_summary(directory, p)) for p in choice.candidates],
            open_form="promotion")
        return render(request, "succession.html", context, status=422)
    assert choice.person is not None
    flash(request, i18n.gettext("Promotion of %(name)s recorded.", name=choice.person.name),
          "success")
    return _back(request, unit_text, "promotions")


routes: list[BaseRoute] = [
    Route(HOME, succession_page, methods=["GET"], name="succession"),
    Route(f"{HOME}/promotions", promote, methods=["POST"], name="succession_promote"),
    Route(f"{HOME}/{{code}}/successors", add, methods=["POST"], name="succession_add"),
    Route(f"{HOME}/{{code}}/successors/{{person_id:id}}", change, methods=["POST"],
          name="succession_change"),
    Route(f"{HOME}/{{code}}/successors/{{person_id:id}}/remove", remove, methods=["POST"],
          name="succession_remove"),
]
