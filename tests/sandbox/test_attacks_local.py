"""The attack corpus against the local backend, with bubblewrap and without.

Honest about its reach: without bubblewrap the local backend is rlimits and a uid of its own,
not isolation, so the cases marked ``isolation`` (network, host files) are expected to fail
there (xfail, strict: should one pass, the mark must go). A language whose toolchain this
host lacks is skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sandbox.local import HOST_PATH, LocalBackend
from sandbox.model import RunStatus
from tests.sandbox.corpus import ATTACKS, HELLO, HELLO_OUTPUT, Attack, Target

pytestmark = pytest.mark.slow

TOOLS = {"python": "python3", "c": "gcc", "cpp": "g++", "javascript": "node", "rust": "rustc"}

# kill(-1, SIGKILL) spares its caller on Linux. In a container it takes the keeper process
# (and so the container) down with it: runtime_error. Here nothing else of the run exists to
# be killed, so the program simply exits 0 — contained all the same (the checks below prove
# nothing outside the run died), with another status.
LOCAL_EXPECT = {"kill-everything": frozenset({RunStatus.OK, RunStatus.RUNTIME_ERROR})}


class Listener:
    """A TCP server on 127.0.0.1 that only counts who reached it."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def open(self) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
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


@pytest.fixture(params=["bwrap", "none"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[LocalBackend]:
    if request.param == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    root = Path(tempfile.gettempdir()) / f"classroom-test-{uuid.uuid4().hex[:12]}"
    b = LocalBackend(confinement=request.param, work_root=root)
    await b.start()
    yield b
    await b.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
async def test_attack_is_contained(
    attack: Attack, backend: LocalBackend, secret_env: tuple[str, str], tmp_path: Path
) -> None:
    if shutil.which(TOOLS[attack.language], path=HOST_PATH) is None:
        pytest.skip(f"toolchain for {attack.language} not installed on this host")
    if backend.bwrap is None and attack.isolation:
        pytest.xfail("without bubblewrap the local backend does not isolate network or files")
    if backend.bwrap is None and not backend.as_root and attack.name == "server-environment":
        pytest.xfail("without bubblewrap or a uid of its own a run reads its siblings' environ")
    local, second = Listener(), Listener()
    token = secrets.token_hex(12)
    host_file = tmp_path / "host-token.txt"
    host_file.write_text(token)
    target = Target(
        port=await local.open(),
        gateway="127.0.0.1",
        gateway_port=await second.open(),
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
        assert result.status in LOCAL_EXPECT.get(attack.name, attack.expect), result
        attack.check(result, target)
        assert local.connections == 0 and second.connections == 0
        assert host_file.read_text() == token
        if execution.uid is not None:
            # Every process of the run had a uid of its own: none of them may survive it.
            assert processes_of(execution.uid) == []
        execution = await backend.run(HELLO)
        async with asyncio.timeout(30):
            hello = await execution.wait()
        assert hello.stdout == HELLO_OUTPUT, hello
    finally:
        await local.close()
        await second.close()


def processes_of(uid: int) -> list[str]:
    """Live processes whose real uid is ``uid`` (zombies have ended: init reaps them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = dict(ln.split(":", 1) for ln in status.splitlines() if ":" in ln)
        if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] not in "ZX":
            found.append(f"{entry.name} {cmdline}")
    return found
