"""Registered LMS platforms: one per (issuer, client id), with their deployment ids.

Registering the same issuer and client id again updates the URLs and adds the deployment, so
``lti-register`` can be rerun safely (a platform often has several deployments of one tool).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.exceptions import BadRequest
from server.lti.exceptions import LaunchRefused
from server.models import LtiDeployment, LtiPlatform


@dataclass(frozen=True)
class PlatformSpec:
    issuer: str
    client_id: str
    deployment_id: str
    auth_url: str
    token_url: str
    jwks_url: str

    def check(self) -> None:
        """Raise :class:`BadRequest` naming the first value that cannot work."""
        for name in ("issuer", "auth_url", "token_url", "jwks_url"):
            value = getattr(self, name)
            parts = urlsplit(value)
            if parts.scheme not in ("https", "http") or not parts.netloc or len(value) > 1024:
                raise BadRequest(f"{name} must be an http(s) URL, not {value!r}", code="bad_url")
        for name in ("client_id", "deployment_id"):
            value = getattr(self, name)
            if not value or len(value) > 255:
                raise BadRequest(f"{name} needs 1 to 255 characters", code="bad_value")


async def register(session: AsyncSession, spec: PlatformSpec) -> tuple[LtiPlatform, bool]:
    """Store (or update) the platform and add the deployment; True when it was new."""
    spec.check()
    platform = (
        await session.exec(
            select(LtiPlatform).where(
                LtiPlatform.issuer == spec.issuer, LtiPlatform.client_id == spec.client_id
            )
        )
    ).first()
    created = platform is None
    if platform is None:
        platform = LtiPlatform(
            issuer=spec.issuer,
            client_id=spec.client_id,
            auth_url=spec.auth_url,
            token_url=spec.token_url,
            jwks_url=spec.jwks_url,
        )
    platform.auth_url, platform.token_url = spec.auth_url, spec.token_url
    platform.jwks_url = spec.jwks_url
    session.add(platform)
    await session.flush()
    assert platform.id is not None
    known = (
        await session.exec(
            select(LtiDeployment).where(
                LtiDeployment.platform_id == platform.id,
                LtiDeployment.deployment_id == spec.deployment_id,
            )
        )
    ).first()
    if known is None:
        session.add(LtiDeployment(platform_id=platform.id, deployment_id=spec.deployment_id))
    return platform, created


async def listing(session: AsyncSession) -> list[dict[str, object]]:
    platforms = (await session.exec(select(LtiPlatform).order_by(col(LtiPlatform.id)))).all()
    out: list[dict[str, object]] = []
    for p in platforms:
        deployments = (
            await session.exec(
                select(LtiDeployment.deployment_id).where(LtiDeployment.platform_id == p.id)
            )
        ).all()
        out.append(
            {
                "id": p.id,
                "issuer": p.issuer,
                "client_id": p.client_id,
                "deployment_ids": sorted(deployments),
                "auth_url": p.auth_url,
                "token_url": p.token_url,
                "jwks_url": p.jwks_url,
            }
        )
    return out


async def find(session: AsyncSession, issuer: str, client_id: str | None) -> LtiPlatform:
    """The platform that ``issuer`` (and ``client_id``, needed when the issuer has several
    registrations) names; raises ``unknown_platform``."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list((await session.exec(query.limit(2))).all())
    if not found:
        raise LaunchRefused(
            f"no platform {issuer!r} (client {client_id!r}) is registered", code="unknown_platform"
        )
    if len(found) > 1:
        raise LaunchRefused(
            f"{issuer!r} has several registrations: the login must name client_id",
            code="unknown_platform",
        )
    return found[0]


async def deployments(session: AsyncSession, platform_id: int) -> set[str]:
    rows = await session.exec(
        select(LtiDeployment.deployment_id).where(LtiDeployment.platform_id == platform_id)
    )
    return set(rows.all())
