"""Logging in and out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from webapp import auth
from webapp.templating import flash, render


async def login_page(request: Request) -> Response:
    """GET /login: the form (or straight on, when already logged in)."""
    next_path = auth.safe_next(request.query_params.get("next"))
    if auth.optional_user(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    return render(request, "login.html", {"next": next_path, "username": ""})


async def login(request: Request) -> Response:
    """POST /login: check the password; one message for every kind of refusal."""
    form = await request.form()
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    next_path = auth.safe_next(str(form.get("next", "")))
    user = await auth.authenticate(username, password)
    if user is None:
        context = {"next": next_path, "username": username, "error": auth.LOGIN_REFUSED}
        return render(request, "login.html", context, status=400)
    auth.log_in(request, user)
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    """POST /logout: end the session."""
    auth.log_out(request)
    flash(request, "You have logged out.", "info")
    return RedirectResponse(auth.LOGIN_PATH, status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"], name="login_page"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]
