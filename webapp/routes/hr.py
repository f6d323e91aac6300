"""The HR area: cycles and their completion, and launching a process for a population.

GET /hr lists every cycle with its instances open / completed / stopped on an error per process.
GET /hr/cycles/new is the launch form; POST /hr/cycles/launch checks it and queues the launch as
a job for a worker (engine.workflow.jobs), then sends the browser to GET /hr/launches/{job},
whose progress bar follows the job's row (htmx polls /hr/launches/{job}/progress; without
JavaScript the page refreshes itself) until it shows the report — from whichever web process
answers. Only the HR group sees any of it; others get 404. An HR partner launches only for the
people of the units they look after (engine.workflow.access): the form offers those units, and a
population reaching outside them is refused on its field, naming who is outside.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.base import clock
from engine.base.errors import EngineError
from engine.people.directory import DirectorySnapshot
from engine.performance import cycles
from engine.performance.cycles import LaunchStatus, Population
from engine.workflow.access import hr_units
from engine.workflow.runtime import Actor
from webapp.auth import Viewer, current_user
from webapp.templating import render

log = logging.getLogger("sightline.web")

HR_HOME = "/hr"
# Launches listed on the HR home.
RECENT_LAUNCHES = 10
KEY_SEPARATORS = re.compile(r"[\s,;]+")


def _hr_only(request: Request) -> Viewer:
    """The viewer, when they are in HR; 404 for everyone else (no hint the page exists)."""
    viewer = current_user(request)
    if not viewer.is_hr:
        raise HTTPException(404)
    return viewer


# --- the form ------------------------------------------------------------------------------


@dataclass
class LaunchForm:
    """What the launch form posted, checked against the directory."""

    choice: str = ""
    kind: str = "unit"
    unit: str = ""
    include_subunits: bool = True
    job_family: str = ""
    people: str = ""
    cycle_name: str = ""
    due: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    due_on: date | None = None

    @property
    def pack(self) -> str:
        """The pack of the chosen process."""
        return self.choice.partition(":")[0]

    @property
    def process_id(self) -> str:
        """The chosen process id."""
        return self.choice.partition(":")[2]

    @property
    def keys(self) -> list[str]:
        """The pasted employee ids."""
        return [k for k in KEY_SEPARATORS.split(self.people) if k]

    def population(self) -> Population:
        """The population the form names."""
        if self.kind == "unit":
            return Population.of_unit(self.unit, self.include_subunits)
        if self.kind == "job_family":
            return Population.of_job_family(self.job_family)
        return Population.of_people(self.keys)


async def _read_form(request: Request) -> LaunchForm:
    data = await request.form()
    text = {k: str(v).strip() for k, v in data.items() if isinstance(v, str)}
    return LaunchForm(
        choice=text.get("process", ""),
        kind=text.get("population", "unit"),
        unit=text.get("unit", ""),
        include_subunits=bool(text.get("include_subunits")),
        job_family=text.get("job_family", ""),
        people=text.get("people", ""),
        cycle_name=text.get("cycle_name", ""),
        due=text.get("due_on", ""),
    )


def _check(
    form: LaunchForm, offered: list[cycles.Launchable], directory: DirectorySnapshot,
    actor: Actor,
) -> int:
    """Fill form.errors; returns how many people the population holds. An HR partner's
    population must lie within the units they look after."""
    if form.choice not in {p.choice for p in offered}:
        form.errors["process"] = "Choose the process to launch."
    if not form.cycle_name:
        form.errors["cycle_name"] = "Give the cycle a name, e.g. “2026 year-end”."
    elif len(form.cycle_name) > 128:
        form.errors["cycle_name"] = "Keep the name under 128 characters."
    if form.due:
        try:
            form.due_on = date.fromisoformat(form.due)
        except ValueError:
            form.errors["due_on"] = "Give the due date as a date (YYYY-MM-DD)."
    if form.kind not in ("unit", "job_family", "people"):
        form.kind = "unit"
    missing = {
        "unit": ("unit", form.unit, "Choose an org unit."),
        "job_family": ("job_family", form.job_family, "Choose a job family."),
        "people": ("people", form.people, "Paste at least one employee id."),
    }[form.kind]
    if not missing[1]:
        form.errors[missing[0]] = missing[2]
        return 0
    try:
        people = form.population().resolve(directory)
        cycles.check_launch_scope(actor, people, directory)
    except EngineError as exc:
        form.errors[form.kind] = str(exc)
        return 0
    if not people:
        form.errors[form.kind] = "Nobody active is in this population."
    return len(people)


def _units(directory: DirectorySnapshot, scope: set[int] | None) -> list[tuple[str, str]]:
    """(code, label) for every unit in `scope` (None: all), in tree order, indented by depth."""
    out: list[tuple[str, str]] = []
    roots = [u for u in directory.units.values()
             if (scope is None or u.id in scope)
             and (directory.unit(u.parent_id) is None
                  or (scope is not None and u.parent_id not in scope))]

    def visit(unit_id: int, depth: int) -> None:
        unit = directory.units[unit_id]
        out.append((unit.code, "\u2003" * depth + f"{unit.name} ({unit.code})"))
        children = sorted(directory.unit_children.get(unit_id, []),
                          key=lambda u: directory.units[u].name)
        for child in children:
            visit(child, depth + 1)

    for root in sorted(roots, key=lambda u: u.name):
        visit(root.id, 0)
    return out


def _job_families(directory: DirectorySnapshot) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for person in directory.people.values():
        if person.active and person.job_family:
            counts[person.job_family] = counts.get(person.job_family, 0) + 1
    return sorted(counts.items())


async def _form_page(
    request: Request, viewer: Viewer, form: LaunchForm, status: int = 200
) -> Response:
    directory = request.state.directory
    context = {
        "form": form,
        "offered": await cycles.launchable_processes(viewer.person_id),
        # An HR partner is offered the units they look after.
        "units": _units(directory, hr_units(viewer.person_id, directory)),
        "job_families": _job_families(directory),
    }
    return render(request, "hr_launch.html", context, status=status)


# --- handlers ------------------------------------------------------------------------------


async def hr_home(request: Request) -> Response:
    """GET /hr: every cycle with its completion, and the launches of this app process."""
    _hr_only(request)
    context = {
        "cycles": await cycles.cycle_progress(),
        "launches": await cycles.recent_launches(RECENT_LAUNCHES),
        "today": clock.now().date(),
    }
    return render(request, "hr.html", context)


async def new_cycle(request: Request) -> Response:
    """GET /hr/cycles/new: the launch form."""
    viewer = _hr_only(request)
    return await _form_page(request, viewer, LaunchForm())


async def launch(request: Request) -> Response:
    """POST /hr/cycles/launch: check the form, start the launch job, go to its page."""
    viewer = _hr_only(request)
    form = await _read_form(request)
    directory = request.state.directory
    offered = await cycles.launchable_processes(viewer.person_id)
    actor = Actor(viewer.person_id, f"person:{viewer.key}")
    _check(form, offered, directory, actor)
    if form.errors:
        return await _form_page(request, viewer, form, status=400)
    try:
        job = await cycles.enqueue_launch(
            form.process_id, form.population(), cycle_name=form.cycle_name,
            due_on=form.due_on, actor=actor, pack=form.pack,
        )
    except EngineError as exc:
        form.errors["process"] = str(exc)
        return await _form_page(request, viewer, form, status=400)
    return RedirectResponse(f"{HR_HOME}/launches/{job.id}", status_code=303)


async def _launch(request: Request) -> LaunchStatus:
    job_id = request.path_params["job_id"]
    found = await cycles.launch_status(job_id) if job_id.isdigit() else None
    if found is None:
        raise HTTPException(404)
    return found


async def launch_page(request: Request) -> Response:
    """GET /hr/launches/{job}: the launch's progress, then its report."""
    _hr_only(request)
    return render(request, "hr_launch_progress.html", {"job": await _launch(request)})


async def launch_progress(request: Request) -> Response:
    """GET /hr/launches/{job}/progress: the progress fragment htmx polls (the page otherwise)."""
    _hr_only(request)
    return render(
        request, "hr_launch_progress.html", {"job": await _launch(request)},
        fragment="_hr_launch_progress.html",
    )


routes = [
    Route(HR_HOME, hr_home, methods=["GET"], name="hr_home"),
    Route(f"{HR_HOME}/cycles/new", new_cycle, methods=["GET"], name="hr_new_cycle"),
    Route(f"{HR_HOME}/cycles/launch", launch, methods=["POST"], name="hr_launch"),
    Route(f"{HR_HOME}/launches/{{job_id}}", launch_page, methods=["GET"], name="hr_launch_page"),
    Route(
        f"{HR_HOME}/launches/{{job_id}}/progress", launch_progress, methods=["GET"],
        name="hr_launch_progress",
    ),
]
