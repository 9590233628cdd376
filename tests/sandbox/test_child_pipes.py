"""A run's pipes handed to uvloop are closed once (sandbox/child.py ``for_the_loop``).

uvloop's ``connect_read_pipe`` gives the descriptor to libuv, which closes it, then calls
``close()`` on the file object too. A file opened in between (here inside that ``close``,
as another thread's SQLite file was in a loaded class) is handed the same number and loses
it to the second close."""

from __future__ import annotations

import asyncio
import io
import os

import pytest

from sandbox.child import for_the_loop

uvloop = pytest.importorskip("uvloop")


class Probe(io.BufferedReader):
    """A pipe's file object whose ``close`` opens a fresh pipe first, then checks that its own
    close left that pipe alone."""

    stolen: list[int]

    def close(self) -> None:
        if self.closed:
            return
        fresh = os.pipe()
        super().close()
        for fd in fresh:
            try:
                os.fstat(fd)
            except OSError:
                self.stolen.append(fd)
            else:
                os.close(fd)


def closes_a_pipe(wrap: bool) -> list[int]:
    stolen: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        read, write = os.pipe()
        probe = Probe(io.FileIO(read, "rb"))
        probe.stolen = stolen
        pipe = for_the_loop(loop, probe) if wrap else probe
        transport, _ = await loop.connect_read_pipe(asyncio.Protocol, pipe)
        transport.close()
        await asyncio.sleep(0)
        os.close(write)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    return stolen


def test_uvloop_still_closes_a_pipe_twice_without_it() -> None:
    """When this fails, uvloop has fixed its double close, and for_the_loop can go."""
    assert closes_a_pipe(wrap=False) != []


def test_a_pipe_handed_to_uvloop_is_closed_once() -> None:
    assert closes_a_pipe(wrap=True) == []


def test_asyncio_gets_the_pipe_as_it_is() -> None:
    read, write = os.pipe()
    pipe = io.BufferedReader(io.FileIO(read, "rb"))

    async def main() -> None:
        assert for_the_loop(asyncio.get_running_loop(), pipe) is pipe

    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        runner.run(main())
    assert not pipe.closed
    pipe.close()
    os.close(write)
