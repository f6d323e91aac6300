"""Health checks for load balancers and `make run` (no login, nothing written).

`/health` (liveness): the process is up; it touches nothing else, so a database outage does
not get every web process restarted. `/health/ready` (readiness): the database answers and a
worker is alive, so this process can do its job; 503 with what is wrong otherwise.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.operations.health import readiness

NO_STORE = {"Cache-Control": "no-store"}


async def health(request: Request) -> JSONResponse:
    """GET /health: the process is up and serving."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def ready(request: Request) -> JSONResponse:
    """GET /health/ready: 200 when the database answers and a worker is alive, else 503
    saying which is missing."""
    state = await readiness()
    body = {
        "status": "ready" if state.ready else "not ready",
        "database": state.database,
        "worker": state.worker,
    }
    return JSONResponse(body, status_code=200 if state.ready else 503, headers=NO_STORE)


routes = [
    Route("/health", health, methods=["GET"], name="health"),
    Route("/health/ready", ready, methods=["GET"], name="health_ready"),
]
