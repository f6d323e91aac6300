"""Development: plan actions with owners and due dates, and starting check-ins and plans.

A person sees their own plan; a manager also sees the plans of everyone below them. Anyone
else's plan is 404. Plans and check-ins run as the processes the deployed pack names in
`[features.development]` (the standard pack's `development_plan` and `checkin`); this page
only starts them and reads their plan records (engine.performance.development).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base import clock
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.performance import development
from engine.performance.scorecard import DevelopmentStatus
from engine.workflow import runtime
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.input import find_person
from webapp.templating import flash, render


@dataclass
class PersonPlan:
    """One person's newest development plan, as the page lists it."""

    person: PersonInfo
    status: DevelopmentStatus | None


def _visible_people(viewer: Viewer, directory: DirectorySnapshot) -> list[PersonInfo]:
    """The viewer's team (everyone below them), by name."""
    team = [directory.person(pid) for pid in directory.reports_of(viewer.person_id, True)]
    return sorted((p for p in team if p is not None), key=lambda p: p.name)


async def _plans_of(people: list[PersonInfo]) -> list[PersonPlan]:
    """The newest development plan of each person."""
    plans = await development.newest_plans([p.id for p in people], clock.now().date())
    return [PersonPlan(p, plans.get(p.id)) for p in people]


def _may_see(viewer: Viewer, person: PersonInfo, directory: DirectorySnapshot) -> bool:
    return person.id == viewer.person_id or directory.is_manager_of(viewer.person_id, person.id)


async def development_page(request: Request) -> Response:
    """GET /development: my plan's actions and open action tasks; a manager's team plans too."""
    viewer = current_user(request)
    directory = request.state.directory
    me = directory.person(viewer.person_id)
    [mine] = await _plans_of([me])
    team = await _plans_of(_visible_people(viewer, directory))
    open_actions = await development.open_actions(viewer.person_id)
    context = {
        "mine": mine,
        "team": team,
        "direct_reports": [directory.person(pid) for pid in directory.reports_of(me.id)],
        "open_actions": open_actions,
        "now": clock.now(),
    }
    return render(request, "development.html", context)


async def person_development(request: Request) -> Response:
    """GET /development/{key}: one person's plan, for themselves and their managers only."""
    viewer = current_user(request)
    directory = request.state.directory
    person = find_person(directory, request.path_params["key"])
    if person is None or not _may_see(viewer, person, directory):
        raise HTTPException(404)
    [plan] = await _plans_of([person])
    return render(request, "development_person.html", {"plan": plan})


async def start_checkin(request: Request) -> Response:
    """POST /development/checkin: start a check-in; its first step is the viewer's form."""
    viewer = current_user(request)
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    task_id = await development.start_checkin(actor)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


async def start_plan(request: Request) -> Response:
    """POST /development/plan: a manager starts a development plan for one of their reports."""
    viewer = current_user(request)
    directory = request.state.directory
    form = await request.form()
    person = find_person(directory, str(form.get("person") or ""))
    if person is None or not directory.is_manager_of(viewer.person_id, person.id, False):
        raise HTTPException(404)
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    task_id = await development.start_plan(actor, person.id)
    if task_id is None:
        said = i18n.gettext(
            "The plan for %(name)s started; it waits in the inbox.", name=person.name
        )
        flash(request, said, "success")
        return RedirectResponse("/development", status_code=303)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


routes: list[BaseRoute] = [
    Route("/development", development_page, methods=["GET"]),
    Route("/development/checkin", start_checkin, methods=["POST"]),
    Route("/development/plan", start_plan, methods=["POST"]),
    Route("/development/{key}", person_development, methods=["GET"]),
]
