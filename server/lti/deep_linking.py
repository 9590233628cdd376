"""Deep Linking 2.0: an instructor picks a room or an exercise from the LMS; we answer with a
signed ``LtiDeepLinkingResponse`` JWT holding one ``ltiResourceLink`` (an exercise also asks
the LMS for a gradebook column, ``lineItem``).

The picker page carries what the response needs (platform, deployment, return URL, the
platform's opaque ``data``) in one signed, one-hour blob: the page's POST is the capability.
"""

from __future__ import annotations

import html
import secrets
import time
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import col, select

from rooms.lti import CLAIM, DL_CLAIM, Launch
from sandbox.grading.schema import exercise_from_dict
from server.exceptions import BadRequest
from server.ids import parse_id
from server.lti.exceptions import LaunchRefused
from server.lti.keys import ToolKey
from server.lti.provision import Landing
from server.models import ExerciseRecord, LtiPlatform, Room
from server.store import Store

SALT = "classroom.lti.deeplink.v1"
MAX_AGE_SECONDS = 3600


class DeepLinks:
    def __init__(self, store: Store, key: ToolKey, secret_key: str) -> None:
        self.store = store
        self.key = key
        self._blob = URLSafeTimedSerializer(secret_key, salt=SALT)

    async def picker(self, platform: LtiPlatform, launch: Launch, landing: Landing) -> str:
        """The HTML page listing the classroom's rooms and exercises."""
        blob = self._blob.dumps(
            {
                "p": platform.id,
                "d": launch.deployment_id,
                "r": launch.deep_link_return_url,
                "x": launch.deep_link_data,
                "c": landing.classroom_id,
            }
        )
        async with self.store.session() as session:
            rooms = (
                await session.exec(
                    select(Room)
                    .where(Room.classroom_id == landing.classroom_id)
                    .order_by(col(Room.id))
                )
            ).all()
            exercises = (
                await session.exec(
                    select(ExerciseRecord)
                    .where(ExerciseRecord.classroom_id == landing.classroom_id)
                    .order_by(col(ExerciseRecord.exercise_id))
                )
            ).all()
        options = [(f"room:{r.id}", f"Room: {r.title}") for r in rooms] + [
            (f"exercise:{e.exercise_id}", f"Exercise: {e.title}") for e in exercises
        ]
        items = "".join(
            f'<li><label><input type="radio" name="item" value="{html.escape(v)}" required> '
            f"{html.escape(label)}</label></li>"
            for v, label in options
        )
        if not options:
            items = "<li>No rooms or exercises yet: create them on the dashboard first.</li>"
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pick content</title>'
            "</head><body><main><h1>Add to your course</h1>"
            '<form method="post" action="/lti/deep-link">'
            f'<input type="hidden" name="dl" value="{html.escape(blob)}"><ul>{items}</ul>'
            '<button type="submit">Add</button></form></main></body></html>'
        )

    async def respond(self, blob: str, item: str, launch_url: str) -> tuple[str, str]:
        """The return URL and the signed response JWT for the picked ``item``."""
        try:
            context: dict[str, Any] = self._blob.loads(blob, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            raise LaunchRefused(
                "the picker has expired: open it again from the LMS", code="bad_state"
            ) from None
        classroom_id = int(context["c"])
        async with self.store.session() as session:
            platform = await session.get(LtiPlatform, int(context["p"]))
            if platform is None:
                raise LaunchRefused("the platform is no longer registered", code="unknown_platform")
            content = await _content_item(session, classroom_id, item, launch_url)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": platform.client_id,
            "aud": platform.issuer,
            "iat": now,
            "exp": now + 600,
            "nonce": secrets.token_urlsafe(16),
            CLAIM + "deployment_id": context["d"],
            CLAIM + "message_type": "LtiDeepLinkingResponse",
            CLAIM + "version": "1.3.0",
            DL_CLAIM + "content_items": [content],
        }
        if context.get("x") is not None:
            claims[DL_CLAIM + "data"] = context["x"]
        return str(context["r"]), self.key.sign(claims)


async def _content_item(
    session: Any, classroom_id: int, item: str, launch_url: str
) -> dict[str, Any]:
    kind, _, ident = item.partition(":")
    room_id = parse_id(ident) if kind == "room" else None
    if room_id is not None:
        room = await session.get(Room, room_id)
        if room is not None and room.classroom_id == classroom_id:
            return {
                "type": "ltiResourceLink",
                "title": room.title,
                "url": launch_url,
                "custom": {"room_id": str(room.id)},
            }
    if kind == "exercise":
        record = (
            await session.exec(
                select(ExerciseRecord).where(
                    ExerciseRecord.classroom_id == classroom_id, ExerciseRecord.exercise_id == ident
                )
            )
        ).first()
        if record is not None:
            room = (
                await session.exec(
                    select(Room).where(Room.classroom_id == classroom_id).order_by(col(Room.id))
                )
            ).first()
            if room is None:
                room = Room(classroom_id=classroom_id, title=record.title[:120])
                session.add(room)
                await session.flush()
            maximum = exercise_from_dict(record.definition).max_score
            return {
                "type": "ltiResourceLink",
                "title": record.title,
                "url": launch_url,
                "custom": {"room_id": str(room.id), "exercise_id": record.exercise_id},
                "lineItem": {
                    "scoreMaximum": maximum if maximum > 0 else 1,
                    "label": record.title,
                    "resourceId": record.exercise_id,
                    "tag": "opencode-classroom",
                },
            }
    raise BadRequest(f"{item!r} is not a room or exercise of this course", code="bad_item")
