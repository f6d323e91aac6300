"""The trend page's charts as inline SVG, drawn on the server: they need no script, print as
they show, and scale to a phone's width from their viewBox. Each is a dict of shapes the
template writes out; the numbers behind them are in the tables beneath the charts.

No routes here (webapp/routes/trends.py has them).
"""

from __future__ import annotations

from typing import Any

from engine.performance.trends import Trends

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 56
# Ratings best first: dark for the ends of the scale, light in the middle; text on each in a
# colour that reads on it.
LEVEL_COLOURS = {5: ("#00695c", "#fff"), 4: ("#4db6ac", "#000"), 3: ("#b0bec5", "#000"),
                 2: ("#ffb74d", "#000"), 1: ("#c62828", "#fff")}
SERIES = (("completion", "Completion", "#1565c0", ""), ("on_time", "On time", "#6a1b9a", "6 4"))


def _y(percent: float) -> float:
    return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - percent / 100), 1)


def _axis() -> list[dict[str, Any]]:
    return [{"y": _y(p), "label": f"{p} %"} for p in (0, 25, 50, 75, 100)]


def _short(name: str) -> str:
    return name if len(name) <= 16 else name[:15] + "…"


def rates_chart(trends: Trends) -> dict[str, Any]:
    """Completion and on-time rate per cycle as two lines over 0–100 %."""
    count = len(trends.cycles)
    span = WIDTH - LEFT - RIGHT
    step = span / count if count else span
    xs = [round(LEFT + step * (n + 0.5), 1) for n in range(count)]
    series = []
    for key, label, colour, dash in SERIES:
        points = []
        for x, cycle in zip(xs, trends.cycles, strict=True):
            value = (cycle.counts.completion_rate if key == "completion"
                     else cycle.counts.on_time_rate)
            if value is not None:
                points.append({"x": x, "y": _y(value), "value": value})
        series.append({
            "key": key, "label": label, "colour": colour, "dash": dash, "points": points,
            "path": " ".join(f"{p['x']},{p['y']}" for p in points),
        })
    described = "; ".join(
        f"{c.name}: completion {_percent(c.counts.completion_rate)}, "
        f"on time {_percent(c.counts.on_time_rate)}" for c in trends.cycles
    )
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
        "axis": _axis(), "series": series,
        "labels": [{"x": x, "y": HEIGHT - BOTTOM + 20, "text": _short(c.name)}
                   for x, c in zip(xs, trends.cycles, strict=True)],
        "title": "Completion and on-time rate per cycle",
        "description": described or "No cycle yet.",
    }


def distribution_chart(trends: Trends) -> dict[str, Any]:
    """Each cycle's final ratings as a bar stacked by level (best on top), in percent of the
    rated people, and the guideline as the last bar; dashed lines carry the guideline's
    boundaries across the cycles' bars, so a level above its line has more than expected."""
    bars: list[dict[str, Any]] = []
    guideline = trends.cycles[-1].distribution.levels if trends.cycles else []
    columns: list[tuple[str, list[tuple[int, str, float, int | None]]]] = [
        (c.name, [(lv.value, lv.short, lv.share, lv.count) for lv in c.distribution.levels])
        for c in trends.cycles
    ]
    columns.append(("Guideline", [(lv.value, lv.short, lv.guideline_share, None)
                                  for lv in guideline]))
    span = WIDTH - LEFT - RIGHT
    step = span / len(columns)
    width = min(72.0, step * 0.6)
    for n, (name, levels) in enumerate(columns):
        x = round(LEFT + step * (n + 0.5) - width / 2, 1)
        rated = sum(count or 0 for *_, count in levels)
        segments = []
        top = 0.0  # percent stacked so far, from the top (best level first)
        for value, short, share, count in sorted(levels, key=lambda lv: -lv[0]):
            if share <= 0:
                continue
            fill, ink = LEVEL_COLOURS.get(value, ("#90a4ae", "#000"))
            y0, y1 = _y(100 - top), _y(100 - top - share)
            segments.append({
                "y": y0, "height": round(y1 - y0, 1), "fill": fill, "ink": ink,
                "text": f"{share:g}" if share >= 8 else "", "text_y": round((y0 + y1) / 2 + 4, 1),
                "title": f"{name}: {value} {short} — {share:g} %"
                         + (f" ({count} people)" if count is not None else ""),
            })
            top += share
        bars.append({"x": x, "width": round(width, 1), "name": _short(name),
                     "centre": round(x + width / 2, 1), "segments": segments,
                     "guideline": count_is_none(levels), "empty": not segments,
                     "rated": rated})
    # The guideline's boundaries between levels, best first (top 5, top 4–5, …).
    lines = []
    top = 0.0
    for level in guideline[:-1]:
        top += level.guideline_share
        lines.append({"y": _y(100 - top), "label": f"{level.value}+"})
    described = "; ".join(
        f"{c.name}: " + ", ".join(f"{lv.value} {lv.share:g} %" for lv in c.distribution.levels)
        for c in trends.cycles
    )
    guide = ", ".join(f"{lv.value} {lv.guideline_share:g} %" for lv in guideline)
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
        "axis": _axis(), "bars": bars, "lines": lines,
        "label_y": HEIGHT - BOTTOM + 20,
        "title": "Final ratings per cycle against the guideline",
        "description": (described + (f". Guideline: {guide}." if guide else ""))
        or "No ratings yet.",
    }


def count_is_none(levels: list[tuple[int, str, float, int | None]]) -> bool:
    """Whether a bar is the guideline's (its levels carry no head count)."""
    return bool(levels) and all(count is None for *_, count in levels)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g} %"
