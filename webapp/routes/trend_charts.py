"""The trend page's charts as inline SVG, drawn on the server: they need no script, print as
they show, and scale from their viewBox. Each is a dict of shapes the template writes out; the
numbers behind them are in the tables beneath the charts.

Each chart is drawn in two layouts: a wide one for a laptop and a narrow, taller one for a
phone, whose viewBox is about a phone's width so its text reads at the size it was drawn (a
laptop's chart shrunk to 390 px would print its labels at half size). The page shows one of
them by the screen's width.

A cycle still in progress is drawn as a hollow point, not joined to the line by a solid
segment: its completion so far is no fall. Value labels go above the higher of a cycle's two
points and below the lower one, so they never sit on each other however close the rates.

No routes here (webapp/routes/trends.py has them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.performance.trends import CycleTrend, Trends
from webapp import i18n
from webapp.i18n import marked as _
from webapp.templating import format_number


@dataclass(frozen=True)
class Layout:
    """A chart's drawing box in viewBox units, and the size of its text in them."""

    key: str  # "wide" or "phone": the ids of the chart's title and description end with it
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    font: int
    # Fewer units per cycle than this: values are left to the table, names to their first word.
    roomy: int


WIDE = Layout("wide", 720, 300, 52, 16, 28, 84, 13, 44)
PHONE = Layout("phone", 360, 340, 54, 14, 28, 92, 14, 48)
LAYOUTS = (WIDE, PHONE)

# Ratings best first: dark for the ends of the scale, light in the middle; text on each in a
# colour that reads on it.
LEVEL_COLOURS = {5: ("#00695c", "#fff"), 4: ("#4db6ac", "#000"), 3: ("#b0bec5", "#000"),
                 2: ("#ffb74d", "#000"), 1: ("#c62828", "#fff")}
SERIES = (("completion", _("Completion"), "#1565c0", ""),
          ("on_time", _("On time"), "#6a1b9a", "6 4"))
# The dotted segment to a cycle in progress.
PENDING_DASH = "2 5"


def _y(layout: Layout, percent: float) -> float:
    plot = layout.height - layout.top - layout.bottom
    return round(layout.top + plot * (1 - percent / 100), 1)


def _axis(layout: Layout) -> list[dict[str, Any]]:
    return [{"y": _y(layout, p), "label": f"{p} %"} for p in (0, 25, 50, 75, 100)]


def _name_lines(name: str, step: float, layout: Layout) -> list[str]:
    """A cycle's name on up to two lines that fit its slot ("2026" / "year-end"); a crowded
    chart keeps the first word only."""
    words = name.split()
    if step < layout.roomy * 1.5 and words:
        return [_cut(words[0], step, layout)]
    if len(words) < 2:
        return [_cut(name, step, layout)]
    return [_cut(words[0], step, layout), _cut(" ".join(words[1:]), step, layout)]


def _cut(text: str, step: float, layout: Layout) -> str:
    fits = max(4, int(step / (layout.font * 0.58)))
    return text if len(text) <= fits else text[: fits - 1] + "…"


def _slots(layout: Layout, count: int) -> tuple[float, list[float]]:
    span = layout.width - layout.left - layout.right
    step = span / count if count else span
    return step, [round(layout.left + step * (n + 0.5), 1) for n in range(count)]


def _names(layout: Layout, cycles: list[tuple[str, bool]], xs: list[float], step: float,
           top: float) -> list[dict[str, Any]]:
    """The names under the slots, with "in progress" under a running cycle's."""
    line = layout.font + 3
    return [
        {"x": x, "y": top, "lines": [{"dy": 0 if n == 0 else line, "text": text}
                                     for n, text in enumerate(_name_lines(name, step, layout))],
         "progress_y": round(top + line * len(_name_lines(name, step, layout)), 1),
         "in_progress": running}
        for x, (name, running) in zip(xs, cycles, strict=True)
    ]


def rates_chart(trends: Trends, layout: Layout = WIDE) -> dict[str, Any]:
    """Completion and on-time rate per cycle as two lines over 0–100 %; a cycle in progress
    as hollow points off the lines."""
    step, xs = _slots(layout, len(trends.cycles))
    values = layout.roomy <= step
    series = []
    for key, label, colour, dash in SERIES:
        points, paths, pending = [], [], []
        run: list[str] = []
        last: dict[str, Any] | None = None
        for x, cycle in zip(xs, trends.cycles, strict=True):
            value = _value(cycle, key)
            if value is None:
                if len(run) > 1:
                    paths.append(" ".join(run))
                run, last = [], None
                continue
            point = {"x": x, "y": _y(layout, value), "value": value,
                     "in_progress": cycle.in_progress}
            points.append(point)
            if cycle.in_progress:
                # Off the line: completion so far is no fall; steps done so far, dotted.
                if last is not None and key != "completion":
                    pending.append(f"{last['x']},{last['y']} {x},{point['y']}")
                if len(run) > 1:
                    paths.append(" ".join(run))
                run, last = [], None
                continue
            run.append(f"{x},{point['y']}")
            last = point
        if len(run) > 1:
            paths.append(" ".join(run))
        series.append({"key": key, "label": i18n.gettext(label), "colour": colour, "dash": dash,
                       "points": points, "paths": paths, "pending": pending})
    labels = _value_labels(layout, series) if values else []
    described = "; ".join(
        i18n.gettext("%(cycle)s: completion %(completion)s, on time %(on_time)s",
                     cycle=_cycle_name(c), completion=_percent(c.counts.completion_rate),
                     on_time=_percent(c.counts.on_time_rate))
        for c in trends.cycles
    )
    bottom = _y(layout, 0)
    return {
        "layout": layout, "width": layout.width, "height": layout.height, "left": layout.left,
        "right": layout.width - layout.right, "font": layout.font,
        "axis": _axis(layout), "series": series, "values": labels,
        "names": _names(layout, [(c.name, c.in_progress) for c in trends.cycles], xs, step,
                        round(bottom + layout.font * 2 + 12, 1)),
        "in_progress": any(c.in_progress for c in trends.cycles),
        "title": i18n.gettext("Completion and on-time rate per cycle"),
        "description": described or i18n.gettext("No cycle yet."),
    }


def _value(cycle: CycleTrend, key: str) -> float | None:
    return cycle.counts.completion_rate if key == "completion" else cycle.counts.on_time_rate


def _value_labels(layout: Layout, series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each point's value: above the higher point of its cycle, below the lower one (the
    completion above when they are equal), so two close values never overlap."""
    at: dict[float, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for s in series:
        for point in s["points"]:
            at.setdefault(point["x"], []).append((s, point))
    labels = []
    for x, found in at.items():
        # Highest on the chart first (smallest y); ties keep the series order.
        ordered = sorted(enumerate(found), key=lambda item: (item[1][1]["y"], item[0]))
        for rank, (_order, (s, point)) in enumerate(ordered):
            above = rank == 0
            y = point["y"] - 10 if above else point["y"] + layout.font + 8
            labels.append({"x": x, "y": round(y, 1), "text": _rate(point["value"]),
                           "colour": s["colour"], "key": s["key"]})
    return labels


def distribution_chart(trends: Trends, layout: Layout = WIDE) -> dict[str, Any] | None:
    """Each rating cycle's final ratings as a bar stacked by level (best on top), in percent
    of the rated people, and the guideline as the last bar; dashed lines carry the guideline's
    boundaries across the cycles' bars, so a level above its line has more than expected.
    None when no cycle shown writes final ratings."""
    rating_cycles = trends.rating_cycles
    if not rating_cycles:
        return None
    bars: list[dict[str, Any]] = []
    guideline = rating_cycles[-1].distribution.levels
    columns: list[tuple[str, bool, list[tuple[int, str, float, int | None]]]] = [
        (c.name, c.in_progress,
         [(lv.value, lv.short, lv.share, lv.count) for lv in c.distribution.levels])
        for c in rating_cycles
    ]
    columns.append((i18n.gettext("Guideline"), False,
                    [(lv.value, lv.short, lv.guideline_share, None) for lv in guideline]))
    step, xs = _slots(layout, len(columns))
    width = min(72.0, step * 0.6)
    for centre, (name, running, levels) in zip(xs, columns, strict=True):
        x = round(centre - width / 2, 1)
        rated = sum(count or 0 for *_, count in levels)
        segments = []
        top = 0.0  # percent stacked so far, from the top (best level first)
        for value, short, share, count in sorted(levels, key=lambda lv: -lv[0]):
            if share <= 0:
                continue
            fill, ink = LEVEL_COLOURS.get(value, ("#90a4ae", "#000"))
            y0, y1 = _y(layout, 100 - top), _y(layout, 100 - top - share)
            segments.append({
                "y": y0, "height": round(y1 - y0, 1), "fill": fill, "ink": ink,
                "text": _share(share) if share >= 8 and width >= layout.font * 2.2 else "",
                "text_y": round((y0 + y1) / 2 + layout.font / 3, 1),
                "title": f"{name}: {value} {short} — {_share(share)} %" + (
                    " (" + i18n.ngettext("%(num)s person", "%(num)s people", count) + ")"
                    if count is not None else ""),
            })
            top += share
        bars.append({"x": x, "width": round(width, 1), "centre": centre,
                     "segments": segments, "guideline": count_is_none(levels),
                     "empty": not segments, "rated": rated, "in_progress": running})
    lines = []
    top = 0.0
    for level in guideline[:-1]:
        top += level.guideline_share
        lines.append({"y": _y(layout, 100 - top), "label": f"{level.value}+"})
    described = "; ".join(
        f"{_cycle_name(c)}: "
        + ", ".join(f"{lv.value} {_share(lv.share)} %" for lv in c.distribution.levels)
        for c in rating_cycles
    )
    guide = ", ".join(f"{lv.value} {_share(lv.guideline_share)} %" for lv in guideline)
    bottom = _y(layout, 0)
    return {
        "layout": layout, "width": layout.width, "height": layout.height, "left": layout.left,
        "right": layout.width - layout.right, "font": layout.font,
        "axis": _axis(layout), "bars": bars, "lines": lines,
        "empty_y": round(bottom - layout.font, 1),
        "names": _names(layout, [(name, running) for name, running, _ in columns], xs, step,
                        round(bottom + layout.font + 8, 1)),
        "title": i18n.gettext("Final ratings per cycle against the guideline"),
        "description": described + (
            ". " + i18n.gettext("Guideline: %(shares)s.", shares=guide) if guide else ""),
    }


def count_is_none(levels: list[tuple[int, str, float, int | None]]) -> bool:
    """Whether a bar is the guideline's (its levels carry no head count)."""
    return bool(levels) and all(count is None for *_, count in levels)


def _share(value: float) -> str:
    """A share as the reader writes numbers: 33.3 (German: 33,3)."""
    return format_number(value)


def _rate(value: float) -> str:
    """A rate with its one decimal, as the reader writes numbers: 66.7 (German: 66,7)."""
    return format_number(value, 1)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{_rate(value)} %"


def _cycle_name(cycle: CycleTrend) -> str:
    """A cycle's name, with "(in progress)" while it runs."""
    if cycle.in_progress:
        return i18n.gettext("%(cycle)s (in progress)", cycle=cycle.name)
    return cycle.name
