"""Liveness check for load balancers and `make run` (no login, no database)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(request: Request) -> JSONResponse:
    """GET /health: the process is up and serving."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


routes = [Route("/health", health, methods=["GET"], name="health")]
