"""Fixtures of the LTI tests: the test platform, a served tool whose teacher may register
platforms, and a browser that goes through the OIDC login and posts a signed id_token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from server.settings import Settings
from server.store import Store
from tests.conftest import Account, LiveServer, create_instructor, make_settings
from tests.server.lti.platform import Platform, serve_platform


@pytest.fixture
def platform() -> Iterator[Platform]:
    yield from serve_platform()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, lti_registrars="teacher@example.org")


@dataclass
class Tool:
    server: LiveServer
    platform: Platform
    registrar: Account

    @property
    def url(self) -> str:
        return self.server.url

    async def login(self, http: httpx.AsyncClient, **extra: str) -> dict[str, str]:
        """Start the OIDC login as the platform's browser would; the redirect's parameters."""
        params = {
            "iss": self.platform.issuer,
            "login_hint": "opaque-hint",
            "target_link_uri": f"{self.url}/lti/launch",
            "client_id": self.platform.client_id,
            "lti_deployment_id": self.platform.deployment_id,
            "lti_message_hint": "message-hint",
            **extra,
        }
        response = await http.get(f"{self.url}/lti/login", params=params)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(self.platform.auth_url + "?")
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query["scope"] == "openid"
        assert query["response_type"] == "id_token"
        assert query["response_mode"] == "form_post"
        assert query["prompt"] == "none"
        assert query["client_id"] == self.platform.client_id
        assert query["redirect_uri"] == f"{self.url}/lti/launch"
        assert query["login_hint"] == "opaque-hint"
        assert query["lti_message_hint"] == "message-hint"
        return query

    async def launch(self, http: httpx.AsyncClient, **claims: Any) -> httpx.Response:
        """A whole launch: login, then the id_token the platform signs for that nonce."""
        query = await self.login(http)
        token = self.platform.id_token(query["nonce"], **claims)
        return await self.post_launch(http, token, query["state"])

    async def post_launch(self, http: httpx.AsyncClient, token: str, state: str) -> httpx.Response:
        return await http.post(f"{self.url}/lti/launch", data={"id_token": token, "state": state})


@pytest.fixture
async def tool(server: LiveServer, platform: Platform) -> Tool:
    store = Store(server.settings.database_url)
    try:
        teacher = await create_instructor(store, server.state)
    finally:
        await store.close()
    platform.tool_jwks_url = f"{server.url}/lti/jwks"
    platform.target_link_uri = f"{server.url}/lti/launch"
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/lti/platforms",
            headers=teacher.headers,
            json={
                "issuer": platform.issuer,
                "client_id": platform.client_id,
                "deployment_id": platform.deployment_id,
                "auth_url": platform.auth_url,
                "token_url": platform.token_url,
                "jwks_url": platform.jwks_url,
            },
        )
    assert response.status_code == 201, response.text
    assert response.json()["created"] is True
    return Tool(server, platform, teacher)
