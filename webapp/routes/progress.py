"""In-year progress on the score card and the team page: an objective's owner (or a manager
above them) records its KPI actual, status and a comment; the page redraws the objective with
its sparkline. The engine checks and writes (engine.performance.progress) — the same function
`sightline kpi import` uses — and this module only reads the form and draws.

The objectives change process a score card links to is the pack's `[features.progress]
change_process`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotAllowed
from engine.people.directory import current_directory
from engine.performance import progress
from engine.performance.deployed_pack import cycle_pack
from engine.performance.progress import HistoryPoint, ObjectiveProgress, ProgressCard
from engine.workflow import runtime
from webapp.auth import Viewer, current_user
from webapp.input import database_id, find_person
from webapp.templating import flash, is_htmx, render

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 32, 3


@dataclass(frozen=True)
class Sparkline:
    """An objective's actuals as an inline SVG line, and the words that say the same."""

    points: str  # the polyline's "x,y x,y …"
    last_x: float
    last_y: float
    description: str


def sparkline(history: list[HistoryPoint], unit: str = "") -> Sparkline | None:
    """The line through the actuals of the updates (None with fewer than two)."""
    values = [p.actual for p in history if p.actual is not None]
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / (len(values) - 1)
    coords = [
        (SPARK_PAD + n * step,
         SPARK_PAD + (SPARK_HEIGHT - 2 * SPARK_PAD) * (1 - (v - low) / span))
        for n, v in enumerate(values)
    ]
    return Sparkline(
        points=" ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
        last_x=round(coords[-1][0], 1),
        last_y=round(coords[-1][1], 1),
        description=(f"Actual over {len(values)} updates: from {_number(values[0])} to "
                     f"{_number(values[-1])}, lowest {_number(low)}, highest {_number(high)}."),
    )


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


async def progress_context(viewer: Viewer, person_id: int, cycle_id: int | None) -> dict[str, Any]:
    """What the score card's progress block needs (empty without a cycle)."""
    if cycle_id is None:
        return {"progress": None}
    card = await progress.progress_card(person_id, cycle_id, viewer)
    features = (await cycle_pack(cycle_id)).features
    return {
        "progress": card,
        "sparklines": {o.key: sparkline(o.history) for o in card.objectives},
        "statuses": [(s, progress.STATUS_LABELS[s]) for s in progress.STATUSES],
        "change_process": features.progress.change_process
        if viewer.person_id == person_id and card.objectives and not card.closed else "",
        "comment_max": progress.COMMENT_MAX,
        "person_key": (await _person_key(person_id)),
    }


async def at_risk_context(viewer: Viewer, cycle_id: int | None, people: list[int]) -> list[Any]:
    """The team's objectives at risk or off track (the team page's list)."""
    if cycle_id is None:
        return []
    return await progress.team_at_risk(viewer, cycle_id, people)


async def _person_key(person_id: int) -> str:
    person = (await current_directory()).people.get(person_id)
    return person.key if person else str(person_id)


def _objective(card: ProgressCard, key: str) -> ObjectiveProgress:
    found = next((o for o in card.objectives if o.key == key), None)
    if found is None:
        raise HTTPException(404)
    return found


async def update_progress(request: Request) -> Response:
    """POST /progress/{person_key}/{cycle_id}/{objective_key}: record one update."""
    viewer = current_user(request)
    person = find_person(request.state.directory, request.path_params["person_key"])
    cycle_id = database_id(request.path_params["cycle_id"])
    if person is None or cycle_id is None:
        raise HTTPException(404)
    key = request.path_params["objective_key"]
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in ("actual", "status", "comment")}
    error = ""
    try:
        await progress.record_update(
            viewer, person.id, cycle_id, key, actual=values["actual"], status=values["status"],
            comment=values["comment"],
        )
    except NotAllowed:
        raise HTTPException(404) from None
    except progress.ProgressError as problem:
        error = str(problem)
        error = error[:1].upper() + error[1:] + "."
    context = await progress_context(viewer, person.id, cycle_id)
    if not is_htmx(request):
        if error:
            flash(request, error, "error")
        else:
            flash(request, "Progress saved.", "success")
        return RedirectResponse(f"/scorecard/{person.key}?cycle={cycle_id}", status_code=303)
    objective = _objective(context["progress"], key)
    context.update(o=objective, person_key=person.key, error=error,
                   form=values if error else {}, saved=not error)
    return render(request, "_progress_objective.html", context, status=422 if error else 200)


async def propose_change(request: Request) -> Response:
    """POST /progress/change: start the pack's objectives change process for the viewer."""
    viewer = current_user(request)
    form = await request.form()
    cycle_id = database_id(str(form.get("cycle", "")))
    if cycle_id is None:
        raise HTTPException(404)
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    try:
        task_id = await progress.start_objective_change(actor, viewer.person_id, cycle_id)
    except progress.ProgressError as problem:
        flash(request, str(problem)[:1].upper() + str(problem)[1:] + ".", "error")
        return RedirectResponse(f"/scorecard?cycle={cycle_id}", status_code=303)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


routes: list[BaseRoute] = [
    Route("/progress/change", propose_change, methods=["POST"], name="progress_change"),
    Route("/progress/{person_key}/{cycle_id}/{objective_key}", update_progress,
          methods=["POST"], name="progress_update"),
]
