"""Ratings as records hold them, and their distribution against the rating scale's guideline.

The team dashboard, the HR dashboard and calibration all count final or proposed ratings per
level and set them against the catalog's `[distribution]` guideline (docs/dashboards.md);
the maths lives here once, and so does reading a rating or a number out of a record's data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class LevelCount:
    """One rating level: how many people have it, and how many the guideline expects."""

    value: int
    label: str
    short: str
    count: int
    share: float  # percent of the rated people
    guideline_share: float
    guideline_count: float
    gap: float  # count - guideline_count: positive means more than the guideline expects
    within_tolerance: bool


@dataclass
class GroupCount:
    """A group of levels (Top 4–5, Core 3, Below 1–2) against its guideline share."""

    label: str
    levels: list[int]
    count: int
    share: float
    guideline_share: float
    guideline_count: float
    gap: float


@dataclass
class Distribution:
    """Ratings of one population against the rating scale's guideline distribution."""

    population: str
    rated: int
    levels: list[LevelCount]
    groups: list[GroupCount]
    tolerance: float
    # Ratings beyond the guideline's expectation, summed over the levels that have too many /
    # too few (each the sum of that side's gaps, rounded).
    above_guideline: int
    below_guideline: int
    # How pages name the population: "all", "unit:<id>" or "family:<job family>".
    key: str = ""


def rating_distribution(
    counts: Mapping[int, int], scale: Mapping[str, Any], population: str = "", key: str = ""
) -> Distribution:
    """Counts per rating level set against the catalog's [distribution] guideline."""
    guide = scale.get("distribution") or {}
    shares = {int(k): float(v) for k, v in (guide.get("shares") or {}).items()}
    tolerance = float(guide.get("tolerance") or 0)
    rated = sum(counts.get(int(level["value"]), 0) for level in scale.get("levels", []))

    def share(n: float) -> float:
        return round(n * 100 / rated, 1) if rated else 0.0

    levels = []
    for level in sorted(scale.get("levels", []), key=lambda lv: -int(lv["value"])):
        value = int(level["value"])
        count = counts.get(value, 0)
        expected = shares.get(value, 0.0) * rated / 100
        levels.append(LevelCount(
            value=value,
            label=str(level.get("label", value)),
            short=str(level.get("short", value)),
            count=count,
            share=share(count),
            guideline_share=shares.get(value, 0.0),
            guideline_count=round(expected, 1),
            gap=round(count - expected, 1),
            within_tolerance=abs(share(count) - shares.get(value, 0.0)) <= tolerance,
        ))
    groups = []
    for group in guide.get("groups") or []:
        members = [int(v) for v in group.get("levels", [])]
        count = sum(counts.get(v, 0) for v in members)
        guideline = float(group.get("share", sum(shares.get(v, 0.0) for v in members)))
        expected = guideline * rated / 100
        groups.append(GroupCount(
            label=str(group.get("label", "")),
            levels=members,
            count=count,
            share=share(count),
            guideline_share=guideline,
            guideline_count=round(expected, 1),
            gap=round(count - expected, 1),
        ))
    above = sum(lv.count - lv.guideline_share * rated / 100 for lv in levels
                if lv.count > lv.guideline_share * rated / 100)
    below = sum(lv.guideline_share * rated / 100 - lv.count for lv in levels
                if lv.count < lv.guideline_share * rated / 100)
    return Distribution(
        population=population,
        rated=rated,
        levels=levels,
        groups=groups,
        tolerance=tolerance,
        above_guideline=round(above),
        below_guideline=round(below),
        key=key,
    )


def rating_of(data: Any) -> int | None:
    """The rating a record's data holds, rounded to a level; None when it holds no number."""
    if not isinstance(data, Mapping):
        return None
    value = data.get("rating")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value)


def number(value: Any) -> float | None:
    """A numeric field of a record's data as a float; None for anything else (bools too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def latest_by_person(rows: Iterable[tuple[int, Any]]) -> dict[int, Any]:
    """Each person's newest data from (person id, data) rows ordered by id."""
    found: dict[int, Any] = {}
    for person_id, data in rows:
        found[person_id] = data  # rows come ordered by id: the newest wins
    return found
