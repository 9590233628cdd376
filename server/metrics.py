"""Prometheus metrics of one process, on a registry of its own (so tests can build many apps).

Feature modules define their own metrics on ``metrics.registry``; the ones every request or
socket touches live here.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "classroom_http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "classroom_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.open_sockets = Gauge(
            "classroom_open_websockets",
            "Open WebSocket connections by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.socket_floods = Counter(
            "classroom_socket_floods_total",
            "Sockets closed (1008) for sending faster than their budget, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.rooms_active = Gauge(
            "classroom_rooms_active",
            "Rooms with at least one open connection in this process.",
            registry=self.registry,
        )
        self.grading = Histogram(
            "classroom_grading_seconds",
            "From a submission accepted to its grade decided, by outcome (graded or error).",
            ["outcome"],
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
        )
        self.leaderboard_update = Histogram(
            "classroom_leaderboard_update_seconds",
            "From a graded submission to its XP, achievements and board changes delivered.",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.event_loop_lag = Histogram(
            "classroom_event_loop_lag_seconds",
            "How late a timer of the event loop fires (server/operations/loop_lag.py).",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.dependency_up = Gauge(
            "classroom_dependency_up",
            "1 when the dependency answered its last probe (database, redis), else 0.",
            ["dependency"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class MetricsMiddleware:
    """Counts requests and times them by route template (never by raw path: unbounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: dict[str, Any] = {"code": 500}
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            self.metrics.http_requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.http_latency.labels(route).observe(time.perf_counter() - started)
