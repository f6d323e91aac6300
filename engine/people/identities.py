"""Sign-in identities at OpenID Connect providers, and whose login each one opens.

An identity is the provider's (issuer, subject) pair: the subject is the provider's stable id
for the person, which — unlike an email address — never passes to someone else. The first
sign-in of an identity links it to a person of the directory by the claim the provider's
settings name (a verified email address, or the employee id); every later sign-in finds the
identity itself, so a changed email at the provider changes nothing. A person with no login yet
gets one without a password (they sign in at the provider only).

Whether the ID token is genuine is the web layer's business (webapp.oidc): this module is handed
claims already checked. Times are handed in by the caller, on the wall clock of the people
signing in, like the other logins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Lower

from engine.base.models import ExternalIdentity, Person, User
from engine.people.logins import Login, login_by_id

MATCH_EMAIL = "email"
MATCH_KEY = "key"
MATCHES = (MATCH_EMAIL, MATCH_KEY)


@dataclass(frozen=True)
class SignIn:
    """What an identity's sign-in comes to: the login it opens, and whether this sign-in linked
    the identity (its first), or why nobody signs in (`refusal`, for the person to read)."""

    login: Login | None
    linked: bool = False
    refusal: str = ""
    person_key: str = ""


async def sign_in(
    *,
    provider: str,
    issuer: str,
    subject: str,
    email: str,
    match: str,
    value: str,
    at: datetime,
) -> SignIn:
    """The login of the identity (issuer, subject), linking it on its first sign-in to the
    active person whose email (`match` "email") or employee id (`match` "key") is `value`."""
    identity = await ExternalIdentity.get_or_none(issuer=issuer, subject=subject)
    if identity is not None:
        user = await User.get(id=identity.user_id)
        if not await _active(user.person_id):
            return SignIn(None, refusal=_INACTIVE)
        await ExternalIdentity.filter(id=identity.id).update(last_login_at=at, email=email[:255])
        await User.filter(id=user.id).update(last_login_at=at)
        return SignIn(await login_by_id(user.id))
    person = await _person_matching(match, value)
    if person is None:
        return SignIn(None, refusal=(
            f"No active person in Sightline has the {_what(match)} {value!r} your sign-in "
            "gave. Ask HR to check your record in the directory."
        ) if value else f"Your sign-in gave no {_what(match)} to find you in Sightline by.")
    found = await User.get_or_none(person_id=person.id)
    user = found if found is not None else await User.create(
        username=await _free_username(person.key), person_id=person.id, password_hash="")
    await ExternalIdentity.create(provider=provider, issuer=issuer, subject=subject, user=user,
                                  email=email[:255], created_at=at, last_login_at=at)
    await User.filter(id=user.id).update(last_login_at=at)
    return SignIn(await login_by_id(user.id), linked=True, person_key=person.key)


async def identities_of(user_id: int) -> list[tuple[str, str]]:
    """The (provider, email) of each identity linked to a login."""
    rows = await ExternalIdentity.filter(user_id=user_id).order_by("id")
    return [(row.provider, row.email) for row in rows]


_INACTIVE = "Your record in Sightline is not active. Ask HR if you should have access."


def _what(match: str) -> str:
    return "email address" if match == MATCH_EMAIL else "employee id"


async def _active(person_id: int) -> bool:
    return await Person.filter(id=person_id, active=True).exists()


async def _person_matching(match: str, value: str) -> Person | None:
    """The one active person with this email (any case) or employee id; None when none or,
    for an email, several share it (linking either would be a guess)."""
    value = value.strip()
    if not value:
        return None
    if match == MATCH_KEY:
        return await Person.get_or_none(key=value, active=True)
    found = await (
        Person.annotate(email_lower=Lower("email"))
        .filter(email_lower=value.lower(), active=True)
        .limit(2)
    )
    return found[0] if len(found) == 1 else None


async def _free_username(key: str) -> str:
    """A username for a new login: the employee id in lower case (as imported logins are
    named), numbered when another login has it already."""
    base = key.lower()[:120]
    name, number = base, 1
    while await User.filter(username=name).exists():
        number += 1
        name = f"{base}-{number}"
    return name
