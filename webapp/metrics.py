"""What `/metrics` tells Prometheus, and who may ask.

Three kinds of numbers: this process's requests (latency by route template, method and status
class; requests in flight), the engine's counters of this process (engine.base.metrics), and the
backlogs read from the database at scrape time (engine.operations.health.backlog), which every
process reports alike. Counters are per process: scrape each web process, not just one.

Who may read: with METRICS_TOKEN set, requests carrying `Authorization: Bearer <token>`;
without it, only requests made on this machine (127.0.0.1 / ::1) and not through a proxy.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import asdict

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match
from starlette.types import Scope

from config import settings
from engine.base import metrics as engine_metrics  # noqa: F401  (registers the engine's counters)
from engine.operations import health
from engine.operations.health import Backlog

log = logging.getLogger("sightline.web")

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "unmatched"  # a route label for every URL no route knows (scanners, typos)

request_seconds = Histogram(
    "sightline_http_request_duration_seconds",
    "Time from receiving a request to the end of its response",
    ["route", "method", "status"],
)
requests_in_flight = Gauge(
    "sightline_http_requests_in_flight", "Requests being served by this process"
)

# Backlog field -> (metric name, help): read from the database at each scrape.
BACKLOG_GAUGES: dict[str, tuple[str, str]] = {
    "timers_due": (
        "sightline_timers_due",
        "Running instances whose next timer is due (the timer backlog)",
    ),
    "timers_oldest_due_seconds": (
        "sightline_timers_oldest_due_seconds",
        "How long the earliest due timer has been waiting to fire",
    ),
    "emails_queued": ("sightline_outbox_queued_emails", "Emails waiting in the outbox"),
    "emails_failed": ("sightline_outbox_failed_emails", "Emails given up after their retries"),
    "messages_pending": (
        "sightline_messages_pending",
        "Thrown messages and signals waiting to be delivered",
    ),
    "messages_failed": (
        "sightline_messages_failed",
        "Messages and signals whose delivery failed",
    ),
    "launches": ("sightline_launches_active", "Cycle launches queued or running"),
    "launch_done": (
        "sightline_launch_instances_done",
        "Instances prepared so far by the cycle launches queued or running",
    ),
    "launch_total": (
        "sightline_launch_instances_total",
        "Instances the cycle launches queued or running will prepare in all",
    ),
    "workers_live": (
        "sightline_workers_live",
        "Workers that sent a heartbeat within the stale limit",
    ),
}


def route_template(scope: Scope) -> str:
    """The route a request matched, as its template (`/tasks/{id}`), never the raw path: one
    time series per route, however many ids and scanners come by."""
    route = scope.get("route")
    if route is None:
        # Answered before routing (sent to log in, refused by CSRF): find the route it was for.
        router = getattr(scope.get("app"), "router", None)
        for candidate in getattr(router, "routes", ()):
            if candidate.matches(scope)[0] != Match.NONE:
                route = candidate
                break
    path_format = getattr(route, "path_format", None)
    return path_format if isinstance(path_format, str) else UNMATCHED


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one served request in the latency histogram."""
    request_seconds.labels(
        route=route_template(scope), method=scope.get("method", ""), status=f"{status // 100}xx"
    ).observe(seconds)


class _BacklogCollector:
    """The backlog read for this scrape, as gauges (and whether the database answered)."""

    def __init__(self, backlog: Backlog | None) -> None:
        self.backlog = backlog

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "sightline_database_up",
            "Whether the database answered this scrape's backlog queries",
            value=0 if self.backlog is None else 1,
        )
        if self.backlog is None:
            return
        for field, value in asdict(self.backlog).items():
            name, documentation = BACKLOG_GAUGES[field]
            yield GaugeMetricFamily(name, documentation, value=value)


async def exposition() -> bytes:
    """Every metric in Prometheus' text format: this process's, then the database's."""
    try:
        backlog: Backlog | None = await health.backlog()
    except Exception as exc:  # the process's own numbers are still worth a scrape
        log.warning("metrics: the backlog could not be read: %s", exc)
        backlog = None
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_BacklogCollector(backlog))
    return generate_latest(REGISTRY) + generate_latest(scrape)


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def refusal(request: Request) -> Response | None:
    """Why this request may not read the metrics (a 401/403 to send), or None when it may."""
    token = str(settings.METRICS_TOKEN)
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return PlainTextResponse(
            "metrics need the bearer token (METRICS_TOKEN)",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    host = request.client.host if request.client else ""
    # A proxy on this machine makes every visitor look local: what came through it is not.
    proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    if _is_loopback(host) and not proxied:
        return None
    return PlainTextResponse(
        "metrics are answered on this machine only, unless METRICS_TOKEN is set",
        status_code=403,
    )
