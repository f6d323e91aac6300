"""Logging in and out, changing one's password, and ending sessions.

/account/password changes the password (the other sessions of that login end, this one gets a
new token) and signs out one's other sessions; /admin/sessions lets HR sign a person out
everywhere. Ending sessions is recorded in the system audit stream as `sessions_ended`.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config import settings
from engine.base import i18n
from engine.people import logins
from engine.workflow import notifications
from engine.workflow.store import record_event
from webapp import auth, oidc, sessions
from webapp import i18n as webapp_i18n
from webapp.auth import Viewer, current_user, require_hr
from webapp.i18n import marked as _
from webapp.templating import flash, render

ACCOUNT_PASSWORD = "/account/password"
ADMIN_SESSIONS = "/admin/sessions"
# argon2 takes any length; this only keeps a pasted novel from costing the server.
PASSWORD_MAX_LENGTH = 1024
PASSWORDS_OFF = _("Passwords are switched off here: sign in with your organisation's account.")
CURRENT_PASSWORD_REFUSED = _(
    "That is not your current password, or there were too many attempts — try again later"
)


async def login_page(request: Request) -> Response:
    """GET /login: the form (or straight on, when already logged in)."""
    next_path = auth.safe_next(request.query_params.get("next"))
    if auth.optional_user(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    context = {"next": next_path, "username": "", **_sign_in_choices()}
    return render(request, "login.html", context)


def _sign_in_choices() -> dict[str, Any]:
    """The login page's single sign-on buttons, and whether it shows the password form."""
    return {"providers": oidc.providers(), "local_passwords": settings.LOCAL_PASSWORDS}


async def login(request: Request) -> Response:
    """POST /login: check the password; one message for every kind of refusal."""
    if not settings.LOCAL_PASSWORDS:
        context = {"next": "/", "username": "", "error": webapp_i18n.gettext(PASSWORDS_OFF),
                   **_sign_in_choices()}
        return render(request, "login.html", context, status=403)
    form = await request.form()
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    next_path = auth.safe_next(str(form.get("next", "")))
    user = await auth.authenticate(username, password, auth.client_address(request))
    if user is None:
        refused = webapp_i18n.gettext(auth.LOGIN_REFUSED)
        context = {"next": next_path, "username": username, "error": refused,
                   **_sign_in_choices()}
        return render(request, "login.html", context, status=400)
    await auth.log_in(request, user)
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    """POST /logout: end the session; after a single sign-on, at the provider too."""
    signed_in = request.session.get(oidc.SIGNED_IN_KEY)
    await auth.log_out(request)
    if isinstance(signed_in, dict):
        elsewhere = await oidc.logout_url(request, signed_in["provider"], signed_in["id_token"])
        if elsewhere is not None:
            # On via a page of ours: the form's own redirect may not leave the site (CSP).
            request.session[oidc.LOGOUT_KEY] = elsewhere
            return RedirectResponse(oidc.logout_page(signed_in["provider"]), status_code=303)
    flash(request, webapp_i18n.gettext("You have logged out."), "info")
    return RedirectResponse(auth.LOGIN_PATH, status_code=303)


# -- one's own account ------------------------------------------------------------------------


async def _account_page(
    request: Request, viewer: Viewer, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    context: dict[str, Any] = {
        "language": await logins.language_of(viewer.user_id),
        "daily_digest": await notifications.daily_digest_of(viewer.user_id),
        "languages": [(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
        "errors": errors or {},
        "min_length": settings.PASSWORD_MIN_LENGTH,
        "other_sessions": await sessions.other_sessions_of(viewer.user_id, request),
    }
    return render(request, "account_password.html", context, status=status)


async def password_page(request: Request) -> Response:
    """GET /account/password: the form, and how many other sessions this login has."""
    return await _account_page(request, current_user(request))


async def change_password(request: Request) -> Response:
    """POST /account/password: check the current password, store the new one, end the other
    sessions of this login and give this one a new token."""
    viewer = current_user(request)
    form = await request.form()
    current = str(form.get("current_password", ""))
    new = str(form.get("new_password", ""))
    again = str(form.get("new_password_again", ""))
    errors: dict[str, str] = {}
    if len(new) < settings.PASSWORD_MIN_LENGTH:
        errors["new_password"] = webapp_i18n.gettext(
            "Choose a password of at least %(count)s characters.",
            count=settings.PASSWORD_MIN_LENGTH,
        )
    elif len(new) > PASSWORD_MAX_LENGTH:
        errors["new_password"] = webapp_i18n.gettext(
            "Choose a password of at most %(count)s characters.", count=PASSWORD_MAX_LENGTH
        )
    elif new == current:
        errors["new_password"] = webapp_i18n.gettext(
            "The new password must differ from the current one."
        )
    elif again != new:
        errors["new_password_again"] = webapp_i18n.gettext(
            "The two new passwords differ — type the same twice."
        )
    user = await logins.login_by_id(viewer.user_id)
    if not await auth.password_is_right(user, current, auth.client_address(request)):
        errors["current_password"] = webapp_i18n.gettext(CURRENT_PASSWORD_REFUSED)
    if errors:
        return await _account_page(request, viewer, errors, status=400)
    await logins.set_password_hash(user.id, await auth.hash_password(new))
    ended = await sessions.end_sessions_of(user.id, besides=request)
    await sessions.renew(request)
    await _record_sessions_ended(viewer, viewer, ended, "password_changed")
    flash(request, _password_changed_message(ended), "success")
    return RedirectResponse(ACCOUNT_PASSWORD, status_code=303)


async def change_language(request: Request) -> Response:
    """POST /account/language: speak this language from now on ("" follows the browser)."""
    viewer = current_user(request)
    form = await request.form()
    chosen = str(form.get("language", ""))
    if chosen and i18n.supported(chosen) is None:
        raise HTTPException(400, "unknown language")
    await logins.set_language(viewer.user_id, chosen)
    # Said in the language just chosen: the next page speaks it.
    with webapp_i18n.speaking(chosen or webapp_i18n.language()):
        flash(request, webapp_i18n.gettext("Your language has been saved."), "success")
    return RedirectResponse(ACCOUNT_PASSWORD, status_code=303)


async def change_digest(request: Request) -> Response:
    """POST /account/digest: task emails one by one, or gathered into one email a day."""
    viewer = current_user(request)
    form = await request.form()
    on = form.get("daily_digest") == "on"
    await notifications.set_daily_digest(viewer.user_id, on)
    flash(request, webapp_i18n.gettext("You will get one email a day listing your open tasks.")
          if on else webapp_i18n.gettext("You will get an email for each new task."), "success")
    return RedirectResponse(ACCOUNT_PASSWORD, status_code=303)


def _password_changed_message(ended: int) -> str:
    if not ended:
        return webapp_i18n.gettext("Your password has been changed.")
    return webapp_i18n.ngettext(
        "Your password has been changed, and %(num)s session signed out.",
        "Your password has been changed, and %(num)s sessions signed out.",
        ended,
    )


async def end_other_sessions(request: Request) -> Response:
    """POST /account/sessions/end-others: sign out every other browser of this login."""
    viewer = current_user(request)
    ended = await sessions.end_sessions_of(viewer.user_id, besides=request)
    await _record_sessions_ended(viewer, viewer, ended, "signed_out_other_sessions")
    message = webapp_i18n.ngettext(
        "%(num)s other session signed out.", "%(num)s other sessions signed out.", ended
    ) if ended else webapp_i18n.gettext("You had no other sessions to sign out.")
    flash(request, message, "success" if ended else "info")
    return RedirectResponse(ACCOUNT_PASSWORD, status_code=303)


# -- HR: sign a person out everywhere ---------------------------------------------------------


async def sessions_page(request: Request) -> Response:
    """GET /admin/sessions: people with live sessions, how many and when last seen."""
    require_hr(request)
    directory = request.state.directory
    rows = []
    for found in await sessions.live_sessions_by_person():
        person = directory.person(found.person_id)
        if person is not None:
            rows.append({"person": person, "sessions": found.sessions,
                         "last_seen_at": found.last_seen_at})
    rows.sort(key=lambda row: (row["person"].name.lower(), row["person"].key))
    return render(request, "admin_sessions.html", {"rows": rows})


async def end_sessions_of_person(request: Request) -> Response:
    """POST /admin/sessions/{person_key}/end: sign the person out everywhere (an HR member
    signing themself out keeps the session they do it from)."""
    viewer = require_hr(request)
    person = request.state.directory.by_key.get(request.path_params["person_key"])
    user = await logins.login_of_person(person.id) if person is not None else None
    if person is None or user is None:
        raise HTTPException(404)
    ended = await sessions.end_sessions_of(user.id, besides=request)
    await _record_sessions_ended(viewer, person, ended, "signed_out_by_hr")
    flash(request, webapp_i18n.ngettext(
        "%(name)s: %(num)s session signed out.", "%(name)s: %(num)s sessions signed out.",
        ended, name=person.name,
    ), "success")
    return RedirectResponse(ADMIN_SESSIONS, status_code=303)


async def _record_sessions_ended(actor: Viewer, person: Any, ended: int, reason: str) -> None:
    await record_event(
        f"person:{actor.key}",
        "sessions_ended",
        detail={"person": person.key, "sessions": ended, "reason": reason},
    )


routes = [
    Route("/login", login_page, methods=["GET"], name="login_page"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route(ACCOUNT_PASSWORD, password_page, methods=["GET"], name="password_page"),
    Route(ACCOUNT_PASSWORD, change_password, methods=["POST"], name="change_password"),
    Route("/account/language", change_language, methods=["POST"], name="change_language"),
    Route("/account/digest", change_digest, methods=["POST"], name="change_digest"),
    Route("/account/sessions/end-others", end_other_sessions, methods=["POST"],
          name="end_other_sessions"),
    Route(ADMIN_SESSIONS, sessions_page, methods=["GET"], name="admin_sessions"),
    Route(ADMIN_SESSIONS + "/{person_key}/end", end_sessions_of_person, methods=["POST"],
          name="end_sessions_of_person"),
]
