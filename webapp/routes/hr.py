"""The HR area: cycles and their completion, and launching a process for a population.

GET /hr lists every cycle with its instances open / completed / stopped on an error per
process. GET /hr/cycles/new is the launch form; POST /hr/cycles/launch checks it and starts the
launch as a background job, then sends the browser to GET /hr/launches/{job}, whose progress
bar follows the job (htmx polls /hr/launches/{job}/progress; without JavaScript the page
refreshes itself) until it shows the report. Only the HR group sees any of it; others get 404.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine import clock, cycles
from engine.cycles import LaunchReport, Population
from engine.directory import DirectorySnapshot
from engine.errors import EngineError
from engine.runtime import Actor
from webapp.auth import Viewer, current_user
from webapp.templating import render

log = logging.getLogger("sightline.web")

HR_HOME = "/hr"
# Finished launches kept for their pages; the oldest finished ones go first.
KEEP_JOBS = 50
KEY_SEPARATORS = re.compile(r"[\s,;]+")


def _hr_only(request: Request) -> Viewer:
    """The viewer, when they are in HR; 404 for everyone else (no hint the page exists)."""
    viewer = current_user(request)
    if not viewer.is_hr:
        raise HTTPException(404)
    return viewer


# --- launch jobs ---------------------------------------------------------------------------


@dataclass
class LaunchJob:
    """A launch running in the background of this app process, and what came of it."""

    id: str
    process_title: str
    cycle_name: str
    population: str
    started_by: int
    started_at: datetime
    total: int
    done: int = 0
    report: LaunchReport | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        """Whether the launch ended, well or not."""
        return self.report is not None or self.error is not None

    @property
    def percent(self) -> int:
        """Prepared share of the instances to start."""
        return self.done * 100 // self.total if self.total else (100 if self.finished else 0)


_jobs: OrderedDict[str, LaunchJob] = OrderedDict()


def _remember(job: LaunchJob) -> None:
    _jobs[job.id] = job
    finished = [j.id for j in _jobs.values() if j.finished]
    for job_id in finished[: max(0, len(_jobs) - KEEP_JOBS)]:
        del _jobs[job_id]


async def _run_launch(job: LaunchJob, form: LaunchForm, actor: Actor) -> None:
    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    try:
        job.report = await cycles.launch_cycle(
            form.process_id,
            form.population(),
            cycle_name=form.cycle_name,
            due_on=form.due_on,
            actor=actor,
            pack=form.pack,
            progress=progress,
        )
        job.done = job.total = job.report.started
    except EngineError as exc:
        job.error = f"{exc} Nothing was started."
    except Exception as exc:  # shown on the page; the traceback goes to the log
        log.exception("launch %s failed", job.id)
        job.error = f"The launch failed and nothing was started ({type(exc).__name__}: {exc})."


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
    form: LaunchForm, offered: list[cycles.Launchable], directory: DirectorySnapshot
) -> int:
    """Fill form.errors; returns how many people the population holds."""
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
    except EngineError as exc:
        form.errors[form.kind] = str(exc)
        return 0
    if not people:
        form.errors[form.kind] = "Nobody active is in this population."
    return len(people)


def _units(directory: DirectorySnapshot) -> list[tuple[str, str]]:
    """(code, label) for every unit, in tree order, indented by depth."""
    out: list[tuple[str, str]] = []
    roots = [u for u in directory.units.values() if directory.unit(u.parent_id) is None]

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
        "units": _units(directory),
        "job_families": _job_families(directory),
    }
    return render(request, "hr_launch.html", context, status=status)


# --- handlers ------------------------------------------------------------------------------


async def hr_home(request: Request) -> Response:
    """GET /hr: every cycle with its completion, and the launches of this app process."""
    _hr_only(request)
    context = {
        "cycles": await cycles.cycle_progress(),
        "launches": list(reversed(_jobs.values())),
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
    size = _check(form, offered, directory)
    if form.errors:
        return await _form_page(request, viewer, form, status=400)
    title = next(p.title for p in offered if p.choice == form.choice)
    job = LaunchJob(
        id=uuid.uuid4().hex[:12],
        process_title=title,
        cycle_name=form.cycle_name,
        population=form.population().describe(directory),
        started_by=viewer.person_id,
        started_at=clock.now(),
        total=size,
    )
    actor = Actor(viewer.person_id, f"person:{viewer.key}")
    job.task = asyncio.create_task(_run_launch(job, form, actor))
    _remember(job)
    return RedirectResponse(f"{HR_HOME}/launches/{job.id}", status_code=303)


def _job(request: Request) -> LaunchJob:
    job = _jobs.get(request.path_params["job_id"])
    if job is None:
        raise HTTPException(404)
    return job


async def launch_page(request: Request) -> Response:
    """GET /hr/launches/{job}: the launch's progress, then its report."""
    _hr_only(request)
    return render(request, "hr_launch_progress.html", {"job": _job(request)})


async def launch_progress(request: Request) -> Response:
    """GET /hr/launches/{job}/progress: the progress fragment htmx polls (the page otherwise)."""
    _hr_only(request)
    return render(
        request, "hr_launch_progress.html", {"job": _job(request)},
        fragment="_hr_launch_progress.html",
    )


def launch_job(job_id: str) -> LaunchJob | None:
    """A launch job of this app process by id (tests and other pages)."""
    return _jobs.get(job_id)


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
