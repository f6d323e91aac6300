"""Hand-written SQL with `Params`: placeholders come from the values, never from scanning the
statement, so question marks written in the SQL itself stay what they are."""

from __future__ import annotations

from engine.base.db import Params, is_postgres
from engine.base.models import Cycle


async def test_a_literal_question_mark_is_not_a_placeholder(db: str) -> None:
    await Cycle.create(name="Why? Because.")
    p = Params()
    rows = await p.rows(
        "SELECT name, 'is it? yes' AS said FROM cycle "
        f"WHERE name LIKE {p('%?%')} AND name <> {p('nothing?')}"
    )
    assert rows == [{"name": "Why? Because.", "said": "is it? yes"}]


async def test_a_json_key_test_stays_intact(db: str) -> None:
    await Cycle.create(name="2026")
    p = Params()
    # PostgreSQL's jsonb "has key" operator is a bare ?; SQLite asks json_extract instead.
    has_key = ("CAST('{\"a?\": 1}' AS jsonb) ? 'a?'" if is_postgres()
               else "json_extract('{\"a?\": 1}', '$.\"a?\"') IS NOT NULL")
    rows = await p.rows(f"SELECT name, {has_key} AS found FROM cycle WHERE name = {p('2026')}")
    assert [(row["name"], bool(row["found"])) for row in rows] == [("2026", True)]


async def test_many_values_and_none_at_all(db: str) -> None:
    for name in ("a", "b", "c"):
        await Cycle.create(name=name)
    p = Params()
    rows = await p.rows(f"SELECT name FROM cycle WHERE name IN ({p.many(['a', 'c'])}) "
                        "ORDER BY name")
    assert [row["name"] for row in rows] == ["a", "c"]
    p = Params()
    assert await p.rows(f"SELECT name FROM cycle WHERE name IN ({p.many([])})") == []
