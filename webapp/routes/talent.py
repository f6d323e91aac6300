"""The talent review meeting, talent pools and a person's talent profile.

GET /hr/talent-review shows one population's 9-box in a cycle (`?cycle=`, else the newest
cycle with ratings; `?population=all|unit:<id>|family:<name>`), people as cards; each card has a
small form that moves the person to another box with a reason (POST /hr/talent-review/move —
htmx swaps the grid, without JavaScript the page reloads) and the history of their moves.
GET /hr/talent-pools lists the pools; HR creates one, adds people (from a card of the 9-box or
the people picker) with a reason and removes them. GET /talent/{person_key} is a person's
talent profile: potential, risk of loss, candidacies and promotions for HR and the managers
above them, the moves and pools for HR only. Everyone else gets 404, the person included.
The data comes from engine.talent (talent_review, succession).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotAllowed, NotFound
from engine.people.directory import DirectorySnapshot
from engine.performance.cycle_choice import CycleSummary, cycles_newest_first
from engine.performance.team_status import BANDS
from engine.talent.succession import succession_of
from engine.talent.talent_review import (
    TalentInvalid,
    add_to_pool,
    create_pool,
    move_on_nine_box,
    population_choices,
    remove_from_pool,
    review_cycle,
    talent_pools,
    talent_profile,
    talent_review,
)
from webapp import i18n
from webapp.auth import Viewer, current_user, require_hr
from webapp.input import database_id, path_id
from webapp.routes.people import choose_person, person_summary
from webapp.templating import flash, render

REVIEW = "/hr/talent-review"
POOLS = "/hr/talent-pools"


def _actor(viewer: Viewer) -> str:
    return f"person:{viewer.key}"


def _problems(error: TalentInvalid) -> dict[str, str]:
    return {field: i18n.say(message) for field, message in error.problems.items()}


# -- the talent review meeting ----------------------------------------------------------------


async def _review_context(
    request: Request, cycle_text: str, key: str, *, errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None, open_card: int | None = None,
) -> dict[str, Any]:
    viewer = require_hr(request)
    cycles = await cycles_newest_first()
    cycle: CycleSummary | None = None
    if cycle_text:
        wanted = database_id(cycle_text)
        cycle = next((c for c in cycles if c.id == wanted), None)
        if cycle is None:
            raise HTTPException(404)
    else:
        chosen = await review_cycle(viewer)
        cycle = next((c for c in cycles if c.id == chosen), None)
    directory: DirectorySnapshot = request.state.directory
    populations = population_choices(viewer, directory)
    review = None
    if cycle is not None:
        try:
            review = await talent_review(cycle.id, key or "all", viewer)
        except (NotAllowed, NotFound):
            raise HTTPException(404) from None
    return {
        "cycles": cycles, "cycle": cycle, "review": review, "populations": populations,
        "bands": BANDS, "errors": errors or {}, "form": form or {}, "open_card": open_card,
        "pools": [(pool.id, pool.name) for pool in await talent_pools(viewer)],
    }


async def talent_review_page(request: Request) -> Response:
    """GET /hr/talent-review?cycle=&population=: a population's 9-box with its moves."""
    params = request.query_params
    context = await _review_context(request, params.get("cycle", "").strip(),
                                    params.get("population", "all").strip())
    return render(request, "talent_review.html", context)


def _box(value: str) -> tuple[str, str]:
    performance, _, potential = value.partition(":")
    return performance, potential


async def move_person(request: Request) -> Response:
    """POST /hr/talent-review/move: move a person to another box, with a reason."""
    viewer = require_hr(request)
    form = await request.form()
    cycle_text, key = str(form.get("cycle", "")), str(form.get("population", "all"))
    person_id = database_id(str(form.get("person", "")))
    cycle_id = database_id(cycle_text)
    if person_id is None or cycle_id is None:
        raise HTTPException(404)
    performance, potential = _box(str(form.get("box", "")))
    reason = str(form.get("reason", ""))
    try:
        await move_on_nine_box(cycle_id, person_id, performance, potential, reason, viewer,
                               _actor(viewer), population=key)
    except TalentInvalid as error:
        context = await _review_context(
            request, cycle_text, key, errors=_problems(error),
            form={"box": str(form.get("box", "")), "reason": reason}, open_card=person_id)
        return render(request, "talent_review.html", context, status=422,
                      fragment="_talent_grid.html")
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    name = request.state.directory.people[person_id].name
    if request.headers.get("HX-Request") == "true":
        context = await _review_context(request, cycle_text, key, open_card=None)
        context["moved_name"] = name
        return render(request, "talent_review.html", context, fragment="_talent_grid.html")
    flash(request, i18n.gettext("%(name)s moved on the 9-box.", name=name), "success")
    return RedirectResponse(f"{REVIEW}?cycle={cycle_id}&population={key}#person-{person_id}",
                            status_code=303)


# -- talent pools ---------------------------------------------------------------------------------


async def _pools_context(request: Request, *, errors: dict[str, str] | None = None,
                         form: dict[str, str] | None = None, candidates: Any = (),
                         open_pool: int | None = None) -> dict[str, Any]:
    viewer = require_hr(request)
    return {"pools": await talent_pools(viewer), "errors": errors or {}, "form": form or {},
            "candidates": candidates, "open_pool": open_pool}


async def pools_page(request: Request) -> Response:
    """GET /hr/talent-pools: every pool with the members HR covers."""
    return render(request, "talent_pools.html", await _pools_context(request))


async def new_pool(request: Request) -> Response:
    """POST /hr/talent-pools: create a pool."""
    viewer = require_hr(request)
    form = await request.form()
    name, description = str(form.get("name", "")), str(form.get("description", ""))
    try:
        await create_pool(name, description, viewer, _actor(viewer))
    except TalentInvalid as error:
        context = await _pools_context(request, errors={f"new-{k}": v for k, v in
                                                        _problems(error).items()},
                                       form={"new-name": name, "new-description": description})
        return render(request, "talent_pools.html", context, status=422)
    flash(request, i18n.gettext("Pool %(name)s created.", name=" ".join(name.split())), "success")
    return RedirectResponse(POOLS, status_code=303)


def _back(form: FormData, default: str) -> str:
    """Where to go after adding from the 9-box: back to it (a path of this app only)."""
    back = str(form.get("back", ""))
    return back if back.startswith(f"{REVIEW}?") or back == REVIEW else default


async def add_member(request: Request) -> Response:
    """POST /hr/talent-pools/{pool_id}/members: add someone (employee ID or name) with a reason."""
    viewer = require_hr(request)
    form = await request.form()
    if "pool_id" in request.path_params:
        pool_id = path_id(request, "pool_id")
    else:  # the 9-box's card names the pool in its form
        chosen = database_id(str(form.get("pool", "")))
        if chosen is None:
            raise HTTPException(404)
        pool_id = chosen
    typed = str(form.get("person_pick") or form.get("person", "")).strip()
    reason = str(form.get("reason", ""))
    back = _back(form, POOLS)
    directory: DirectorySnapshot = request.state.directory
    choice = choose_person(directory, typed)
    errors: dict[str, str] = {}
    if choice.person is None:
        errors["person"] = choice.problem()
    else:
        try:
            await add_to_pool(pool_id, choice.person.id, reason, viewer, _actor(viewer))
        except TalentInvalid as error:
            errors = _problems(error)
        except NotAllowed as error:
            errors = {"person": i18n.say_error(error)}
        except NotFound:
            raise HTTPException(404) from None
    if errors:
        if back != POOLS:
            for message in errors.values():
                flash(request, message, "error")
            return RedirectResponse(back, status_code=303)
        candidates = [(p.key, person_summary(directory, p)) for p in choice.candidates]
        context = await _pools_context(
            request, errors={f"{pool_id}-{k}": v for k, v in errors.items()},
            form={f"{pool_id}-person": typed, f"{pool_id}-reason": reason},
            candidates=candidates, open_pool=pool_id)
        return render(request, "talent_pools.html", context, status=422)
    assert choice.person is not None
    flash(request, i18n.gettext("%(name)s added to the pool.", name=choice.person.name),
          "success")
    return RedirectResponse(back if back != POOLS else f"{POOLS}#pool-{pool_id}", status_code=303)


async def remove_member(request: Request) -> Response:
    """POST /hr/talent-pools/{pool_id}/members/{person_id}/remove: take someone out."""
    viewer = require_hr(request)
    pool_id, person_id = path_id(request, "pool_id"), path_id(request, "person_id")
    try:
        await remove_from_pool(pool_id, person_id, viewer, _actor(viewer))
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    name = request.state.directory.people[person_id].name
    flash(request, i18n.gettext("%(name)s removed from the pool.", name=name), "success")
    return RedirectResponse(f"{POOLS}#pool-{pool_id}", status_code=303)


# -- a person's talent profile --------------------------------------------------------------------


async def profile_page(request: Request) -> Response:
    """GET /talent/{person_key}: potential, risk of loss, succession and (HR) moves and pools."""
    viewer = current_user(request)
    person = request.state.directory.by_key.get(request.path_params["person_key"])
    if person is None:
        raise HTTPException(404)
    try:
        profile = await talent_profile(person.id, viewer)
        succession = await succession_of(person.id, viewer)
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    return render(request, "talent_profile.html", {"profile": profile,
                                                   "succession": succession})


routes: list[BaseRoute] = [
    Route(REVIEW, talent_review_page, methods=["GET"], name="talent_review"),
    Route(f"{REVIEW}/move", move_person, methods=["POST"], name="talent_move"),
    Route(POOLS, pools_page, methods=["GET"], name="talent_pools"),
    Route(POOLS, new_pool, methods=["POST"], name="talent_pool_new"),
    Route(f"{POOLS}/{{pool_id:id}}/members", add_member, methods=["POST"],
          name="talent_pool_add"),
    Route(f"{POOLS}/members", add_member, methods=["POST"], name="talent_pool_add_chosen"),
    Route(f"{POOLS}/{{pool_id:id}}/members/{{person_id:id}}/remove", remove_member,
          methods=["POST"], name="talent_pool_remove"),
    Route("/talent/{person_key}", profile_page, methods=["GET"], name="talent_profile"),
]
