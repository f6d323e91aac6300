"""API tokens: made in the app (shown once), kept only as a hash, revoked at once, expiring;
personal tokens for oneself, service tokens for HR only."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from engine.base.models import ApiToken, AuditEvent, User
from engine.people import tokens

TOKEN = re.compile(r'<code id="new-token">(sl_[a-z]{3}_[A-Za-z0-9_-]+)</code>')


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def _make(client: httpx.AsyncClient, path: str, **form: object) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await _csrf(client, path), **form})


async def test_a_personal_token_is_shown_once_and_only_its_hash_is_kept(client, people, login):
    await login(people["employee"])
    made = await _make(client, "/account/tokens", name="My spreadsheet", scope="api:read",
                       days="30")
    assert made.status_code == 201
    raw = TOKEN.search(made.text).group(1)
    assert raw.startswith("sl_pat_")

    row = await ApiToken.get(name="My spreadsheet")
    assert row.token_hash == tokens.token_hash(raw) and raw not in row.token_hash
    assert row.prefix == raw[:12] and row.kind == "personal" and row.scopes == ["api:read"]
    assert row.user_id == (await User.get(username=people["employee"])).id
    assert row.expires_at is not None

    listed = await client.get("/account/tokens")
    assert raw not in listed.text  # never again
    assert f"{raw[:12]}…" in listed.text and "My spreadsheet" in listed.text
    assert await AuditEvent.filter(action="api_token_made").count() == 1


async def test_a_token_is_refused_without_a_name_or_with_an_unknown_scope(client, people, login):
    await login(people["employee"])
    nameless = await _make(client, "/account/tokens", name="  ", scope="api", days="90")
    assert nameless.status_code == 400 and "give the token a name" in nameless.text
    scim = await _make(client, "/account/tokens", name="x", scope="scim", days="90")
    assert scim.status_code == 400  # personal tokens are for the REST API
    assert await ApiToken.all().count() == 0


async def test_revoking_ends_the_token_at_once_and_only_ones_own(client, people, login):
    other = await User.get(username=people["manager"])
    theirs = await tokens.make_token("theirs", kind="personal", scopes=["api"],
                                     user_id=other.id)
    await login(people["employee"])
    made = await _make(client, "/account/tokens", name="laptop", scope="api", days="0")
    raw = TOKEN.search(made.text).group(1)
    assert await tokens.authenticate(raw) is not None
    row = await ApiToken.get(name="laptop")

    refused = await client.post(f"/account/tokens/{theirs.info.id}/revoke",
                                data={"csrf_token": await _csrf(client, "/account/tokens")})
    assert refused.status_code == 404
    assert await tokens.authenticate(theirs.token) is not None

    revoked = await client.post(f"/account/tokens/{row.id}/revoke",
                                data={"csrf_token": await _csrf(client, "/account/tokens")})
    assert revoked.status_code == 303
    assert await tokens.authenticate(raw) is None
    page = await client.get("/account/tokens")
    assert "revoked" in page.text and "no longer works" in page.text


async def test_service_tokens_are_for_hr_only(client, people, login):
    await login(people["manager"])
    assert (await client.get("/admin/tokens")).status_code == 404
    csrf = await _csrf(client, "/inbox")
    assert (await client.post("/admin/tokens", data={"csrf_token": csrf, "name": "x",
                                                     "scope": "scim", "days": "0"})
            ).status_code == 404
    assert await ApiToken.all().count() == 0


async def test_hr_makes_a_service_token_with_scopes_and_revokes_a_personal_one(
    client, people, login
):
    employee = await User.get(username=people["employee"])
    personal = await tokens.make_token("phone", kind="personal", scopes=["api"],
                                       user_id=employee.id)
    await login(people["hr"])
    made = await _make(client, "/admin/tokens", name="Okta provisioning",
                       scope=["scim", "api:read"], days="365")
    assert made.status_code == 201
    raw = TOKEN.search(made.text).group(1)
    assert raw.startswith("sl_svc_")
    identity = await tokens.authenticate(raw)
    assert identity is not None and identity.is_service and identity.user_id is None
    assert identity.allows("scim") and identity.allows("api:read") and not identity.allows("api")

    page = await client.get("/admin/tokens")
    assert "Okta provisioning" in page.text and "phone" in page.text
    revoked = await client.post(f"/admin/tokens/{personal.info.id}/revoke",
                                data={"csrf_token": await _csrf(client, "/admin/tokens")})
    assert revoked.status_code == 303
    assert await tokens.authenticate(personal.token) is None


async def test_an_expired_token_no_longer_works_and_use_is_noted_sparingly(db, people):
    user = await User.get(username=people["employee"])
    now = tokens.wall_clock()
    made = await tokens.make_token("short", kind="personal", scopes=["api"], user_id=user.id,
                                   expires_at=now + timedelta(days=1), now=now)
    identity = await tokens.authenticate(made.token, now=now)
    assert identity is not None and identity.person_id == user.person_id
    assert identity.allows("api:read")  # api includes reading
    first = (await ApiToken.get(id=made.info.id)).last_used_at
    assert first == now

    await tokens.authenticate(made.token, now=now + timedelta(seconds=10))
    assert (await ApiToken.get(id=made.info.id)).last_used_at == first  # not on every call
    await tokens.authenticate(made.token, now=now + timedelta(minutes=2))
    assert (await ApiToken.get(id=made.info.id)).last_used_at == now + timedelta(minutes=2)

    assert await tokens.authenticate(made.token, now=now + timedelta(days=1)) is None
    assert await tokens.authenticate(made.token[:-1] + "x", now=now) is None
    assert await tokens.authenticate("Bearer nonsense", now=now) is None
    assert made.info.status(now + timedelta(days=2)) == "expired"
