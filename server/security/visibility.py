"""One rule for which of a room's documents a member may see listed: those they may open
(:func:`rooms.documents.access`), whichever endpoint lists them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.documents import Access, access, parse_document_name
from rooms.exceptions import InvalidDocumentName
from server.models import PairMember, Role


async def pair_groups(session: AsyncSession, room_id: int, user_id: int) -> set[str]:
    rows = await session.exec(
        select(PairMember.group).where(PairMember.room_id == room_id, PairMember.user_id == user_id)
    )
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
