"""Monitoring and development pages: score cards, team and HR dashboards, goals, feedback.

Every page authorizes through engine.workflow.access (via the engine functions it calls): a person
sees their own, managers their reports, HR its populations; anything else is 404. Pages take
`?cycle=<id>` and default to the newest cycle.
"""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import EngineError, NotAllowed, NotFound
from engine.base.models import Cycle, ProcessInstance
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.performance import exports
from engine.performance import feedback as feedback_engine
from engine.performance import goals as goal_engine
from engine.performance.dashboards import (
    Distribution,
    HrDashboard,
    PopulationCalibration,
    hr_dashboard,
    population_calibration,
    send_release,
    team_status,
)
from engine.performance.scorecard import scorecard
from engine.workflow import runtime
from engine.workflow.access import can_view_subject
from forms.text import storable_number
from webapp.auth import Viewer, current_user
from webapp.input import database_id, find_person, path_id
from webapp.templating import flash, render

FEEDBACK_MODES = {"give": "Give feedback", "request": "Ask for feedback"}
TOPIC_MAX = 200
MESSAGE_MAX = 2000
REASON_MAX = 1000
GOAL_TITLE_MAX = 255  # OrgGoal.title's column


# --- cycles ----------------------------------------------------------------------------------


async def _cycles() -> list[Cycle]:
    """Every cycle, newest first (the choice offered at the top of each page)."""
    return await Cycle.all().order_by("-id")


def _chosen_cycle(request: Request, cycles: list[Cycle]) -> Cycle | None:
    """The cycle in ?cycle=, else the newest; 404 for an unknown id."""
    wanted = request.query_params.get("cycle", "").strip()
    if not wanted:
        return cycles[0] if cycles else None
    cycle_id = database_id(wanted)
    for cycle in cycles:
        if cycle.id == cycle_id:
            return cycle
    raise HTTPException(404)


# --- goals -----------------------------------------------------------------------------------


def _goal_form_choices(viewer: Viewer, directory: DirectorySnapshot) -> dict[str, Any]:
    """The units a viewer may add goals to (None in the list: the whole organisation)."""
    managed = goal_engine.managed_units(viewer, directory)
    if managed is None:
        units = [(None, "Whole organisation")] + sorted(
            ((u.id, u.name) for u in directory.units.values()), key=lambda u: u[1]
        )
    else:
        units = sorted(
            ((uid, directory.units[uid].name) for uid in managed if uid in directory.units),
            key=lambda u: u[1],
        )
    return {"units": units, "may_add": bool(units)}


async def _goals_context(request: Request, viewer: Viewer) -> dict[str, Any]:
    cycles = await _cycles()
    cycle = _chosen_cycle(request, cycles)
    directory = request.state.directory
    tree = await goal_engine.goal_tree(cycle.id, viewer) if cycle else None
    goals = await goal_engine.list_goals(cycle.id, viewer) if cycle else []
    return {
        "cycles": cycles,
        "cycle": cycle,
        "tree": tree,
        "goal_list": goals,
        **_goal_form_choices(viewer, directory),
        "form": {},
        "errors": {},
    }


async def goals_page(request: Request) -> Response:
    """GET /goals: the goal tree and organisation → unit → person progress for a cycle."""
    viewer = current_user(request)
    return render(request, "goals.html", await _goals_context(request, viewer))


def _optional_id(value: str) -> int | None:
    """A row id chosen from a list ("" for none); ValueError for anything no row can have."""
    if not value.strip():
        return None
    found = database_id(value)
    if found is None:
        raise ValueError(value)
    return found


def _goal_weight(text: str) -> float | None:
    """The weight typed for a goal, or None when it is no storable number of 0 or more."""
    try:
        weight = Decimal(text.strip() or "1")
    except ArithmeticError:
        return None
    if weight.is_nan() or weight < 0 or not storable_number(weight):
        return None
    return float(weight)


async def add_goal(request: Request) -> Response:
    """POST /goals: HR and unit heads add a goal to the chosen cycle."""
    viewer = current_user(request)
    form = await request.form()
    context = await _goals_context(request, viewer)
    cycle = context["cycle"]
    if cycle is None or not context["may_add"]:
        raise HTTPException(404)
    errors: dict[str, str] = {}
    # One line, as the input shows it: tabs or line breaks pasted in become spaces.
    title = " ".join(str(form.get("title", "")).split())
    if not title:
        errors["title"] = "Give the goal a title."
    elif len(title) > GOAL_TITLE_MAX:
        errors["title"] = f"Keep the title under {GOAL_TITLE_MAX} characters."
    try:
        unit_id = _optional_id(str(form.get("org_unit_id", "")))
        parent_id = _optional_id(str(form.get("parent_id", "")))
    except ValueError:
        raise HTTPException(400, "Choose a unit and a parent goal from the lists.") from None
    weight = _goal_weight(str(form.get("weight", "")))
    if weight is None:
        errors["weight"] = (
            "The weight is a number of 0 or more, with at most 15 digits before the point."
        )
    if not errors and weight is not None:
        try:
            await goal_engine.create_goal(
                cycle.id,
                title,
                viewer,
                org_unit_id=unit_id,
                parent_id=parent_id,
                description=str(form.get("description", "")).strip(),
                weight=weight,
            )
        except goal_engine.GoalError as error:
            errors["title"] = str(error).capitalize() + "."
        else:
            flash(request, f"Goal “{title}” added.", "success")
            return RedirectResponse(f"/goals?cycle={cycle.id}", status_code=303)
    context.update(form=dict(form), errors=errors)
    return render(request, "goals.html", context, status=422)


# --- feedback --------------------------------------------------------------------------------


def _colleagues(viewer: Viewer, directory: DirectorySnapshot) -> list[PersonInfo]:
    return sorted(
        (p for p in directory.people.values() if p.active and p.id != viewer.person_id),
        key=lambda p: (p.name.casefold(), p.key),
    )


async def _feedback_page(
    request: Request, viewer: Viewer, form: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    context = {
        "colleagues": _colleagues(viewer, request.state.directory),
        "form": form,
        "errors": errors,
        **vars(await feedback_engine.feedback_lists(viewer, request.state.directory)),
    }
    return render(request, "feedback.html", context, status=status)


async def feedback_page(request: Request) -> Response:
    """GET /feedback: give or ask for feedback; what the viewer received, gave, asked for."""
    viewer = current_user(request)
    return await _feedback_page(request, viewer, {}, {}, 200)


def _feedback_choice(
    form: FormData, viewer: Viewer, directory: DirectorySnapshot
) -> tuple[dict[str, Any], dict[str, str]]:
    """The start form's values and its errors, checked the way the process will use them."""
    values = {
        "mode": str(form.get("mode", "")),
        "colleague": str(form.get("colleague", "")).strip(),
        "topic": " ".join(str(form.get("topic", "")).split()),
        "request_message": str(form.get("request_message", "")).strip(),
    }
    errors: dict[str, str] = {}
    if values["mode"] not in FEEDBACK_MODES:
        errors["mode"] = "Choose whether to give feedback or ask for it."
    colleague = find_person(directory, values["colleague"]) if values["colleague"] else None
    if colleague is None or not colleague.active:
        errors["colleague"] = "Choose a colleague from the list."
    elif colleague.id == viewer.person_id:
        errors["colleague"] = "Choose someone other than yourself."
    if len(values["topic"]) > TOPIC_MAX:
        errors["topic"] = f"Keep the topic under {TOPIC_MAX} characters."
    if len(values["request_message"]) > MESSAGE_MAX:
        errors["request_message"] = f"Keep the message under {MESSAGE_MAX} characters."
    return values, errors


async def start_feedback(request: Request) -> Response:
    """POST /feedback: start the feedback process and make the viewer's choice its first step."""
    viewer = current_user(request)
    directory = request.state.directory
    form = await request.form()
    values, errors = _feedback_choice(form, viewer, directory)
    if errors:
        return await _feedback_page(request, viewer, values, errors, 422)
    colleague = find_person(directory, values["colleague"])
    assert colleague is not None  # _feedback_choice found them
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    # The page's form is the process's first step; submitting it here saves a second screen.
    chosen = {**values, "colleague": colleague.key}
    chosen = {k: (v if v != "" else None) for k, v in chosen.items()}
    write = await feedback_engine.start_feedback(actor, chosen)
    if values["mode"] == "give":
        if write is not None:
            return RedirectResponse(f"/tasks/{write}", status_code=303)
    else:
        flash(request, f"Your request went to {colleague.name}.", "success")
    return RedirectResponse("/feedback", status_code=303)


# --- charts --------------------------------------------------------------------------------


def chart_data(spec: dict[str, Any]) -> Markup:
    """A chart's data as a JSON <script> block that static/charts.js draws with Chart.js."""
    text = json.dumps(spec).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/json" data-chart-for="{spec["id"]}">{text}</script>')


def distribution_chart(
    chart_id: str, dist: Distribution, counted: str = "Actual"
) -> dict[str, Any]:
    """Bar chart of a population's ratings against the guideline, in people."""
    levels = sorted(dist.levels, key=lambda lv: lv.value)
    return {
        "id": chart_id,
        "type": "bar",
        "labels": [f"{lv.value} {lv.short}" for lv in levels],
        "datasets": [
            {"label": counted, "data": [lv.count for lv in levels]},
            {"label": "Guideline", "data": [lv.guideline_count for lv in levels]},
        ],
        "yTitle": "People",
    }


# --- score card --------------------------------------------------------------------------------


def _cycle_param(request: Request) -> int | None:
    wanted = request.query_params.get("cycle", "").strip()
    if not wanted:
        return None
    cycle_id = database_id(wanted)
    if cycle_id is None:
        raise HTTPException(404)
    return cycle_id


async def _scorecard_page(request: Request, person_id: int) -> Response:
    viewer = current_user(request)
    card = await scorecard(person_id, _cycle_param(request), viewer)
    trend_chart = {
        "id": "trend-chart",
        "type": "line",
        "labels": [point.cycle_name for point in card.trend],
        "datasets": [
            {"label": "Final rating", "data": [point.rating for point in card.trend]},
            {"label": "Weighted KPI score", "data": [point.weighted_score for point in card.trend]},
        ],
        "yMin": 1,
        "yMax": 5,
    }
    context = {
        "card": card,
        "cycles": await _cycles(),
        "cycle": await Cycle.get_or_none(id=card.cycle_id) if card.cycle_id else None,
        "is_self": person_id == viewer.person_id,
        "trend_chart": chart_data(trend_chart) if len(card.trend) > 0 else None,
    }
    return render(request, "scorecard.html", context)


async def my_scorecard(request: Request) -> Response:
    """GET /scorecard: the viewer's own score card."""
    viewer = current_user(request)
    return await _scorecard_page(request, viewer.person_id)


async def person_scorecard(request: Request) -> Response:
    """GET /scorecard/{person_key}: a report's (or, for HR, a population member's) score card."""
    current_user(request)
    person = find_person(request.state.directory, request.path_params["person_key"])
    if person is None:
        raise HTTPException(404)
    return await _scorecard_page(request, person.id)


# --- team dashboard ----------------------------------------------------------------------------


async def team_page(request: Request) -> Response:
    """GET /team: where each report stands, overdue steps, ratings vs guideline, the 9-box."""
    viewer = current_user(request)
    cycles = await _cycles()
    if not viewer.is_manager:
        raise HTTPException(404)
    indirect = request.query_params.get("scope") == "all"
    cycle_id = _cycle_param(request)
    try:
        team = await team_status(viewer.person_id, cycle_id, viewer, indirect=indirect)
    except NotFound:
        if cycle_id is not None:
            raise
        team = None  # no process for the team in any cycle yet
    context = {
        "team": team,
        "cycles": cycles,
        "cycle": next((c for c in cycles if team and c.id == team.cycle_id), None),
        "indirect": indirect,
        "chart": chart_data(distribution_chart("team-distribution", team.distribution))
        if team and team.distribution.rated
        else None,
    }
    return render(request, "team.html", context)


# --- HR dashboard ------------------------------------------------------------------------------


def _hr_viewer(request: Request) -> Viewer:
    viewer = current_user(request)
    if not viewer.is_hr:
        raise HTTPException(404)
    return viewer


async def _hr_context(request: Request) -> tuple[Viewer, Cycle | None, HrDashboard | None]:
    viewer = _hr_viewer(request)
    cycles = await _cycles()
    cycle = _chosen_cycle(request, cycles)
    try:
        dashboard = await hr_dashboard(cycle.id, viewer) if cycle else None
    except NotAllowed:
        raise HTTPException(404) from None
    request.state.cycles = cycles
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
            for kind, shown, counted in (("final", dist, "Final"),
                                         ("proposed", proposed, "Proposed")):
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
            "labels": [f.title for f in dashboard.totals],
            "datasets": [
                {"label": "Completed", "data": [f.completed for f in dashboard.totals]},
                {"label": "Open", "data": [f.open for f in dashboard.totals]},
                {"label": "Error", "data": [f.error for f in dashboard.totals]},
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


async def _population(request: Request, cycle: Cycle, key: str) -> PopulationCalibration:
    viewer = _hr_viewer(request)
    try:
        return await population_calibration(cycle.id, key, viewer)
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None


async def release_ratings(request: Request) -> Response:
    """POST /hr/dashboard/release: release one population's ratings as the managers proposed."""
    viewer = _hr_viewer(request)
    cycle = _chosen_cycle(request, await _cycles())
    if cycle is None:
        raise HTTPException(404)
    form = await request.form()
    population = await _population(request, cycle, str(form.get("population", "")))
    ids = [entry.instance_id for entry in population.people]
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    released = await send_release(cycle.id, ids, actor)
    label = population.population
    if released:
        flash(request, f"Ratings released for {len(released)} appraisal(s) in {label}.", "success")
    else:
        flash(request, f"No appraisal in {label} was waiting for the release.", "warning")
    return RedirectResponse(f"/hr/dashboard?cycle={cycle.id}#calibration", status_code=303)


# --- HR calibration ------------------------------------------------------------------------


def _calibration_context(
    cycle: Cycle, population: PopulationCalibration, form: dict[str, str],
    errors: dict[str, str], problem: str = "",
) -> dict[str, Any]:
    chart = None
    if population.proposed.rated:
        chart = chart_data(distribution_chart("calibration-proposed", population.proposed,
                                              "Proposed"))
    return {
        "cycle": cycle,
        "population": population,
        "form": form,
        "errors": errors,
        "problem": problem,
        "chart": chart,
    }


async def _calibration_request(request: Request) -> tuple[Cycle, PopulationCalibration]:
    _hr_viewer(request)
    cycle = _chosen_cycle(request, await _cycles())
    if cycle is None:
        raise HTTPException(404)
    key = request.query_params.get("population", "all")
    return cycle, await _population(request, cycle, key)


async def calibration_page(request: Request) -> Response:
    """GET /hr/calibration?cycle=&population=: the people of a population waiting for the
    release, with the proposed ratings HR may change before releasing them."""
    cycle, population = await _calibration_request(request)
    return render(request, "hr_calibration.html",
                  _calibration_context(cycle, population, {}, {}))


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
            errors["_form"] = ("Someone on the form is not waiting for the release in this "
                               "population any more; reload the page.")
            continue
        chosen = values[field_name]
        if chosen in ("", str(entry.proposed_rating)):
            continue  # kept as proposed
        if not _is_level(chosen, levels):
            errors[field_name] = "Choose a rating from the scale."
        elif not reason:
            errors[f"reason-{person}"] = "Say why the rating changes."
        elif len(reason) > REASON_MAX:
            errors[f"reason-{person}"] = f"Keep the reason under {REASON_MAX} characters."
        else:
            changes[entry.person_id] = (int(chosen), reason)
    if not values and "_form" not in errors:
        errors["_form"] = "Nobody on the form is waiting for the release."
    return values, changes, errors


def _is_level(chosen: str, levels: set[int]) -> bool:
    """Whether a posted rating is one of the scale's levels ("3", "-1"; not "²" or 5000 digits)."""
    digits = chosen.removeprefix("-")
    return digits.isascii() and digits.isdigit() and len(digits) < 10 and int(chosen) in levels


async def release_calibrated(request: Request) -> Response:
    """POST /hr/calibration: release the listed people's ratings, with HR's changes."""
    viewer = _hr_viewer(request)
    cycle, population = await _calibration_request(request)
    form = await request.form()
    values, changes, errors = calibrated_changes(form, population)
    if errors:
        problem = errors.pop("_form", "") or (
            "Nothing was released: correct the highlighted rows and release again."
        )
        context = _calibration_context(cycle, population, values, errors, problem)
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
    flash(request, f"Released {len(released)} rating(s) in {population.population}, "
                   f"{changed} changed in calibration.", "success")
    if len(released) < len(entries):
        flash(request, f"{len(entries) - len(released)} appraisal(s) moved on meanwhile and "
                       "were not released; they are listed again if they still wait.", "warning")
    return RedirectResponse(
        f"/hr/calibration?cycle={cycle.id}&population={population.key}", status_code=303
    )


async def retry_failed(request: Request) -> Response:
    """POST /hr/dashboard/retry/{instance_id}: run an instance stopped on an error again."""
    viewer = _hr_viewer(request)
    directory = request.state.directory
    row = await ProcessInstance.get_or_none(id=path_id(request, "instance_id"))
    if row is None or row.subject_id is None or not can_view_subject(
        viewer.person_id, viewer.groups, row.subject_id, directory
    ):
        raise HTTPException(404)
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    try:
        again = await runtime.retry_instance(row.id, actor)
    except EngineError as error:
        flash(request, f"Retry failed: {error}", "error")
    else:
        if again.status == "error":
            message = (again.error or {}).get("message", "")
            flash(request, f"Instance {row.id} stopped on an error again: {message}", "error")
        else:
            flash(request, f"Instance {row.id} is running again.", "success")
    cycle = f"?cycle={row.cycle_id}" if row.cycle_id else ""
    return RedirectResponse(f"/hr/dashboard{cycle}#errors", status_code=303)


async def _export_tables(request: Request) -> tuple[Cycle, list[exports.Table]]:
    viewer, cycle, dashboard = await _hr_context(request)
    if cycle is None or dashboard is None:
        raise HTTPException(404)
    results = await exports.cycle_results(cycle.id, viewer)
    return cycle, [results, *exports.dashboard_tables(dashboard)]


def _file_name(cycle: Cycle, suffix: str) -> str:
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
    Route("/scorecard", my_scorecard, methods=["GET"], name="scorecard"),
    Route("/scorecard/{person_key}", person_scorecard, methods=["GET"], name="person_scorecard"),
    Route("/team", team_page, methods=["GET"], name="team"),
    Route("/hr/dashboard", hr_dashboard_page, methods=["GET"], name="hr_dashboard"),
    Route("/hr/dashboard/release", release_ratings, methods=["POST"], name="hr_release"),
    Route("/hr/calibration", calibration_page, methods=["GET"], name="hr_calibration"),
    Route("/hr/calibration", release_calibrated, methods=["POST"], name="hr_calibrate"),
    Route(
        "/hr/dashboard/retry/{instance_id:id}", retry_failed, methods=["POST"], name="hr_retry"
    ),
    Route("/hr/dashboard/export.csv", export_csv, methods=["GET"], name="hr_export_csv"),
    Route("/hr/dashboard/export.xlsx", export_xlsx, methods=["GET"], name="hr_export_xlsx"),
    Route("/goals", goals_page, methods=["GET"], name="goals"),
    Route("/goals", add_goal, methods=["POST"], name="goals_add"),
    Route("/feedback", feedback_page, methods=["GET"], name="feedback"),
    Route("/feedback", start_feedback, methods=["POST"], name="feedback_start"),
]
