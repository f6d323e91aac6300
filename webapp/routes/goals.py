"""The Goals page: the cycle's goal tree (organisation → unit → team) with progress rolled up
from the people's KPI actuals and who contributes to each goal; HR and unit heads add, edit,
re-weight, retire and restore goals here (engine.performance.goals decides who may).

Editing works without JavaScript (the edit link opens the page with that goal's form); with
htmx the form replaces the goal's card in place. A refused change re-shows the form with the
values typed and the reason, status 422.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.people.directory import DirectorySnapshot
from engine.performance import goals as goal_engine
from engine.performance.cycle_choice import cycles_newest_first
from forms.text import storable_number
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.input import database_id, path_id
from webapp.routes.cycle_pages import chosen_cycle
from webapp.routes.people import choose_person
from webapp.templating import flash, render

GOAL_TITLE_MAX = 255  # OrgGoal.title's column
DESCRIPTION_MAX = 2000
# Up to this many people, the page lists everyone under their unit; beyond, it shows the units'
# figures only (summed in the database) and a unit's people load when it is opened (one row
# per person for 10,000 people is megabytes of HTML, and 10,000 objects to build).
PEOPLE_INLINE = goal_engine.PEOPLE_LISTED
# The form's inputs, in the order the engine takes them.
FIELDS = ("title", "description", "org_unit_id", "parent_id", "owner", "measure", "unit",
          "target", "period_start", "period_end", "weight")


def _unit_choices(viewer: Viewer, directory: DirectorySnapshot) -> list[tuple[int | None, str]]:
    """The units a viewer may set goals for (None in the list: the whole organisation), each
    named with the units above it so teams read as "Engineering › Platform Team"."""
    managed = goal_engine.managed_units(viewer, directory)
    ids = list(directory.units) if managed is None else [u for u in managed if u in directory.units]

    def path(uid: int) -> str:
        names: list[str] = []
        seen: set[int] = set()
        current: int | None = uid
        while current is not None and current in directory.units and current not in seen:
            seen.add(current)
            names.append(directory.units[current].name)
            current = directory.units[current].parent_id
        return " › ".join(reversed(names))

    units: list[tuple[int | None, str]] = sorted(((u, path(u)) for u in ids), key=lambda u: u[1])
    return ([(None, "Whole organisation")] if managed is None else []) + units


def _may_manage(goal: goal_engine.Goal, viewer: Viewer, directory: DirectorySnapshot) -> bool:
    return goal_engine.may_manage_goals(viewer, goal.org_unit_id, directory)


async def _context(
    request: Request, viewer: Viewer, cycle_id: int | None = None
) -> dict[str, Any]:
    cycles = await cycles_newest_first()
    if cycle_id is None and not request.query_params.get("cycle", "").strip():
        # The newest cycle that has goals: a year-end launched later has none of its own.
        with_goals = await goal_engine.cycles_with_goals()
        cycle = next((c for c in cycles if c.id in with_goals), cycles[0] if cycles else None)
    elif cycle_id is None:
        cycle = chosen_cycle(request, cycles)
    else:
        cycle = next((c for c in cycles if c.id == cycle_id), None)
    directory = request.state.directory
    tree = (await goal_engine.goal_tree(cycle.id, viewer, people_listed=PEOPLE_INLINE)
            if cycle else None)
    goals = tree.goal_list if tree else []
    units = _unit_choices(viewer, directory)
    return {
        "cycles": cycles,
        "cycle": cycle,
        "tree": tree,
        "people_inline": tree is None or tree.people_listed,
        "goal_list": goals,
        "open_goals": [g for g in goals if not g.retired],
        "units": units,
        "may_add": bool(units),
        "manageable": {g.id for g in goals if _may_manage(g, viewer, directory)},
        "unit_names": {uid: name for uid, name in units if uid is not None}
        | {uid: u.name for uid, u in directory.units.items()},
        "owners": {pid: p.name for pid, p in directory.people.items()},
        "form": {},
        "errors": {},
        "editing": None,
        "edit_form": {},
        "edit_errors": {},
    }


async def goals_page(request: Request) -> Response:
    """GET /goals: the goal tree and organisation → unit → person progress for a cycle."""
    viewer = current_user(request)
    return render(request, "goals.html", await _context(request, viewer))


async def unit_people(request: Request) -> Response:
    """GET /goals/units/{unit_id}?cycle=…: a unit's people and their progress (0: the people
    outside any unit), the panel a large scope loads when a unit is opened; a page of its own
    without htmx. 404 for a unit the viewer sees no one in."""
    viewer = current_user(request)
    unit_id = _unit_id(request)
    cycle = chosen_cycle(request, await cycles_newest_first())
    if cycle is None:
        raise HTTPException(404)
    unit = await goal_engine.unit_people(cycle.id, viewer, unit_id or None)
    if unit is None:
        raise HTTPException(404)
    context = {"cycle": cycle, "unit": unit}
    return render(request, "goals_unit.html", context, fragment="goals_unit_people.html")


def _unit_id(request: Request) -> int:
    text = request.path_params.get("unit_id", "")
    found = database_id(text)
    if found is None:
        raise HTTPException(404)
    return found


# --- reading the form ------------------------------------------------------------------------


def _optional_id(value: str) -> int | None:
    """A row id chosen from a list ("" for none); ValueError for anything no row can have."""
    if not value.strip():
        return None
    found = database_id(value)
    if found is None:
        raise ValueError(value)
    return found


def _number(text: str, default: str | None) -> Decimal | None:
    try:
        number = Decimal(text.strip() or (default or ""))
    except ArithmeticError:
        return None
    return number if number.is_finite() and storable_number(number) else None


def _day(text: str) -> date | None:
    return date.fromisoformat(text.strip()) if text.strip() else None


def _read(form: FormData, directory: DirectorySnapshot) -> tuple[dict[str, Any], dict[str, Any],
                                                                   dict[str, str]]:
    """What was typed (to show again), the values for the engine, and what is wrong, by field."""
    typed = {name: str(form.get(name, "")) for name in FIELDS}
    # One line, as the inputs show them: tabs or line breaks pasted in become spaces.
    for name in ("title", "measure", "unit", "owner"):
        typed[name] = " ".join(typed[name].split())
    typed["description"] = typed["description"].strip()
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "title": typed["title"], "description": typed["description"],
        "measure": typed["measure"], "unit": typed["unit"],
    }
    if not typed["title"]:
        errors["title"] = i18n.gettext("Give the goal a title.")
    elif len(typed["title"]) > GOAL_TITLE_MAX:
        errors["title"] = i18n.gettext(
            "Keep the title under %(count)s characters.", count=GOAL_TITLE_MAX
        )
    if len(typed["description"]) > DESCRIPTION_MAX:
        errors["description"] = i18n.gettext(
            "Keep the description under %(count)s characters.", count=DESCRIPTION_MAX
        )
    if len(typed["measure"]) > goal_engine.MEASURE_MAX:
        errors["measure"] = i18n.gettext(
            "Keep the measure under %(count)s characters.", count=goal_engine.MEASURE_MAX
        )
    if len(typed["unit"]) > goal_engine.UNIT_MAX:
        errors["unit"] = i18n.gettext(
            "Keep the unit under %(count)s characters, e.g. “%%”.", count=goal_engine.UNIT_MAX
        )
    try:
        values["org_unit_id"] = _optional_id(typed["org_unit_id"])
        values["parent_id"] = _optional_id(typed["parent_id"])
    except ValueError:
        raise HTTPException(400, "Choose a unit and a parent goal from the lists.") from None
    weight = _number(typed["weight"], "1")
    if weight is None or weight < 0:
        errors["weight"] = i18n.gettext("The weight is a number of 0 or more, e.g. 1 or 0.5.")
    else:
        values["weight"] = float(weight)
    if typed["target"].strip():
        target = _number(typed["target"], None)
        if target is None:
            errors["target"] = i18n.gettext(
                "The target is a number, e.g. 12 or 4.5 (put the unit apart)."
            )
        else:
            values["target"] = float(target)
    else:
        values["target"] = None
    for name, problem in (
        ("period_start", i18n.gettext("Give the start as a date, e.g. 2026-12-31.")),
        ("period_end", i18n.gettext("Give the end as a date, e.g. 2026-12-31.")),
    ):
        try:
            values[name] = _day(typed[name])
        except ValueError:
            errors[name] = problem
    if (not errors.keys() & {"period_start", "period_end"} and values["period_start"]
            and values["period_end"] and values["period_end"] < values["period_start"]):
        errors["period_end"] = i18n.gettext("The period cannot end before it starts.")
    values["owner_id"] = None
    if typed["owner"]:
        choice = choose_person(directory, typed["owner"])
        if choice.person is not None:
            values["owner_id"] = choice.person.id
            typed["owner"] = choice.person.name
        elif choice.candidates:
            some = ", ".join(f"{p.name} ({p.key})" for p in choice.candidates[:4])
            errors["owner"] = (f"“{typed['owner']}” could be {some}"
                               f"{' …' if len(choice.candidates) > 4 else ''}: type the full "
                               "name or employee ID.")
        else:
            errors["owner"] = i18n.gettext(
                "No one in the directory is called “%(typed)s”.", typed=typed["owner"]
            )
    return typed, values, errors


def _engine_problem(error: Exception) -> dict[str, str]:
    """A refusal of the engine as a form error next to the field it concerns."""
    text = str(error)
    message = text[:1].upper() + text[1:] + "."
    for field, words in (("parent_id", ("support", "parent")), ("period_end", ("period",)),
                         ("target", ("target",)), ("weight", ("weight",)),
                         ("measure", ("measure",)), ("unit", ("unit of measure",))):
        if any(w in text for w in words):
            return {field: message}
    return {"title": message}


def _goal_form(goal: goal_engine.Goal, owners: dict[int, str]) -> dict[str, str]:
    """A goal's values as its edit form shows them."""
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    return {
        "title": goal.title, "description": goal.description,
        "org_unit_id": text(goal.org_unit_id), "parent_id": text(goal.parent_id),
        "owner": owners.get(goal.owner_id, "") if goal.owner_id is not None else "",
        "measure": goal.measure, "unit": goal.unit, "target": text(goal.target),
        "period_start": text(goal.period_start), "period_end": text(goal.period_end),
        "weight": text(goal.weight),
    }


# --- changing goals --------------------------------------------------------------------------


async def add_goal(request: Request) -> Response:
    """POST /goals: HR and unit heads add a goal to the chosen cycle."""
    viewer = current_user(request)
    form = await request.form()
    context = await _context(request, viewer)
    cycle = context["cycle"]
    if cycle is None or not context["may_add"]:
        raise HTTPException(404)
    typed, values, errors = _read(form, request.state.directory)
    if not errors:
        try:
            await goal_engine.create_goal(cycle.id, values.pop("title"), viewer, **values)
        except goal_engine.GoalError as error:
            errors = _engine_problem(error)
        else:
            flash(request, i18n.gettext("Goal “%(title)s” added.", title=typed["title"]), "success")
            return RedirectResponse(f"/goals?cycle={cycle.id}#goals-heading", status_code=303)
    context.update(form=typed, errors=errors)
    return render(request, "goals.html", context, status=422)


async def _editable(request: Request, viewer: Viewer) -> tuple[dict[str, Any], goal_engine.Goal]:
    """The page's context (in the goal's own cycle, whatever the URL says) and the goal in the
    URL, which the viewer may change; 404 otherwise."""
    goal = await goal_engine.get_goal(path_id(request, "goal_id"), viewer)
    context = await _context(request, viewer, goal.cycle_id)
    if goal.id not in context["manageable"]:
        raise HTTPException(404)
    return context, goal


async def edit_goal_form(request: Request) -> Response:
    """GET /goals/{goal_id}/edit: the goal's edit form (in place with htmx, else on the page)."""
    viewer = current_user(request)
    context, goal = await _editable(request, viewer)
    context.update(editing=goal.id, edit_form=_goal_form(goal, context["owners"]))
    return render(request, "goals.html", {**context, "goal": goal},
                  fragment="goals_edit_form.html")


async def save_goal(request: Request) -> Response:
    """POST /goals/{goal_id}: store the edited goal (its weight among them)."""
    viewer = current_user(request)
    context, goal = await _editable(request, viewer)
    form = await request.form()
    typed, values, errors = _read(form, request.state.directory)
    if not errors:
        try:
            await goal_engine.update_goal(goal.id, viewer, **values)
        except goal_engine.GoalError as error:
            errors = _engine_problem(error)
        else:
            flash(request, i18n.gettext("Goal “%(title)s” saved.", title=typed["title"]), "success")
            return _back(goal)
    context.update(editing=goal.id, edit_form=typed, edit_errors=errors)
    # A refused change shows the whole page, the form open where the goal was.
    return render(request, "goals.html", {**context, "goal": goal}, status=422)


def _back(goal: goal_engine.Goal) -> Response:
    url = f"/goals?cycle={goal.cycle_id}#goal-{goal.id}"
    return RedirectResponse(url, status_code=303, headers={"HX-Location": url})


async def retire_goal(request: Request) -> Response:
    """POST /goals/{goal_id}/retire: retire the goal, kept for history."""
    viewer = current_user(request)
    _, goal = await _editable(request, viewer)
    await goal_engine.retire_goal(goal.id, viewer)
    flash(request, i18n.gettext(
        "Goal “%(title)s” retired: it takes no new objectives and no longer counts in the goal "
        "above it.", title=goal.title,
    ), "success")
    return _back(goal)


async def restore_goal(request: Request) -> Response:
    """POST /goals/{goal_id}/restore: bring a retired goal back."""
    viewer = current_user(request)
    _, goal = await _editable(request, viewer)
    await goal_engine.restore_goal(goal.id, viewer)
    flash(request, i18n.gettext("Goal “%(title)s” restored.", title=goal.title), "success")
    return _back(goal)


routes: list[BaseRoute] = [
    Route("/goals", goals_page, methods=["GET"], name="goals"),
    Route("/goals", add_goal, methods=["POST"], name="goals_add"),
    Route("/goals/units/{unit_id}", unit_people, methods=["GET"], name="goal_unit_people"),
    Route("/goals/{goal_id}/edit", edit_goal_form, methods=["GET"], name="goal_edit"),
    Route("/goals/{goal_id}", save_goal, methods=["POST"], name="goal_save"),
    Route("/goals/{goal_id}/retire", retire_goal, methods=["POST"], name="goal_retire"),
    Route("/goals/{goal_id}/restore", restore_goal, methods=["POST"], name="goal_restore"),
]
