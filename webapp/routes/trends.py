"""HR's trends across cycles: GET /hr/trends compares the last N cycles (`?cycles=N`, default
4) of one kind (`?process=<the process the cycles run>`, default the kind of the newest cycle
that rates people) of the viewer's population, or of one unit (`?unit=<id>`): completion and
on-time rates,
final ratings against the guideline, and the units cycle by cycle — charts with the same
numbers in tables, and the tables as CSV (`/hr/trends.csv`, the cycles) and XLSX
(`/hr/trends.xlsx`, a sheet per table).

HR only (404 for everyone else, like every HR page); an HR partner sees the units they look
after. A bad N or a kind of cycle the population never had shows the page again with the
message and the defaults; a unit outside the viewer's scope is 404. The numbers come from
engine.performance.trends.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotAllowed, NotFound
from engine.performance import exports
from engine.performance.trends import (
    DEFAULT_CYCLES,
    MAX_CYCLES,
    BadTrendRequest,
    Trends,
    cycle_trends,
    trend_tables,
)
from webapp import i18n
from webapp.auth import current_user
from webapp.input import database_id
from webapp.routes.trend_charts import LAYOUTS, LEVEL_COLOURS, distribution_chart, rates_chart
from webapp.templating import render

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _trends(request: Request, *, forgiving: bool) -> tuple[Trends, str]:
    """The trend the address asks for, and what was wrong with its N (shown on the page, which
    then uses the default; a download refuses it with 400)."""
    viewer = current_user(request)
    if not viewer.is_hr:
        raise HTTPException(404)
    wanted = request.query_params.get("cycles", "")
    unit_text = request.query_params.get("unit", "").strip()
    unit_id = database_id(unit_text) if unit_text else None
    if unit_text and unit_id is None:
        raise HTTPException(404)
    process = request.query_params.get("process", "")
    problem = ""
    try:
        try:
            trends = await cycle_trends(viewer, wanted, unit_id, process)
        except BadTrendRequest as exc:
            if not forgiving:
                raise HTTPException(400, str(exc)) from None
            said = i18n.say_error(exc)
            problem = said[:1].upper() + said[1:]
            trends = await cycle_trends(viewer, None, unit_id)
    except (NotAllowed, NotFound):
        raise HTTPException(404) from None
    return trends, problem


def _query(trends: Trends) -> str:
    query = f"cycles={trends.asked}"
    if trends.process is not None:
        query += f"&process={quote(trends.process)}"
    return query + (f"&unit={trends.unit_id}" if trends.unit_id is not None else "")


async def trends_page(request: Request) -> Response:
    """GET /hr/trends: the last N cycles' rates and ratings, charts above their tables."""
    trends, problem = await _trends(request, forgiving=True)
    context = {
        "trends": trends,
        "problem": problem,
        "typed": bool(problem),
        "choices": sorted({2, 3, DEFAULT_CYCLES, 6, 8, MAX_CYCLES, trends.asked}),
        "max_cycles": MAX_CYCLES,
        "query": _query(trends),
        "rates": [rates_chart(trends, layout) for layout in LAYOUTS],
        "ratings": [distribution_chart(trends, layout) for layout in LAYOUTS],
        "colours": LEVEL_COLOURS,
    }
    return render(request, "hr_trends.html", context, status=422 if problem else 200)


def _file_name(trends: Trends, suffix: str) -> str:
    unit = f"-unit-{trends.unit_id}" if trends.unit_id is not None else ""
    return f"sightline-trends-{len(trends.cycles)}-cycles{unit}.{suffix}"


async def trends_csv(request: Request) -> Response:
    """GET /hr/trends.csv: the cycles table (people, completion, on time, rated, mean)."""
    trends, _ = await _trends(request, forgiving=False)
    return Response(
        exports.as_csv(trend_tables(trends)[0]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(trends, "csv")}"'},
    )


async def trends_xlsx(request: Request) -> Response:
    """GET /hr/trends.xlsx: the cycles, ratings and units tables, a sheet each."""
    trends, _ = await _trends(request, forgiving=False)
    return Response(
        exports.as_xlsx(trend_tables(trends)),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{_file_name(trends, "xlsx")}"'},
    )


routes: list[BaseRoute] = [
    Route("/hr/trends", trends_page, methods=["GET"], name="hr_trends"),
    Route("/hr/trends.csv", trends_csv, methods=["GET"], name="hr_trends_csv"),
    Route("/hr/trends.xlsx", trends_xlsx, methods=["GET"], name="hr_trends_xlsx"),
]
