"""Personal rejoin codes: issued, redeemed, drawn as a QR code.

A code is shown once, when issued; only its digest is stored (rooms/identity.py). Issuing a
new code for a user replaces their old ones. Redeeming is rate-limited per client address
(``ATTEMPTS`` a ``WINDOW_SECONDS``, per process) before the database is asked.
"""

from __future__ import annotations

import io
import time

import segno
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.identity import code_digest, new_code, normalize_code
from sandbox.grading.ratelimit import RateLimiter
from server.classrooms.api import new_join_code
from server.exceptions import Conflict, NotFound, TooManyRequests
from server.models import Classroom, RejoinCode, User

ATTEMPTS = 10
WINDOW_SECONDS = 60.0


async def unique_join_code(session: AsyncSession) -> str:
    for _ in range(20):
        code = new_join_code()
        taken = await session.exec(select(Classroom.id).where(Classroom.join_code == code))
        if taken.first() is None:
            return code
    raise Conflict("no free join code was found; try again", code="join_code_exhausted")


async def issue(session: AsyncSession, user_id: int) -> str:
    """A new personal code for ``user_id`` (the old ones stop working); shown once."""
    await session.exec(delete(RejoinCode).where(col(RejoinCode.user_id) == user_id))
    code = new_code()
    session.add(RejoinCode(user_id=user_id, digest=code_digest(normalize_code(code) or "")))
    return code


def qr_svg(text: str) -> str:
    """``text`` as a QR code in SVG, for a phone's camera."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return out.getvalue().decode()


class Redeemer:
    """Turns a typed code into its user, refusing floods from one address."""

    def __init__(self) -> None:
        self.limiter = RateLimiter(ATTEMPTS, WINDOW_SECONDS)

    async def user_for(self, session: AsyncSession, address: str, typed: str) -> User:
        decision = self.limiter.acquire(address, time.monotonic())
        if not decision.allowed:
            raise TooManyRequests(
                f"too many codes tried; wait {max(1, round(decision.retry_after))} s",
                code="rate_limited",
            )
        code = normalize_code(typed)
        row = None
        if code is not None:
            row = (
                await session.exec(select(RejoinCode).where(RejoinCode.digest == code_digest(code)))
            ).first()
        user = await session.get(User, row.user_id) if row is not None else None
        if user is None:
            raise NotFound("no one has this code", code="unknown_rejoin_code")
        return user
