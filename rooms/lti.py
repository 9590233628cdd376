"""LTI 1.3 launches, the pure part: what the claims of a verified id_token say.

The signature, expiry and audience are checked by the JWT layer in ``server/lti/``; this module
takes the decoded claims and checks the rest of LTI Core 1.3 (message type, version,
deployment, the subject, the target) and reads out who launched, from which course, with which
role. Roles follow the LIS vocabulary: an Instructor (or Administrator) of the context is our
instructor, a TeachingAssistant our assistant, anyone else a student.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rooms.exceptions import LaunchClaimError
from rooms.names import printable

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_SUB = "http://purl.imsglobal.org/vocab/lis/v2/membership/"
INSTITUTION_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"


def map_roles(roles: list[str]) -> str:
    """Our classroom role (``instructor``, ``assistant``, ``student``) for LTI role URIs."""
    names: set[str] = set()
    for uri in roles:
        if uri.startswith(ROLE):
            names.add(uri[len(ROLE) :])
        elif uri.startswith(ROLE_SUB):
            # Sub-roles: membership/Instructor#TeachingAssistant is an assistant.
            principal, _, sub = uri[len(ROLE_SUB) :].partition("#")
            names.add(sub if sub == "TeachingAssistant" else principal)
        elif "#" not in uri and "/" not in uri:
            names.add(uri)  # the short names LTI 1.3 allows for context roles
    if "TeachingAssistant" in names:
        return "assistant"
    if names & {"Instructor", "Administrator", "ContentDeveloper"}:
        return "instructor"
    return "student"


@dataclass(frozen=True)
class Launch:
    """What a checked launch says."""

    message_type: str
    deployment_id: str
    subject: str
    name: str
    role: str
    context_id: str
    context_title: str
    resource_link_id: str | None = None
    resource_link_title: str | None = None
    target_link_uri: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    lineitems_url: str | None = None
    lineitem_url: str | None = None
    ags_scopes: tuple[str, ...] = ()
    memberships_url: str | None = None
    deep_link_return_url: str | None = None
    deep_link_data: str | None = None


def _str(claims: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = claims.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise LaunchClaimError("invalid_claims", f"the id_token needs a string claim {key}")
    return value


def _obj(claims: dict[str, Any], key: str) -> dict[str, Any]:
    value = claims.get(key, {})
    if not isinstance(value, dict):
        raise LaunchClaimError("invalid_claims", f"the claim {key} must be an object")
    return value


def read_launch(claims: dict[str, Any], deployments: set[str]) -> Launch:
    """Check and read the LTI claims of a verified id_token. ``deployments`` are the ids
    registered for the issuing platform; any other is refused as ``unknown_deployment``."""
    message_type = _str(claims, CLAIM + "message_type")
    if message_type not in (RESOURCE_LINK, DEEP_LINKING):
        raise LaunchClaimError("invalid_claims", f"unsupported message type {message_type}")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise LaunchClaimError("invalid_claims", "the LTI version must be 1.3.0")
    deployment = _str(claims, CLAIM + "deployment_id")
    assert deployment is not None and message_type is not None
    if deployment not in deployments:
        raise LaunchClaimError(
            "unknown_deployment", f"deployment {deployment!r} is not registered with this tool"
        )
    subject = _str(claims, "sub")
    roles = claims.get(CLAIM + "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise LaunchClaimError("invalid_claims", "the roles claim must be a list of strings")
    context = _obj(claims, CLAIM + "context")
    context_id = _str(context, "id")
    assert subject is not None and context_id is not None
    title = context.get("title") or context.get("label") or f"LMS course {context_id}"
    name = (
        claims.get("name")
        or " ".join(str(claims.get(k, "")) for k in ("given_name", "family_name")).strip()
    )
    custom_raw = _obj(claims, CLAIM + "custom")
    custom = {str(k): str(v) for k, v in custom_raw.items() if isinstance(v, str | int)}
    ags = _obj(claims, AGS_CLAIM)
    nrps = _obj(claims, NRPS_CLAIM)
    scopes = ags.get("scope", [])
    launch = Launch(
        message_type=message_type,
        deployment_id=deployment,
        subject=subject,
        name=(printable(str(name)) or "LMS user")[:80],
        role=map_roles(roles),
        context_id=context_id,
        context_title=(printable(str(title)) or f"LMS course {context_id}")[:120],
        target_link_uri=_str(claims, CLAIM + "target_link_uri", required=False),
        custom=custom,
        lineitems_url=_str(ags, "lineitems", required=False),
        lineitem_url=_str(ags, "lineitem", required=False),
        ags_scopes=tuple(s for s in scopes if isinstance(s, str))
        if isinstance(scopes, list)
        else (),
        memberships_url=_str(nrps, "context_memberships_url", required=False),
    )
    if message_type == RESOURCE_LINK:
        link = _obj(claims, CLAIM + "resource_link")
        link_id = _str(link, "id")
        link_title = link.get("title")
        return _with(launch, resource_link_id=link_id, resource_link_title=link_title)
    settings = _obj(claims, DL_CLAIM + "deep_linking_settings")
    return_url = _str(settings, "deep_link_return_url")
    if launch.role == "student":
        raise LaunchClaimError("not_staff", "only instructors may pick content from the LMS")
    data = settings.get("data")
    return _with(
        launch,
        deep_link_return_url=return_url,
        deep_link_data=data if isinstance(data, str) else None,
    )


def _with(launch: Launch, **changes: Any) -> Launch:
    from dataclasses import replace

    return replace(launch, **changes)
