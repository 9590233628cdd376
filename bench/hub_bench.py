"""CPU per room event of the events hub (server/events/hub.py), on each bus.

    .venv/bin/python bench/hub_bench.py [--events 20000] [--sockets 31] [--per-turn 1]
        [--repeat 3] [--url redis://127.0.0.1:6379/0] [--source CHECKOUT]

Every room event (a run's output, a grade, a leaderboard move, a demo step) goes through
``RoomHub.publish``: delivered at once to the local sockets of its audience, then, for the
other processes, put on the room's bus channel. This measures one hub with ``--sockets``
connections in one room, publishing ``--events`` events the size of a line of run output,
each to the whole room, ``--per-turn`` of them in each turn of the event loop (1: each its
own turn, as events from separate requests; more: a burst). It reports this process's CPU
time per event, from the first publication until the hub has handled everything it will hear
of them (with Redis, the hub's own messages read back and dropped, made sure of by a message
of another origin published after the last, which the hub delivers). The sockets' queues are
emptied as a writer would, and counted in.

- **in-process bus**: one server process, as ``python -m server`` alone runs;
- **Redis**: the bus of several processes, with no other process in the room.

``--source`` measures the hub of another checkout (before and after a change, in one run:
give each in turn). The Redis side needs a Redis server (``--url``); it uses a channel prefix
of its own and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

EVENT: dict[str, Any] = {
    "type": "run.output",
    "run_id": "3f0c8d2a",
    "user_id": 4,
    "stream": "stdout",
    "seq": 12,
    "data": "x = 41, y = 42, z = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]\n",
}
ROOM = 1
ROOT = Path(__file__).resolve().parent.parent


async def measure(bus: Any, sockets: int, events: int, per_turn: int) -> float:
    """µs of this process's CPU per event."""
    from rooms.events import ROOM_AUDIENCE
    from server.events.hub import RoomConnection, RoomHub
    from server.events.presence import LocalPresence
    from server.metrics import Metrics

    hub = RoomHub(bus, LocalPresence(), Metrics(), origin=uuid.uuid4().hex)
    conns = []
    for user_id in range(sockets):
        conn = RoomConnection(room_id=ROOM, user_id=user_id, name=f"u{user_id}", role="student")
        await hub.join(conn)
        conn.open_with({"type": "room.snapshot"})
        conns.append(conn)
    channel = f"room:{ROOM}"
    listens = (await bus.subscriber_counts([channel]))[channel] > 0
    first = conns[0]

    def drain() -> None:
        """Empty every socket's queue, as their writers would."""
        for conn in conns:
            while not conn.outbox.empty():
                conn.outbox.get_nowait()

    drain()
    started = time.process_time()
    for n in range(events):
        await hub.publish(ROOM, ROOM_AUDIENCE, EVENT)
        drain()
        if n % per_turn == 0:
            await asyncio.sleep(0)
    if listens:
        end = {"origin": "bench", "kind": "event", "to": {"everyone": True}}
        await bus.publish(channel, json.dumps({**end, "event": {"type": "bench.end"}}).encode())
        async with asyncio.timeout(60):
            while True:  # the hub's own messages before it, read back and dropped
                item = await first.outbox.get()
                if item is not None and '"bench.end"' in item.text:
                    break
    spent = time.process_time() - started
    await hub.close()
    return spent / events * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--sockets", type=int, default=31)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-turn", type=int, default=1, help="events per loop turn")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--source", type=Path, default=ROOT)
    args = parser.parse_args()
    sys.path.insert(0, str(args.source))
    from server.bus.memory import InMemoryBus
    from server.bus.redis import RedisBus

    print(
        f"hub of {args.source}: {args.events} events to {args.sockets} sockets, "
        f"{args.per_turn} per loop turn"
    )
    results: dict[str, list[float]] = {"in-process bus": [], "Redis": []}
    size = (args.sockets, args.events, args.per_turn)
    for _ in range(args.repeat):
        results["in-process bus"].append(await measure(InMemoryBus(), *size))
        bus = RedisBus(args.url, prefix=f"bench-hub-{uuid.uuid4().hex}:")
        await bus.start()
        try:
            results["Redis"].append(await measure(bus, *size))
        finally:
            await bus.close()
    for name, rounds in results.items():
        each = " / ".join(f"{value:.1f}" for value in rounds)
        print(f"{name:15} median {statistics.median(rounds):6.1f} µs CPU per event ({each})")


if __name__ == "__main__":
    asyncio.run(main())
