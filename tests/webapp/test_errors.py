"""Error pages: in the layout for pages, a fragment for htmx, engine errors mapped to statuses."""

from __future__ import annotations

import logging

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from engine.base.errors import Conflict, EngineError, NotAllowed, NotFound


async def _conflict(request: Request) -> None:
    raise Conflict("Already completed by Sam Patel")


async def _not_allowed(request: Request) -> None:
    raise NotAllowed("Ada may not act on task 7")


async def _not_found(request: Request) -> None:
    raise NotFound("no task 7")


async def _forbidden(request: Request) -> None:
    raise HTTPException(403, "Only HR can export ratings.")


async def _engine_error(request: Request) -> None:
    raise EngineError("The cycle has already been launched for Platform Team.")


async def _crash(request: Request) -> None:
    raise RuntimeError("database fell over: secret-internal-detail")


@pytest.fixture
async def signed_in(app, client, people, login):
    """A logged-in employee, with routes that fail in each way handlers can."""
    app.router.routes[:0] = [
        Route("/test/conflict", _conflict),
        Route("/test/not-allowed", _not_allowed),
        Route("/test/not-found", _not_found),
        Route("/test/forbidden", _forbidden),
        Route("/test/engine-error", _engine_error),
        Route("/test/crash", _crash),
    ]
    await login(people["employee"])
    return client


async def test_unknown_page_is_a_404_in_the_layout(signed_in):
    response = await signed_in.get("/no-such-page")

    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text
    assert "Ada Lovelace" in response.text  # the nav, so people can go elsewhere
    assert "Log out" in response.text


async def test_htmx_gets_the_error_as_a_fragment(signed_in):
    response = await signed_in.get("/no-such-page", headers={"HX-Request": "true"})

    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text
    assert "<html" not in response.text
    assert "Log out" not in response.text


async def test_boosted_htmx_navigation_still_gets_the_whole_page(signed_in):
    response = await signed_in.get(
        "/no-such-page", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )

    assert "<html" in response.text


async def test_conflict_is_a_409_with_the_engine_message(signed_in):
    response = await signed_in.get("/test/conflict")

    assert response.status_code == 409
    assert "Someone got there first" in response.text
    assert "Already completed by Sam Patel" in response.text


@pytest.mark.parametrize("path", ["/test/not-allowed", "/test/not-found", "/no-such-page"])
async def test_not_allowed_looks_exactly_like_not_found(signed_in, path):
    response = await signed_in.get(path)

    assert response.status_code == 404
    assert "There is nothing here, or you do not have access to it." in response.text
    assert "task 7" not in response.text


async def test_a_handler_can_still_say_forbidden(signed_in):
    response = await signed_in.get("/test/forbidden")

    assert response.status_code == 403
    assert "Only HR can export ratings." in response.text


async def test_other_engine_errors_are_shown_as_a_400_with_their_message(signed_in):
    response = await signed_in.get("/test/engine-error")

    assert response.status_code == 400
    assert "already been launched for Platform Team" in response.text


async def test_a_crash_shows_a_reference_that_matches_the_log(signed_in, caplog):
    with caplog.at_level(logging.ERROR, logger="sightline.web"):
        response = await signed_in.get("/test/crash")

    assert response.status_code == 500
    reference = response.headers["X-Request-ID"]
    assert len(reference) == 32
    assert f"<code>{reference}</code>" in response.text
    assert "secret-internal-detail" not in response.text
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "secret-internal-detail" in str(logged[0].exc_info[1])


async def test_wrong_method_is_a_405_page(signed_in):
    response = await signed_in.get("/logout")

    assert response.status_code == 405
    assert "does not accept that kind of request" in response.text
