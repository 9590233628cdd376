"""The grade passback's sender task stops when it is told to, whatever it was waiting for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.lti.tool import LtiTool
from server.store import Store
from tests.conftest import make_settings


async def test_a_wake_in_the_turn_of_a_cancel_still_stops_the_sender(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    # A grade wakes the sender in the very turn the server's shutdown cancels it. On Python
    # 3.11 asyncio.wait_for then returned the wake and dropped the cancellation: the sender
    # went on for ever, and close() (the shutdown) waited for it.
    tool = LtiTool(make_settings(tmp_path, database_url), store)
    passback = tool.passback
    rounds = asyncio.Event()  # set at the end of every round of the sender
    send_due = passback.send_due

    async def counted() -> float:
        await send_due()
        rounds.set()
        return 3600.0  # no round falls due by itself while the test runs

    passback.send_due = counted  # type: ignore[method-assign]
    await passback.start()
    try:
        async with asyncio.timeout(10):
            await rounds.wait()  # the sender has finished its round and waits for a wake
        rounds.clear()
        task = passback._task
        assert task is not None
        passback.wake()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done, "the sender went on after its cancellation"
        assert task.cancelled()
        assert not rounds.is_set()  # no round after the cancellation
    finally:
        await asyncio.wait_for(passback.close(), 5)
        await tool.close()
