"""Bearer tokens for the REST API and SCIM: made, listed, revoked, and checked on each request.

A token is `sl_` + its kind (`pat` personal, `svc` service) + a random secret; only its SHA-256
is stored (`ApiToken.token_hash`), with its first characters (`prefix`) so people recognise it
in a list. The token itself is shown once, when made.

- A **personal** token acts as its login's person, with that person's rights: it sees what
  the pages would show them, and nothing more. Its scopes can only narrow that.
- A **service** token belongs to no person: another system (an identity provider's SCIM
  client, a BI tool) that may do what its scopes say and nothing else.

Scopes: `api` (read and write the REST API), `api:read` (read only), `scim` (the SCIM
endpoint). Times are handed in by the caller, or the wall clock: tokens are used by people and
systems in real time, never on the engine's simulated clock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.exceptions import IntegrityError

from engine.base.db import Params
from engine.base.errors import EngineError, NotFound
from engine.base.models import ApiRateWindow, ApiToken, IdempotentRequest, User

PERSONAL = "personal"
SERVICE = "service"
KINDS = (PERSONAL, SERVICE)
SCOPE_API = "api"
SCOPE_API_READ = "api:read"
SCOPE_SCIM = "scim"
# Each scope with what it lets a token do, as the token pages and the docs say it.
SCOPES: dict[str, str] = {
    SCOPE_API: "REST API: read and write",
    SCOPE_API_READ: "REST API: read only",
    SCOPE_SCIM: "SCIM provisioning of people and groups",
}
# What each scope also grants: `api` includes reading.
_IMPLIES: dict[str, frozenset[str]] = {SCOPE_API: frozenset({SCOPE_API, SCOPE_API_READ})}
TOKEN_PREFIX = "sl_"
_KIND_TAG = {PERSONAL: "pat", SERVICE: "svc"}
PREFIX_LENGTH = 12  # "sl_pat_" and five characters of the secret
NAME_MAX_LENGTH = 128
# last_used_at is written at most this often per token: a busy client does not write per call.
TOUCH_EVERY = timedelta(seconds=60)


class TokenRefused(EngineError):
    """A token could not be made as asked (no name, unknown scope, a login that does not
    exist); the message says why."""


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it: never the token itself, which nobody can see again."""

    id: int
    name: str
    kind: str
    scopes: tuple[str, ...]
    prefix: str
    user_id: int | None
    person_id: int | None
    username: str | None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime | None = None) -> str:
        """"active", "revoked" or "expired"."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or wall_clock()):
            return "expired"
        return "active"


@dataclass(frozen=True)
class TokenIdentity:
    """Who a request made with a valid token acts as, and what it may do."""

    token_id: int
    name: str
    kind: str
    scopes: frozenset[str]
    # A personal token's login and person; None for a service token.
    user_id: int | None
    person_id: int | None

    @property
    def is_service(self) -> bool:
        """Whether the token belongs to a system rather than a person."""
        return self.kind == SERVICE

    def allows(self, scope: str) -> bool:
        """Whether the token's scopes grant `scope` (`api` grants `api:read` too)."""
        return any(scope in _IMPLIES.get(held, frozenset({held})) for held in self.scopes)


@dataclass(frozen=True)
class MadeToken:
    """A token just made: the secret to show once, and its row as lists show it."""

    token: str
    info: TokenInfo


def wall_clock() -> datetime:
    """Now, by the machine's clock (UTC)."""
    return datetime.now(UTC)


def token_hash(raw: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _info(row: ApiToken, user: User | None) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        kind=row.kind,
        scopes=tuple(row.scopes or ()),
        prefix=row.prefix,
        user_id=row.user_id,
        person_id=user.person_id if user is not None else None,
        username=user.username if user is not None else None,
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes, deduplicated in the order SCOPES lists them; TokenRefused for an unknown
    one or none at all."""
    wanted = {scope.strip() for scope in scopes if scope.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise TokenRefused(
            f"unknown scope {', '.join(repr(s) for s in unknown)}: choose from "
            + ", ".join(SCOPES)
        )
    if not wanted:
        raise TokenRefused("a token needs at least one scope: " + ", ".join(SCOPES))
    return tuple(scope for scope in SCOPES if scope in wanted)


async def make_token(
    name: str,
    *,
    kind: str,
    scopes: Iterable[str],
    user_id: int | None = None,
    created_by: str = "",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> MadeToken:
    """Make a token: a personal one for `user_id`, or a service one (no user). Returns the
    token itself, which is not stored and cannot be shown again."""
    now = now or wall_clock()
    name = " ".join(name.split())
    if not name:
        raise TokenRefused("give the token a name (what it is for)")
    if len(name) > NAME_MAX_LENGTH:
        raise TokenRefused(f"a token's name has at most {NAME_MAX_LENGTH} characters")
    if kind not in KINDS:
        raise TokenRefused(f"a token is personal or service, not {kind!r}")
    chosen = check_scopes(scopes)
    user = None
    if kind == PERSONAL:
        if user_id is None:
            raise TokenRefused("a personal token belongs to a login: name it")
        user = await User.get_or_none(id=user_id)
        if user is None:
            raise TokenRefused(f"no login with id {user_id}")
    elif user_id is not None:
        raise TokenRefused("a service token belongs to no login")
    if expires_at is not None and expires_at <= now:
        raise TokenRefused("the expiry must be in the future")
    raw = f"{TOKEN_PREFIX}{_KIND_TAG[kind]}_{secrets.token_urlsafe(32)}"
    row = await ApiToken.create(
        name=name,
        kind=kind,
        scopes=list(chosen),
        token_hash=token_hash(raw),
        prefix=raw[:PREFIX_LENGTH],
        user_id=user_id,
        created_by=created_by[:128],
        created_at=now,
        expires_at=expires_at,
    )
    return MadeToken(token=raw, info=_info(row, user))


async def make_token_for_username(
    name: str,
    username: str,
    scopes: Iterable[str],
    *,
    created_by: str = "",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> MadeToken:
    """A personal token for the login named `username` (`sightline token create --as`)."""
    user = await User.get_or_none(username=username)
    if user is None:
        raise TokenRefused(f"no login named {username!r}")
    return await make_token(
        name, kind=PERSONAL, scopes=scopes, user_id=user.id, created_by=created_by,
        expires_at=expires_at, now=now,
    )


async def authenticate(raw: str, now: datetime | None = None) -> TokenIdentity | None:
    """Who the token acts as, or None when it is unknown, revoked or expired.

    Notes the use in `last_used_at`, at most once a minute per token.
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    now = now or wall_clock()
    row = await ApiToken.get_or_none(token_hash=token_hash(raw))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    person_id = None
    if row.kind == PERSONAL:
        user = await User.get_or_none(id=row.user_id) if row.user_id is not None else None
        if user is None:
            return None
        person_id = user.person_id
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        await ApiToken.filter(id=row.id).update(last_used_at=now)
    return TokenIdentity(
        token_id=row.id,
        name=row.name,
        kind=row.kind,
        scopes=frozenset(row.scopes or ()),
        user_id=row.user_id,
        person_id=person_id,
    )


async def list_tokens(
    *, user_id: int | None = None, kind: str | None = None, include_revoked: bool = True
) -> list[TokenInfo]:
    """Tokens, newest first: a login's own (`user_id`), of one kind, or all."""
    query = ApiToken.all()
    if user_id is not None:
        query = query.filter(user_id=user_id)
    if kind is not None:
        query = query.filter(kind=kind)
    if not include_revoked:
        query = query.filter(revoked_at__isnull=True)
    rows = await query.order_by("-created_at", "-id")
    user_ids = {row.user_id for row in rows if row.user_id is not None}
    users = {u.id: u for u in await User.filter(id__in=list(user_ids))} if user_ids else {}
    return [_info(row, users.get(row.user_id) if row.user_id else None) for row in rows]


async def token_info(token_id: int) -> TokenInfo:
    """One token as lists show it; NotFound when there is none."""
    row = await ApiToken.get_or_none(id=token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    user = await User.get_or_none(id=row.user_id) if row.user_id is not None else None
    return _info(row, user)


async def revoke_token(
    token_id: int,
    *,
    user_id: int | None = None,
    kind: str | None = None,
    now: datetime | None = None,
) -> TokenInfo:
    """Revoke a token at once (every web process refuses it from the next request on).

    `user_id` / `kind` restrict which tokens the caller may revoke (one's own; service tokens
    for HR): any other is NotFound, as if it did not exist. Revoking twice keeps the first time.
    """
    query = ApiToken.filter(id=token_id)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    if kind is not None:
        query = query.filter(kind=kind)
    row = await query.first()
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        await ApiToken.filter(id=row.id, revoked_at__isnull=True).update(
            revoked_at=now or wall_clock()
        )
    return await token_info(row.id)


# -- rate limits ------------------------------------------------------------------------------


async def count_request(token_id: int, window_start: datetime) -> int:
    """Count one request of a token in the rate-limit window that began at `window_start`;
    returns the window's count so far, this request included (one atomic statement, so
    concurrent requests on several web processes each get their own number)."""
    p = Params()
    sql = (
        'INSERT INTO "api_rate_window" ("token_id", "window_start", "count") '
        f"VALUES ({p(token_id)}, {p(window_start)}, 1) "
        'ON CONFLICT ("token_id", "window_start") DO UPDATE SET '
        '"count" = "api_rate_window"."count" + 1 RETURNING "count"'
    )
    rows = await connections.get("default").execute_query_dict(sql, p.values)
    return int(rows[0]["count"])


async def remove_stale_windows(before: datetime) -> int:
    """Delete the counters of windows that began before `before`; returns how many."""
    return await ApiRateWindow.filter(window_start__lt=before).delete()


# -- idempotent writes ------------------------------------------------------------------------

IN_PROGRESS = 0  # the status of a key whose first request has not answered yet


@dataclass(frozen=True)
class StoredAnswer:
    """What a write made with an Idempotency-Key answered (status 0: still running)."""

    method: str
    path: str
    request_hash: str
    status_code: int
    body: str


async def claim_idempotency_key(
    token_id: int, key: str, method: str, path: str, request_hash: str, now: datetime
) -> StoredAnswer | None:
    """Claim a key for a write about to run: None when this request is the first with the key
    (it runs, then `store_answer`), else what the first one stored (maybe still running)."""
    try:
        await IdempotentRequest.create(
            token_id=token_id, key=key, method=method, path=path[:255],
            request_hash=request_hash, status_code=IN_PROGRESS, response_body="",
            created_at=now,
        )
        return None
    except IntegrityError:
        row = await IdempotentRequest.get_or_none(token_id=token_id, key=key)
        if row is None:  # removed meanwhile (its request failed): this one may go ahead
            return await claim_idempotency_key(token_id, key, method, path, request_hash, now)
        return StoredAnswer(row.method, row.path, row.request_hash, row.status_code,
                            row.response_body)


async def store_answer(token_id: int, key: str, status_code: int, body: str) -> None:
    """Keep what the write answered, for a retry with the same key."""
    await IdempotentRequest.filter(token_id=token_id, key=key).update(
        status_code=status_code, response_body=body
    )


async def release_idempotency_key(token_id: int, key: str) -> None:
    """Forget a claimed key whose write failed unexpectedly: a retry runs it again."""
    await IdempotentRequest.filter(token_id=token_id, key=key, status_code=IN_PROGRESS).delete()


async def remove_old_answers(before: datetime) -> int:
    """Delete stored answers made before `before`; returns how many."""
    return await IdempotentRequest.filter(created_at__lt=before).delete()
