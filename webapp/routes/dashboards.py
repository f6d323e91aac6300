"""A person's own pages: score cards, the team dashboard, feedback (goals: webapp/routes/goals.py).

Every page authorizes through engine.workflow.access (via the engine functions it calls): a person
sees their own, managers their reports, HR its populations; anything else is 404. Pages take
`?cycle=<id>` and default to the cycle with open work for whom they show
(engine.performance.cycle_choice), not the most recently launched one. HR's pages (dashboard,
calibration, exports) are in webapp/routes/hr.py.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotFound
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.performance import feedback as feedback_engine
from engine.performance import goals as goal_engine
from engine.performance.cycle_choice import cycles_newest_first, scorecard_cycle, team_cycle
from engine.performance.recognition import praise_counts
from engine.performance.scorecard import scorecard
from engine.performance.team_status import team_status
from engine.workflow import runtime
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.input import find_person
from webapp.routes.cycle_pages import chart_data, cycle_param, distribution_chart
from webapp.routes.people import PersonChoice, choose_person, person_summary
from webapp.routes.progress import at_risk_context, progress_context
from webapp.templating import flash, render

FEEDBACK_MODES = {"give": "Give feedback", "request": "Ask for feedback"}
TOPIC_MAX = 200
MESSAGE_MAX = 2000


# --- feedback --------------------------------------------------------------------------------


async def _feedback_page(
    request: Request, viewer: Viewer, form: dict[str, Any], errors: dict[str, str], status: int,
    candidates: tuple[PersonInfo, ...] = (),
) -> Response:
    directory = request.state.directory
    context = {
        "form": form,
        "errors": errors,
        # A typed name that fits several colleagues: whom to choose from.
        "candidates": [(p.key, person_summary(directory, p)) for p in candidates],
        **vars(await feedback_engine.feedback_lists(viewer, directory)),
    }
    return render(request, "feedback.html", context, status=status)


async def feedback_page(request: Request) -> Response:
    """GET /feedback: give or ask for feedback; what the viewer received, gave, asked for."""
    viewer = current_user(request)
    return await _feedback_page(request, viewer, {}, {}, 200)


def _feedback_choice(
    form: FormData, viewer: Viewer, directory: DirectorySnapshot
) -> tuple[dict[str, Any], dict[str, str], PersonChoice]:
    """The start form's values, its errors and whom the colleague box names, checked the way
    the process will use them. The colleague is typed (a name, an email or an employee ID, or
    a suggestion's ID) or, after an ambiguous name, picked from those it could mean."""
    values = {
        "mode": str(form.get("mode", "")),
        "colleague": " ".join(str(form.get("colleague", "")).split()),
        "topic": " ".join(str(form.get("topic", "")).split()),
        "request_message": str(form.get("request_message", "")).strip(),
    }
    errors: dict[str, str] = {}
    if values["mode"] not in FEEDBACK_MODES:
        errors["mode"] = i18n.gettext("Choose whether to give feedback or ask for it.")
    picked = find_person(directory, str(form.get("colleague_pick", "")).strip())
    if picked is not None and picked.active:
        choice = PersonChoice(values["colleague"], picked)
        values["colleague"] = picked.name
    else:
        choice = choose_person(directory, values["colleague"])
        if choice.person is None:
            # Nobody asks themselves for feedback: the viewer is never one of the choices.
            others = tuple(p for p in choice.candidates if p.id != viewer.person_id)
            choice = PersonChoice(choice.typed, None, others)
    colleague = choice.person
    if colleague is None:
        errors["colleague"] = choice.problem("colleague")
    elif colleague.id == viewer.person_id:
        errors["colleague"] = i18n.gettext("Choose someone other than yourself.")
    if len(values["topic"]) > TOPIC_MAX:
        errors["topic"] = i18n.gettext(
            "Keep the topic under %(count)s characters.", count=TOPIC_MAX
        )
    if len(values["request_message"]) > MESSAGE_MAX:
        errors["request_message"] = i18n.gettext(
            "Keep the message under %(count)s characters.", count=MESSAGE_MAX
        )
    return values, errors, choice


async def start_feedback(request: Request) -> Response:
    """POST /feedback: start the feedback process and make the viewer's choice its first step."""
    viewer = current_user(request)
    directory = request.state.directory
    form = await request.form()
    values, errors, choice = _feedback_choice(form, viewer, directory)
    if errors:
        return await _feedback_page(request, viewer, values, errors, 422, choice.candidates)
    colleague = choice.person
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
        said = i18n.gettext("Your request went to %(name)s.", name=colleague.name)
        flash(request, said, "success")
    return RedirectResponse("/feedback", status_code=303)


# --- score card --------------------------------------------------------------------------------


async def _scorecard_page(request: Request, person_id: int) -> Response:
    viewer = current_user(request)
    cycle_id = cycle_param(request)
    if cycle_id is None:
        # A cycle that has recorded nothing for the person yet must not hide their results.
        default = await scorecard_cycle(person_id)
        cycle_id = default.id if default else None
    card = await scorecard(person_id, cycle_id, viewer)
    trend_chart = {
        "id": "trend-chart",
        "type": "line",
        "labels": [point.cycle_name for point in card.trend],
        "datasets": [
            {"label": i18n.gettext("Final rating"),
             "data": [point.rating for point in card.trend]},
            {"label": i18n.gettext("Weighted KPI score"),
             "data": [point.weighted_score for point in card.trend]},
        ],
        "yMin": 1,
        "yMax": 5,
    }
    cycles = await cycles_newest_first()
    context = {
        "card": card,
        "cycles": cycles,
        "cycle": next((c for c in cycles if c.id == card.cycle_id), None)
        if card.cycle_id else None,
        "is_self": person_id == viewer.person_id,
        "trend_chart": chart_data(trend_chart) if len(card.trend) > 0 else None,
        # In-year progress: updates, sparklines, the change process (_progress_block.html).
        **(await progress_context(viewer, person_id, card.cycle_id)),
        # The praise the person received and gave, as the viewer may see it.
        "praise_counts": await praise_counts(person_id, viewer, request.state.directory),
        # Line of sight: each objective's goal and the goals above it (scorecard.html).
        "goal_chains": await goal_engine.objective_chains(
            card.cycle_id, [o.aligned_goal for o in card.objectives]
        ),
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
    cycles = await cycles_newest_first()
    if not viewer.is_manager:
        raise HTTPException(404)
    indirect = request.query_params.get("scope") == "all"
    cycle_id = cycle_param(request)
    if cycle_id is None:
        # The cycle where most of the team has open work, not the newest launch.
        default = await team_cycle(viewer.person_id, viewer, indirect=indirect)
        cycle_id = default.id if default else None
    try:
        team = await team_status(viewer.person_id, cycle_id, viewer, indirect=indirect)
    except NotFound:
        if request.query_params.get("cycle"):
            raise
        team = None  # no process for the team in any cycle yet
    context = {
        "team": team,
        "cycles": cycles,
        "cycle": next((c for c in cycles if team and c.id == team.cycle_id), None),
        "indirect": indirect,
        # Objectives at risk or off track, with their latest comment (_team_at_risk.html).
        "at_risk": await at_risk_context(
            viewer, team.cycle_id, [r.person_id for r in team.reports]
        ) if team else [],
        "chart": chart_data(distribution_chart("team-distribution", team.distribution))
        if team and team.distribution.rated
        else None,
    }
    return render(request, "team.html", context)


routes: list[BaseRoute] = [
    Route("/scorecard", my_scorecard, methods=["GET"], name="scorecard"),
    Route("/scorecard/{person_key}", person_scorecard, methods=["GET"], name="person_scorecard"),
    Route("/team", team_page, methods=["GET"], name="team"),
    Route("/feedback", feedback_page, methods=["GET"], name="feedback"),
    Route("/feedback", start_feedback, methods=["POST"], name="feedback_start"),
]
