"""The Starlette application: routes from every feature module, resources opened in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from server import (
    demos,
    events,
    gamification_hub,
    hands,
    health,
    live_runs,
    pages,
    runs,
    submissions,
    yjs,
)
from server.api import (
    accounts,
    classrooms,
    course,
    documents,
    grades,
    openapi,
)
from server.bus import Bus
from server.exceptions import ApiError
from server.metrics import Metrics, MetricsMiddleware
from server.operations.loop_lag import LoopLag
from server.operations.probes import DependencyProbe
from server.operations.shutdown import ShutdownDeadline
from server.settings import Settings
from server.state import AppState
from server.store import Store, migrate

log = logging.getLogger("classroom.server")


def all_routes() -> list[BaseRoute]:
    """Every route of the app; a feature module adds its ``routes`` here."""
    return [
        *health.routes,
        *openapi.routes,
        *accounts.routes,
        *classrooms.routes,
        *course.routes,
        *grades.routes,
        *events.routes,
        *pages.routes,
        *yjs.routes,
        *documents.routes,
        *demos.routes,
        *runs.routes,
    ]


def open_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from server.bus.redis import RedisBus

        return RedisBus(settings.redis_url, prefix=settings.redis_prefix)
    from server.bus.memory import InMemoryBus

    return InMemoryBus()


def install_components(state: AppState) -> None:
    """Create the feature components of a process (they start in the lifespan, in this order)."""
    state.add("loop_lag", LoopLag(state.metrics.event_loop_lag))
    redis = state.settings.redis_url is not None
    state.add(
        "probe", DependencyProbe(state.metrics.dependency_up, state.store, state.bus, redis=redis)
    )
    events.install(state)
    gamification_hub.install(state)
    hands.install(state)
    runs.install(state)  # before live_runs: it closes after it, recording the last results
    live = live_runs.install(state)
    grading = submissions.install(state, live.run_to_end)
    # One deadline for what a stopping process lets finish (server/operations/shutdown.py).
    live.shutdown = grading.shutdown = ShutdownDeadline(state.settings.shutdown_grace_seconds)
    yjs.install(state)
    demos.install(state)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(migrate, settings.database_url)
        store = Store(settings.database_url)
        bus = open_bus(settings)
        state = AppState(settings, store, bus, metrics)
        app.state.classroom = state
        install_components(state)
        start = getattr(bus, "start", None)
        if start is not None:
            await start()
        try:
            await state.start()
            log.info(
                "serving (database %s, bus %s)",
                store.engine.url.get_backend_name(),
                type(bus).__name__,
            )
            yield
        finally:
            await state.close()
            await bus.close()
            await store.close()

    app = Starlette(
        routes=all_routes(),
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={HTTPException: _http_error, ApiError: _api_error, Exception: _crash},
        lifespan=lifespan,
    )
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    body = {"error": {"code": codes.get(exc.status_code, "http_error"), "message": exc.detail}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status_code)


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {"error": {"code": "internal_error", "message": "the server failed; it has been logged"}}
    return JSONResponse(body, status_code=500)
