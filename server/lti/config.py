"""What the platform side needs to know about the tool: the registration document (the body
of an LTI Dynamic Registration request, also served at ``/lti/config``) and our JWKS."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from server.lti.ags import SCOPE_LINEITEM, SCOPE_SCORE
from server.lti.nrps import SCOPE as SCOPE_NRPS

TOOL_NAME = "OpenCode Classroom"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def tool_configuration(base: str) -> dict[str, Any]:
    """The tool's configuration for the base URL ``base`` (LTI Dynamic Registration §3.1)."""
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base}/lti/login",
        "redirect_uris": [f"{base}/lti/launch"],
        "client_name": TOOL_NAME,
        "jwks_uri": f"{base}/lti/jwks",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join([SCOPE_LINEITEM, SCOPE_SCORE, SCOPE_NRPS]),
        TOOL_CONFIG: {
            "domain": urlsplit(base).netloc,
            "target_link_uri": f"{base}/lti/launch",
            "description": "Live coding lessons, shared editors, sandboxed runs and autograding.",
            "claims": ["iss", "sub", "name", "given_name", "family_name"],
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": f"{base}/lti/launch"},
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": f"{base}/lti/launch",
                    "label": f"Add from {TOOL_NAME}",
                    "placements": ["ContentArea", "link_selection", "assignment_selection"],
                    "supported_types": ["ltiResourceLink"],
                },
            ],
        },
    }
