"""Names and Role Provisioning Services 2.0: the course's members, page by page (``Link:
rel="next"``), turned into our users and memberships with the mapped roles."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from rooms import names
from rooms.lti import map_roles
from server.lti.access_token import AccessTokens
from server.lti.exceptions import PlatformError
from server.lti.http import PlatformHttp, answer_json
from server.lti.provision import lms_user, set_role
from server.models import LtiContext, LtiPlatform, Membership, Role
from server.store import Store

log = logging.getLogger("classroom.lti")

SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 100


async def members(
    http: PlatformHttp, tokens: AccessTokens, platform: LtiPlatform, url: str
) -> list[dict[str, Any]]:
    import httpx

    out: list[dict[str, Any]] = []
    next_url: str | None = url
    pages = 0
    while next_url is not None and pages < MAX_PAGES:
        token = await tokens.token(platform, [SCOPE])
        try:
            response = await http.client.get(
                next_url,
                headers={"Authorization": f"Bearer {token}", "Accept": MEMBERSHIP_TYPE},
                timeout=15.0,
            )
        except httpx.HTTPError as exc:
            raise PlatformError(f"GET {next_url} failed: {exc}") from None
        if response.status_code != 200:
            raise PlatformError(f"GET {next_url} answered {response.status_code}")
        try:
            page = answer_json(response)["members"]
        except (ValueError, KeyError, TypeError):
            raise PlatformError(f"GET {next_url} is not a membership container") from None
        out.extend(m for m in page if isinstance(m, dict))
        next_url = response.links.get("next", {}).get("url")
        pages += 1
    return out


@dataclass
class RosterSync:
    """What a sync did: ``counts`` (the answer's ``active`` and ``removed``), the members it
    removed and those whose role it changed, whose open sockets must hear of it."""

    counts: dict[str, int]
    removed: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)


async def sync(
    store: Store, http: PlatformHttp, tokens: AccessTokens, context: LtiContext
) -> RosterSync:
    """Bring the classroom's members in line with the LMS course: new members are added,
    roles follow the LMS, members whose status is Inactive or Deleted leave."""
    if not context.memberships_url:
        raise PlatformError("the LMS sent no membership service for this course")
    async with store.session() as session:
        platform = await session.get(LtiPlatform, context.platform_id)
    assert platform is not None and platform.id is not None
    listed = await members(http, tokens, platform, context.memberships_url)
    done = RosterSync({"active": 0, "removed": 0})
    counts = done.counts
    async with store.session() as session:
        for member in listed:
            subject = member.get("user_id")
            if not isinstance(subject, str) or not subject:
                continue
            roles = member.get("roles")
            listed_roles = (
                [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
            )
            role = Role(map_roles(listed_roles))
            name = names.printable(str(member.get("name") or member.get("given_name") or ""))
            name = (name or "LMS user")[:80]
            user = await lms_user(session, platform.id, subject, name, role)
            assert user.id is not None
            if member.get("status", "Active") == "Active":
                if await set_role(session, context.classroom_id, user.id, role):
                    done.changed.append(user.id)
                counts["active"] += 1
                continue
            gone = (
                await session.exec(
                    select(Membership).where(
                        Membership.classroom_id == context.classroom_id,
                        Membership.user_id == user.id,
                    )
                )
            ).first()
            if gone is not None and gone.role == Role.STUDENT.value:
                await session.delete(gone)
                counts["removed"] += 1
                done.removed.append(user.id)
    log.info("classroom %s: roster synced from the LMS: %s", context.classroom_id, counts)
    return done
