"""KPI and appraisal scoring for scripts: achievement, 1..5 scores, weighted and overall ratings.

Registered with `@script_function`, so every BPMN script, condition and DMN cell can call them
(see docs/scripting.md and docs/standard-pack.md). All of them are pure: numbers in, numbers
out, `None` where there is nothing to score — never an exception for a missing actual or a zero
target, because a year-end form full of half-filled KPIs must still move on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.scripts.context import ScriptError, script_function

# Achievement is capped so one runaway KPI cannot carry the whole appraisal.
MAX_ACHIEVEMENT = 150.0
# Lower bounds (in % achievement) of the scores 2..5 on the 5-point scale; below 70 % is a 1.
SCORE_BANDS_5 = ((130.0, 5), (110.0, 4), (90.0, 3), (70.0, 2))
# A target band without explicit limits or tolerance is the target ± 5 % of it.
DEFAULT_BAND_TOLERANCE = 0.05
# Outside a target band, each 1 % of the target's size away from the band costs 2 points.
BAND_FALLOFF_PER_PERCENT = 2.0
MEASURE_TYPES = ("higher_is_better", "lower_is_better", "target_band")


def _number(value: Any) -> float | None:
    """A finite float from an int, float or numeric string; None for anything else or blank."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip().replace(",", "")
        if not value:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _met(actual: float, target: float, higher: bool) -> float:
    # A zero-width scale (target 0 without baseline, or baseline == target) can only be met
    # or missed; there is no ratio to take.
    return 100.0 if (actual >= target if higher else actual <= target) else 0.0


def _higher_is_better(actual: float, target: float, baseline: float | None, cap: float) -> float:
    if baseline is not None and target != baseline:
        return (actual - baseline) / (target - baseline) * 100.0
    if target == 0 or baseline is not None:
        return _met(actual, target, higher=True)
    return actual / target * 100.0


def _lower_is_better(actual: float, target: float, baseline: float | None, cap: float) -> float:
    if baseline is not None and target != baseline:
        return (baseline - actual) / (baseline - target) * 100.0
    if target == 0 or baseline is not None:
        return _met(actual, target, higher=False)
    if actual <= 0:
        return cap  # nothing left of what should go down: better than any ratio says
    return target / actual * 100.0


def band_limits(objective: Mapping[str, Any]) -> tuple[float, float] | None:
    """The (low, high) limits of a target-band KPI: `target_min`/`target_max`, else
    `target` ± `tolerance` (absolute), else `target` ± 5 %."""
    low, high = _number(objective.get("target_min")), _number(objective.get("target_max"))
    target = _number(objective.get("target"))
    if low is None and high is None:
        if target is None:
            return None
        tolerance = _number(objective.get("tolerance"))
        if tolerance is None:
            tolerance = abs(target) * DEFAULT_BAND_TOLERANCE
        low, high = target - abs(tolerance), target + abs(tolerance)
    elif low is None:
        low = high
    elif high is None:
        high = low
    assert low is not None and high is not None
    return (low, high) if low <= high else (high, low)


def _target_band(actual: float, low: float, high: float) -> float:
    if low <= actual <= high:
        return 100.0
    distance = low - actual if actual < low else actual - high
    # The band's own size sets the yardstick: its midpoint, or its half width around zero.
    reference = abs((low + high) / 2) or (high - low) / 2
    if reference == 0:
        return 0.0
    return 100.0 - distance / reference * 100.0 * BAND_FALLOFF_PER_PERCENT


@script_function
def kpi_achievement(objective: Mapping[str, Any], cap: float = MAX_ACHIEVEMENT) -> float | None:
    """Achievement of one objective's KPI in percent (0..cap), by its measure type; None when
    the actual (or the target) is missing."""
    if not isinstance(objective, Mapping):
        raise ScriptError("kpi_achievement needs an objective (a dict with actual and target)")
    actual = _number(objective.get("actual"))
    if actual is None:
        return None
    measure = objective.get("measure_type") or "higher_is_better"
    if measure not in MEASURE_TYPES:
        raise ScriptError(
            f"unknown measure_type {measure!r}; use one of {', '.join(MEASURE_TYPES)}"
        )
    if measure == "target_band":
        limits = band_limits(objective)
        if limits is None:
            return None
        value = _target_band(actual, *limits)
    else:
        target = _number(objective.get("target"))
        if target is None:
            return None
        baseline = _number(objective.get("baseline"))
        score = _higher_is_better if measure == "higher_is_better" else _lower_is_better
        value = score(actual, target, baseline, cap)
    return round(min(max(value, 0.0), cap), 2)


@script_function
def kpi_score(achievement: float | None, scale: int = 5) -> int | None:
    """The 1..scale score for an achievement percentage (5-point bands: <70 → 1, 70 → 2,
    90 → 3, 110 → 4, 130+ → 5); None for no achievement."""
    value = _number(achievement)
    if value is None:
        return None
    if not isinstance(scale, int) or scale < 2:
        raise ScriptError(f"kpi_score needs a scale of at least 2 levels, not {scale!r}")
    score5 = next((score for floor, score in SCORE_BANDS_5 if value >= floor), 1)
    if scale == 5:
        return score5
    return 1 + int(_half_up((score5 - 1) * (scale - 1) / 4))


def _objective_score(objective: Mapping[str, Any]) -> float | None:
    stored = _number(objective.get("kpi_score"))
    if stored is not None:
        return stored
    return _number(kpi_score(kpi_achievement(objective)))


@script_function
def weighted_score(objectives: Iterable[Mapping[str, Any]] | None) -> float | None:
    """The weight-averaged KPI score (1..5) of the objectives that have an actual, the weights
    re-normalised over those; equal weights when none are given; None when nothing scores."""
    scored: list[tuple[float, float | None]] = []
    for objective in objectives or ():
        if not isinstance(objective, Mapping):
            continue
        score = _objective_score(objective)
        if score is not None:
            scored.append((score, _number(objective.get("weight"))))
    if not scored:
        return None
    if all(weight is None for _, weight in scored):
        scored = [(score, 1.0) for score, _ in scored]
    total = sum(max(weight or 0.0, 0.0) for _, weight in scored)
    if total == 0:
        return None
    value = sum(score * max(weight or 0.0, 0.0) for score, weight in scored) / total
    return round(value, 2)


@script_function
def average_rating(ratings: Mapping[str, Any] | Iterable[Any] | None) -> float | None:
    """The mean of the numeric ratings (a dict's values or a list), blanks skipped; None when
    none is given."""
    values = ratings.values() if isinstance(ratings, Mapping) else (ratings or ())
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    return round(sum(numbers) / len(numbers), 2) if numbers else None


@script_function
def overall_rating(
    kpi_score: float | None, competency_avg: float | None, kpi_weight: float = 0.7
) -> float | None:
    """KPI score and competency average blended (`kpi_weight` as 0..1 or percent); the one
    that is present when the other is None; None when both are."""
    kpi, competency = _number(kpi_score), _number(competency_avg)
    weight = _number(kpi_weight)
    if weight is None or weight < 0 or weight > 100:
        raise ScriptError(f"kpi_weight must be between 0 and 1 (or 0 and 100), not {kpi_weight!r}")
    if weight > 1:
        weight /= 100
    if kpi is None and competency is None:
        return None
    if kpi is None:
        return round(competency, 2)  # type: ignore[arg-type]
    if competency is None:
        return round(kpi, 2)
    return round(kpi * weight + competency * (1 - weight), 2)


@script_function
def rating_level(score: float | None, scale: int = 5) -> int | None:
    """A score rounded half up to a whole level of the scale (3.5 → 4, never banker's 4 → 2.5),
    kept within 1..scale; None for no score."""
    value = _number(score)
    if value is None:
        return None
    return int(min(max(_half_up(value), 1), scale))


@script_function
def rating_gap(a: float | None, b: float | None) -> float | None:
    """How far apart two ratings are (absolute difference); None when either is missing."""
    first, second = _number(a), _number(b)
    if first is None or second is None:
        return None
    return round(abs(first - second), 2)


def _half_up(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
