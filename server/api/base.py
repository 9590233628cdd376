"""Declaring JSON endpoints: body validation, the caller, errors, and the OpenAPI entry.

Rule 1: an endpoint declares its body and response models; the declaration is what is
validated *and* what the OpenAPI document says, so the two cannot drift.
Rule 2: handlers raise :mod:`server.exceptions` errors; :func:`error_response` turns them into
``{"error": {"code", "message"}}`` with the right status. Nothing else reaches the client.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rooms import client_json
from rooms.client_json import NotJson
from server import ids  # noqa: F401 - registers the {x:id} path convertor (ids.py rule 3)
from server.auth import COOKIE_NAME, Caller
from server.exceptions import ApiError, BadRequest, Forbidden
from server.security.bodies import read_body
from server.security.origins import check_cookie_call
from server.security.ratelimit import RateLimited

if TYPE_CHECKING:
    # Only the types: server.components imports every feature, and features import this.
    from server.components import Components
    from server.security.component import Security

log = logging.getLogger("classroom.api")

MAX_BODY_BYTES = 1 << 20
M = TypeVar("M", bound=BaseModel)


def components_of(connection: HTTPConnection) -> Components:
    """The process's components (built by :func:`server.app.build_components`), for a request
    or a socket."""
    components: Components = connection.app.state.classroom
    return components


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE_NAME) or request.query_params.get("token")


class Ctx:
    """What a handler gets: the request, the process's components, the verified caller and the
    body."""

    def __init__(
        self,
        request: Request,
        components: Components,
        caller: Caller | None,
        body: BaseModel | None,
    ) -> None:
        self.request = request
        self.components = components
        self._caller = caller
        self._body = body

    @property
    def caller(self) -> Caller:
        assert self._caller is not None, "endpoint declared auth=False"
        return self._caller

    def body(self, model: type[M]) -> M:
        assert isinstance(self._body, model), f"endpoint body is not {model.__name__}"
        return self._body

    def path_int(self, name: str) -> int:
        value = self.request.path_params[name]
        return int(value)

    def require_instructor(self) -> None:
        if not self.caller.is_instructor:
            raise Forbidden("only instructors may do this", code="instructor_only")

    def session(self) -> Any:
        return self.components.store.session()


Handler = Callable[[Ctx], Awaitable[BaseModel | dict[str, Any] | list[Any] | Response]]


@dataclass(frozen=True)
class ApiSpec:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    auth: bool
    status: int
    tag: str


class ApiRoute(Route):
    """A Starlette route that carries its :class:`ApiSpec` for the OpenAPI document."""

    spec: ApiSpec


def endpoint(
    method: str,
    path: str,
    *,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    auth: bool = True,
    status: int = 200,
    tag: str = "api",
) -> Callable[[Handler], ApiRoute]:
    """Turn ``async def handler(ctx)`` into an :class:`ApiRoute` for ``method path``."""

    def decorate(handler: Handler) -> ApiRoute:
        summary = (handler.__doc__ or handler.__name__).strip().splitlines()[0]
        spec = ApiSpec(method, path, summary, body, response, auth, status, tag)

        async def run(request: Request) -> Response:
            try:
                components = components_of(request)
                caller = await verified_caller(request, components) if auth else None
                parsed = await _parse_body(request, body) if body is not None else None
                result = await handler(Ctx(request, components, caller, parsed))
            except ApiError as exc:
                return error_response(exc)
            if isinstance(result, Response):
                return result
            if isinstance(result, BaseModel):
                return ApiJson(result.model_dump(mode="json"), status_code=status)
            return ApiJson(result, status_code=status)

        route = ApiRoute(path, run, methods=[method], name=handler.__name__)
        route.spec = spec
        return route

    return decorate


async def verified_caller(request: Request, components: Components) -> Caller:
    """The caller of the request's token; a call carried by the page cookie alone must pass
    the Origin check (server/security/origins.py rule 1). Revoked tokens are refused."""
    header = request.headers.get("authorization", "")
    by_cookie = not header.lower().startswith("bearer ") and "token" not in request.query_params
    if by_cookie and request.cookies.get(COOKIE_NAME):
        check_cookie_call(request.method, request.headers, components.security.allowed_origins)
    caller: Caller = await components.security.sessions.verify(bearer_token(request))
    charge(components.security, caller)
    return caller


def charge(security: Security, caller: Caller) -> None:
    """Count one request (an API call, a page) of ``caller`` against their budget on this
    process (server/security/floods.py ``RequestBudgets``); RateLimited past it."""
    wait = security.requests.take(caller.user_id)
    if wait is not None:
        raise RateLimited(f"{security.requests.refusal()}; try again in {math.ceil(wait)} s", wait)


def security_of(connection: HTTPConnection) -> Security:
    """The process's :class:`server.security.component.Security` (built in app.py)."""
    return components_of(connection).security


async def _parse_body(request: Request, model: type[M]) -> M:
    raw = await read_body(request, MAX_BODY_BYTES)
    try:
        data = client_json.loads(raw)
    except NotJson as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(_describe(exc), code="invalid_body") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


class ApiJson(JSONResponse):
    """A JSON answer that never fails on stored text: where a string holds half a surrogate
    pair (no UTF-8 encoder takes it; stored before program output was made storable,
    sandbox/output.py), the whole answer is written with JSON's ASCII escapes, which every
    client reads (a room's submissions list was a 500 for its staff and students)."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            log.warning("an answer held text that is not Unicode; sent with escapes")
            text = json.dumps(content, allow_nan=False, separators=(",", ":"))
            return text.encode("ascii")


def error_response(exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)
