"""The roll-out programme and its adoption dashboard: GET /rollout is what the steering
committee reads — where the programme stands, step by step with its evidence, beside the
adoption figures per unit of a cycle (`?cycle=<id>`, default the newest begun) against the
previous cycle of the same kind. `?programme=<id>` picks another programme instance.
POST /rollout/start starts a programme for whoever its pack lets start one and opens its
set-up step.

HR and members of the steering group only (404 for everyone else, like every HR page); an HR
partner sees the figures of the units they look after. The figures come from
engine.talent.adoption, the programme from engine.talent.programme.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotAllowed, NotFound
from engine.talent.adoption import (
    FAIR,
    GOOD,
    adoption_cycles,
    adoption_dashboard,
    default_cycle,
    may_read_adoption,
)
from engine.talent.programme import (
    may_start_programme,
    programme,
    programme_ids,
    start_programme,
)
from engine.workflow import runtime
from webapp import i18n
from webapp.auth import current_user
from webapp.input import database_id
from webapp.routes.cycle_pages import chosen_cycle
from webapp.templating import flash, render


async def rollout_page(request: Request) -> Response:
    """GET /rollout: the programme's steps beside the adoption figures per unit."""
    viewer = current_user(request)
    if not may_read_adoption(viewer):
        raise HTTPException(404)
    try:
        cycles = await adoption_cycles(viewer)
    except NotAllowed:
        raise HTTPException(404) from None
    cycle = (chosen_cycle(request, cycles) if request.query_params.get("cycle", "").strip()
             else default_cycle(cycles))
    adoption = await adoption_dashboard(cycle.id, viewer) if cycle is not None else None
    programmes = await programme_ids()
    wanted = request.query_params.get("programme", "").strip()
    chosen: int | None = programmes[0] if programmes else None
    if wanted:
        chosen = database_id(wanted)
        if chosen not in programmes:
            raise HTTPException(404)
    shown = await programme(chosen) if chosen is not None else None
    context: dict[str, Any] = {
        "adoption": adoption,
        "cycles": cycles,
        "cycle": cycle,
        "programme": shown,
        "programmes": programmes,
        "may_start": await may_start_programme(viewer.person_id),
        "good": GOOD,
        "fair": FAIR,
    }
    return render(request, "rollout.html", context)


async def start_rollout(request: Request) -> Response:
    """POST /rollout/start: start a programme and open its set-up step."""
    viewer = current_user(request)
    try:
        task_id = await start_programme(await runtime.actor_for(viewer.person_id))
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    flash(request, i18n.gettext("The roll-out programme has started: set it up below."),
          "success")
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


routes: list[BaseRoute] = [
    Route("/rollout", rollout_page, methods=["GET"], name="rollout"),
    Route("/rollout/start", start_rollout, methods=["POST"], name="rollout_start"),
]
