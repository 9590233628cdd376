"""The bus of many processes: Redis pub/sub, with a reconnect loop.

Design note. One pub/sub connection per process carries every channel this process listens
to; a reader task hands each message to the local subscriptions of its channel. When the
connection breaks the reader logs one line, sets ``healthy`` False, and retries with
exponential backoff; while it is down ``publish`` drops messages at once (local delivery
goes on, the process serves its own clients). When a connection is made again, every
channel is subscribed again and the ``on_reconnect`` callbacks run so holders of state can
resync what they missed. redis-py's own retries are switched off so that no outage goes
unnoticed.

``subscribe`` returns once Redis confirmed the channel on this connection (its reply read by
the reader task), and the ``on_reconnect`` callbacks run once every channel is confirmed
again: a message published after either reaches us. The document registry's peer protocol
(server/documents/peers.py) announces itself on a channel only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from sandbox.cancellation import raise_if_cancelled
from server.redis_clients import bounded_client

log = logging.getLogger("classroom.bus")

PING_SECONDS = 3.0
# How long subscribe (and a reconnect's callbacks) wait for Redis to confirm a subscription.
CONFIRM_SECONDS = 5.0
# How long a command waits for the broker's answer.
COMMAND_SECONDS = 2 * PING_SECONDS
# Channels per PUBSUB NUMSUB command.
NUMSUB_BATCH = 1000

_CLOSED = object()


class RedisSubscription:
    def __init__(self, bus: RedisBus, channel: str) -> None:
        self.channel = channel
        self._bus = bus
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    def deliver(self, message: bytes) -> None:
        self._queue.put_nowait(message)

    def finish(self) -> None:
        self._queue.put_nowait(_CLOSED)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, bytes)
            yield item

    async def close(self) -> None:
        self.finish()
        await self._bus._remove(self)


class RedisBus:
    """A :class:`server.bus.Bus` over Redis pub/sub. Call :meth:`start` once in the lifespan."""

    spans_processes = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "classroom:",
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        """``prefix`` goes in front of every channel on the wire (callers never see it), so
        deployments sharing a Redis do not hear each other."""
        self.url = url
        self.prefix = prefix
        # Keeps the pub/sub connection subscribed (and so reading) when no channel is in use.
        self._control_channel = f"{prefix}bus:control"
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        # A command (a publication) to a broker that stopped answering fails after
        # COMMAND_SECONDS instead of holding the publisher for good.
        self._client: redis.Redis = bounded_client(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2.0,
            socket_timeout=COMMAND_SECONDS,
        )
        self._pubsub: Any = None
        self._subscriptions: dict[str, list[RedisSubscription]] = defaultdict(list)
        # Channels Redis confirmed on the current connection, and who waits for one.
        self._confirmed: set[str] = set()
        self._confirming: dict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._callbacks: list[Callable[[], Awaitable[None]]] = []
        self._healthy = False
        self._health_changed = asyncio.Condition()
        self._connected_once = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def wait_for_health(self, healthy: bool) -> None:
        """Return once ``healthy`` has this value (for tests and readiness probes)."""
        async with self._health_changed:
            await self._health_changed.wait_for(lambda: self._healthy is healthy)

    async def _set_healthy(self, healthy: bool) -> None:
        self._healthy = healthy
        async with self._health_changed:
            self._health_changed.notify_all()

    async def start(self, *, wait: float = 2.0) -> None:
        """Start the reader; wait up to ``wait`` seconds for a first connection (not fatal)."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._run(), name="redis-bus-reader")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._connected_once.wait()

    async def publish(self, channel: str, message: bytes) -> None:
        if not self._healthy:
            return
        try:
            await self._client.publish(self.prefix + channel, message)
        except (RedisError, OSError) as exc:
            # The reader sees the same outage and owns the healthy flag and the recovery.
            log.debug("publish on %s dropped: %s", channel, exc)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """One pipeline (not a transaction): the messages go out in order, one round trip.
        Dropped, like :meth:`publish`, while the broker is away."""
        if not self._healthy or not messages:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for channel, message in messages:
                    pipe.publish(self.prefix + channel, message)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.debug("publish of %d messages dropped: %s", len(messages), exc)

    async def subscribe(self, channel: str) -> RedisSubscription:
        if self._reader is None:
            await self.start(wait=0)
        subscription = RedisSubscription(self, channel)
        first = not self._subscriptions.get(channel)
        self._subscriptions[channel].append(subscription)
        if first and self._healthy and self._pubsub is not None:
            try:
                await self._pubsub.subscribe(self.prefix + channel)
            except (RedisError, OSError) as exc:
                log.debug("subscribe %s deferred to reconnect: %s", channel, exc)
                return subscription
        if self._healthy:
            # Else the reconnect subscribes it, and its callbacks wait for the confirmation.
            await self._confirmation(channel)
        return subscription

    async def _confirmation(self, channel: str) -> None:
        """Return once Redis confirmed ``channel`` on this connection, or CONFIRM_SECONDS
        passed (logged: a message published meanwhile may not reach us)."""
        if channel in self._confirmed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._confirming[channel].append(waiter)
        try:
            async with asyncio.timeout(CONFIRM_SECONDS):
                await waiter
        except TimeoutError:
            log.warning("redis did not confirm the subscription to %s in time", channel)
        finally:
            waiters = self._confirming.get(channel)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._confirming[channel]

    def _confirm(self, kind: str, channel: str) -> None:
        if kind == "unsubscribe":
            self._confirmed.discard(channel)
            return
        self._confirmed.add(channel)
        for waiter in self._confirming.pop(channel, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def subscriber_counts(self, channels: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for start in range(0, len(channels), NUMSUB_BATCH):
            named = [self.prefix + channel for channel in channels[start : start + NUMSUB_BATCH]]
            for name, count in await self._client.pubsub_numsub(*named):
                text = name.decode() if isinstance(name, bytes) else name
                counts[text[len(self.prefix) :]] = int(count)
        return counts

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._callbacks.append(callback)

    async def _remove(self, subscription: RedisSubscription) -> None:
        subscribers = self._subscriptions.get(subscription.channel)
        if not subscribers or subscription not in subscribers:
            return
        subscribers.remove(subscription)
        if subscribers:
            return
        del self._subscriptions[subscription.channel]
        # Not confirmed from now on: a subscribe before Redis read this unsubscribe waits for
        # its own confirmation, which comes after the unsubscribe's.
        self._confirmed.discard(subscription.channel)
        if self._healthy and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(self.prefix + subscription.channel)
            except (RedisError, OSError) as exc:
                log.debug("unsubscribe %s failed: %s", subscription.channel, exc)

    async def _run(self) -> None:
        backoff = self._backoff_initial
        had_outage = False
        while not self._closing:
            pubsub = self._client.pubsub()
            try:
                if had_outage:
                    # Pooled connections the broker closed while it was away would fail the
                    # first command sent on each (the client never retries): a publication
                    # after the return would be lost. Close them all; the pool opens anew.
                    await self._client.connection_pool.disconnect()
                channels = list(self._subscriptions)
                await pubsub.subscribe(self._control_channel, *(self.prefix + c for c in channels))
                # A broker that accepts the connection but does not answer (stopped, or behind
                # a partition) is not back: its first confirmation is the proof.
                await self._answered(pubsub)
                self._pubsub = pubsub
                await self._set_healthy(True)
                # Channels added while that subscribe was in flight saw no pubsub yet.
                late = [channel for channel in self._subscriptions if channel not in channels]
                if late:
                    await pubsub.subscribe(*(self.prefix + c for c in late))
                self._connected_once.set()
                backoff = self._backoff_initial
                if had_outage:
                    log.warning("redis %s is back: resyncing", self._safe_url)
                    for callback in list(self._callbacks):
                        task = asyncio.create_task(self._run_callback(callback, [*channels, *late]))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                had_outage = False
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not isinstance(exc, (RedisError, OSError)):
                    # A bug here or in the client: log it, and reconnect as after an outage
                    # rather than leave the process without its bus until a restart.
                    log.error("redis bus reader failed; reconnecting", exc_info=True)
                if not had_outage:
                    log.warning(
                        "redis %s unreachable (%s): documents and events are local-only "
                        "until it returns",
                        self._safe_url,
                        exc,
                    )
                had_outage = True
            finally:
                self._pubsub = None
                self._confirmed.clear()
                # Nobody waits for a connection that is gone: the reconnect resyncs them.
                for waiters in self._confirming.values():
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                await self._set_healthy(False)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed since redis 8.2
            if not self._closing:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)
            had_outage = True

    async def _answered(self, pubsub: Any) -> None:
        """Read until Redis confirms the first subscription of a new connection; raise
        ConnectionError if it says nothing for PING_SECONDS."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PING_SECONDS
        while (left := deadline - loop.time()) > 0:
            message = await pubsub.get_message(timeout=left)
            if message is not None:
                self._handle(message)
                if message.get("type") == "subscribe":
                    return
        raise ConnectionError(f"redis did not answer a subscription in {PING_SECONDS} s")

    async def _read(self, pubsub: Any) -> None:
        # A quiet connection is pinged after PING_SECONDS, and must answer within as long: a
        # broker that died without the socket saying so, stopped, or cut off by the network
        # is noticed within seconds, and the process goes local-only, reports unready and
        # resyncs when the broker is back. (redis-py's ping on a pub/sub connection only
        # sends: its answer comes here, as a message, like anything else the broker says.)
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged: float | None = None
        while True:
            raise_if_cancelled()
            message = await pubsub.get_message(timeout=1.0)
            now = loop.time()
            if message is not None:
                heard, pinged = now, None
                self._handle(message)
            elif pinged is not None:
                if now - pinged >= PING_SECONDS:
                    raise ConnectionError(f"redis did not answer a ping in {PING_SECONDS} s")
            elif now - heard >= PING_SECONDS:
                pinged = now
                async with asyncio.timeout(PING_SECONDS):
                    await pubsub.ping()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind != "message":
            if kind in ("subscribe", "unsubscribe"):
                self._confirm(kind, message["channel"].decode()[len(self.prefix) :])
            return
        channel = message["channel"].decode()[len(self.prefix) :]
        for subscription in list(self._subscriptions.get(channel, ())):
            subscription.deliver(message["data"])

    async def _run_callback(
        self, callback: Callable[[], Awaitable[None]], channels: Sequence[str]
    ) -> None:
        try:
            await asyncio.gather(
                *(self._confirmation(c) for c in channels if c in self._subscriptions)
            )
            await callback()
        except Exception:
            log.error("resync after redis reconnect failed", exc_info=True)

    @property
    def _safe_url(self) -> str:
        # Never log a password that may be in the URL.
        return self.url.split("@")[-1]

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for subscribers in list(self._subscriptions.values()):
            for subscription in list(subscribers):
                subscription.finish()
        self._subscriptions.clear()
        for task in list(self._tasks):
            task.cancel()
        await self._client.aclose()
