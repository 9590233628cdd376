"""The attack corpus against the Docker backend: every case contained, the backend still healthy."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiodocker
import pytest

from sandbox.docker import DockerBackend
from tests.sandbox.corpus import ATTACKS, HELLO, HELLO_OUTPUT, Attack, Target
from tests.sandbox.docker_support import containers_of, docker_backend, run

pytestmark = [pytest.mark.docker, pytest.mark.slow]


async def bridge_gateway() -> str:
    async with aiodocker.Docker() as docker:
        network = await (await docker.networks.get("bridge")).show()
    config = network["IPAM"]["Config"][0]
    # Older engines leave Gateway out: the bridge takes the subnet's first address then.
    return str(config.get("Gateway") or ipaddress.ip_network(config["Subnet"])[1])


class Listener:
    """A TCP server that only counts who reached it."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def open(self, host: str) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self.server = await asyncio.start_server(accept, host, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
def secret_env() -> Iterator[tuple[str, str]]:
    name, value = "CLASSROOM_TEST_SECRET", f"secret-{secrets.token_hex(8)}"
    os.environ[name] = value
    yield name, value
    del os.environ[name]


@pytest.fixture
async def backend() -> AsyncIterator[DockerBackend]:
    async with docker_backend(pool_size=0) as b:
        yield b


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
async def test_attack_is_contained(
    attack: Attack, backend: DockerBackend, secret_env: tuple[str, str], tmp_path: Path
) -> None:
    local, bridge = Listener(), Listener()
    gateway = await bridge_gateway()
    token = secrets.token_hex(12)
    host_file = tmp_path / "host-token.txt"
    host_file.write_text(token)
    target = Target(
        port=await local.open("127.0.0.1"),
        gateway=gateway,
        gateway_port=await bridge.open(gateway),
        secret_name=secret_env[0],
        secret_value=secret_env[1],
        host_file=str(host_file),
        host_token=token,
    )
    try:
        execution = await backend.run(attack.request(target))
        async with asyncio.timeout(60):
            _ = [chunk async for chunk in execution.chunks()]
            result = await execution.wait()
            await execution.finished()
        assert result.status in attack.expect, result
        attack.check(result, target)
        assert local.connections == 0 and bridge.connections == 0
        # Nothing of the run survives it: its container (and so every process in it) is gone.
        assert await containers_of(backend, execution.id) == []
        _, hello = await run(backend, HELLO)
        assert hello.stdout == HELLO_OUTPUT, hello
    finally:
        await local.close()
        await bridge.close()
