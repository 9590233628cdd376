"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.app import create_app
from server.exceptions import ConfigurationError
from server.settings import Settings
from tests.conftest import make_settings, state_of


def test_defaults_for_one_machine(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLASSROOM_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path}/classroom.db"
    assert settings.redis_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.max_frame_bytes == 1 << 20
    assert settings.max_connections_per_room == 500
    assert settings.max_connections_per_user == 20
    assert settings.run_concurrency == 0  # automatic: decided with the backend
    assert settings.doc_keepalive_seconds == 10.0
    again = Settings.from_env({"CLASSROOM_DATA_DIR": str(tmp_path)})
    assert again.secret_key == settings.secret_key


def test_values_are_parsed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CLASSROOM_DATA_DIR": str(tmp_path),
            "CLASSROOM_REDIS_URL": "redis://127.0.0.1:6379/3",
            "CLASSROOM_PORT": "9000",
            "CLASSROOM_ROOM_UNLOAD_GRACE_SECONDS": "1.5",
            "CLASSROOM_SANDBOX": "docker",
        }
    )
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.port == 9000
    assert settings.room_unload_grace_seconds == 1.5
    assert settings.sandbox == "docker"
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CLASSROOM_SANDBOX must be"):
        Settings.from_env({"CLASSROOM_DATA_DIR": str(tmp_path), "CLASSROOM_SANDBOX": "vm"})
    with pytest.raises(ConfigurationError, match="CLASSROOM_SECRET_KEY must be set"):
        Settings.from_env({"CLASSROOM_DATA_DIR": str(tmp_path), "CLASSROOM_ENV": "production"})
    with pytest.raises(ConfigurationError, match="CLASSROOM_RUN_CONCURRENCY must be 0"):
        Settings.from_env({"CLASSROOM_DATA_DIR": str(tmp_path), "CLASSROOM_RUN_CONCURRENCY": "-1"})
    for hold in ("-1", "11"):  # a renewal every 15-18 s, held 11 s, nears the 30 s timeout
        with pytest.raises(ConfigurationError, match="CLASSROOM_AWARENESS_RENEWAL_HOLD_SECONDS"):
            Settings.from_env(
                {
                    "CLASSROOM_DATA_DIR": str(tmp_path),
                    "CLASSROOM_AWARENESS_RENEWAL_HOLD_SECONDS": hold,
                }
            )
    for quiet in ("-1", "15"):  # two sweeps of 15 s reach the provider's 30 s of silence
        with pytest.raises(ConfigurationError, match="CLASSROOM_DOC_KEEPALIVE_SECONDS must be"):
            Settings.from_env(
                {"CLASSROOM_DATA_DIR": str(tmp_path), "CLASSROOM_DOC_KEEPALIVE_SECONDS": quiet}
            )


async def test_the_renewal_hold_reaches_every_document_of_the_app(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'classroom.db'}", awareness_renewal_hold_seconds="0"
    )
    assert settings.awareness_renewal_hold_seconds == 0.0
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        docs = state_of(app).docs
        assert docs.awareness_limits.renewal_hold == 0.0
        loaded = await docs.acquire(1, "demo")
        try:
            assert loaded.sync.limits.renewal_hold == 0.0
        finally:
            docs.release(loaded)
