"""Request bodies read with a running limit.

``Content-Length`` is only a claim: a chunked body has none, and a lying one is cut by the
server anyway. The body is read chunk by chunk and refused the moment the total passes the
limit, so a 96 MiB upload costs at most ``limit`` bytes of memory, signed in or not.
Large bodies (a course archive) are spooled instead: :func:`spool_body` keeps at most
:data:`SPOOL_IN_MEMORY` bytes in memory and the rest in a temporary file, refused or not.
"""

from __future__ import annotations

import tempfile
from typing import IO

from starlette.requests import Request

from server.exceptions import BadRequest

SPOOL_IN_MEMORY = 1 << 20


def declared_over(request: Request, limit: int) -> bool:
    """Whether the request's Content-Length says more than ``limit`` bytes (ASCII digits only:
    ``int()`` takes other digits, and raises past 4,300 of them)."""
    declared = request.headers.get("content-length", "")
    return (
        declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit)
    )


def too_large(limit: int) -> BadRequest:
    return BadRequest(f"the body is larger than {limit} bytes", code="body_too_large")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or :class:`BadRequest` ``body_too_large`` as soon as it passes ``limit``."""
    if declared_over(request, limit):
        raise too_large(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def spool_body(request: Request, limit: int) -> IO[bytes]:
    """The whole body in a temporary file (rewound; the caller closes it), or
    :class:`BadRequest` ``body_too_large`` as soon as it passes ``limit``."""
    if declared_over(request, limit):
        raise too_large(limit)
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool
