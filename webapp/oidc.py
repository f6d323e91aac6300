"""Single sign-on with OpenID Connect: the authorization code flow with PKCE, and the checks
an ID token must pass before anyone is signed in.

The providers come from settings (SIGHTLINE_OIDC_PROVIDERS, a JSON list); each one's endpoints
and keys from its discovery document (`<issuer>/.well-known/openid-configuration`), fetched at
each sign-in, so a provider that rotates its keys needs no restart. What a sign-in started
(state, nonce, the PKCE verifier) waits in the visitor's session row, never in this process: the
provider may send the browser back to another web process.

An ID token is accepted only when its signature matches a key of the provider's JWKS, its
issuer is the provider's, its audience is our client id, it has not expired (and was not issued
in the future) on the wall clock of webapp.sessions, with a minute of leeway for clocks that
differ, and its nonce is the one this browser's sign-in sent. Which person it opens is the
engine's business (engine.people.identities).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from starlette.requests import Request

from config import settings
from engine.people.identities import MATCH_EMAIL, MATCHES
from webapp import sessions

PENDING_KEY = "oidc_pending"  # the session's sign-in in progress
SIGNED_IN_KEY = "oidc"  # the session's provider and ID token (for logging out there too)
LOGOUT_KEY = "oidc_logout"  # after logging out: the provider's logout URL, for the next page
LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10.0
# Asymmetric algorithms only: "none" and HMAC (keyed with the client secret) are refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class ConfigurationError(ValueError):
    """SIGHTLINE_OIDC_PROVIDERS is not a valid list of providers."""


class SignInRefused(Exception):
    """The provider's answer fails a check: nobody is signed in. The message is for the
    person at the browser; `reason` is a short word for the log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class Provider:
    """One OpenID provider from settings."""

    name: str
    label: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid email profile"
    # The claim that finds the person on a first sign-in, and what it holds: an email address
    # (MATCH_EMAIL, which must be verified) or the employee id (MATCH_KEY, Person.key).
    claim: str = "email"
    match: str = MATCH_EMAIL


@dataclass(frozen=True)
class Identity:
    """A verified sign-in: who the provider says it is, and the ID token (for logging out)."""

    provider: Provider
    issuer: str
    subject: str
    email: str
    value: str  # the claim that finds the person
    id_token: str
    next_path: str


def providers() -> list[Provider]:
    """The configured providers, in the order their buttons show."""
    raw = settings.OIDC_PROVIDERS.strip()
    if not raw:
        return []
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"SIGHTLINE_OIDC_PROVIDERS is not JSON: {error}") from None
    if not isinstance(entries, list):
        raise ConfigurationError("SIGHTLINE_OIDC_PROVIDERS must be a JSON list of providers")
    found = [_provider(entry) for entry in entries]
    names = [provider.name for provider in found]
    if len(set(names)) != len(names):
        raise ConfigurationError("SIGHTLINE_OIDC_PROVIDERS names a provider twice")
    return found


def _provider(entry: Any) -> Provider:
    if not isinstance(entry, dict):
        raise ConfigurationError("each provider in SIGHTLINE_OIDC_PROVIDERS is a JSON object")
    missing = [key for key in ("name", "issuer", "client_id", "client_secret")
               if not str(entry.get(key, "")).strip()]
    if missing:
        raise ConfigurationError(f"an OpenID provider lacks {', '.join(missing)}")
    name = str(entry["name"])
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigurationError(f"provider name {name!r}: use letters, digits, - and _ only")
    match = str(entry.get("match", MATCH_EMAIL))
    if match not in MATCHES:
        raise ConfigurationError(f"provider {name}: match is one of {', '.join(MATCHES)}")
    scopes = str(entry.get("scopes", Provider.scopes))
    if "openid" not in scopes.split():
        scopes = f"openid {scopes}"
    return Provider(
        name=name,
        label=str(entry.get("label") or f"Sign in with {name}"),
        issuer=str(entry["issuer"]).rstrip("/"),
        client_id=str(entry["client_id"]),
        client_secret=str(entry["client_secret"]),
        scopes=scopes,
        claim=str(entry.get("claim", "email" if match == MATCH_EMAIL else "employee_id")),
        match=match,
    )


def provider_named(name: str) -> Provider | None:
    """The configured provider called `name`, or None."""
    return next((provider for provider in providers() if provider.name == name), None)


def callback_url(request: Request, provider: Provider) -> str:
    """The redirect URI this provider sends the browser back to (registered at the provider)."""
    return str(request.url_for("oidc_callback", provider=provider.name))


async def discover(provider: Provider) -> dict[str, Any]:
    """The provider's discovery document; its issuer must be the one configured."""
    url = f"{provider.issuer}/.well-known/openid-configuration"
    document = await _get_json(url)
    if str(document.get("issuer", "")).rstrip("/") != provider.issuer:
        raise SignInRefused(
            f"{provider.label}: the provider's discovery document names another issuer.",
            "issuer_mismatch",
        )
    return document


async def begin(request: Request, provider: Provider, next_path: str) -> str:
    """Start a sign-in: remember its state, nonce and PKCE verifier in the session; the URL of
    the provider's authorization endpoint to send the browser to."""
    metadata = await discover(provider)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    redirect_uri = callback_url(request, provider)
    request.session[PENDING_KEY] = {
        "provider": provider.name, "state": state, "nonce": nonce, "verifier": verifier,
        "next": next_path, "redirect_uri": redirect_uri,
    }
    query = urlencode({
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": provider.scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    })
    return f"{metadata['authorization_endpoint']}?{query}"


async def finish(request: Request, provider: Provider) -> Identity:
    """Complete a sign-in the provider sent back: check the state, exchange the code (with the
    PKCE verifier), verify the ID token; the identity it proves. Raises SignInRefused."""
    pending = request.session.pop(PENDING_KEY, None)
    params = request.query_params
    if params.get("error"):
        description = params.get("error_description") or params["error"]
        raise SignInRefused(f"{provider.label} did not sign you in: {description}.",
                            "provider_error")
    if (
        not isinstance(pending, dict)
        or pending.get("provider") != provider.name
        or not secrets.compare_digest(str(pending.get("state", "")), params.get("state", ""))
    ):
        raise SignInRefused(
            "This sign-in does not match the one this browser started (it may be old, or "
            "from another tab or browser). Start again from the login page.",
            "state_mismatch",
        )
    code = params.get("code", "")
    if not code:
        raise SignInRefused(f"{provider.label} sent no authorization code.", "no_code")
    metadata = await discover(provider)
    tokens = await _exchange(provider, metadata, code, pending)
    id_token = str(tokens.get("id_token", ""))
    if not id_token:
        raise SignInRefused(f"{provider.label} sent no ID token.", "no_id_token")
    claims = await verify_id_token(provider, metadata, id_token, str(pending["nonce"]))
    if provider.claim not in claims and metadata.get("userinfo_endpoint"):
        userinfo = await _userinfo(metadata, str(tokens.get("access_token", "")))
        if userinfo.get("sub") != claims["sub"]:
            raise SignInRefused(f"{provider.label}'s user info is about someone else.",
                                "userinfo_subject")
        claims = {**userinfo, **claims}
    email = str(claims.get("email", ""))
    value = str(claims.get(provider.claim, "") or "")
    if provider.match == MATCH_EMAIL and value and claims.get("email_verified") is not True:
        raise SignInRefused(
            f"{provider.label} has not verified your email address {value}, so Sightline "
            "cannot tell it is yours. Verify it there, or ask your administrator.",
            "email_unverified",
        )
    return Identity(provider=provider, issuer=provider.issuer, subject=str(claims["sub"]),
                    email=email, value=value, id_token=id_token,
                    next_path=str(pending.get("next", "/")))


async def verify_id_token(
    provider: Provider, metadata: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    """The claims of a genuine ID token for us and this sign-in; SignInRefused otherwise."""
    jwks: Any = await _get_json(str(metadata["jwks_uri"]))
    try:
        keys = KeySet.import_key_set(jwks)
    except (JoseError, KeyError, TypeError, ValueError):
        raise SignInRefused("The provider's signing keys could not be read.",
                            "bad_jwks") from None
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except BadSignatureError:
        raise SignInRefused(
            "The sign-in could not be verified: its signature matches none of the provider's "
            "keys.", "bad_signature") from None
    except JoseError as error:
        raise SignInRefused(f"The sign-in could not be verified ({error.description}).",
                            "bad_token") from None
    registry = jwt.JWTClaimsRegistry(
        now=int(sessions.wall_clock().timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except ExpiredTokenError:
        raise SignInRefused("The sign-in has expired. Start again from the login page.",
                            "expired") from None
    except (InvalidClaimError, MissingClaimError) as error:
        raise _claim_refusal(provider, error.claim) from None
    claims = dict(token.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise _claim_refusal(provider, "aud")
    return claims


def _claim_refusal(provider: Provider, claim: str) -> SignInRefused:
    messages = {
        "aud": "The sign-in was issued for another application (its audience is not "
               "Sightline's client id). Ask your administrator to check the client id.",
        "iss": f"The sign-in was issued by another provider than {provider.label}.",
        "iat": "The sign-in is dated in the future: the clocks of the provider and of Sightline "
               "differ. Ask your administrator to check them.",
        "nonce": "The sign-in does not belong to the request this browser made (nonce "
                 "mismatch). Start again from the login page.",
    }
    message = messages.get(claim, f"The sign-in's {claim} claim is missing or wrong.")
    return SignInRefused(message, f"{claim}_mismatch" if claim in messages else "bad_claim")


async def logout_url(request: Request, provider_name: str, id_token: str) -> str | None:
    """Where to send the browser so the provider signs it out too (with the ID token as a hint
    and back to our login page afterwards), or None when the provider offers no logout."""
    provider = provider_named(provider_name)
    if provider is None:
        return None
    try:
        metadata = await discover(provider)
    except SignInRefused:
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    query = urlencode({
        "id_token_hint": id_token,
        "client_id": provider.client_id,
        "post_logout_redirect_uri": str(request.url_for("login_page")),
    })
    return f"{endpoint}?{query}"


def logout_page(provider_name: str) -> str:
    """Our page that sends the browser on to the provider's logout."""
    return f"/login/oidc/{provider_name}/logout"


async def _exchange(
    provider: Provider, metadata: dict[str, Any], code: str, pending: dict[str, Any]
) -> dict[str, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": str(pending["redirect_uri"]),
        "code_verifier": str(pending["verifier"]),
    }
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    auth: httpx.Auth = httpx.BasicAuth(provider.client_id, provider.client_secret)
    if "client_secret_basic" not in methods and "client_secret_post" in methods:
        form |= {"client_id": provider.client_id, "client_secret": provider.client_secret}
        auth = httpx.Auth()  # (the base class adds nothing)
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
            response = await client.post(str(metadata["token_endpoint"]), data=form, auth=auth)
    except httpx.HTTPError as error:
        raise SignInRefused(f"{provider.label} could not be reached ({error}).",
                            "unreachable") from None
    answer = _json_of(response)
    if response.status_code != 200:
        detail = answer.get("error_description") or answer.get("error") or response.status_code
        raise SignInRefused(f"{provider.label} refused the sign-in code: {detail}.",
                            "token_refused")
    return answer


async def _userinfo(metadata: dict[str, Any], access_token: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
            response = await client.get(str(metadata["userinfo_endpoint"]),
                                        headers={"Authorization": f"Bearer {access_token}"})
    except httpx.HTTPError as error:
        raise SignInRefused(f"The provider's user info could not be read ({error}).",
                            "unreachable") from None
    if response.status_code != 200:
        raise SignInRefused("The provider refused to say who signed in (user info).",
                            "userinfo_refused")
    return _json_of(response)


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        raise SignInRefused(f"The sign-in provider could not be reached ({error}).",
                            "unreachable") from None
    if response.status_code != 200:
        raise SignInRefused(f"The sign-in provider answered {response.status_code} at {url}.",
                            "unreachable")
    return _json_of(response)


def _json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
