"""The HR area: cycles and their completion, and launching a process for a population.

GET /hr lists every cycle with its instances open / completed / stopped on an error per process.
GET /hr/cycles/new is the launch form; POST /hr/cycles/launch checks it and queues the launch as
a job for a worker (engine.workflow.jobs), then sends the browser to GET /hr/launches/{job},
whose progress bar follows the job's row (htmx polls /hr/launches/{job}/progress; without
JavaScript the page refreshes itself) until it shows the report — from whichever web process
answers. Only the HR group sees any of it; others get 404. An HR partner launches only for the
people of the units they look after (engine.workflow.access): the form offers those units, and a
population reaching outside them is refused on its field, naming who is outside.

GET /hr/dashboard shows one cycle (`?cycle=<id>`, else the one where most of the viewer's
population has open work): completion by unit, overdue
steps, ratings against the guideline with the release of each population, instances stopped on
an error (each may be run again) and the exports. GET /hr/calibration lists one population's
appraisals waiting for the release (`?cycle=`, else the cycle with the most of them), whose
proposed ratings HR may change before releasing them.
The data comes from engine.performance (hr_dashboard, calibration, cycle_errors, exports).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base import clock
from engine.base.errors import EngineError, NotAllowed, NotFound
from engine.people.directory import DirectorySnapshot
from engine.performance import cycles, exports
from engine.performance.calibration import (
    PopulationCalibration,
    population_calibration,
    send_release,
)
from engine.performance.cycle_choice import (
    CycleSummary,
    calibration_cycle,
    cycles_newest_first,
    hr_cycle,
)
from engine.performance.cycle_errors import retry_failed
from engine.performance.cycles import LaunchStatus, Population
from engine.performance.hr_dashboard import HrDashboard, hr_dashboard
from engine.workflow import runtime
from engine.workflow.access import hr_units
from engine.workflow.runtime import Actor
from webapp import i18n
from webapp.auth import Viewer, require_hr
from webapp.input import database_id, find_person, path_id
from webapp.routes.cycle_pages import chart_data, chosen_cycle, distribution_chart
from webapp.routes.people import NAMED_KEY, PersonChoice, choose_person, person_summary
from webapp.templating import flash, format_date, render

log = logging.getLogger("sightline.web")

HR_HOME = "/hr"
# Launches listed on the HR home.
RECENT_LAUNCHES = 10
# People are listed one a line (or separated by commas or semicolons): a name has spaces.
ENTRY_SEPARATORS = re.compile(r"[\n\r,;]+")

REASON_MAX = 1000


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

    # The employee IDs the people list names (filled by `_check`).
    keys: list[str] = field(default_factory=list)
    # The people the "Add a person" box could mean, when what was typed fits several.
    add_candidates: list[tuple[str, str]] = field(default_factory=list)
    person_search: str = ""

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
        people=str(data.get("people", "")).strip(),
        person_search=text.get("person_search", ""),
        cycle_name=text.get("cycle_name", ""),
        due=text.get("due_on", ""),
    )


def _entry_keys(directory: DirectorySnapshot, entry: str) -> tuple[list[str], str]:
    """The employee IDs one line of the people list names, or why it names no one: a full
    name, an email, an ID, "Name (ID)", or IDs pasted with spaces between them."""
    bracketed = NAMED_KEY.search(entry)
    if bracketed and bracketed.group(1) in directory.by_key:
        return [bracketed.group(1)], ""
    choice = choose_person(directory, entry)
    if choice.person is not None:
        return [choice.person.key], ""
    words = entry.split()
    if len(words) > 1 and any(word in directory.by_key for word in words):
        keys, problems = [], []
        for word in words:
            found, problem = _entry_keys(directory, word)
            keys += found
            problems += [problem] if problem else []
        return keys, " ".join(problems)
    if choice.candidates:
        shown = ", ".join(f"{p.name} ({p.key})" for p in choice.candidates)
        return [], i18n.gettext(
            "“%(typed)s” could be %(people)s: write the full name or the employee ID.",
            typed=entry, people=shown)
    return [], choice.problem()


def _people_keys(form: LaunchForm, directory: DirectorySnapshot) -> str:
    """Fill form.keys from the people list; the problems with it, in words ("" for none)."""
    problems = []
    form.keys = []
    for entry in (e.strip() for e in ENTRY_SEPARATORS.split(form.people)):
        if entry:
            keys, problem = _entry_keys(directory, entry)
            form.keys += keys
            problems += [problem] if problem else []
    return " ".join(problems)


def _add_person(form: LaunchForm, directory: DirectorySnapshot, picked: str) -> None:
    """The "Add" button: put the person typed in the search box (or picked from those it could
    mean) on the people list, as "Name (ID)"."""
    form.kind = "people"
    person = find_person(directory, picked) if picked else None
    choice = PersonChoice(form.person_search, person) if person else choose_person(
        directory, form.person_search
    )
    if choice.person is None or not choice.person.active:
        form.errors["person_search"] = choice.problem()
        form.add_candidates = [(p.key, person_summary(directory, p)) for p in choice.candidates]
        return
    line = f"{choice.person.name} ({choice.person.key})"
    if choice.person.key not in {k for e in ENTRY_SEPARATORS.split(form.people)
                                 for k in _entry_keys(directory, e.strip())[0] if e.strip()}:
        form.people = f"{form.people}\n{line}".strip()
    form.person_search = ""


def _check(
    form: LaunchForm, offered: list[cycles.Launchable], directory: DirectorySnapshot,
    actor: Actor,
) -> int:
    """Fill form.errors; returns how many people the population holds. An HR partner's
    population must lie within the units they look after."""
    if form.choice not in {p.choice for p in offered}:
        form.errors["process"] = i18n.gettext("Choose the process to launch.")
    if not form.cycle_name:
        form.errors["cycle_name"] = i18n.gettext("Give the cycle a name, e.g. “2026 year-end”.")
    elif len(form.cycle_name) > 128:
        form.errors["cycle_name"] = i18n.gettext(
            "Keep the name under %(count)s characters.", count=128)
    if form.due:
        try:
            form.due_on = date.fromisoformat(form.due)
        except ValueError:
            form.errors["due_on"] = i18n.gettext("Give the due date as a date (YYYY-MM-DD).")
        else:
            today = clock.now().date()
            if form.due_on < today:
                form.errors["due_on"] = i18n.gettext(
                    "%(day)s has passed: give a due date from today (%(today)s) on.",
                    day=format_date(form.due_on), today=format_date(today))
    if form.kind not in ("unit", "job_family", "people"):
        form.kind = "unit"
    missing = {
        "unit": ("unit", form.unit, i18n.gettext("Choose an org unit.")),
        "job_family": ("job_family", form.job_family, i18n.gettext("Choose a job family.")),
        "people": ("people", form.people,
                   i18n.gettext("Add at least one person: a name or employee ID.")),
    }[form.kind]
    if not missing[1]:
        form.errors[missing[0]] = missing[2]
        return 0
    if form.kind == "people":
        problem = _people_keys(form, directory)
        if problem:
            form.errors["people"] = problem
            return 0
    try:
        people = form.population().resolve(directory)
        cycles.check_launch_scope(actor, people, directory)
    except EngineError as exc:
        form.errors[form.kind] = i18n.say_error(exc)
        return 0
    if not people:
        form.errors[form.kind] = i18n.gettext("Nobody active is in this population.")
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
    require_hr(request)
    context = {
        "cycles": await cycles.cycle_progress(),
        "launches": await cycles.recent_launches(RECENT_LAUNCHES),
        "today": clock.now().date(),
    }
    return render(request, "hr.html", context)


async def new_cycle(request: Request) -> Response:
    """GET /hr/cycles/new: the launch form."""
    viewer = require_hr(request)
    return await _form_page(request, viewer, LaunchForm())


async def _confirm_page(
    request: Request, form: LaunchForm, preview: cycles.LaunchPreview, changed: bool = False
) -> Response:
    context = {"form": form, "preview": preview, "changed": changed}
    return render(request, "hr_launch_confirm.html", context)


async def launch(request: Request) -> Response:
    """POST /hr/cycles/launch: check the form and show what the launch would start; once that
    is confirmed (`action=launch` with the count shown), start the launch job and go to its
    page. `action=add` puts the person typed in the search box on the list; `action=edit`
    goes back to the form."""
    viewer = require_hr(request)
    form = await _read_form(request)
    posted = await request.form()
    action = str(posted.get("action", "review"))
    directory = request.state.directory
    if action == "add" or posted.get("add_key"):
        _add_person(form, directory, str(posted.get("add_key", "")).strip())
        return await _form_page(request, viewer, form, status=400 if form.errors else 200)
    if action == "edit":
        return await _form_page(request, viewer, form)
    offered = await cycles.launchable_processes(viewer.person_id)
    actor = Actor(viewer.person_id, f"person:{viewer.key}")
    _check(form, offered, directory, actor)
    if form.errors:
        return await _form_page(request, viewer, form, status=400)
    try:
        preview = await cycles.preview_launch(
            form.process_id, form.population(), cycle_name=form.cycle_name, actor=actor,
            pack=form.pack,
        )
    except EngineError as exc:
        form.errors["process"] = i18n.say_error(exc)
        return await _form_page(request, viewer, form, status=400)
    # The count HR confirmed must still hold: someone joined or got an instance meanwhile.
    if action != "launch" or str(posted.get("confirm_count", "")) != str(preview.count):
        return await _confirm_page(request, form, preview, changed=action == "launch")
    try:
        job = await cycles.enqueue_launch(
            form.process_id, form.population(), cycle_name=form.cycle_name,
            due_on=form.due_on, actor=actor, pack=form.pack,
        )
    except EngineError as exc:
        form.errors["process"] = i18n.say_error(exc)
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
    require_hr(request)
    return render(request, "hr_launch_progress.html", {"job": await _launch(request)})


async def launch_progress(request: Request) -> Response:
    """GET /hr/launches/{job}/progress: the progress fragment htmx polls (the page otherwise)."""
    require_hr(request)
    return render(
        request, "hr_launch_progress.html", {"job": await _launch(request)},
        fragment="_hr_launch_progress.html",
    )


# --- HR dashboard ------------------------------------------------------------------------------


async def _hr_context(request: Request) -> tuple[Viewer, CycleSummary | None, HrDashboard | None]:
    viewer = require_hr(request)
    offered = await cycles_newest_first()
    cycle = chosen_cycle(request, offered)
    if not request.query_params.get("cycle", "").strip():
        cycle = await hr_cycle(viewer) or cycle
    try:
        dashboard = await hr_dashboard(cycle.id, viewer) if cycle else None
    except NotAllowed:
        raise HTTPException(404) from None
    request.state.cycles = offered
    return viewer, cycle, dashboard


async def hr_dashboard_page(request: Request) -> Response:
    """GET /hr/dashboard: completion by unit, overdue steps, calibration and releases, errors."""
    viewer, cycle, dashboard = await _hr_context(request)
    calibration: list[dict[str, Any]] = []
    charts: list[Markup] = []
    if dashboard is not None and cycle is not None:
        for n, dist in enumerate(dashboard.calibration):
            proposed = dashboard.proposed.get(dist.key)
            chart_ids = {}
            for kind, shown, counted in (("final", dist, i18n.gettext("Final")),
                                         ("proposed", proposed, i18n.gettext("Proposed"))):
                if shown is not None and shown.rated:
                    chart = distribution_chart(f"calibration-{kind}-{n}", shown, counted)
                    charts.append(chart_data(chart))
                    chart_ids[kind] = chart["id"]
            calibration.append({
                "dist": dist,
                "proposed": proposed,
                "key": dist.key,
                "waiting": dashboard.awaiting_release.get(dist.key, 0),
                "chart_ids": chart_ids,
            })
        funnel = {
            "id": "funnel-chart",
            "type": "bar",
            "stacked": True,
            "horizontal": True,
            "labels": [i18n.pack_name(f.title) for f in dashboard.totals],
            "datasets": [
                {"label": i18n.gettext("Completed"),
                 "data": [f.completed for f in dashboard.totals]},
                {"label": i18n.pgettext("count", "Open"),
                 "data": [f.open for f in dashboard.totals]},
                {"label": i18n.gettext("Error"), "data": [f.error for f in dashboard.totals]},
            ],
        }
        if dashboard.totals:
            charts.append(chart_data(funnel))
    context = {
        "cycles": request.state.cycles,
        "cycle": cycle,
        "dashboard": dashboard,
        "calibration": calibration,
        "charts": charts,
    }
    return render(request, "hr_dashboard.html", context)


async def _population(request: Request, cycle: CycleSummary, key: str) -> PopulationCalibration:
    viewer = require_hr(request)
    try:
        return await population_calibration(cycle.id, key, viewer)
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None


async def release_ratings(request: Request) -> Response:
    """POST /hr/dashboard/release: release one population's ratings as the managers proposed."""
    viewer = require_hr(request)
    cycle = chosen_cycle(request, await cycles_newest_first())
    if cycle is None:
        raise HTTPException(404)
    form = await request.form()
    population = await _population(request, cycle, str(form.get("population", "")))
    ids = [entry.instance_id for entry in population.people]
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    released = await send_release(cycle.id, ids, actor)
    label = i18n.say(population.population)
    if released:
        flash(request, i18n.ngettext("Ratings released for %(num)s appraisal in %(population)s.",
                                     "Ratings released for %(num)s appraisals in %(population)s.",
                                     len(released), population=label), "success")
    else:
        flash(request, i18n.gettext("No appraisal in %(population)s was waiting for the release.",
                                    population=label), "warning")
    return RedirectResponse(f"/hr/dashboard?cycle={cycle.id}#calibration", status_code=303)


# --- HR calibration ------------------------------------------------------------------------


def _calibration_context(
    cycle: CycleSummary, population: PopulationCalibration, form: dict[str, str],
    errors: dict[str, str], problem: str = "", cycles: list[CycleSummary] | None = None,
) -> dict[str, Any]:
    chart = None
    if population.proposed.rated:
        chart = chart_data(distribution_chart("calibration-proposed", population.proposed,
                                              i18n.gettext("Proposed")))
    return {
        "cycle": cycle,
        "cycles": cycles,
        "population": population,
        "form": form,
        "errors": errors,
        "problem": problem,
        "chart": chart,
    }


async def _calibration_request(request: Request) -> tuple[CycleSummary, PopulationCalibration]:
    viewer = require_hr(request)
    offered = await cycles_newest_first()
    request.state.cycles = offered
    cycle = chosen_cycle(request, offered)
    if not request.query_params.get("cycle", "").strip():
        # The cycle whose appraisals wait for the release, not the newest launch.
        cycle = await calibration_cycle(viewer) or cycle
    if cycle is None:
        raise HTTPException(404)
    key = request.query_params.get("population", "all")
    return cycle, await _population(request, cycle, key)


async def calibration_page(request: Request) -> Response:
    """GET /hr/calibration?cycle=&population=: the people of a population waiting for the
    release, with the proposed ratings HR may change before releasing them."""
    cycle, population = await _calibration_request(request)
    return render(request, "hr_calibration.html",
                  _calibration_context(cycle, population, {}, {}, "", request.state.cycles))


def calibrated_changes(
    form: FormData, population: PopulationCalibration
) -> tuple[dict[str, str], dict[int, tuple[int, str]], dict[str, str]]:
    """What HR typed, the changed ratings (person id -> (level, reason)) and the errors per
    field; a row for someone not waiting in the population is an error of the whole form."""
    waiting = {entry.person_id: entry for entry in population.people}
    levels = {value for value, _ in population.levels}
    values: dict[str, str] = {}
    changes: dict[int, tuple[int, str]] = {}
    errors: dict[str, str] = {}
    for field_name, raw in form.multi_items():
        if not field_name.startswith("rating-"):
            continue
        person = field_name.removeprefix("rating-")
        reason = str(form.get(f"reason-{person}", "")).strip()
        values[field_name], values[f"reason-{person}"] = str(raw).strip(), reason
        person_id = database_id(person)
        entry = waiting.get(person_id) if person_id is not None else None
        if entry is None:
            errors["_form"] = i18n.gettext(
                "Someone on the form is not waiting for the release in this population any "
                "more; reload the page.")
            continue
        chosen = values[field_name]
        if chosen in ("", str(entry.proposed_rating)):
            continue  # kept as proposed
        if not _is_level(chosen, levels):
            errors[field_name] = i18n.gettext("Choose a rating from the scale.")
        elif not reason:
            errors[f"reason-{person}"] = i18n.gettext("Say why the rating changes.")
        elif len(reason) > REASON_MAX:
            errors[f"reason-{person}"] = i18n.gettext(
                "Keep the reason under %(count)s characters.", count=REASON_MAX)
        else:
            changes[entry.person_id] = (int(chosen), reason)
    if not values and "_form" not in errors:
        errors["_form"] = i18n.gettext("Nobody on the form is waiting for the release.")
    return values, changes, errors


def _is_level(chosen: str, levels: set[int]) -> bool:
    """Whether a posted rating is one of the scale's levels ("3", "-1"; not "²" or 5000 digits)."""
    digits = chosen.removeprefix("-")
    return digits.isascii() and digits.isdigit() and len(digits) < 10 and int(chosen) in levels


async def release_calibrated(request: Request) -> Response:
    """POST /hr/calibration: release the listed people's ratings, with HR's changes."""
    viewer = require_hr(request)
    cycle, population = await _calibration_request(request)
    form = await request.form()
    values, changes, errors = calibrated_changes(form, population)
    if errors:
        problem = errors.pop("_form", "") or i18n.gettext(
            "Nothing was released: correct the highlighted rows and release again."
        )
        context = _calibration_context(cycle, population, values, errors, problem,
                                       request.state.cycles)
        return render(request, "hr_calibration.html", context, status=422)
    listed = {database_id(name.removeprefix("rating-")) for name in values
              if name.startswith("rating-")}
    entries = [entry for entry in population.people if entry.person_id in listed]
    payload = {"ratings": {str(pid): level for pid, (level, _) in changes.items()}}
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")

    def calibrated(received: list[int]) -> tuple[str, dict[str, Any]]:
        # The audit event of the release, written in the release's own transaction.
        return "ratings_calibrated", {
            "cycle_id": cycle.id,
            "population": population.key,
            "released": sorted(received),
            "changes": [
                {"person_id": entry.person_id, "name": entry.name,
                 "instance_id": entry.instance_id, "proposed": entry.proposed_rating,
                 "calibrated": changes[entry.person_id][0],
                 "reason": changes[entry.person_id][1]}
                for entry in entries if entry.person_id in changes
                and entry.instance_id in received
            ],
        }

    released = set(await send_release(
        cycle.id, [entry.instance_id for entry in entries], actor, payload, audit=calibrated,
    ))
    changed = sum(1 for entry in entries if entry.person_id in changes
                  and entry.instance_id in released)
    flash(request, i18n.ngettext(
        "Released %(num)s rating in %(population)s, %(changed)s changed in calibration.",
        "Released %(num)s ratings in %(population)s, %(changed)s changed in calibration.",
        len(released), population=i18n.say(population.population), changed=changed), "success")
    if len(released) < len(entries):
        flash(request, i18n.ngettext(
            "%(num)s appraisal moved on meanwhile and was not released; it is listed again if "
            "it still waits.",
            "%(num)s appraisals moved on meanwhile and were not released; they are listed again "
            "if they still wait.", len(entries) - len(released)), "warning")
    return RedirectResponse(
        f"/hr/calibration?cycle={cycle.id}&population={population.key}", status_code=303
    )


async def retry_instance(request: Request) -> Response:
    """POST /hr/dashboard/retry/{instance_id}: run an instance stopped on an error again."""
    viewer = require_hr(request)
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    try:
        outcome = await retry_failed(path_id(request, "instance_id"), viewer, actor)
    except NotFound:
        raise HTTPException(404) from None
    if outcome.refused is not None:
        flash(request, i18n.gettext("Retry failed: %(problem)s",
                                    problem=i18n.say(outcome.refused)), "error")
    elif outcome.stopped_again is not None:
        flash(request, i18n.gettext("Instance %(num)s stopped on an error again: %(problem)s",
                                    num=outcome.instance_id, problem=outcome.stopped_again),
              "error")
    else:
        flash(request, i18n.gettext("Instance %(num)s is running again.", num=outcome.instance_id),
              "success")
    cycle = f"?cycle={outcome.cycle_id}" if outcome.cycle_id else ""
    return RedirectResponse(f"/hr/dashboard{cycle}#errors", status_code=303)


async def _export_tables(request: Request) -> tuple[CycleSummary, list[exports.Table]]:
    viewer, cycle, dashboard = await _hr_context(request)
    if cycle is None or dashboard is None:
        raise HTTPException(404)
    results = await exports.cycle_results(cycle.id, viewer)
    return cycle, [results, *exports.dashboard_tables(dashboard)]


def _file_name(cycle: CycleSummary, suffix: str) -> str:
    # ASCII only: the name travels in an HTTP header, which cannot carry other characters
    # ("Évaluation" keeps its letters as "evaluation").
    letters = unicodedata.normalize("NFKD", cycle.name)
    stem = "".join(c if c.isascii() and c.isalnum() else "-" for c in letters
                   if not unicodedata.combining(c))
    stem = "-".join(part for part in stem.lower().split("-") if part) or "cycle"
    return f"sightline-{stem}.{suffix}"


async def export_csv(request: Request) -> Response:
    """GET /hr/dashboard/export.csv: the cycle's results, one row per employee."""
    cycle, tables = await _export_tables(request)
    return Response(
        exports.as_csv(tables[0]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(cycle, "csv")}"'},
    )


async def export_xlsx(request: Request) -> Response:
    """GET /hr/dashboard/export.xlsx: results and every dashboard table, a sheet each."""
    cycle, tables = await _export_tables(request)
    return Response(
        exports.as_xlsx(tables),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(cycle, "xlsx")}"'},
    )


routes: list[BaseRoute] = [
    Route(HR_HOME, hr_home, methods=["GET"], name="hr_home"),
    Route(f"{HR_HOME}/cycles/new", new_cycle, methods=["GET"], name="hr_new_cycle"),
    Route(f"{HR_HOME}/cycles/launch", launch, methods=["POST"], name="hr_launch"),
    Route(f"{HR_HOME}/launches/{{job_id}}", launch_page, methods=["GET"], name="hr_launch_page"),
    Route(
        f"{HR_HOME}/launches/{{job_id}}/progress", launch_progress, methods=["GET"],
        name="hr_launch_progress",
    ),
    Route("/hr/dashboard", hr_dashboard_page, methods=["GET"], name="hr_dashboard"),
    Route("/hr/dashboard/release", release_ratings, methods=["POST"], name="hr_release"),
    Route("/hr/calibration", calibration_page, methods=["GET"], name="hr_calibration"),
    Route("/hr/calibration", release_calibrated, methods=["POST"], name="hr_calibrate"),
    Route(
        "/hr/dashboard/retry/{instance_id:id}", retry_instance, methods=["POST"], name="hr_retry"
    ),
    Route("/hr/dashboard/export.csv", export_csv, methods=["GET"], name="hr_export_csv"),
    Route("/hr/dashboard/export.xlsx", export_xlsx, methods=["GET"], name="hr_export_xlsx"),
]
