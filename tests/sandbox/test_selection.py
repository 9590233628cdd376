"""Backend selection: local, docker, auto (falling back to local, and saying so)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sandbox.exceptions import BackendUnavailable
from sandbox.local import LocalBackend
from sandbox.selection import operator_maxima, runs_at_once, select_backend

MAXIMA = operator_maxima(10.0, 256, 32 * 1024)
# Nothing listens on port 1 of the loopback: a Docker engine that does not answer.
NO_ENGINE = "tcp://127.0.0.1:1"


async def test_local() -> None:
    backend = await select_backend("local", maxima=MAXIMA)
    try:
        assert isinstance(backend, LocalBackend)
        assert backend.maxima == MAXIMA
    finally:
        await backend.close()


async def test_auto_without_an_engine_takes_local_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="classroom.sandbox")
    backend = await select_backend("auto", maxima=MAXIMA, docker_url=NO_ENGINE)
    try:
        assert backend.name == "local"
        assert any(
            "auto chose the LOCAL backend because no Docker engine answers" in r.getMessage()
            for r in caplog.records
        )
    finally:
        await backend.close()


def no_docker_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This machine as one without Docker: no DOCKER_HOST, no Docker context, and no socket at
    the paths aiodocker looks at (they are moved into an empty folder)."""
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("aiodocker.docker._sock_search_paths", [tmp_path / "docker.sock"])


async def test_auto_on_a_machine_without_docker_takes_local(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What ``python -m server`` does on a laptop without Docker (no engine URL given)."""
    no_docker_anywhere(monkeypatch, tmp_path)
    caplog.set_level(logging.INFO, logger="classroom.sandbox")
    backend = await select_backend("auto", maxima=MAXIMA)
    try:
        assert backend.name == "local"
        assert any("because no Docker engine answers" in r.getMessage() for r in caplog.records)
    finally:
        await backend.close()


async def test_docker_on_a_machine_without_docker_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_docker_anywhere(monkeypatch, tmp_path)
    with pytest.raises(BackendUnavailable, match="no Docker engine"):
        await select_backend("docker", maxima=MAXIMA)


async def test_docker_without_an_engine_is_refused() -> None:
    with pytest.raises(BackendUnavailable):
        await select_backend("docker", maxima=MAXIMA, docker_url=NO_ENGINE)


async def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="docker, local or auto"):
        await select_backend("podman", maxima=MAXIMA)


def test_operator_maxima_cap_only_what_the_operator_sets() -> None:
    assert (MAXIMA.time_seconds, MAXIMA.memory_mb, MAXIMA.output_bytes) == (10.0, 256, 32768)
    assert MAXIMA.pids >= 64 and MAXIMA.disk_mb >= 128  # the languages' own limits stand


def test_runs_at_once_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Docker: a class-sized burst at once (the pool's bound); local: two runs per core."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert runs_at_once("docker", 48) == 48
    assert runs_at_once("docker", 1) == 2  # never fewer than the cores
    assert runs_at_once("local", 48) == 4
