"""Errors of the LTI tool.

Hierarchy::

    ApiError (server.exceptions)
    └── LaunchRefused        a login or launch that fails a check (400/401, code names the check)
    ClassroomError (server.exceptions)
    └── PlatformError        a call to the LMS (token, AGS, NRPS, JWKS) failed; retried later
"""

from __future__ import annotations

from server.exceptions import ApiError, ClassroomError


class LaunchRefused(ApiError):
    """Codes: ``unknown_platform``, ``unknown_deployment``, ``bad_state``, ``bad_signature``,
    ``wrong_audience``, ``token_expired``, ``nonce_replayed``, ``nonce_mismatch``,
    ``invalid_id_token``, ``invalid_claims``, ``not_staff``."""

    status_code = 401
    code = "launch_refused"


class PlatformError(ClassroomError):
    """The LMS did not answer as the specification says; the message says what it answered."""
