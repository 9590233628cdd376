"""The documents of a room, for the instructor's live view, and the pair groups behind
``pairs/{group}/…`` documents."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import col, delete, select

from rooms.documents import Access, DocKind, access, parse_document_name
from rooms.exceptions import InvalidDocumentName
from server.api.base import Ctx, endpoint
from server.classrooms.access import room_access
from server.exceptions import BadRequest
from server.ids import Id
from server.models import Membership, PairMember, User


class OwnerOut(BaseModel):
    id: int
    name: str


class RoomDocumentOut(BaseModel):
    name: str
    kind: str
    owners: list[OwnerOut]
    updated_at: str | None
    access: str
    loaded: bool = Field(description="open in this server process right now")


class RoomDocumentList(BaseModel):
    documents: list[RoomDocumentOut]


class PairBody(BaseModel):
    user_ids: list[Id] = Field(max_length=10)


class PairOut(BaseModel):
    group: str
    members: list[OwnerOut]


@endpoint("GET", "/api/rooms/{room_id:id}/docs", response=RoomDocumentList, tag="documents")
async def list_documents(ctx: Ctx) -> RoomDocumentList:
    """Documents of a room with owners and last change (students see those they may open)."""
    room_id = ctx.path_int("room_id")
    registry = ctx.components.docs
    async with ctx.session() as session:
        room = await room_access(session, room_id, ctx.caller.user_id)
        pairs = (
            await session.exec(
                select(PairMember.group, User.id, User.name)
                .join(User, col(User.id) == PairMember.user_id)
                .where(PairMember.room_id == room_id)
            )
        ).all()
        names = dict(
            (
                await session.exec(
                    select(User.id, User.name)
                    .join(Membership, col(Membership.user_id) == User.id)
                    .where(Membership.classroom_id == room.room.classroom_id)
                )
            ).all()
        )
    changed = await registry.docstore.changed_at(room_id)
    loaded = {doc for room, doc in registry.loaded() if room == room_id}
    members: dict[str, list[OwnerOut]] = {}
    for group, uid, name in pairs:
        members.setdefault(group, []).append(OwnerOut(id=uid, name=name))
    mine = {group for group, uid, _ in pairs if uid == ctx.caller.user_id}
    out = []
    for doc_name in sorted(set(changed) | loaded):
        try:
            doc = parse_document_name(doc_name)
        except InvalidDocumentName:
            continue
        allowed = access(doc, role=room.role.value, user_id=ctx.caller.user_id, pair_groups=mine)
        if allowed is Access.NONE:
            continue
        owners: list[OwnerOut] = []
        if doc.kind is DocKind.STUDENT and doc.owner_user_id is not None:
            uid = doc.owner_user_id
            owners = [OwnerOut(id=uid, name=names.get(uid, f"user {uid}"))]
        elif doc.kind is DocKind.PAIR and doc.owner is not None:
            owners = members.get(doc.owner, [])
        at = changed.get(doc_name)
        out.append(
            RoomDocumentOut(
                name=doc_name,
                kind=doc.kind.value,
                owners=owners,
                updated_at=at.isoformat() if at else None,
                access=allowed.value,
                loaded=doc_name in loaded,
            )
        )
    return RoomDocumentList(documents=out)


@endpoint(
    "PUT",
    "/api/rooms/{room_id:id}/pairs/{group}",
    body=PairBody,
    response=PairOut,
    tag="documents",
)
async def set_pair(ctx: Ctx) -> PairOut:
    """Set the members of a pair group (staff only); they write ``pairs/{group}/…``."""
    room_id = ctx.path_int("room_id")
    group = ctx.request.path_params["group"]
    try:
        parse_document_name(f"pairs/{group}/x")
    except InvalidDocumentName as exc:
        raise BadRequest(str(exc), code="invalid_group") from None
    user_ids = sorted(set(ctx.body(PairBody).user_ids))
    async with ctx.session() as session:
        room = await room_access(session, room_id, ctx.caller.user_id, staff=True)
        rows = (
            await session.exec(
                select(User.id, User.name)
                .join(Membership, col(Membership.user_id) == User.id)
                .where(
                    Membership.classroom_id == room.room.classroom_id,
                    col(User.id).in_(user_ids),
                )
            )
        ).all()
        found = {uid for uid, _ in rows}
        missing = [uid for uid in user_ids if uid not in found]
        if missing:
            raise BadRequest(f"not members of this classroom: {missing}", code="not_members")
        await session.exec(
            delete(PairMember).where(
                col(PairMember.room_id) == room_id, col(PairMember.group) == group
            )
        )
        for uid in user_ids:
            session.add(PairMember(room_id=room_id, group=group, user_id=uid))
    # New pair members may open the pair's files at once (in this process; others within the
    # role cache's few seconds).
    ctx.components.doc_roles.forget_room(room_id)
    return PairOut(group=group, members=[OwnerOut(id=uid, name=name) for uid, name in sorted(rows)])


routes = [list_documents, set_pair]
