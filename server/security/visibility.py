"""One rule for which of a room's documents a member may see listed: those they may open
(:func:`rooms.documents.access`), whichever endpoint lists them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Integer, bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.documents import Access, access, parse_document_name
from rooms.exceptions import InvalidDocumentName
from server.models import PairMember, Role

# The pair groups of a user in a room (``room_id``, ``user_id``), built once: every check of a
# pair's document asks it, on the event loop (:func:`pair_groups`) or on the store's thread.
PAIR_GROUPS = select(PairMember.group).where(
    col(PairMember.room_id) == bindparam("room_id", type_=Integer),
    col(PairMember.user_id) == bindparam("user_id", type_=Integer),
)


async def pair_groups(session: AsyncSession, room_id: int, user_id: int) -> set[str]:
    rows = await session.exec(PAIR_GROUPS, params={"room_id": room_id, "user_id": user_id})
    return set(rows.all())


def visible(names: Iterable[str], *, role: Role, user_id: int, groups: set[str]) -> list[str]:
    """The names of ``names`` the caller may open, sorted; names that do not parse are dropped."""
    out = []
    for name in sorted(names):
        try:
            doc = parse_document_name(name)
        except InvalidDocumentName:
            continue
        if access(doc, role=role.value, user_id=user_id, pair_groups=groups) is not Access.NONE:
            out.append(name)
    return out
