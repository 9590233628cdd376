"""The composition root: the Starlette application, and the components of one process built
in dependency order, each receiving its collaborators in ``__init__``.

Reading order for a newcomer: :func:`build_components` is the whole process on one screen;
:func:`all_routes` lists every endpoint; the lifespan opens the database and the bus, builds
the components, starts them in order and closes them in reverse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from rooms.awareness import AwarenessLimits
from server import health, pages
from server.accounts import api as accounts_api
from server.api import openapi
from server.api.base import error_response
from server.auth import TokenSigner
from server.bus import Bus
from server.bus.memory import InMemoryBus
from server.classrooms import api as classrooms_api
from server.classrooms import join_codes
from server.cockpit import api as cockpit_api
from server.cockpit.component import Cockpit
from server.components import Components
from server.courses import api as courses_api
from server.courses import assets as course_assets
from server.courses import status as course_status
from server.demos import api as demos_api
from server.demos.live import LiveDemos
from server.demos.presenters import MemoryPresenters, PresenterStore
from server.documents import api as documents_api
from server.documents import endpoint as documents_endpoint
from server.documents.access import RoomRoles
from server.documents.direct import RawSendMiddleware
from server.documents.keepalive import KeepAlive
from server.documents.metrics import DocMetrics
from server.documents.registry import DocumentRegistry
from server.documents.source import Sources
from server.documents.store import DocStore
from server.events import endpoint as events_endpoint
from server.events.hub import RoomConnection, RoomHub
from server.events.presence import LocalPresence
from server.exceptions import ApiError
from server.gamification.game import Gamification
from server.gamification.room import catalog, open_leaderboard, standings, unlocked
from server.gradebook import api as gradebook
from server.grading import api as grading_api
from server.grading.submissions import Submissions
from server.hands.queue import HelpQueue
from server.identity import api as identity_api
from server.identity.component import Identity
from server.identity.removal import MemberRemoval
from server.integrity import api as integrity_api
from server.integrity.component import Integrity
from server.lesson import api as lesson_api
from server.lesson import pages as lesson_pages
from server.lesson import progress as lesson_progress
from server.lesson.component import Lesson
from server.lesson.state import LessonStore, MemoryLessons
from server.lti import api as lti_api
from server.lti import endpoints as lti_endpoints
from server.lti.tool import LtiTool
from server.metrics import Metrics, MetricsMiddleware
from server.operations.loop_lag import LoopLag
from server.operations.probes import DependencyProbe
from server.operations.shutdown import ShutdownDeadline
from server.runs import api as runs_api
from server.runs.component import Runs
from server.schema import schema_at_head
from server.security.component import Security
from server.security.files import protect_data
from server.security.quotas import DocumentQuota
from server.security.text import NulAddressMiddleware
from server.settings import Settings
from server.store import Store, migrate

log = logging.getLogger("classroom.server")


def all_routes() -> list[BaseRoute]:
    """Every route of the app; a feature package adds its ``routes`` here."""
    return [
        *health.routes,
        *openapi.routes,
        *accounts_api.routes,
        *classrooms_api.routes,
        *courses_api.routes,
        *course_assets.routes,
        *grading_api.routes,
        *events_endpoint.routes,
        *pages.routes,
        *documents_endpoint.routes,
        *documents_api.routes,
        *demos_api.routes,
        *runs_api.routes,
        *integrity_api.routes,
        *join_codes.routes,
        *gradebook.routes,
        *course_status.routes,
        *identity_api.routes,
        *lti_api.routes,
        *lti_endpoints.routes,
        *cockpit_api.routes,
        *lesson_api.routes,
        *lesson_progress.routes,
        *lesson_pages.routes,
    ]


# Each Redis implementation is imported only when a Redis URL is set: a process without Redis
# never loads the client library (about 7 MiB of memory).


def open_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from server.bus.redis import RedisBus

        return RedisBus(settings.redis_url, prefix=settings.redis_prefix)
    return InMemoryBus()


def open_presence(settings: Settings) -> LocalPresence:
    if settings.redis_url:
        from server.events.presence_redis import RedisPresence

        return RedisPresence(settings.redis_url, settings.redis_prefix)
    return LocalPresence()


def open_presenters(settings: Settings) -> PresenterStore:
    if settings.redis_url:
        from server.demos.presenters_redis import RedisPresenters

        return RedisPresenters(settings.redis_url, settings.redis_prefix + "demo:")
    return MemoryPresenters()


def open_lessons(settings: Settings) -> LessonStore:
    if settings.redis_url:
        from server.lesson.state_redis import RedisLessons

        return RedisLessons(settings.redis_url, settings.redis_prefix + "lesson:")
    return MemoryLessons()


def build_components(settings: Settings, store: Store, bus: Bus, metrics: Metrics) -> Components:
    """The feature components of one process, in dependency order."""
    signer = TokenSigner(settings.secret_key, settings.token_ttl_seconds)
    security = Security(settings, store, bus, signer)
    hub = RoomHub(bus, open_presence(settings), metrics)
    doc_metrics = DocMetrics(metrics.registry)
    docs = DocumentRegistry(
        DocStore(
            store,
            compact_after=settings.compact_after_updates,
            batch_ms=settings.persist_batch_ms,
            history_days=settings.history_retention_days,
            commit_wait=doc_metrics.commit_wait.observe,
        ),
        bus,
        doc_metrics,
        unload_grace_seconds=settings.room_unload_grace_seconds,
        max_per_room=settings.max_connections_per_room,
        max_per_user=settings.max_connections_per_user,
        staff_reserved=settings.staff_reserved_connections,
        awareness_limits=AwarenessLimits(renewal_hold=settings.awareness_renewal_hold_seconds),
        quota=DocumentQuota(
            settings.max_docs_per_user, settings.max_docs_per_room, settings.max_doc_bytes
        ),
    )
    lessons = open_lessons(settings)
    doc_roles = RoomRoles(store, locks=lessons)
    security.sessions.on_change(doc_roles.forget_user)
    sources = Sources(store, docs)
    achievements = catalog(settings)
    gamification = Gamification(store, open_leaderboard(settings), catalog=achievements)
    hands = HelpQueue(store, hub, security.limiter)
    # One deadline for what a stopping process lets finish (server/operations/shutdown.py).
    shutdown = ShutdownDeadline(settings.shutdown_grace_seconds)
    runs = Runs(settings, store, metrics, hub, sources, fair=security.fair, shutdown=shutdown)
    cockpit = Cockpit(store, hub, gamification, settings.max_comments_per_doc)
    submissions = Submissions(
        settings,
        store,
        hub,
        gamification=gamification,
        sources=sources,
        run=runs.run_to_end,
        metrics=metrics,
        shutdown=shutdown,
        watcher=cockpit,
    )
    integrity = Integrity(
        store,
        paste_threshold=settings.paste_threshold_chars,
        retention_days=settings.history_retention_days,
        max_history_updates=settings.history_max_updates_per_doc,
    )
    submissions.on_accepted.append(integrity.submitted)
    docs.docstore.kept_history.append(integrity.growth.kept)
    lti = LtiTool(settings, store)
    # Grade passback to the LMS (a GradeListener): graded, regraded and overridden grades.
    submissions.listeners.append(lti.passback)
    cockpit.feedback.listeners.append(lti.passback)
    removal = MemberRemoval(
        store,
        hub,
        hands,
        rebuild=gamification.rebuild,
        standings=gamification.standings,
        announce=security.sessions.announce,
    )
    identity = Identity(store, gamification.rebuild, docs.loaded, removal)
    demos = LiveDemos(
        store,
        hub,
        open_presenters(settings),
        docs=docs,
        gamification=gamification,
        runs=runs,
        limiter=security.limiter,
    )

    async def members(conn: RoomConnection) -> list[dict[str, object]]:
        return await events_endpoint.members_part(store, hub, conn)

    async def leaderboard(conn: RoomConnection) -> dict[str, Any]:
        return await standings(store, gamification, conn.room_id)

    async def achievements_part(conn: RoomConnection) -> list[dict[str, object]]:
        return await unlocked(store, achievements, conn.user_id)

    async def ping(conn: RoomConnection, _command: object) -> None:
        conn.send({"type": "pong"})

    # The room snapshot, in the order its parts were always sent.
    hub.snapshot_part("members", members)
    hub.snapshot_part("leaderboard", leaderboard)
    hub.snapshot_part("achievements", achievements_part)
    hub.handle("ping", ping)
    lesson = Lesson(store, hub, docs, roles=doc_roles, bus=bus, lessons=lessons)
    return Components(
        settings=settings,
        store=store,
        bus=bus,
        metrics=metrics,
        signer=signer,
        security=security,
        hub=hub,
        docs=docs,
        keepalive=KeepAlive(settings.doc_keepalive_seconds, docs.metrics.keepalives),
        doc_roles=doc_roles,
        gamification=gamification,
        hands=hands,
        runs=runs,
        submissions=submissions,
        demos=demos,
        integrity=integrity,
        lti=lti,
        identity=identity,
        loop_lag=LoopLag(metrics.event_loop_lag),
        probe=DependencyProbe(
            metrics.dependency_up, store, bus, redis=settings.redis_url is not None
        ),
        cockpit=cockpit,
        lesson=lesson,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        protect_data(settings.data_dir, settings.database_url)
        if not await asyncio.to_thread(schema_at_head, settings.database_url):
            await asyncio.to_thread(migrate, settings.database_url)
        store = Store(settings.database_url)
        bus = open_bus(settings)
        components = build_components(settings, store, bus, metrics)
        app.state.classroom = components
        started = []
        try:
            await bus.start()
            for component in components.lifecycle():
                await component.start()
                started.append(component)
            log.info(
                "serving (database %s, bus %s)",
                store.engine.url.get_backend_name(),
                type(bus).__name__,
            )
            yield
        finally:
            for component in reversed(started):
                try:
                    await component.close()
                except Exception:
                    log.exception("closing %r failed", component)
            await bus.close()
            await store.close()

    return Starlette(
        routes=all_routes(),
        middleware=[
            # First: it keeps the server's own send of a WebSocket (documents/direct.py).
            Middleware(RawSendMiddleware),
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(NulAddressMiddleware),
        ],
        exception_handlers={HTTPException: _http_error, ApiError: _api_error, Exception: _crash},
        lifespan=lifespan,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    body = {"error": {"code": codes.get(exc.status_code, "http_error"), "message": exc.detail}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {"error": {"code": "internal_error", "message": "the server failed; it has been logged"}}
    return JSONResponse(body, status_code=500)
