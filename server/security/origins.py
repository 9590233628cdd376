"""Which origins may use a browser's credentials here.

Rule 1: a cookie authenticates page loads. A state-changing API call authenticated by the
cookie alone must come with an ``Origin`` we allow (browsers send it on every POST, PUT,
PATCH and DELETE), so another site's form or ``fetch`` cannot act for the visitor; a call with
a bearer token needs no such check (another site cannot read the token).
Rule 2: a socket that sends an ``Origin`` (every browser does) must send one we allow; tools
(Node, Python) send none and authenticate with a token or ticket.

Allowed origins are ``CLASSROOM_ALLOWED_ORIGINS`` (comma-separated ``scheme://host[:port]``),
by default the server's own: the origin whose host is the request's ``Host``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers

from server.exceptions import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_origins(raw: str) -> frozenset[str]:
    return frozenset(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())


def origin_allowed(origin: str, headers: Headers, allowed: frozenset[str]) -> bool:
    origin = origin.strip().rstrip("/").lower()
    if allowed:
        return origin in allowed
    host = headers.get("host", "").lower()
    # The host alone: behind a TLS-terminating proxy the scheme we see may differ.
    return bool(host) and urlsplit(origin).netloc == host


def check_cookie_call(method: str, headers: Headers, allowed: frozenset[str]) -> None:
    """Rule 1, for a call authenticated by the page cookie."""
    if method.upper() in SAFE_METHODS:
        return
    origin = headers.get("origin")
    if origin is None or not origin_allowed(origin, headers, allowed):
        raise Forbidden(
            "a state-changing call with the page cookie must come from this site "
            "(or send Authorization: Bearer)",
            code="cross_origin",
        )


def socket_origin_refusal(headers: Headers, allowed: frozenset[str]) -> str | None:
    """Rule 2: the reason to close a socket with 1008, or None."""
    origin = headers.get("origin")
    if origin is None or origin_allowed(origin, headers, allowed):
        return None
    return f"origin {origin[:60]} is not allowed"
