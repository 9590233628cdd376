"""The presenter state stores: in memory and in the real Redis, the same contract."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from rooms.demos.definition import Format, parse
from rooms.demos.model import DemoDefinition
from server.demos.presenters import Held, MemoryPresenters, PresenterStore
from server.demos.presenters_redis import RedisPresenters
from tests.services import REDIS_URL, delete_redis_keys, require

DEMO = """
id = "tiny"
title = "Tiny"
description = "Two steps."
difficulty = "beginner"
estimated_minutes = 1

[[steps]]
id = "a"
type = "explanation"
title = "A"
[steps.content]
text = "a"

[[steps]]
id = "b"
type = "explanation"
title = "B"
[steps.content]
text = "b"
"""


@pytest.fixture(params=["memory", "redis"])
async def presenters(request: pytest.FixtureRequest) -> AsyncIterator[PresenterStore]:
    if request.param == "memory":
        yield MemoryPresenters()
        return
    require("redis")
    prefix = f"test:demo:{uuid.uuid4().hex[:8]}:"
    store = RedisPresenters(REDIS_URL, prefix=prefix)
    yield store
    await store.close()
    await delete_redis_keys(prefix)


def tiny() -> DemoDefinition:
    return parse(DEMO, file="tiny.toml", fmt=Format.TOML)


async def test_saved_state_is_what_the_next_holder_sees(presenters: PresenterStore) -> None:
    async with presenters.hold(1) as held:
        held.presenter.join(7, 0.0)
        held.presenter.start(tiny(), 0.0)
        held.presenter.drain_timeline()
        held.session_id = 42
        await presenters.save(1, held)
    peeked = await presenters.peek(1)
    assert (peeked.presenter.index, peeked.session_id) == (0, 42)
    assert (await presenters.peek(2)).presenter.demo is None  # rooms are apart


async def test_an_unsaved_change_is_rolled_back(presenters: PresenterStore) -> None:
    async with presenters.hold(1) as held:
        held.presenter.start(tiny(), 0.0)
        await presenters.save(1, held)
    with pytest.raises(RuntimeError):
        async with presenters.hold(1) as held:
            held.presenter.next(1.0)
            raise RuntimeError("the command failed after changing the copy")
    assert (await presenters.peek(1)).presenter.index == 0


async def test_holders_of_one_room_take_turns(presenters: PresenterStore) -> None:
    async def join(user: int) -> None:
        async with presenters.hold(1) as held:
            held.presenter.join(user, 0.0)
            await asyncio.sleep(0)  # give the others every chance to interleave
            await presenters.save(1, held)

    await asyncio.gather(*(join(user) for user in range(20)))
    async with presenters.hold(1) as held:
        held.presenter.start(tiny(), 0.0)
        assert held.presenter.followers == 20  # no join was lost to a concurrent save


def test_unreadable_state_starts_over() -> None:
    assert Held.from_json(b'{"presenter": {"state": "dancing"}}', 1).presenter.demo is None
    assert Held.from_json(b"not json", 1).session_id is None
    held = Held.from_json(None, 1)
    assert held.presenter.snapshot(1, 0.0) is None
