"""CPU per message of the Redis bus (server/bus/redis.py), with redis-py's two reply parsers.

    .venv/bin/python bench/bus_bench.py [--url URL] [--messages 20000] [--repeat 2]

With several server processes every document update and room event crosses Redis pub/sub: the
process that received it publishes it, every other process reads it from its subscription
(``RedisBus._read``). This measures both ends in this process with the real ``RedisBus``:

- **read**: a child process publishes ``--messages`` messages of 60 bytes in pipelines; the
  bus delivers each to a subscription. Reported: this process's CPU time from the first
  message to the last, per message.
- **publish**: ``RedisBus.publish`` of ``--messages`` messages one after another, as the
  fan-out does; CPU time per message.

Each round measures the parser redis-py picks by itself (hiredis's C parser when the
``hiredis`` package is installed, as ``redis[hiredis]`` in pyproject.toml installs it) and
the pure-Python RESP3 parser, alternating. Needs a Redis server (``--url``, default
``redis://127.0.0.1:6379/0``); uses channels under a prefix of its own and leaves nothing
behind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from redis.asyncio.connection import DefaultParser
from redis.utils import HIREDIS_AVAILABLE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.bus.redis import RedisBus

PAYLOAD = 60

_PUBLISHER = """
import sys, redis
client = redis.Redis.from_url(sys.argv[1])
channel, count, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
payload = b"x" * size
pipe = client.pipeline(transaction=False)
for i in range(count):
    pipe.publish(channel, payload)
    if i % 500 == 499:
        pipe.execute()
pipe.execute()
"""


def _parsers() -> list[tuple[str, object]]:
    from redis._parsers import _AsyncRESP3Parser

    default = "hiredis (C)" if HIREDIS_AVAILABLE else "pure Python (hiredis not installed)"
    return [(default, DefaultParser), ("pure Python", _AsyncRESP3Parser)]


async def _measure(url: str, parser: object, messages: int) -> tuple[float, float]:
    prefix = f"bench-bus-{os.getpid()}:"
    bus = RedisBus(url, prefix=prefix)
    bus._client.connection_pool.connection_kwargs["parser_class"] = parser
    await bus.start()
    try:
        subscription = await bus.subscribe("doc")
        reader = subscription.__aiter__()
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PUBLISHER, url, f"{prefix}doc", str(messages), str(PAYLOAD)
        )
        await anext(reader)
        started = time.process_time()
        for _ in range(messages - 1):
            await anext(reader)
        read = (time.process_time() - started) / (messages - 1)
        if await publisher.wait() != 0:
            raise RuntimeError("the publisher failed")

        payload = b"y" * PAYLOAD
        started = time.process_time()
        for _ in range(messages):
            await bus.publish("elsewhere", payload)
        published = (time.process_time() - started) / messages
        await subscription.close()
    finally:
        await bus.close()
    return read, published


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for name, parser_class in _parsers():
            results.setdefault(name, []).append(
                await _measure(args.url, parser_class, args.messages)
            )
    print(f"Redis bus, {args.messages} messages of {PAYLOAD} bytes each way, {args.repeat} rounds")
    print("| parser | read: µs CPU per message (rounds) | publish: µs CPU per message (rounds) |")
    print("|---|---|---|")
    for name, rounds in results.items():
        reads = [r * 1e6 for r, _ in rounds]
        pubs = [p * 1e6 for _, p in rounds]
        print(
            f"| {name} | {statistics.median(reads):.1f} ({', '.join(f'{x:.1f}' for x in reads)})"
            f" | {statistics.median(pubs):.1f} ({', '.join(f'{x:.1f}' for x in pubs)}) |"
        )


if __name__ == "__main__":
    asyncio.run(main())
