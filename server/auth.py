"""Who is calling: signed, expiring tokens, password hashes, and a caller's role in a room.

A token carries the user id and the user's kind (instructor account or student); the role in
a given room comes from the classroom membership, read per request, so a role change takes
effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.exceptions import Unauthorized
from server.models import Membership, Role, Room, UserKind

TOKEN_SALT = "classroom.token.v1"
COOKIE_NAME = "classroom_token"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # Same cost as a real check, so timing does not tell which emails exist.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Caller:
    user_id: int
    kind: UserKind
    generation: int = 0  # the session generation it was signed in (server/security/sessions.py)

    @property
    def is_instructor(self) -> bool:
        return self.kind is UserKind.INSTRUCTOR


class TokenSigner:
    """Signs and checks tokens. ``verify`` raises :class:`Unauthorized` with the reason."""

    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)
        self.ttl_seconds = ttl_seconds

    def sign(self, user_id: int, kind: UserKind, generation: int = 0) -> str:
        return self._serializer.dumps({"uid": user_id, "kind": kind.value, "gen": generation})

    def verify(self, token: str | None) -> Caller:
        if not token:
            raise Unauthorized("a token is required", code="token_missing")
        try:
            payload = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired:
            raise Unauthorized(
                "the token has expired; sign in again", code="token_expired"
            ) from None
        except BadSignature:
            raise Unauthorized("the token is not valid", code="token_invalid") from None
        try:
            return Caller(
                user_id=int(payload["uid"]),
                kind=UserKind(payload["kind"]),
                generation=int(payload.get("gen", 0)),
            )
        except (KeyError, TypeError, ValueError):
            raise Unauthorized("the token is not valid", code="token_invalid") from None


async def classroom_role(session: AsyncSession, classroom_id: int, user_id: int) -> Role | None:
    result = await session.exec(
        select(Membership.role).where(
            Membership.classroom_id == classroom_id, Membership.user_id == user_id
        )
    )
    role = result.first()
    return Role(role) if role is not None else None


async def room_role(session: AsyncSession, room_id: int, user_id: int) -> Role | None:
    """The caller's role in a room (that of its classroom), or None if not a member."""
    result = await session.exec(
        select(Membership.role)
        .join(Room, Room.classroom_id == Membership.classroom_id)  # type: ignore[arg-type]
        .where(Room.id == room_id, Membership.user_id == user_id)
    )
    role = result.first()
    return Role(role) if role is not None else None
