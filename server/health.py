"""Liveness, readiness and metrics endpoints for operators and load balancers."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server.api.base import components_of
from server.metrics import CONTENT_TYPE

log = logging.getLogger("classroom.server")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """200 when the database answers and, with Redis configured, the bus is connected."""
    components = components_of(request)
    checks: dict[str, str] = {}
    try:
        await components.store.ping()
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if components.settings.redis_url:
        checks["redis"] = "ok" if components.bus.healthy else "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )


async def metrics(request: Request) -> Response:
    components = components_of(request)
    return Response(components.metrics.render(), media_type=CONTENT_TYPE)


routes: list[BaseRoute] = [
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
