"""An LMS platform of the tests' own, served over real HTTP the way the IMS reference platform
behaves: its own RSA keys (rotatable) at a JWKS URL, an OAuth 2 token endpoint that checks the
tool's signed client assertion against the tool's published JWKS, AGS line items and scores,
NRPS memberships (paged), and Dynamic Registration.

The test plays the browser: it starts the OIDC login at the tool, reads the state and nonce
from the redirect to this platform's auth URL, and posts an id_token that :meth:`id_token`
signs, exactly what the platform's auto-posting form would send.
"""

from __future__ import annotations

import base64
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rooms.lti import AGS_CLAIM, CLAIM, DL_CLAIM, NRPS_CLAIM
from tests.conftest import free_port

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "use": "sig",
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }


class Platform:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url
        self.client_id = "classroom-tool"
        self.deployment_id = "deployment-1"
        self.keys = [SigningKey("platform-key-1")]
        self.tool_jwks_url = ""
        self.target_link_uri = ""
        self.scores: queue.Queue[dict[str, Any]] = queue.Queue()
        self.line_items: dict[str, dict[str, Any]] = {}
        self.members: list[dict[str, Any]] = []
        # When set, the membership service answers these bytes, whatever they hold.
        self.members_answer: bytes | None = None
        self.token_lifetime: object = 3600
        self.fail_scores = 0
        self.token_requests = 0
        self.jwks_requests = 0
        self.registrations: list[dict[str, Any]] = []
        self._tokens: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    # -- what the test uses ------------------------------------------------------------

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    @property
    def lineitems_url(self) -> str:
        return f"{self.url}/courses/c1/lineitems"

    @property
    def memberships_url(self) -> str:
        return f"{self.url}/courses/c1/memberships"

    def rotate(self) -> SigningKey:
        """Publish a new key and sign with it from now on (the old one stays published)."""
        key = SigningKey(f"platform-key-{len(self.keys) + 1}")
        self.keys.append(key)
        return key

    def id_token(
        self,
        nonce: str,
        *,
        sub: str = "lms-student-1",
        roles: tuple[str, ...] = (LEARNER,),
        name: str = "Lin Student",
        context_id: str = "c1",
        resource_link_id: str | None = "link-1",
        message_type: str = "LtiResourceLinkRequest",
        deployment_id: str | None = None,
        audience: str | list[str] | None = None,
        lifetime: int = 300,
        issued: float | None = None,
        key: SigningKey | None = None,
        custom: dict[str, str] | None = None,
        lineitem: str | None = None,
    ) -> str:
        now = int(issued if issued is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience if audience is not None else self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + lifetime,
            "nonce": nonce,
            "name": name,
            CLAIM + "message_type": message_type,
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": deployment_id or self.deployment_id,
            CLAIM + "roles": list(roles),
            CLAIM + "context": {"id": context_id, "title": "Intro to Programming"},
            CLAIM + "target_link_uri": self.target_link_uri,
            AGS_CLAIM: {"scope": SCOPES[:2], "lineitems": self.lineitems_url},
            NRPS_CLAIM: {
                "context_memberships_url": self.memberships_url,
                "service_versions": ["2.0"],
            },
        }
        if lineitem is not None:
            claims[AGS_CLAIM]["lineitem"] = lineitem
        if custom:
            claims[CLAIM + "custom"] = custom
        if message_type == "LtiResourceLinkRequest" and resource_link_id is not None:
            claims[CLAIM + "resource_link"] = {"id": resource_link_id, "title": "Week 1"}
        if message_type == "LtiDeepLinkingRequest":
            claims[DL_CLAIM + "deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "data": "platform-opaque-data",
            }
        signer = key or self.keys[-1]
        return jwt.encode(claims, signer.private, algorithm="RS256", headers={"kid": signer.kid})

    def next_score(self, timeout: float = 30.0) -> dict[str, Any]:
        return self.scores.get(timeout=timeout)

    # -- the platform's endpoints ------------------------------------------------------

    async def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        return JSONResponse({"keys": [k.jwk() for k in self.keys]})

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        assertion = str(form.get("client_assertion", ""))
        if form.get("grant_type") != "client_credentials" or not assertion:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        async with httpx.AsyncClient() as http:
            published = (await http.get(self.tool_jwks_url)).json()
        kid = jwt.get_unverified_header(assertion).get("kid")
        entry = next((k for k in published["keys"] if k["kid"] == kid), None)
        if entry is None:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        try:
            claims = jwt.decode(
                assertion,
                jwt.PyJWK(entry).key,
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=self.client_id,
            )
        except jwt.PyJWTError as exc:
            return JSONResponse({"error": "invalid_client", "detail": str(exc)}, status_code=401)
        if claims.get("sub") != self.client_id:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(16)
        with self._lock:
            self.token_requests += 1
            self._tokens[token] = set(str(form.get("scope", "")).split())
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        return JSONResponse(answer)

    def _allowed(self, request: Request, scope: str) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        return scope in self._tokens.get(token, set())

    async def _lineitems(self, request: Request) -> Response:
        if not self._allowed(request, SCOPES[0]):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if request.method == "GET":
            wanted = request.query_params.get("resource_id")
            items = [i for i in self.line_items.values() if wanted in (None, i["resourceId"])]
            return JSONResponse(items)
        body = await request.json()
        item_id = f"{self.lineitems_url}/{len(self.line_items) + 1}"
        item = {"id": item_id, **body}
        self.line_items[item_id] = item
        return JSONResponse(item, status_code=201)

    async def _scores(self, request: Request) -> Response:
        if not self._allowed(request, SCOPES[1]):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            return JSONResponse({"error": "wrong content type"}, status_code=415)
        with self._lock:
            if self.fail_scores > 0:
                self.fail_scores -= 1
                return JSONResponse({"error": "try later"}, status_code=503)
        body = await request.json()
        item = f"{self.lineitems_url}/{request.path_params['item']}"
        self.scores.put({"lineitem": item, **body})
        return Response(status_code=204)

    async def _memberships(self, request: Request) -> Response:
        if not self._allowed(request, SCOPES[2]):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if self.members_answer is not None:
            return Response(self.members_answer, media_type="application/json")
        page = int(request.query_params.get("page", "1"))
        chunk = self.members[(page - 1) * 2 : page * 2]
        headers = {}
        if page * 2 < len(self.members):
            headers["Link"] = f'<{self.memberships_url}?page={page + 1}>; rel="next"'
        body = {"id": self.memberships_url, "context": {"id": "c1"}, "members": chunk}
        return JSONResponse(
            body,
            headers=headers,
            media_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        )

    async def _openid_configuration(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.auth_url,
                "token_endpoint": self.token_url,
                "jwks_uri": self.jwks_url,
                "registration_endpoint": f"{self.url}/register",
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "test-platform",
                    "version": "1",
                },
            }
        )

    async def _register(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer reg-token-1":
            return JSONResponse({"error": "bad registration token"}, status_code=401)
        body = await request.json()
        self.registrations.append(body)
        return JSONResponse(
            {
                **body,
                "client_id": "dynamic-client-7",
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                    **body["https://purl.imsglobal.org/spec/lti-tool-configuration"],
                    "deployment_id": "dynamic-deployment-1",
                },
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/jwks", self._jwks),
                Route("/token", self._token, methods=["POST"]),
                Route("/courses/c1/lineitems", self._lineitems, methods=["GET", "POST"]),
                Route("/courses/c1/lineitems/{item}/scores", self._scores, methods=["POST"]),
                Route("/courses/c1/memberships", self._memberships),
                Route("/.well-known/openid-configuration", self._openid_configuration),
                Route("/register", self._register, methods=["POST"]),
            ]
        )


def serve_platform() -> Iterator[Platform]:
    platform = Platform()
    config = uvicorn.Config(
        platform.app(), host="127.0.0.1", port=platform.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="lti-platform", daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(1500):  # uvicorn has no awaitable "started": its flag, bounded (30 s)
        if server.started or not thread.is_alive():
            break
        started.wait(0.02)
    if not server.started:
        raise RuntimeError("the test platform did not start")
    try:
        yield platform
    finally:
        server.should_exit = True
        thread.join(timeout=30)
