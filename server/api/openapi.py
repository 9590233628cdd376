"""The OpenAPI document, built from the declared endpoints (see :mod:`server.api.base`)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from server.api.base import ApiRoute
from server.ids import MAX_ID

_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_TYPES = {
    "id": {"type": "integer", "format": "int32", "minimum": 0, "maximum": MAX_ID},
    "int": {"type": "integer"},
    "str": {"type": "string"},
    "path": {"type": "string"},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_path(path: str) -> str:
    """``/api/rooms/{room_id:id}`` → ``/api/rooms/{room_id}``."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi(routes: list[BaseRoute], title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for route in routes:
        if not isinstance(route, ApiRoute):
            continue
        spec = route.spec
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": route.name,
            "tags": [spec.tag],
            "parameters": [
                {
                    "name": m.group(1),
                    "in": "path",
                    "required": True,
                    "schema": _TYPES.get(m.group(2) or "str", {"type": "string"}),
                }
                for m in _PARAM.finditer(spec.path)
            ],
            "responses": {},
        }
        if spec.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(spec.body, components)}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if spec.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(spec.response, components)}}
        op["responses"][str(spec.status)] = ok
        error = {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        }
        if spec.body is not None:
            op["responses"]["400"] = {"description": "Invalid body", **error}
        if spec.auth:
            op["responses"]["401"] = {"description": "Missing, invalid or expired token", **error}
            op["responses"]["403"] = {"description": "The caller lacks the role", **error}
            op["security"] = [{"token": []}]
        paths.setdefault(openapi_path(spec.path), {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi_endpoint(request: Request) -> JSONResponse:
    from server import __version__

    document = build_openapi(list(request.app.routes), "OpenCode Classroom", __version__)
    return JSONResponse(document)


routes: list[BaseRoute] = [Route("/api/openapi.json", openapi_endpoint, methods=["GET"])]
