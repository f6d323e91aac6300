"""How an objective is named across the year: its stable key.

An objective is a row of the objectives a person agreed for a cycle (a record's `objectives`
list). In-year progress, 1:1 agenda items and goal links refer to it by key: the row's own
`key` when it has one (written when objectives are recorded, carried through revisions), else
one made from its title, so objectives recorded before keys existed are still found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

KEY_LENGTH = 64
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def key_from_title(title: str) -> str:
    """The key an objective without one gets from its title ("Cut churn to 5%" → cut-churn-to-5)."""
    slug = _NOT_WORD.sub("-", title.lower()).strip("-")
    return slug[:KEY_LENGTH].rstrip("-") or "objective"


def objective_key(objective: Mapping[str, Any]) -> str:
    """The objective's stable key."""
    key = objective.get("key")
    if isinstance(key, str) and key.strip():
        return key.strip()[:KEY_LENGTH]
    return key_from_title(str(objective.get("title") or ""))


def with_keys(objectives: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The objectives with a `key` on every row, unique within the list (a second objective
    with the same title gets "-2")."""
    seen: set[str] = set()
    keyed: list[dict[str, Any]] = []
    for row in objectives:
        base = objective_key(row)
        key, n = base, 1
        while key in seen:
            n += 1
            suffix = f"-{n}"
            key = base[: KEY_LENGTH - len(suffix)] + suffix
        seen.add(key)
        keyed.append({**row, "key": key})
    return keyed
