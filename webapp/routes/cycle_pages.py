"""What the cycle pages share: the cycle picker and the charts.

The personal pages (webapp/routes/dashboards.py) and HR's (webapp/routes/hr.py) take
`?cycle=<id>` and default to the newest cycle; their charts are drawn by static/charts.js from
a JSON block in the page. This module has no routes of its own.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request

from engine.performance.cycle_choice import CycleSummary
from engine.performance.distribution import Distribution
from webapp import i18n
from webapp.input import database_id


def chosen_cycle(request: Request, cycles: list[CycleSummary]) -> CycleSummary | None:
    """The cycle in ?cycle=, else the newest; 404 for an unknown id."""
    wanted = request.query_params.get("cycle", "").strip()
    if not wanted:
        return cycles[0] if cycles else None
    cycle_id = database_id(wanted)
    for cycle in cycles:
        if cycle.id == cycle_id:
            return cycle
    raise HTTPException(404)


def cycle_param(request: Request) -> int | None:
    """The id in ?cycle= (None when absent), for engine functions that choose the default
    themselves; 404 for anything no row can have."""
    wanted = request.query_params.get("cycle", "").strip()
    if not wanted:
        return None
    cycle_id = database_id(wanted)
    if cycle_id is None:
        raise HTTPException(404)
    return cycle_id


def chart_data(spec: dict[str, Any]) -> Markup:
    """A chart's data as a JSON <script> block that static/charts.js draws with Chart.js."""
    text = json.dumps(spec).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/json" data-chart-for="{spec["id"]}">{text}</script>')


def distribution_chart(
    chart_id: str, dist: Distribution, counted: str | None = None
) -> dict[str, Any]:
    """Bar chart of a population's ratings against the guideline, in people: best level
    first, as the table beside it reads."""
    levels = sorted(dist.levels, key=lambda lv: -lv.value)
    return {
        "id": chart_id,
        "type": "bar",
        "labels": [f"{lv.value} {lv.short}" for lv in levels],
        "datasets": [
            {"label": counted or i18n.gettext("Actual"), "data": [lv.count for lv in levels]},
            {"label": i18n.gettext("Guideline"), "data": [lv.guideline_count for lv in levels]},
        ],
        "yTitle": i18n.gettext("People"),
    }
