"""The LTI claims of a verified id_token: roles, deployment, message types."""

from __future__ import annotations

from typing import Any

import pytest

from rooms.exceptions import LaunchClaimError
from rooms.lti import AGS_CLAIM, CLAIM, DL_CLAIM, map_roles, read_launch

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


@pytest.mark.parametrize(
    ("roles", "ours"),
    [
        ([MEMBERSHIP + "Instructor"], "instructor"),
        ([MEMBERSHIP + "Administrator"], "instructor"),
        (["Instructor"], "instructor"),
        ([MEMBERSHIP + "Learner"], "student"),
        (
            ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
            "assistant",
        ),
        ([MEMBERSHIP + "Instructor", MEMBERSHIP + "TeachingAssistant"], "assistant"),
        (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"], "student"),
        ([], "student"),
    ],
)
def test_roles(roles: list[str], ours: str) -> None:
    assert map_roles(roles) == ours


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "u1",
        "name": "Ana",
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": "d1",
        CLAIM + "roles": [MEMBERSHIP + "Learner"],
        CLAIM + "context": {"id": "c1", "label": "CS1"},
        CLAIM + "resource_link": {"id": "r1", "title": "Week 1"},
        AGS_CLAIM: {"scope": ["s1"], "lineitems": "https://lms/li"},
    }
    claims.update(changes)
    return claims


def test_names_from_the_lms_are_made_printable() -> None:
    claims = _claims(name="Ana\n\u202eLi")
    claims[CLAIM + "context"] = {"id": "c1", "title": "\u200b"}
    launch = read_launch(claims, {"d1"})
    assert (launch.name, launch.context_title) == ("Ana Li", "LMS course c1")


def test_a_resource_link_launch() -> None:
    launch = read_launch(_claims(), {"d1"})
    assert (launch.subject, launch.name, launch.role) == ("u1", "Ana", "student")
    assert (launch.context_id, launch.context_title) == ("c1", "CS1")
    assert (launch.resource_link_id, launch.lineitems_url, launch.ags_scopes) == (
        "r1",
        "https://lms/li",
        ("s1",),
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({CLAIM + "deployment_id": "d2"}, "unknown_deployment"),
        ({CLAIM + "version": "1.1"}, "invalid_claims"),
        ({CLAIM + "message_type": "LtiSubmissionReviewRequest"}, "invalid_claims"),
        ({CLAIM + "roles": "Learner"}, "invalid_claims"),
        ({CLAIM + "context": {}}, "invalid_claims"),
        ({CLAIM + "resource_link": {}}, "invalid_claims"),
        ({"sub": ""}, "invalid_claims"),
        (
            {
                CLAIM + "message_type": "LtiDeepLinkingRequest",
                DL_CLAIM + "deep_linking_settings": {"deep_link_return_url": "https://lms/r"},
            },
            "not_staff",
        ),
    ],
)
def test_refused_claims(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(LaunchClaimError) as caught:
        read_launch(_claims(**changes), {"d1"})
    assert caught.value.code == code
