"""Position profiles (HR): what each position requires — proficiency per competency of the
pack's framework, knowledge and skills — listed, edited in place (htmx, or a page of its own
without JavaScript), created and retired. The pack's catalog seeds them
(engine.talent.positions); a profile HR saved is theirs, and no later deploy changes it.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.talent import positions
from engine.talent.positions import (
    Framework,
    PackWords,
    PositionInvalid,
    PositionMissing,
    Profile,
    ProfileInput,
)
from webapp import i18n
from webapp.auth import Viewer, require_hr
from webapp.templating import flash, is_htmx, render

PREFIX = "req-"


def dom_id(code: str) -> str:
    """A profile's element id on the page (a generic profile's code holds a colon)."""
    return "position-" + code.replace(":", "-")


def _actor(viewer: Viewer) -> str:
    return f"person:{viewer.key}"


async def _page_parts(request: Request) -> dict[str, Any]:
    """What every position page shows: the framework, its levels and families, the units."""
    words = await positions.pack_words(i18n.language())
    framework = Framework.of(words.catalogs)
    scale = words.catalogs.get("rating_scale") or {}
    labels = {int(lv["value"]): str(lv.get("label", "")) for lv in scale.get("levels", [])
              if isinstance(lv, dict) and isinstance(lv.get("value"), int)}
    families = (words.catalogs.get("competencies") or {}).get("families") or {}
    directory = request.state.directory
    return {
        "words": words,
        "framework": framework,
        "levels": [(n, labels.get(n, "")) for n in range(framework.lowest, framework.highest + 1)],
        "families": [(k, str(v.get("name") or k)) for k, v in families.items()
                     if isinstance(v, dict)],
        "units": sorted(((u.code, u.name) for u in directory.units.values()),
                        key=lambda u: u[1].casefold()),
        "unit_codes": {u.id: u.code for u in directory.units.values()},
        "unit_names": {u.id: u.name for u in directory.units.values()},
        "dom_id": dom_id,
    }


def _typed(form: Any, code: str = "") -> ProfileInput:
    """The profile as the form posted it (kept as typed for a form with errors)."""
    return ProfileInput(
        code=str(form.get("code") or code),
        title=str(form.get("title") or ""),
        job_family=str(form.get("job_family") or ""),
        description=str(form.get("description") or ""),
        requirements={key.removeprefix(PREFIX): str(value) for key, value in form.multi_items()
                      if key.startswith(PREFIX) and isinstance(value, str)},
        knowledge=str(form.get("knowledge") or ""),
        skills=str(form.get("skills") or ""),
        is_key=form.get("is_key") == "y",
        org_unit=str(form.get("org_unit") or ""),
    )


def _problems(error: PositionInvalid) -> dict[str, str]:
    return {key: i18n.say(message) for key, message in error.problems.items()}


async def positions_page(request: Request) -> Response:
    """GET /positions: every profile; retired ones on request."""
    require_hr(request)
    show_retired = request.query_params.get("retired") == "1"
    profiles = await positions.list_positions(retired=show_retired)
    context = {
        **await _page_parts(request),
        "profiles": [p for p in profiles if not p.generic],
        "generic": [p for p in profiles if p.generic],
        "show_retired": show_retired,
    }
    return render(request, "positions.html", context)


async def _profile_or_404(code: str) -> Profile:
    found = await positions.get_position(code)
    if found is None:
        raise HTTPException(404)
    return found


def _card(request: Request, parts: dict[str, Any], profile: Profile, status: int = 200
          ) -> Response:
    return render(request, "_positions_card.html", {**parts, "profile": profile},
                  status=status)


def _form(
    request: Request, parts: dict[str, Any], typed: ProfileInput, *,
    profile: Profile | None, errors: dict[str, str] | None = None, status: int = 200,
) -> Response:
    context = {**parts, "typed": typed, "profile": profile, "errors": errors or {}}
    if is_htmx(request) and profile is not None:
        return render(request, "_positions_form.html", context, status=status)
    return render(request, "positions_edit.html", context, status=status)


async def edit_position(request: Request) -> Response:
    """GET /positions/{code}/edit: the edit form (in place with htmx, else as a page)."""
    require_hr(request)
    profile = await _profile_or_404(request.path_params["code"])
    parts = await _page_parts(request)
    typed = ProfileInput.of(profile, parts["unit_codes"].get(profile.org_unit_id, ""))
    words: PackWords = parts["words"]
    typed.title = words.text(profile, typed.title)
    typed.description = words.text(profile, typed.description)
    typed.knowledge = "\n".join(words.texts(profile, profile.knowledge))
    typed.skills = "\n".join(words.texts(profile, profile.skills))
    return _form(request, parts, typed, profile=profile)


async def show_position(request: Request) -> Response:
    """GET /positions/{code}: one profile's card (htmx's Cancel), else the list at it."""
    require_hr(request)
    profile = await _profile_or_404(request.path_params["code"])
    if not is_htmx(request):
        return RedirectResponse(f"/positions#{dom_id(profile.code)}", status_code=303)
    return _card(request, await _page_parts(request), profile)


async def save_position(request: Request) -> Response:
    """POST /positions/{code}: save HR's changes; errors keep what was typed (422)."""
    viewer = require_hr(request)
    profile = await _profile_or_404(request.path_params["code"])
    form = await request.form()
    typed = _typed(form, profile.code)
    parts = await _page_parts(request)
    try:
        saved = await positions.update_position(profile.code, typed, _actor(viewer))
    except PositionInvalid as error:
        return _form(request, parts, typed, profile=profile, errors=_problems(error),
                     status=422)
    if is_htmx(request):
        return _card(request, parts, saved)
    flash(request, i18n.gettext("Saved the profile of %(title)s.", title=saved.title), "success")
    return RedirectResponse(f"/positions#{dom_id(saved.code)}", status_code=303)


async def new_position(request: Request) -> Response:
    """GET /positions/new: the form for a new position."""
    require_hr(request)
    return _form(request, await _page_parts(request), ProfileInput(), profile=None)


async def create_position(request: Request) -> Response:
    """POST /positions: create a position; errors keep what was typed (422)."""
    viewer = require_hr(request)
    form = await request.form()
    typed = _typed(form)
    try:
        created = await positions.create_position(typed, _actor(viewer))
    except PositionInvalid as error:
        return _form(request, await _page_parts(request), typed, profile=None,
                     errors=_problems(error), status=422)
    flash(request, i18n.gettext("Created the position %(title)s.", title=created.title),
          "success")
    return RedirectResponse(f"/positions#{dom_id(created.code)}", status_code=303)


async def _set_active(request: Request, active: bool) -> Response:
    viewer = require_hr(request)
    try:
        profile = await positions.set_active(request.path_params["code"], active,
                                             _actor(viewer))
    except PositionMissing:
        raise HTTPException(404) from None
    message = (i18n.gettext("%(title)s is in use again.", title=profile.title) if active else
               i18n.gettext("Retired %(title)s: its people are measured against their job "
                            "family's profile.", title=profile.title))
    flash(request, message, "success")
    return RedirectResponse("/positions" + ("" if active else "?retired=1")
                            + f"#{dom_id(profile.code)}", status_code=303)


async def retire_position(request: Request) -> Response:
    """POST /positions/{code}/retire."""
    return await _set_active(request, False)


async def reinstate_position(request: Request) -> Response:
    """POST /positions/{code}/reinstate."""
    return await _set_active(request, True)


routes: list[BaseRoute] = [
    Route("/positions", positions_page, methods=["GET"]),
    Route("/positions", create_position, methods=["POST"]),
    Route("/positions/new", new_position, methods=["GET"]),
    Route("/positions/{code}", show_position, methods=["GET"]),
    Route("/positions/{code}", save_position, methods=["POST"]),
    Route("/positions/{code}/edit", edit_position, methods=["GET"]),
    Route("/positions/{code}/retire", retire_position, methods=["POST"]),
    Route("/positions/{code}/reinstate", reinstate_position, methods=["POST"]),
]
