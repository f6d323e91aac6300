"""Logins as the web layer and the CLI find and change them (engine.people.logins)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.base.models import User
from engine.people import logins
from engine.people.directory import current_directory

SIGNED_IN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def eve(org: None) -> logins.Login:
    """Eve's login, created with a stand-in hash."""
    person = (await current_directory()).person("E1")
    assert person is not None
    return await logins.create_login("eve", person.id, "hash-1")


async def test_a_login_is_found_by_its_exact_name_its_id_and_its_person(
    eve: logins.Login,
) -> None:
    assert await logins.login_named("eve") == eve
    assert await logins.login_named("Eve") is None
    assert await logins.login_named("nobody") is None
    assert await logins.login_by_id(eve.id) == eve
    assert await logins.login_of_person(eve.person_id) == eve
    morgan = (await current_directory()).person("M1")
    assert morgan is not None and await logins.login_of_person(morgan.id) is None


async def test_noting_a_login_keeps_the_hash_unless_a_new_one_is_given(
    eve: logins.Login,
) -> None:
    await logins.note_login(eve.id, SIGNED_IN)
    row = await User.get(id=eve.id)
    assert (row.last_login_at, row.password_hash) == (SIGNED_IN, "hash-1")

    await logins.note_login(eve.id, SIGNED_IN, new_password_hash="hash-2")
    assert (await logins.login_by_id(eve.id)).password_hash == "hash-2"


async def test_a_new_password_hash_replaces_the_old_one(eve: logins.Login) -> None:
    await logins.set_password_hash(eve.id, "hash-3")

    assert (await logins.login_named("eve")) == logins.Login(eve.id, "eve", eve.person_id,
                                                             "hash-3")
