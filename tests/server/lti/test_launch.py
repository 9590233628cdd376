"""LTI 1.3 launches from a platform of the test's own at the served tool: users, roles and the
classroom bound to the course; and every refusal (signature, replayed nonce, audience, expiry,
deployment, state, unknown platform), with the platform's key rotation."""

from __future__ import annotations

import base64
import time

import httpx

from server.settings import Settings
from tests.conftest import serve_in_thread
from tests.server.lti.conftest import Tool
from tests.server.lti.platform import ASSISTANT, INSTRUCTOR, SigningKey

DATABASES = ("sqlite", "postgres")


async def _me(tool: Tool, http: httpx.AsyncClient) -> dict[str, object]:
    response = await http.get(f"{tool.url}/api/me")
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()
    return data


async def test_launches_map_users_roles_and_the_course(tool: Tool) -> None:
    async with httpx.AsyncClient() as teacher:
        response = await tool.launch(teacher, sub="lms-teacher", roles=(INSTRUCTOR,), name="Tess")
        assert response.status_code == 303, response.text
        room_path = response.headers["location"]
        assert room_path.startswith("/rooms/")
        assert "classroom_token" in response.cookies
        me = await _me(tool, teacher)
        assert me["name"] == "Tess" and me["role"] == "instructor"
        classrooms = (await teacher.get(f"{tool.url}/api/classrooms")).json()["classrooms"]
        assert [(c["title"], c["role"]) for c in classrooms] == [
            ("Intro to Programming", "instructor")
        ]
        classroom_id = classrooms[0]["id"]

    room_id = int(room_path.rsplit("/", 1)[1])
    async with httpx.AsyncClient() as student:
        response = await tool.launch(student, sub="lms-student-1")
        assert response.status_code == 303
        assert response.headers["location"] == room_path  # the same link, the same room
        first = await _me(tool, student)
        room = (await student.get(f"{tool.url}/api/rooms/{room_id}")).json()
        assert room["role"] == "student"
    async with httpx.AsyncClient() as other_device:
        await tool.launch(other_device, sub="lms-student-1", name="Lin S.")
        again = await _me(tool, other_device)
        assert again["id"] == first["id"]  # one identity, whatever the device
        assert again["name"] == "Lin S."
    async with httpx.AsyncClient() as assistant:
        await tool.launch(assistant, sub="lms-ta", roles=(ASSISTANT,), name="Theo")
        room = (await assistant.get(f"{tool.url}/api/rooms/{room_id}")).json()
        assert room["role"] == "assistant"

    async with httpx.AsyncClient() as teacher:
        await tool.launch(teacher, sub="lms-teacher", roles=(INSTRUCTOR,), name="Tess")
        members = (await teacher.get(f"{tool.url}/api/classrooms/{classroom_id}/members")).json()
    roles = sorted((m["name"], m["role"]) for m in members["members"])
    assert roles == [("Lin S.", "student"), ("Tess", "instructor"), ("Theo", "assistant")]


async def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert "classroom_token" not in response.cookies


async def test_every_refusal(tool: Tool) -> None:
    platform = tool.platform
    async with httpx.AsyncClient() as http:
        # A course nobody has opened: a student cannot create it.
        await _refused(await tool.launch(http), 403, "course_not_set_up")
        ok = await tool.launch(http, sub="lms-teacher", roles=(INSTRUCTOR,))
        assert ok.status_code == 303

        # Signed with a key the platform does not hold, under the platform's kid.
        query = await tool.login(http)
        forged = platform.id_token(query["nonce"], key=SigningKey(platform.keys[-1].kid))
        await _refused(await tool.post_launch(http, forged, query["state"]), 401, "bad_signature")

        await _refused(await tool.launch(http, audience="another-tool"), 401, "wrong_audience")
        await _refused(
            await tool.launch(http, issued=time.time() - 3600, lifetime=300), 401, "token_expired"
        )
        await _refused(
            await tool.launch(http, deployment_id="elsewhere"), 401, "unknown_deployment"
        )

        # A good launch, then the same id_token again: its state is used, and with a fresh
        # state its nonce has been seen.
        query = await tool.login(http)
        token = platform.id_token(query["nonce"])
        assert (await tool.post_launch(http, token, query["state"])).status_code == 303
        await _refused(await tool.post_launch(http, token, query["state"]), 401, "bad_state")
        fresh = await tool.login(http)
        await _refused(await tool.post_launch(http, token, fresh["state"]), 401, "nonce_replayed")

        # A header nested past what Python's JSON decoder recurses into: PyJWT (2.15) turns
        # the RecursionError into a DecodeError, which must stay a refusal, not a 500.
        query = await tool.login(http)
        header = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
        deep = f"{header}.e30.c2ln"
        await _refused(await tool.post_launch(http, deep, query["state"]), 401, "invalid_id_token")

        # A token minted for another login's nonce.
        other = await tool.login(http)
        mismatched = platform.id_token("not-the-login-nonce")
        await _refused(
            await tool.post_launch(http, mismatched, other["state"]), 401, "nonce_mismatch"
        )
        await _refused(await tool.post_launch(http, "not.a.jwt", "no-such-state"), 401, "bad_state")

    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{tool.url}/lti/login",
            params={"iss": "https://unknown.example", "login_hint": "x"},
        )
        await _refused(response, 401, "unknown_platform")
        response = await http.get(
            f"{tool.url}/lti/login",
            params={
                "iss": platform.issuer,
                "login_hint": "x",
                "lti_deployment_id": "elsewhere",
            },
        )
        await _refused(response, 401, "unknown_deployment")


async def test_platform_key_rotation_and_forged_kids(tool: Tool) -> None:
    platform = tool.platform
    async with httpx.AsyncClient() as http:
        assert (await tool.launch(http, sub="t", roles=(INSTRUCTOR,))).status_code == 303
        assert platform.jwks_requests == 1
        assert (await tool.launch(http, sub="t", roles=(INSTRUCTOR,))).status_code == 303
        assert platform.jwks_requests == 1  # cached
        platform.rotate()
        assert (await tool.launch(http, sub="t", roles=(INSTRUCTOR,))).status_code == 303
        assert platform.jwks_requests == 2  # the unknown kid made it fetch the keys again
        # Random kids: refused, and they do not make the tool hammer the platform.
        for n in range(3):
            query = await tool.login(http)
            token = platform.id_token(query["nonce"], key=SigningKey(f"random-{n}"))
            await _refused(
                await tool.post_launch(http, token, query["state"]), 401, "bad_signature"
            )
        assert platform.jwks_requests == 2  # the set was fetched for a miss moments ago


async def test_configuration_and_our_keys(tool: Tool) -> None:
    async with httpx.AsyncClient(base_url=tool.url) as http:
        config = (await http.get("/lti/config")).json()
        jwks = (await http.get("/lti/jwks")).json()
    assert config["initiate_login_uri"] == f"{tool.url}/lti/login"
    assert config["redirect_uris"] == [f"{tool.url}/lti/launch"]
    assert config["jwks_uri"] == f"{tool.url}/lti/jwks"
    assert config["token_endpoint_auth_method"] == "private_key_jwt"
    messages = config["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]
    assert {m["type"] for m in messages} == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert "d" not in key  # never the private part
    stored = tool.server.settings.data_dir / "lti_private_key.pem"
    assert stored.exists() and oct(stored.stat().st_mode & 0o777) == "0o600"


async def test_any_process_takes_the_launch_and_refuses_the_replay(
    tool: Tool, settings: Settings
) -> None:
    """A second server process on the same database and data directory: the login's state and
    the used nonces are in the database, and both processes publish the same key."""
    platform = tool.platform
    processes = serve_in_thread(settings)
    other = next(processes)
    try:
        async with httpx.AsyncClient() as http:
            mine = (await http.get(f"{tool.url}/lti/jwks")).json()
            theirs = (await http.get(f"{other.url}/lti/jwks")).json()
            assert mine == theirs
            query = await tool.login(http)  # the login on this process …
            token = platform.id_token(query["nonce"], sub="t", roles=(INSTRUCTOR,))
            landed = await http.post(
                f"{other.url}/lti/launch", data={"id_token": token, "state": query["state"]}
            )
            assert landed.status_code == 303, landed.text  # … the launch on the other
            fresh = await tool.login(http)
            replay = await http.post(
                f"{tool.url}/lti/launch", data={"id_token": token, "state": fresh["state"]}
            )
            await _refused(replay, 401, "nonce_replayed")
    finally:
        processes.close()
