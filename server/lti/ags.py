"""Assignment and Grade Services 2.0: find or create an exercise's line item, post a score."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from server.lti.access_token import AccessTokens
from server.lti.exceptions import PlatformError
from server.lti.http import PlatformHttp, answer_json
from server.models import LtiPlatform

if TYPE_CHECKING:
    import httpx

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"


def scores_url(lineitem_url: str) -> str:
    """``{lineitem}/scores``, keeping the query of the line item URL (AGS §3.4)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class Gradebook:
    def __init__(self, http: PlatformHttp, tokens: AccessTokens) -> None:
        self.http = http
        self.tokens = tokens

    async def _call(
        self, platform: LtiPlatform, scopes: list[str], method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        token = await self.tokens.token(platform, scopes)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        import httpx

        try:
            response = await self.http.client.request(
                method, url, headers=headers, timeout=15.0, **kwargs
            )
        except httpx.HTTPError as exc:
            raise PlatformError(f"{method} {url} failed: {exc}") from None
        if response.status_code == 401:
            self.tokens.forget(platform)
        if response.status_code >= 300:
            raise PlatformError(
                f"{method} {url} answered {response.status_code}: {response.text[:200]}"
            )
        return response

    async def line_item(
        self,
        platform: LtiPlatform,
        lineitems_url: str,
        exercise_id: str,
        label: str,
        maximum: float,
    ) -> str:
        """The URL of the line item for ``exercise_id`` (``resourceId``), created if absent."""
        found = await self._call(
            platform,
            [SCOPE_LINEITEM],
            "GET",
            lineitems_url,
            params={"resource_id": exercise_id},
            headers={"Accept": LINEITEMS_TYPE},
        )
        try:
            for item in answer_json(found):
                if item.get("resourceId") == exercise_id and isinstance(item.get("id"), str):
                    return str(item["id"])
        except (ValueError, AttributeError, TypeError):
            raise PlatformError(f"GET {lineitems_url} is not a line item list") from None
        created = await self._call(
            platform,
            [SCOPE_LINEITEM],
            "POST",
            lineitems_url,
            json={
                "scoreMaximum": maximum if maximum > 0 else 1,
                "label": label[:200],
                "resourceId": exercise_id,
                "tag": "opencode-classroom",
            },
            headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE},
        )
        try:
            return str(answer_json(created)["id"])
        except (ValueError, KeyError, TypeError):
            raise PlatformError(f"POST {lineitems_url} returned no line item id") from None

    async def post_score(
        self,
        platform: LtiPlatform,
        *,
        lineitem_url: str,
        subject: str,
        score: float,
        maximum: float,
        at: datetime,
    ) -> None:
        await self._call(
            platform,
            [SCOPE_SCORE],
            "POST",
            scores_url(lineitem_url),
            json={
                "userId": subject,
                "scoreGiven": score,
                "scoreMaximum": maximum if maximum > 0 else 1,
                "activityProgress": "Completed",
                "gradingProgress": "FullyGraded",
                "timestamp": at.isoformat(),
            },
            headers={"Content-Type": SCORE_TYPE},
        )
