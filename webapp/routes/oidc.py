"""Signing in at an OpenID Connect provider: /login/oidc/{provider} sends the browser there,
/login/oidc/{provider}/callback takes it back, checks the answer (webapp.oidc) and starts the
session exactly as a password login does (webapp.auth.log_in: a new token, nothing carried
over). A first sign-in that links an identity to a person is recorded in the audit stream as
`identity_linked`; every sign-in and every refusal is a log line.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.people import identities
from engine.workflow.store import record_event
from webapp import auth, oidc, sessions
from webapp.templating import render

log = logging.getLogger("sightline.web")


def _provider(request: Request) -> oidc.Provider:
    provider = oidc.provider_named(request.path_params["provider"])
    if provider is None:
        raise HTTPException(404)
    return provider


def refused(request: Request, message: str, status: int = 400) -> Response:
    """The page saying why nobody was signed in."""
    return render(request, "login_refused.html", {"message": message}, status=status)


async def start(request: Request) -> Response:
    """GET /login/oidc/{provider}: off to the provider's sign-in page."""
    provider = _provider(request)
    next_path = auth.safe_next(request.query_params.get("next"))
    if auth.optional_user(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    try:
        url = await oidc.begin(request, provider, next_path)
    except oidc.SignInRefused as refusal:
        log.warning("single sign-on could not start", extra={
            "provider": provider.name, "reason": refusal.reason})
        return refused(request, refusal.message, status=502)
    return RedirectResponse(url, status_code=303)


async def callback(request: Request) -> Response:
    """GET /login/oidc/{provider}/callback: check the provider's answer and sign the person
    in, linking the identity to them on its first sign-in."""
    provider = _provider(request)
    try:
        identity = await oidc.finish(request, provider)
    except oidc.SignInRefused as refusal:
        log.warning("single sign-on refused", extra={
            "provider": provider.name, "reason": refusal.reason})
        return refused(request, refusal.message)
    outcome = await identities.sign_in(
        provider=provider.name, issuer=identity.issuer, subject=identity.subject,
        email=identity.email, match=provider.match, value=identity.value,
        at=sessions.wall_clock(),
    )
    if outcome.login is None:
        log.warning("single sign-on found nobody", extra={
            "provider": provider.name, "reason": "no_person"})
        return refused(request, outcome.refusal, status=403)
    await auth.log_in(request, outcome.login)
    request.session[oidc.SIGNED_IN_KEY] = {"provider": provider.name,
                                           "id_token": identity.id_token}
    log.info("signed in", extra={"provider": provider.name, "user_id": outcome.login.id,
                                 "linked": outcome.linked})
    if outcome.linked:
        await record_event(
            f"person:{outcome.person_key}", "identity_linked",
            detail={"provider": provider.name, "issuer": identity.issuer,
                    "subject": identity.subject, "email": identity.email},
        )
    return RedirectResponse(identity.next_path, status_code=303)


async def provider_logout(request: Request) -> Response:
    """GET /login/oidc/{provider}/logout: logged out of Sightline; on to the provider's logout
    (a form's redirect may not leave the site, a page's refresh may)."""
    provider = _provider(request)
    url = request.session.pop(oidc.LOGOUT_KEY, None)
    if not isinstance(url, str):
        return RedirectResponse(auth.LOGIN_PATH, status_code=303)
    return render(request, "logout_provider.html", {"url": url, "provider": provider})


routes = [
    Route("/login/oidc/{provider}", start, methods=["GET"], name="oidc_start"),
    Route("/login/oidc/{provider}/callback", callback, methods=["GET"], name="oidc_callback"),
    Route("/login/oidc/{provider}/logout", provider_logout, methods=["GET"], name="oidc_logout"),
]
