"""Gap analysis: required against assessed proficiency (engine.talent.gaps).

`/gaps` shows HR a unit's heat map (a unit picker over the units HR covers) and a manager
their team's; `/gaps/person/{key}` one person's required and assessed levels per source with
the behaviours of the required level. Everyone sees their own gaps; a manager those of the
people below them; HR those of the people they cover. On the development plan's task the
panel at `/tasks/{id}/gap-suggestions` offers actions and courses for the subject's gaps,
which the person drawing up the plan accepts into the plan's draft or dismisses.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import Conflict, NotAllowed, NotFound
from engine.talent import gap_suggestions, gaps, positions
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.csrf import FIELD as CSRF_FIELD
from webapp.input import find_person, path_id
from webapp.templating import flash, format_date, is_htmx, render

SUGGESTION_KEYS = frozenset({CSRF_FIELD, "suggestion", "decision", "_submit", "_form_action",
                             "_field"})
LEGEND = ("none", "small", "medium", "large", "unknown", "absent")


async def gaps_page(request: Request) -> Response:
    """GET /gaps: HR's unit heat map and a manager's team heat map; anyone else is sent to
    their own gaps."""
    viewer = current_user(request)
    directory = request.state.directory
    language = i18n.language()
    context: dict[str, Any] = {"bands": LEGEND, "unit_map": None, "team_map": None,
                               "is_hr": viewer.is_hr, "viewer_id": viewer.person_id}
    if viewer.is_hr:
        units = gaps.units_for(viewer, directory)
        context["unit_choices"] = [(directory.units[u].code, directory.units[u].name, depth)
                                   for u, depth in units]
        wanted = directory.unit_by_code(request.query_params.get("unit", ""))
        chosen = wanted.id if wanted is not None else (units[0][0] if units else None)
        if chosen is not None:
            try:
                context["unit_map"], context["unit_people"] = await gaps.unit_heat_map(
                    chosen, viewer, directory, language)
            except NotFound:
                raise HTTPException(404) from None
            context["unit"] = directory.units[chosen]
    manager = directory.person(viewer.person_id)
    wanted_manager = request.query_params.get("manager")
    if wanted_manager:
        manager = find_person(directory, wanted_manager)
        if manager is None:
            raise HTTPException(404)
    if manager is not None and directory.reports_of(manager.id):
        try:
            context["team_map"] = await gaps.team_heat_map(manager.id, viewer, directory,
                                                           language)
        except NotFound:
            raise HTTPException(404) from None
        context["team_of"] = manager
        context["managers"] = {pid for pid in directory.reports_of(manager.id)
                               if directory.reports_of(pid)}
    if context["unit_map"] is None and context["team_map"] is None:
        return RedirectResponse(f"/gaps/person/{viewer.key}", status_code=303)
    context["people_ids"] = {p.key: p.id for p in directory.people.values()}
    return render(request, "gaps.html", context)


async def person_page(request: Request) -> Response:
    """GET /gaps/person/{key}: one person's required and assessed proficiency."""
    viewer = current_user(request)
    directory = request.state.directory
    person = find_person(directory, request.path_params["key"])
    if person is None:
        raise HTTPException(404)
    language = i18n.language()
    try:
        found = await gaps.person_gaps(person.id, viewer, directory, language)
    except NotFound:
        raise HTTPException(404) from None
    words = await positions.pack_words(language)
    scale = words.catalogs.get("rating_scale") or {}
    labels = {int(lv["value"]): str(lv.get("label", "")) for lv in scale.get("levels", [])
              if isinstance(lv, dict) and isinstance(lv.get("value"), int)}
    return render(request, "gaps_person.html", {
        "found": found, "person": person, "words": words, "labels": labels,
        "own": person.id == viewer.person_id,
        "manages": directory.is_manager_of(viewer.person_id, person.id, False),
        "manager": directory.manager_of(person.id),
    })


# --- suggestions on the development plan's task -------------------------------------------


async def _suggestions(request: Request, viewer: Viewer) -> gap_suggestions.PlanSuggestions:
    try:
        return await gap_suggestions.plan_suggestions(
            path_id(request, "task_id"), viewer, request.state.directory, i18n.language())
    except (NotFound, Conflict):
        raise HTTPException(404) from None


async def suggestions_panel(request: Request) -> Response:
    """GET /tasks/{id}/gap-suggestions: the panel (htmx) or a page of its own."""
    viewer = current_user(request)
    found = await _suggestions(request, viewer)
    context = {"offer": found, "task_id": found.task_id}
    if is_htmx(request):
        return render(request, "_gaps_suggestions.html", context)
    return render(request, "gaps_suggestions.html", context)


async def decide_suggestion(request: Request) -> Response:
    """POST /tasks/{id}/gap-suggestions: accept a suggestion into the plan's draft (with what
    was typed on the plan's form, when the page sent it along) or dismiss it."""
    viewer = current_user(request)
    task_id = path_id(request, "task_id")
    form = await request.form()
    accept = form.get("decision") == "accept"
    typed: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key not in SUGGESTION_KEYS and isinstance(value, str):
            typed.setdefault(key, []).append(value)
    back = f"/tasks/{task_id}"
    try:
        chosen = await gap_suggestions.decide(
            task_id, str(form.get("suggestion") or ""), accept, viewer,
            f"person:{viewer.key}", request.state.directory, i18n.language(), typed or None)
    except Conflict as conflict:
        flash(request, i18n.say(conflict.args[0]) if conflict.args else str(conflict),
              "warning")
        return _back(request, back)
    except NotAllowed as refused:
        flash(request, str(refused), "error")
        return _back(request, back)
    except NotFound:
        raise HTTPException(404) from None
    if accept:
        flash(request, i18n.gettext("Added “%(text)s” to the plan's actions, due %(due)s; "
                                    "change the date if needed, then submit the plan when "
                                    "it is complete.", text=chosen.text,
                                    due=format_date(chosen.due)), "success")
        return _back(request, back + "#task-form")
    if is_htmx(request):
        found = await _suggestions(request, viewer)
        return render(request, "_gaps_suggestions.html", {"offer": found, "task_id": task_id})
    flash(request, i18n.gettext("Dismissed “%(text)s”.", text=chosen.text), "info")
    return _back(request, back)


def _back(request: Request, url: str) -> Response:
    """To the task page: a full load, so the form shows the draft (htmx asked from the task
    page itself: it reloads it)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(url, status_code=303)


routes: list[BaseRoute] = [
    Route("/gaps", gaps_page, methods=["GET"]),
    Route("/gaps/person/{key}", person_page, methods=["GET"]),
    Route("/tasks/{task_id}/gap-suggestions", suggestions_panel, methods=["GET"]),
    Route("/tasks/{task_id}/gap-suggestions", decide_suggestion, methods=["POST"]),
]
