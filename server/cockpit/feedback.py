"""Feedback by hand: score overrides (beside the automatic grade, append-only so every change
keeps who and when) and inline comments on a student's file.

Design note. A comment's ``anchor`` is a Yjs relative position (``Y.encodeRelativePosition``,
base64) made by the browser: it names an item of the document, not an offset, so the comment
stays on its line while the code around it changes; the server stores it opaque and checks
only its size and alphabet. ``line`` is the line when the comment was made, a fallback for
a client that cannot resolve the anchor. Who may comment on a document is who may open it
(:func:`rooms.documents.access`): a student only on their own files.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.documents import Access, DocKind, DocumentName, access, parse_document_name
from rooms.events import staff_and
from rooms.exceptions import InvalidDocumentName
from server.classrooms.access import RoomAccess
from server.events.hub import RoomHub
from server.exceptions import BadRequest, Conflict, Forbidden, NotFound
from server.grading.listeners import GradeListener, tell
from server.models import DocComment, PairMember, ScoreOverride, Submission, User
from server.models.clock import as_utc
from server.security.visibility import pair_groups
from server.store import Store

_ANCHOR = re.compile(r"[A-Za-z0-9+/=_-]{0,400}")


def override_view(row: ScoreOverride, by: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "submission_id": row.submission_id,
        "exercise_id": row.exercise_id,
        "user_id": row.user_id,
        "score": row.score,
        "comment": row.comment,
        "by": {"id": row.by_user_id, "name": by},
        "at": as_utc(row.created_at).isoformat(),
    }


def comment_view(row: DocComment, author: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "doc": row.doc,
        "anchor": row.anchor,
        "line": row.line,
        "parent_id": row.parent_id,
        "author": {"id": row.author_id, "name": author},
        "body": row.body,
        "resolved_at": as_utc(row.resolved_at).isoformat() if row.resolved_at else None,
        "resolved_by": row.resolved_by,
        "created_at": as_utc(row.created_at).isoformat(),
    }


async def latest_overrides(session: AsyncSession, classroom_id: int) -> dict[int, dict[str, Any]]:
    """The latest override of each overridden submission of a classroom (for the exports)."""
    latest = (
        select(func.max(ScoreOverride.id))
        .where(ScoreOverride.classroom_id == classroom_id)
        .group_by(col(ScoreOverride.submission_id))
    )
    rows = await session.exec(
        select(ScoreOverride, User.name)
        .join(User, col(User.id) == ScoreOverride.by_user_id)
        .where(col(ScoreOverride.id).in_(latest))
    )
    return {row.submission_id: override_view(row, name) for row, name in rows.all()}


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.exec(select(User.id, User.name).where(col(User.id).in_(ids)))
    return {uid: name for uid, name in rows.all() if uid is not None}


class Feedback:
    def __init__(self, store: Store, hub: RoomHub, max_comments_per_doc: int = 0) -> None:
        self.store = store
        self.hub = hub
        self.max_comments_per_doc = max_comments_per_doc
        # Told of an overridden grade (LTI passback): the submission with the score set by hand.
        self.listeners: list[GradeListener] = []

    # -- score overrides --------------------------------------------------------------

    async def override(
        self, submission: Submission, by: int, score: float, comment: str, now: datetime
    ) -> dict[str, Any]:
        """Set ``submission``'s score by hand (the caller is staff of its classroom)."""
        assert submission.id is not None
        top = submission.max_score
        if top is not None and score > top:
            raise BadRequest(f"the score may not exceed the maximum {top:g}", code="score_too_high")
        async with self.store.session() as session:
            row = ScoreOverride(
                submission_id=submission.id,
                classroom_id=submission.classroom_id,
                user_id=submission.user_id,
                exercise_id=submission.exercise_id,
                score=score,
                comment=comment,
                by_user_id=by,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            name = (await _names(session, {by})).get(by, "")
        view = override_view(row, name)
        view["max_score"] = top
        await tell(self.listeners, submission.model_copy(update={"score": score}))
        if submission.room_id is not None:
            event = {"type": "grade.override", "override": view}
            await self.hub.publish(submission.room_id, staff_and(submission.user_id), event)
        return view

    async def overrides(self, submission_id: int) -> list[dict[str, Any]]:
        """Every override of a submission, oldest first: the audit."""
        async with self.store.session() as session:
            rows = await session.exec(
                select(ScoreOverride, User.name)
                .join(User, col(User.id) == ScoreOverride.by_user_id)
                .where(ScoreOverride.submission_id == submission_id)
                .order_by(col(ScoreOverride.id))
            )
            return [override_view(row, name) for row, name in rows.all()]

    # -- inline comments ----------------------------------------------------------------

    async def _doc(self, session: AsyncSession, room: RoomAccess, doc: str) -> DocumentName:
        try:
            name = parse_document_name(doc)
        except InvalidDocumentName as exc:
            raise BadRequest(str(exc), code="invalid_document") from None
        if name.kind is DocKind.DEMO:
            raise BadRequest("comments are for students' and pairs' files", code="invalid_document")
        groups: set[str] = set()
        if name.kind is DocKind.PAIR:
            groups = await pair_groups(session, room.room_id, room.user_id)
        if (
            access(name, role=room.role.value, user_id=room.user_id, pair_groups=groups)
            is Access.NONE
        ):
            raise Forbidden("you may not open this document", code="document_forbidden")
        return name

    async def _owners(self, session: AsyncSession, room_id: int, name: DocumentName) -> set[int]:
        if name.owner_user_id is not None:
            return {name.owner_user_id}
        found = await session.exec(
            select(PairMember.user_id).where(
                PairMember.room_id == room_id, PairMember.group == name.owner
            )
        )
        return set(found.all())

    async def comments(self, room: RoomAccess, doc: str) -> list[dict[str, Any]]:
        async with self.store.session() as session:
            await self._doc(session, room, doc)
            rows = await session.exec(
                select(DocComment, User.name)
                .join(User, col(User.id) == DocComment.author_id)
                .where(DocComment.room_id == room.room_id, DocComment.doc == doc)
                .order_by(col(DocComment.id))
            )
            return [comment_view(row, name) for row, name in rows.all()]

    async def comment(
        self,
        room: RoomAccess,
        *,
        doc: str,
        body: str,
        anchor: str,
        line: int | None,
        parent_id: int | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Add a comment (or a reply); ``comment.added`` goes to the staff and the file's
        owners."""
        if not _ANCHOR.fullmatch(anchor):
            raise BadRequest(
                "anchor: an encoded relative position in base64", code="invalid_anchor"
            )
        async with self.store.session() as session:
            name = await self._doc(session, room, doc)
            await self._within_cap(session, room, doc)
            if parent_id is not None:
                parent = await session.get(DocComment, parent_id)
                if parent is None or parent.room_id != room.room_id or parent.doc != doc:
                    raise NotFound(f"comment {parent_id} is not on {doc}", code="unknown_comment")
                if parent.parent_id is not None:
                    parent_id = parent.parent_id
            row = DocComment(
                room_id=room.room_id,
                doc=doc,
                anchor=anchor,
                line=line,
                parent_id=parent_id,
                author_id=room.user_id,
                body=body,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            author = (await _names(session, {room.user_id})).get(room.user_id, "")
            owners = await self._owners(session, room.room_id, name)
        view = comment_view(row, author)
        await self.hub.publish(
            room.room_id, staff_and(*owners), {"type": "comment.added", "comment": view}
        )
        return view

    async def _within_cap(self, session: AsyncSession, room: RoomAccess, doc: str) -> None:
        """A student writes at most ``max_comments_per_doc`` comments on one file (its staff
        and other authors are not held back by them). One student posted 2,013 comments of
        2,000 characters in 10 s: the file's thread list was 4.4 MB, and grew for ever."""
        cap = self.max_comments_per_doc
        if cap <= 0 or room.is_staff:
            return
        mine = await session.exec(
            select(func.count()).where(
                DocComment.room_id == room.room_id,
                DocComment.doc == doc,
                DocComment.author_id == room.user_id,
            )
        )
        if mine.one() >= cap:
            raise Conflict(
                f"you have written {cap} comments on {doc}, the most a file takes",
                code="too_many_comments",
            )

    async def resolve(self, room: RoomAccess, comment_id: int, now: datetime) -> dict[str, Any]:
        """Mark a thread resolved (its file's owner or staff); ``comment.resolved``."""
        async with self.store.session() as session:
            row = await session.get(DocComment, comment_id)
            if row is None or row.room_id != room.room_id:
                raise NotFound(f"comment {comment_id} does not exist", code="unknown_comment")
            name = await self._doc(session, room, row.doc)
            row.resolved_at, row.resolved_by = now, room.user_id
            session.add(row)
            author = (await _names(session, {row.author_id})).get(row.author_id, "")
            owners = await self._owners(session, room.room_id, name)
            view = comment_view(row, author)
        await self.hub.publish(
            room.room_id, staff_and(*owners), {"type": "comment.resolved", "comment": view}
        )
        return view
