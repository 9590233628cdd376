"""A cancellation lost by CPython 3.11's ``asyncio.wait_for`` is raised again by the loop's
next :func:`raise_if_cancelled` (sandbox/cancellation.py)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

from sandbox.cancellation import raise_if_cancelled


@dataclass
class Poller:
    """A loop like the worker's queue sampler: each turn awaits a reply under wait_for."""

    check: bool
    replies: list[asyncio.Future[int]] = field(default_factory=list)
    turned: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self.check:
                raise_if_cancelled()
            reply: asyncio.Future[int] = loop.create_future()
            self.replies.append(reply)
            self.turned.set()
            await asyncio.wait_for(reply, 30)


async def cancel_as_the_reply_comes(poller: Poller) -> asyncio.Task[None]:
    """Cancel the poller in the same turn of the loop as its reply comes (on 3.11, wait_for
    then returns the reply and the cancellation is gone); return once the poller has either
    ended or begun another turn."""
    task = asyncio.create_task(poller.run())
    await asyncio.wait_for(poller.turned.wait(), 5)
    poller.turned.clear()
    poller.replies[-1].set_result(1)
    task.cancel()
    next_turn = asyncio.ensure_future(poller.turned.wait())
    await asyncio.wait({task, next_turn}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    next_turn.cancel()
    return task


async def test_the_loop_ends_even_when_wait_for_loses_the_cancellation() -> None:
    poller = Poller(check=True)
    task = await cancel_as_the_reply_comes(poller)
    assert task.cancelled()
    assert len(poller.replies) == 1  # it never began another turn


async def test_without_the_check_the_loop_goes_on() -> None:
    """What the check is for: on 3.11 the cancelled loop begins another turn (3.12 fixed it)."""
    poller = Poller(check=False)
    task = await cancel_as_the_reply_comes(poller)
    try:
        if sys.version_info < (3, 12):
            assert not task.done() and task.cancelling() == 1 and len(poller.replies) == 2
        else:
            assert task.cancelled()
    finally:
        task.cancel()  # a second request: the pending wait_for raises this one
        await asyncio.wait({task}, timeout=5)
    assert task.done()
