"""The deployment's topology with real processes on loopback: nginx (deploy/nginx/nginx.conf,
rendered with free ports) in front of server processes, for tests/deploy."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.conftest import free_port
from tests.server.processes import ServerProcess
from tests.services import NGINX, ROOT

CONF = ROOT / "deploy" / "nginx" / "nginx.conf"


def render(ports: list[int], listen: int) -> str:
    """deploy/nginx/nginx.conf with one upstream server per port, listening on ``listen``."""
    text = CONF.read_text()
    blocks = re.findall(r"((?:^\s*server \S+:8000 .*;\n)+)", text, flags=re.MULTILINE)
    assert len(blocks) == 2, "nginx.conf: expected two upstream blocks (HTTP, sockets)"

    def ours(block: re.Match[str]) -> str:
        lines = block.group(0).splitlines()
        assert len(lines) == 2, "nginx.conf: expected two `server …:8000` lines per upstream"
        options = re.sub(r"^\s*server \S+:8000 ?", "", lines[0]).rstrip(";")
        return "".join(f"        server 127.0.0.1:{p} {options};\n" for p in ports)

    text = re.sub(r"(^\s*server \S+:8000 .*;\n)+", ours, text, flags=re.MULTILINE)
    text, found = re.subn(r"listen 8080;", f"listen 127.0.0.1:{listen};", text)
    assert found == 1
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    # A file, not stderr: a pipe nobody reads would fill up with "connection refused" lines
    # while a process restarts, and block nginx.
    return text.replace("error_log stderr warn;", "error_log error.log warn;")


class Nginx:
    def __init__(self, workdir: Path, ports: list[int]) -> None:
        self.workdir = workdir
        self.port = free_port()
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        (workdir / "nginx.conf").write_text(render(ports, self.port))
        self.process: asyncio.subprocess.Process | None = None
        self.log = workdir / "error.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            NGINX, "-p", f"{self.workdir}/", "-c", "nginx.conf", "-e", "error.log",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        # Ready when it accepts connections on its port (nginx logs nothing on success).
        async with asyncio.timeout(20):
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"nginx exited: {self.log.read_text()[-2000:]}")
                try:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                return

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


async def behind_nginx(
    env: dict[str, str], workdir: Path
) -> tuple[ServerProcess, ServerProcess, Nginx]:
    """Two server processes with ``env`` (the first migrates the database), and nginx in front
    of them; the caller stops all three."""
    first = ServerProcess(env)
    await first.start()
    second = ServerProcess(env)
    await second.start()
    balancer = Nginx(workdir, [first.port, second.port])
    await balancer.start()
    return first, second, balancer
