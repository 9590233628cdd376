"""Which real services a test needs, and what to do when one is missing.

``require("redis")`` skips the test with a reason on a laptop without Redis, and fails it when
``redis`` is listed in ``CLASSROOM_TEST_REQUIRE`` (CI lists every service it starts), so a
test that needs a service can never pass silently in CI by skipping.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("CLASSROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "CLASSROOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CHROMIUM = os.environ.get("CLASSROOM_TEST_CHROMIUM", "/usr/bin/chromium")
PROMTOOL = os.environ.get("CLASSROOM_TEST_PROMTOOL", "promtool")
NGINX = os.environ.get("CLASSROOM_TEST_NGINX", "nginx")
# venvs built by deploy/tools/kubernetes-tools.sh (links at the repository root)
KUBERNETES_VENV = Path(os.environ.get("CLASSROOM_TEST_KUBERNETES_VENV", ROOT / ".venv-kubernetes"))
CHECKOV_VENV = Path(os.environ.get("CLASSROOM_TEST_CHECKOV_VENV", ROOT / ".venv-checkov"))
KUBECTL = KUBERNETES_VENV / "bin" / "kubectl"
KUBERNETES_VALIDATE = KUBERNETES_VENV / "bin" / "kubernetes-validate"
CHECKOV = CHECKOV_VENV / "bin" / "checkov"
COMPOSE = os.environ.get("CLASSROOM_TEST_COMPOSE", "docker-compose")
# What the compose stack (deploy/compose.yaml) runs: deploy/image/build-offline.sh builds the
# first five, sandbox/images/build-offline.sh the sandbox image its lesson runs code in.
STACK_IMAGES = tuple(
    f"opencode-classroom-{name}:latest"
    for name in ("app", "postgres", "redis", "nginx", "prometheus", "python")
)


def required() -> set[str]:
    raw = os.environ.get("CLASSROOM_TEST_REQUIRE", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@functools.cache
def _redis() -> str | None:
    if not _port_open("127.0.0.1", 6379):
        return "no Redis server on 127.0.0.1:6379"
    return None


@functools.cache
def _postgres() -> str | None:
    if not _port_open("127.0.0.1", 5432):
        return "no PostgreSQL server on 127.0.0.1:5432"
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("postgresql://", "postgresql://", 1)):
            pass
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} refused: {exc}"
    return None


@functools.cache
def _docker() -> str | None:
    if not Path("/var/run/docker.sock").exists() and not os.environ.get("DOCKER_HOST"):
        return "no Docker engine (/var/run/docker.sock missing)"
    docker = shutil.which("docker")
    if docker is None:
        return "no docker client to check the engine and images"
    probe = subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        return "the Docker engine does not answer `docker info`"
    return None


@functools.cache
def _node() -> str | None:
    if shutil.which("node") is None:
        return "no node on PATH"
    if not (ROOT / "tests" / "node" / "node_modules").is_dir():
        return "tests/node/node_modules missing: run `npm ci` in tests/node"
    return None


@functools.cache
def _chromium() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@functools.cache
def _bwrap() -> str | None:
    """Whether the local sandbox can run code here: it refuses to without a working bubblewrap
    (unless CLASSROOM_ALLOW_UNCONFINED=1, which no test of a served app sets)."""
    from sandbox.confine import bwrap_argv

    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "no bwrap on PATH (Debian's bubblewrap package); the local sandbox needs it"
    argv = bwrap_argv(bwrap, workdir=None, files=(), disk_bytes=1 << 20, env={})
    probe = subprocess.run(
        [*argv, "true"], capture_output=True, text=True, timeout=30, check=False, cwd="/"
    )
    if probe.returncode != 0:
        return f"bwrap cannot make its namespaces here: {probe.stderr.strip()[:200]}"
    return None


@functools.cache
def _promtool() -> str | None:
    if shutil.which(PROMTOOL) is None:
        return f"no {PROMTOOL} (Debian's prometheus package ships it; .ci/run extracts it)"
    return None


@functools.cache
def _nginx() -> str | None:
    if shutil.which(NGINX) is None:
        return f"no {NGINX} (Debian's nginx package; .ci/run extracts it)"
    return None


@functools.cache
def _kubectl() -> str | None:
    for tool in (KUBECTL, KUBERNETES_VALIDATE):
        if not tool.exists():
            return f"no {tool} (run deploy/tools/kubernetes-tools.sh)"
    return None


@functools.cache
def _checkov() -> str | None:
    if not CHECKOV.exists():
        return f"no {CHECKOV} (run deploy/tools/kubernetes-tools.sh)"


def _compose() -> str | None:
    reason = _docker()
    if reason is not None:
        return reason
    if shutil.which(COMPOSE) is None:
        return f"no {COMPOSE} (apt-get install docker-compose)"
    probe = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", *STACK_IMAGES],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        absent = [i for i in STACK_IMAGES if i.split(":")[0] in probe.stderr] or list(STACK_IMAGES)
        return f"images missing: {', '.join(absent)} (deploy/image/build-offline.sh)"
    return None


@functools.cache
def _valgrind() -> str | None:
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            return f"no {tool} on PATH (Debian's valgrind package)"
    return None


CHECKS = {
    "redis": _redis,
    "postgres": _postgres,
    "docker": _docker,
    "bwrap": _bwrap,
    "node": _node,
    "chromium": _chromium,
    "promtool": _promtool,
    "nginx": _nginx,
    "kubectl": _kubectl,
    "checkov": _checkov,
    "compose": _compose,
    "valgrind": _valgrind,
}


def missing(service: str) -> str | None:
    """Why ``service`` cannot be used here, or None when it can."""
    return CHECKS[service]()


def require(service: str) -> None:
    """Skip (or, when CI requires the service, fail) the calling test if ``service`` is absent."""
    reason = missing(service)
    if reason is None:
        return
    if service in required():
        pytest.fail(f"{service} is required (CLASSROOM_TEST_REQUIRE) but unavailable: {reason}")
    pytest.skip(f"{service} unavailable: {reason}")


def delete_redis_keys_now(prefix: str) -> None:
    """:func:`delete_redis_keys` for a test without an event loop."""
    import redis

    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)


async def delete_redis_keys(prefix: str) -> None:
    """Delete every key of the test Redis under ``prefix`` (what a test's stores left)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
