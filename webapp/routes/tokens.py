"""API tokens in the app: one's own personal tokens (/account/tokens) and, for HR, service
tokens for other systems (/admin/tokens).

A token is shown once, on the page that answers the form that made it; afterwards only its
first characters are. Revoking takes effect at once, on every web process. Making and revoking
are recorded in the system audit stream (`api_token_made`, `api_token_revoked`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.base.errors import NotFound
from engine.people import tokens
from engine.people.tokens import MadeToken, TokenRefused
from engine.workflow.store import record_event
from webapp import i18n
from webapp.auth import Viewer, current_user, require_hr
from webapp.templating import flash, render

ACCOUNT_TOKENS = "/account/tokens"
ADMIN_TOKENS = "/admin/tokens"
# The expiry choices of the forms, in days (0: never).
EXPIRY_CHOICES = (30, 90, 365, 0)
PERSONAL_SCOPES = (tokens.SCOPE_API_READ, tokens.SCOPE_API)


def _expiry(form_value: object) -> timedelta | None:
    try:
        days = int(str(form_value or "0"))
    except ValueError:
        days = -1
    if days not in EXPIRY_CHOICES:
        raise TokenRefused("choose when the token expires from the list")
    return timedelta(days=days) if days else None


def _context(
    errors: dict[str, str], form: dict[str, Any], made: MadeToken | None
) -> dict[str, Any]:
    return {
        "errors": errors,
        "form": form,
        "made": made,
        "scopes": tokens.SCOPES,
        "expiry_choices": EXPIRY_CHOICES,
        "now": tokens.wall_clock(),
    }


async def _record(actor: Viewer, action: str, info: tokens.TokenInfo) -> None:
    await record_event(
        f"person:{actor.key}",
        action,
        detail={"token": info.id, "name": info.name, "kind": info.kind,
                "scopes": list(info.scopes), "user": info.username},
    )


# -- one's own tokens -------------------------------------------------------------------------


async def _account_page(
    request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None, made: MadeToken | None = None, status: int = 200,
) -> Response:
    context = _context(errors or {}, form or {"scope": tokens.SCOPE_API_READ, "days": 90}, made)
    context["tokens"] = await tokens.list_tokens(user_id=viewer.user_id)
    context["personal_scopes"] = PERSONAL_SCOPES
    return render(request, "account_tokens.html", context, status=status)


async def account_tokens_page(request: Request) -> Response:
    """GET /account/tokens: one's personal tokens, and the form to make one."""
    return await _account_page(request, current_user(request))


async def make_personal_token(request: Request) -> Response:
    """POST /account/tokens: make a personal token and show it, once."""
    viewer = current_user(request)
    form = await request.form()
    values = {"name": str(form.get("name", "")), "scope": str(form.get("scope", "")),
              "days": str(form.get("days", ""))}
    try:
        if values["scope"] not in PERSONAL_SCOPES:
            raise TokenRefused("choose what the token may do")
        expiry = _expiry(values["days"])
        now = tokens.wall_clock()
        made = await tokens.make_token(
            values["name"], kind=tokens.PERSONAL, scopes=[values["scope"]],
            user_id=viewer.user_id, created_by=viewer.key,
            expires_at=now + expiry if expiry else None, now=now,
        )
    except TokenRefused as refused:
        return await _account_page(request, viewer, errors={"form": str(refused)}, form=values,
                                   status=400)
    await _record(viewer, "api_token_made", made.info)
    return await _account_page(request, viewer, made=made, status=201)


async def revoke_personal_token(request: Request) -> Response:
    """POST /account/tokens/{id}/revoke: revoke one of one's own tokens."""
    viewer = current_user(request)
    try:
        info = await tokens.revoke_token(request.path_params["token_id"], user_id=viewer.user_id)
    except NotFound as exc:
        raise HTTPException(404) from exc
    await _record(viewer, "api_token_revoked", info)
    flash(request, i18n.gettext("Token “%(name)s” revoked: it no longer works.",
                                name=info.name), "success")
    return RedirectResponse(ACCOUNT_TOKENS, status_code=303)


# -- HR: service tokens -----------------------------------------------------------------------


async def _admin_page(
    request: Request, *, errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None, made: MadeToken | None = None, status: int = 200,
) -> Response:
    context = _context(errors or {}, form or {"scopes": [], "days": 365}, made)
    everything = await tokens.list_tokens()
    context["service_tokens"] = [t for t in everything if t.kind == tokens.SERVICE]
    context["personal_tokens"] = [
        t for t in everything if t.kind == tokens.PERSONAL and t.revoked_at is None
    ]
    return render(request, "admin_tokens.html", context, status=status)


async def admin_tokens_page(request: Request) -> Response:
    """GET /admin/tokens: service tokens, everyone's live personal tokens, and the form."""
    require_hr(request)
    return await _admin_page(request)


async def make_service_token(request: Request) -> Response:
    """POST /admin/tokens: make a service token and show it, once."""
    viewer = require_hr(request)
    form = await request.form()
    values: dict[str, Any] = {
        "name": str(form.get("name", "")),
        "scopes": [str(s) for s in form.getlist("scope")],
        "days": str(form.get("days", "")),
    }
    try:
        expiry = _expiry(values["days"])
        now = tokens.wall_clock()
        made = await tokens.make_token(
            values["name"], kind=tokens.SERVICE, scopes=values["scopes"],
            created_by=viewer.key, expires_at=now + expiry if expiry else None, now=now,
        )
    except TokenRefused as refused:
        return await _admin_page(request, errors={"form": str(refused)}, form=values, status=400)
    await _record(viewer, "api_token_made", made.info)
    return await _admin_page(request, made=made, status=201)


async def revoke_any_token(request: Request) -> Response:
    """POST /admin/tokens/{id}/revoke: HR revokes a service token or anyone's personal one."""
    viewer = require_hr(request)
    try:
        info = await tokens.revoke_token(request.path_params["token_id"])
    except NotFound as exc:
        raise HTTPException(404) from exc
    await _record(viewer, "api_token_revoked", info)
    flash(request, i18n.gettext("Token “%(name)s” revoked: it no longer works.",
                                name=info.name), "success")
    return RedirectResponse(ADMIN_TOKENS, status_code=303)


routes = [
    Route(ACCOUNT_TOKENS, account_tokens_page, methods=["GET"], name="account_tokens"),
    Route(ACCOUNT_TOKENS, make_personal_token, methods=["POST"], name="make_personal_token"),
    Route(ACCOUNT_TOKENS + "/{token_id:int}/revoke", revoke_personal_token, methods=["POST"],
          name="revoke_personal_token"),
    Route(ADMIN_TOKENS, admin_tokens_page, methods=["GET"], name="admin_tokens"),
    Route(ADMIN_TOKENS, make_service_token, methods=["POST"], name="make_service_token"),
    Route(ADMIN_TOKENS + "/{token_id:int}/revoke", revoke_any_token, methods=["POST"],
          name="revoke_any_token"),
]
