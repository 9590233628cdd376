"""The code a run or a submission is made of: a document's current text, or given files.

A document is read with the caller's rights (a student cannot run another student's file),
from this process's copy, or from the store when this process holds none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rooms.documents import Access, DocKind, DocumentName, access, parse_document_name
from rooms.exceptions import InvalidDocumentName
from server.classrooms.access import RoomAccess
from server.documents.registry import DocumentRegistry, stored_text, text_of
from server.exceptions import BadRequest, Forbidden
from server.security.visibility import PAIR_GROUPS
from server.store import Store

# The Y.Text every editor binds to (the web client and the Node harness agree on it).
TEXT_FIELD = "text"
MAX_FILES = 20
MAX_TOTAL_BYTES = 512 * 1024
_FILE_NAME = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}){0,3}"
)


@dataclass(frozen=True)
class Source:
    files: dict[str, str]
    doc: DocumentName | None


def check_files(files: dict[str, str]) -> dict[str, str]:
    if not files:
        raise BadRequest("files is empty", code="invalid_files")
    if len(files) > MAX_FILES:
        raise BadRequest(f"at most {MAX_FILES} files", code="invalid_files")
    total = 0
    for name, text in files.items():
        if not isinstance(name, str) or not _FILE_NAME.fullmatch(name) or ".." in name:
            raise BadRequest(f"file name {str(name)[:60]!r} is not allowed", code="invalid_files")
        if not isinstance(text, str):
            raise BadRequest(f"file {name!r} must be text", code="invalid_files")
        total += len(text.encode())
    if total > MAX_TOTAL_BYTES:
        raise BadRequest(f"files exceed {MAX_TOTAL_BYTES // 1024} KiB in all", code="invalid_files")
    return dict(files)


class Sources:
    """Reads the code a run or a submission is made of, with the caller's rights."""

    def __init__(self, store: Store, registry: DocumentRegistry) -> None:
        self.store = store
        self.registry = registry

    async def pair_groups(self, room_id: int, user_id: int) -> set[str]:
        params = {"room_id": room_id, "user_id": user_id}
        return set(
            await self.store.threaded.read(
                lambda session: session.exec(PAIR_GROUPS, params=params).all()
            )
        )

    async def read_doc(self, room: RoomAccess, doc: str) -> Source:
        try:
            name = parse_document_name(doc)
        except InvalidDocumentName as exc:
            raise BadRequest(str(exc), code="invalid_document") from None
        # Only a pair's document is decided by the caller's groups (rooms/documents.py,
        # access): a run or a submission of one's own file asks the store nothing here.
        groups = (
            await self.pair_groups(room.room_id, room.user_id)
            if name.kind is DocKind.PAIR
            else set()
        )
        if (
            access(name, role=room.role.value, user_id=room.user_id, pair_groups=groups)
            is Access.NONE
        ):
            raise Forbidden(f"you may not read {name}", code="document_forbidden")
        text = await self.read_text(room.room_id, str(name))
        file_name = name.file if name.kind is not DocKind.DEMO and name.file else "main"
        return Source({file_name: text}, name)

    async def read_text(self, room_id: int, name: str) -> str:
        """The document's text: this process's copy if it holds one (a socket of it is here,
        or was lately), else as stored. Not loaded for this: it would become a peer of the
        process its sockets are on, and both would publish every frame (peers.py) for the
        unload grace after each run. Both are as fresh: every update is stored before any
        process shows it."""
        if not self.registry.holds(room_id, name):
            return stored_text(await self.registry.docstore.read(room_id, name), TEXT_FIELD)
        loaded = await self.registry.acquire(room_id, name)
        try:
            return text_of(loaded, TEXT_FIELD)
        finally:
            self.registry.release(loaded)

    async def source_for(
        self, room: RoomAccess, *, doc: str | None, files: dict[str, str] | None
    ) -> Source:
        """Exactly one of ``doc`` and ``files``; raises 400/403 with the reason."""
        if (doc is None) == (files is None):
            raise BadRequest("give either doc or files", code="doc_or_files")
        if doc is not None:
            return await self.read_doc(room, doc)
        assert files is not None
        return Source(check_files(files), None)

    async def files_for(
        self, room: RoomAccess, *, doc: str | None, files: dict[str, str] | None
    ) -> dict[str, str]:
        return (await self.source_for(room, doc=doc, files=files)).files
