"""The compose stack (deploy/compose.yaml) under a project name of its own, for tests/deploy:
up, exec, the address of a service's container, logs, down."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.services import COMPOSE, ROOT

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
DOCKER_SOCKET = Path("/var/run/docker.sock")


class ComposeError(Exception):
    pass


class Stack:
    """One stack: its own project (containers, network, volumes), its own env file, the load
    balancer and Prometheus published on free loopback ports."""

    def __init__(self, workdir: Path) -> None:
        self.project = f"classroom-test-{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.prometheus_port = free_port()
        password = secrets.token_hex(16)
        env_file = workdir / "classroom.env"
        env_file.write_text(
            f"CLASSROOM_SECRET_KEY={secrets.token_hex(32)}\n"
            f"POSTGRES_PASSWORD={password}\n"
            f"CLASSROOM_DATABASE_URL=postgresql://classroom:{password}@postgres:5432/classroom\n"
            # Quick to start and stop in a test; the rest as an operator would run it.
            "CLASSROOM_POOL_SIZE=0\n"
            "CLASSROOM_SHUTDOWN_GRACE_SECONDS=5\n"
        )
        self.env = {
            **os.environ,
            "CLASSROOM_ENV_FILE": str(env_file),
            "CLASSROOM_LISTEN": f"127.0.0.1:{self.port}",
            "CLASSROOM_PROMETHEUS_LISTEN": f"127.0.0.1:{self.prometheus_port}",
            "DOCKER_GID": str(DOCKER_SOCKET.stat().st_gid),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    async def compose(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> str:  # noqa: ASYNC109
        """Run ``docker-compose -p PROJECT -f deploy/compose.yaml ARGS``; its output, or
        ComposeError when it fails."""
        return await run(
            COMPOSE, "-p", self.project, "-f", str(COMPOSE_FILE), *args,
            env=self.env, stdin=stdin, timeout=timeout,
        )  # fmt: skip

    async def up(self) -> None:
        # Returns once every depends_on condition held (servers healthy, migrations done):
        # 1 to 2 minutes here, over 3 when the machine is loaded (load 28 on 2 cores).
        await self.compose("up", "-d", "--no-build", timeout=480)

    async def down(self) -> None:
        await self.compose("down", "-v", "--remove-orphans", "--timeout", "20", timeout=180)

    async def logs(self) -> str:
        return await self.compose("logs", "--no-color", "--timestamps", timeout=60)

    async def address_of(self, service: str) -> str:
        """The IP address of the service's container on the stack's network."""
        container = (await self.compose("ps", "-q", service)).strip()
        assert container, f"no container for {service}"
        inspect = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        return (await run("docker", "inspect", "-f", inspect, container)).strip()

    async def wait_ready(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Until the load balancer answers /ready with 200 (both processes behind it are up)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        if (await http.get("/ready")).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)


async def run(
    *argv: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), timeout
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ComposeError(f"{' '.join(argv)}: no answer within {timeout} s") from None
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise ComposeError(f"{' '.join(argv)} exited {process.returncode}:\n{text[-4000:]}")
    return text
