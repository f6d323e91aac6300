"""My review (where I stand in a cycle, step by step) and my reviews (every process about me).

GET / sends an employee or manager with a review in some cycle to /review, everyone else (and
HR and designers, whose work is the inbox) to the inbox. GET /review is the viewer's own review
in the cycle with their open work (`?cycle=` picks another); a manager also sees where each
report stands. GET /reviews/{cycle}/{person_key} is one person's review, for them, their
managers and HR (404 for anyone else). The tracker comes from engine.performance.my_review.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotFound
from engine.performance.cycle_choice import cycles_newest_first
from engine.performance.my_review import MyReview, my_review, review_cycle, team_reviews
from engine.workflow.history import reviews_of
from webapp.auth import Viewer, current_user
from webapp.input import database_id, find_person
from webapp.routes.cycle_pages import cycle_param
from webapp.templating import render

INBOX = "/inbox"


async def home(request: Request) -> Response:
    """GET /: my review for people with one under way or done; the inbox for everyone else."""
    viewer = current_user(request)
    if not (viewer.is_hr or viewer.is_designer):
        if await review_cycle(viewer.person_id) is not None:
            return RedirectResponse("/review", status_code=303)
    return RedirectResponse(INBOX, status_code=303)


async def _review_page(
    request: Request, viewer: Viewer, person_id: int, cycle_id: int | None
) -> Response:
    try:
        review: MyReview | None = await my_review(person_id, cycle_id, viewer)
    except NotFound:
        if person_id != viewer.person_id or cycle_id is not None:
            raise HTTPException(404) from None
        review = None  # the viewer has no process in any cycle yet
    context: dict[str, Any] = {
        "review": review,
        "cycles": await cycles_newest_first(),
        "cycle": review.cycle if review else None,
        "team": [],
        "team_cycle": None,
    }
    if viewer.is_manager and person_id == viewer.person_id:
        team_cycle_, members = await team_reviews(
            viewer.person_id, review.cycle.id if review else None, viewer
        )
        context.update(team=members, team_cycle=team_cycle_)
    return render(request, "my_review.html", context)


async def own_review(request: Request) -> Response:
    """GET /review: the viewer's own review (and, for a manager, their team's)."""
    viewer = current_user(request)
    return await _review_page(request, viewer, viewer.person_id, cycle_param(request))


async def person_review(request: Request) -> Response:
    """GET /reviews/{cycle}/{person_key}: one person's review in one cycle."""
    viewer = current_user(request)
    cycle_id = database_id(str(request.path_params["cycle"]))
    person = find_person(request.state.directory, request.path_params["person_key"])
    if cycle_id is None or person is None:
        raise HTTPException(404)
    return await _review_page(request, viewer, person.id, cycle_id)


async def my_reviews(request: Request) -> Response:
    """GET /reviews: every process about the viewer, newest first, each linking to its page:
    those of cycles in the table, everyday ones (outside any cycle) folded below."""
    viewer = current_user(request)
    reviews = await reviews_of(viewer.person_id)
    # The cycle's processes first; everyday ones (feedback, praise, 1:1s) would bury them.
    return render(request, "reviews.html", {
        "reviews": reviews,
        "in_cycles": [r for r in reviews if r.cycle_name],
        "everyday": [r for r in reviews if not r.cycle_name],
    })


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"], name="home_review"),
    Route("/review", own_review, methods=["GET"], name="my_review"),
    Route("/reviews", my_reviews, methods=["GET"], name="reviews"),
    Route("/reviews/{cycle}/{person_key}", person_review, methods=["GET"], name="person_review"),
]
