"""Errors of the server package.

Hierarchy::

    ClassroomError
    ├── ConfigurationError      settings that cannot start a server
    └── ApiError                a request refused; carries HTTP status and error code
        ├── Unauthorized        401: no token, a forged or expired one
        ├── Forbidden           403: a valid user without the role for this
        ├── NotFound            404
        ├── Conflict            409
        ├── BadRequest          400/422: a body that does not parse or validate
        ├── TooManyRequests     429
        └── ServiceUnavailable  503: a part we depend on (the sandbox) cannot serve now
"""

from __future__ import annotations


class ClassroomError(Exception):
    """Base of every error raised on purpose by the server."""


class ConfigurationError(ClassroomError):
    """The settings cannot run a server; the message names the variable."""


class ApiError(ClassroomError):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(ApiError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class TooManyRequests(ApiError):
    status_code = 429
    code = "too_many_requests"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "service_unavailable"
