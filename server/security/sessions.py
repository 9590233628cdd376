"""Revocable tokens and single-use socket tickets.

A token carries the user's *session generation* at signing. Sign-out and a password reset
raise the generation in the database (:class:`~server.models.SessionGeneration`), so every
token signed before is refused. Processes cache a user's generation for
``cache_seconds`` and drop it when a change is announced on the bus channel ``security:users``
(``{"user": id, "why": "revoked"|"role"}``), where each process also closes that user's open
sockets (:mod:`.sockets`); a change made outside a server (the CLI) is seen within the cache
time.

A ticket lets a page open one socket without holding the long-lived token: signed, valid for
``ticket_seconds``, and used once (its nonce is counted in the shared counters: Redis when
configured, so a ticket used on one process is dead on all).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import Caller, TokenSigner
from server.bus import Bus, Subscription
from server.exceptions import Unauthorized
from server.models import SessionGeneration, UserKind
from server.security.ratelimit import Counters
from server.security.sockets import OpenSockets
from server.store import Store

log = logging.getLogger("classroom.security")

CHANNEL = "security:users"
TICKET_SALT = "classroom.ticket.v1"


async def bump_generation(session: AsyncSession, user_id: int) -> None:
    """Revoke every token of ``user_id`` (in the caller's transaction)."""
    row = await session.get(SessionGeneration, user_id)
    if row is None:
        row = SessionGeneration(user_id=user_id, generation=0)
    row.generation += 1
    session.add(row)


class Sessions:
    def __init__(
        self,
        signer: TokenSigner,
        secret_key: str,
        store: Store,
        *,
        bus: Bus,
        counters: Counters,
        sockets: OpenSockets,
        cache_seconds: float = 5.0,
        ticket_seconds: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.signer = signer
        self.store = store
        self.bus = bus
        self.counters = counters
        self.sockets = sockets
        self.cache_seconds = cache_seconds
        self.ticket_seconds = ticket_seconds
        self._tickets = URLSafeTimedSerializer(secret_key, salt=TICKET_SALT)
        self._clock = clock
        self._cache: dict[int, tuple[float, int]] = {}
        self._subscription: Subscription | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[int], None]] = []

    def on_change(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(user_id)`` when a user's trust changed (drop cached roles)."""
        self._listeners.append(callback)

    # tokens --------------------------------------------------------------------------

    async def sign(self, user_id: int, kind: UserKind) -> str:
        return self.signer.sign(user_id, kind, await self.generation(user_id))

    async def verify(self, token: str | None) -> Caller:
        """The caller of a token that is signed, unexpired and not revoked, or Unauthorized."""
        return await self._current(self.signer.verify(token))

    async def _current(self, caller: Caller) -> Caller:
        if caller.generation < await self.generation(caller.user_id):
            raise Unauthorized("this session was signed out; sign in again", code="token_revoked")
        return caller

    async def generation(self, user_id: int) -> int:
        now = self._clock()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.store.session() as session:
            row = await session.get(SessionGeneration, user_id)
        generation = row.generation if row is not None else 0
        self._cache[user_id] = (now + self.cache_seconds, generation)
        return generation

    async def revoke(self, user_id: int) -> None:
        """Invalidate every token of ``user_id`` signed so far, on every process."""
        async with self.store.session() as session:
            await bump_generation(session, user_id)
        await self.announce(user_id, "revoked")

    async def announce(self, user_id: int, why: str) -> None:
        """Tell every process (this one too) that ``user_id``'s trust changed."""
        self._cache.pop(user_id, None)
        message = json.dumps({"user": user_id, "why": why}).encode()
        await self.bus.publish(CHANNEL, message)

    # tickets -------------------------------------------------------------------------

    async def ticket(self, caller: Caller) -> str:
        payload = {
            "uid": caller.user_id,
            "kind": caller.kind.value,
            "gen": caller.generation,
            "n": secrets.token_urlsafe(12),
        }
        return self._tickets.dumps(payload)

    async def redeem(self, ticket: str) -> Caller:
        """The caller of a fresh, unused ticket; it cannot be used again anywhere."""
        try:
            payload = self._tickets.loads(ticket, max_age=self.ticket_seconds)
            caller = Caller(int(payload["uid"]), UserKind(payload["kind"]), int(payload["gen"]))
            nonce = str(payload["n"])
        except SignatureExpired:
            raise Unauthorized("the socket ticket has expired", code="ticket_expired") from None
        except (BadSignature, KeyError, TypeError, ValueError):
            raise Unauthorized("the socket ticket is not valid", code="ticket_invalid") from None
        uses, _ = await self.counters.incr(f"ticket:{nonce}", self.ticket_seconds + 5)
        if uses > 1:
            raise Unauthorized("the socket ticket was already used", code="ticket_used")
        return await self._current(caller)

    # lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._subscription = await self.bus.subscribe(CHANNEL)
        self._reader = asyncio.create_task(self._read(self._subscription), name="sessions-bus")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.close()

    async def _read(self, subscription: Subscription) -> None:
        async for message in subscription:
            try:
                change = json.loads(message)
                user_id, why = int(change["user"]), str(change["why"])
            except (ValueError, KeyError, TypeError):
                log.warning("bad message on %s: %r", CHANNEL, message[:80])
                continue
            self._cache.pop(user_id, None)
            try:
                for callback in self._listeners:
                    callback(user_id)
                await self.sockets.close_user(user_id, f"your access changed ({why}); reconnect")
            except Exception:
                # Task boundary: one failure must not end the reader.
                log.error("closing the sockets of user %s failed", user_id, exc_info=True)
