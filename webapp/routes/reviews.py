"""My reviews: the viewer's own processes, past and present."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.workflow.history import reviews_of
from webapp.auth import current_user
from webapp.templating import render


async def my_reviews(request: Request) -> Response:
    """GET /reviews: every process about the viewer, newest first, each linking to its page."""
    viewer = current_user(request)
    reviews = await reviews_of(viewer.person_id)
    return render(request, "reviews.html", {"reviews": reviews})


routes: list[BaseRoute] = [Route("/reviews", my_reviews, methods=["GET"], name="reviews")]
