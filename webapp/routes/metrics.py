"""Prometheus metrics (webapp/metrics.py): no login, but only for the token or this machine."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from webapp import metrics


async def metrics_page(request: Request) -> Response:
    """GET /metrics: every metric in Prometheus' text format (401/403 for anyone else)."""
    refused = metrics.refusal(request)
    if refused is not None:
        return refused
    return Response(
        await metrics.exposition(),
        media_type=metrics.CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )


routes = [Route("/metrics", metrics_page, methods=["GET"], name="metrics")]
