"""``python -m server``: create-instructor, migrate, serve, and the production secret rule."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port

DATABASES = ("sqlite",)


def run_cli(
    args: list[str], data_dir: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    environ.update({"CLASSROOM_DATA_DIR": str(data_dir), **env})
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def test_create_instructor_then_login(tmp_path: Path) -> None:
    done = run_cli(
        ["create-instructor", "T@Example.org", "--name", "Tess", "--password-stdin"],
        tmp_path,
        "long enough pw\n",
    )
    assert done.returncode == 0, done.stderr
    assert "instructor t@example.org" in done.stdout
    assert (tmp_path / "classroom.db").exists()
    secret = (tmp_path / "secret_key").read_text().strip()
    assert len(secret) >= 40
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"

    short = run_cli(
        ["create-instructor", "u@example.org", "--name", "U", "--password-stdin"],
        tmp_path,
        "short\n",
    )
    assert short.returncode == 2 and "at least 8" in short.stderr
    bad = run_cli(
        ["create-instructor", "not-an-email", "--name", "U", "--password-stdin"],
        tmp_path,
        "long enough pw\n",
    )
    assert bad.returncode == 2 and "not an email" in bad.stderr

    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    environ["CLASSROOM_DATA_DIR"] = str(tmp_path)
    environ["CLASSROOM_SANDBOX"] = "local"
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", str(port)],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(
                        "the server did not come up: " + (tmp_path / "server.log").read_text()
                    )
                time.sleep(0.1)
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/login",
            json={"email": "t@example.org", "password": "long enough pw"},
        )
        assert response.status_code == 200
        assert response.json()["user"]["name"] == "Tess"
        token = response.json()["token"]
        # A socket carries the token in its URL; the server's logs must not keep it.
        from websockets.sync.client import connect

        with (
            connect(f"ws://127.0.0.1:{port}/ws/rooms/999?token={token}") as ws,
            pytest.raises(ConnectionClosed),
        ):
            ws.recv(timeout=10)  # room 999 does not exist: closed with 1008
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    logged = (tmp_path / "server.log").read_text()
    assert "/ws/rooms/999?token=***" in logged, logged[-2000:]
    assert token not in logged


def test_production_requires_a_secret(tmp_path: Path) -> None:
    done = run_cli(["migrate"], tmp_path, CLASSROOM_ENV="production")
    assert done.returncode == 2
    assert "CLASSROOM_SECRET_KEY must be set" in done.stderr
    assert not (tmp_path / "secret_key").exists()
    done = run_cli(["migrate"], tmp_path, CLASSROOM_ENV="production", CLASSROOM_SECRET_KEY="s" * 40)
    assert done.returncode == 0, done.stderr


def test_bad_setting_is_named(tmp_path: Path) -> None:
    done = run_cli(["migrate"], tmp_path, CLASSROOM_PORT="eighty")
    assert done.returncode == 2
    assert "CLASSROOM_PORT='eighty' is not a valid int" in done.stderr
