"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from server.api.base import ApiRoute
from server.api.openapi import openapi_path
from tests.conftest import Lesson, state_of


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_ready_fails_when_the_database_is_gone(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    store = state_of(app).store
    original = store.engine
    from sqlalchemy.ext.asyncio import create_async_engine

    store.engine = create_async_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        ready = await client.get("/ready")
    finally:
        await store.engine.dispose()
        store.engine = original
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unreachable")


async def test_metrics_count_requests(client: httpx.AsyncClient, lesson: Lesson) -> None:
    await client.get(f"/api/rooms/{lesson.room_id}", headers=lesson.alice.headers)
    text = (await client.get("/metrics")).text
    assert (
        "classroom_http_requests_total"
        '{method="GET",route="/api/rooms/{room_id:id}",status="200"} 1.0' in text
    )
    assert "classroom_http_request_seconds_bucket" in text
    assert "classroom_open_websockets" in text


async def test_openapi_is_true_to_the_routes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    app = client._transport.app  # type: ignore[attr-defined]
    # Every JSON endpoint (declared with server.api.base.endpoint, so every /api/ route and
    # the page session endpoints) is in the document, and nothing else is.
    api = [
        route
        for route in app.routes
        if isinstance(route, Route)
        and route.path != "/api/openapi.json"
        and (route.path.startswith("/api/") or isinstance(route, ApiRoute))
    ]
    assert all(isinstance(route, ApiRoute) for route in api)
    declared = {
        (openapi_path(route.path), method.lower())
        for route in api
        for method in (route.methods or ())
        if method != "HEAD"
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert declared == documented
    login = document["paths"]["/api/auth/login"]["post"]
    schema_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[1]
    assert set(document["components"]["schemas"][name]["required"]) == {"email", "password"}
