"""The identity component of a process: the rejoin rate limiter, the account merger and the
removal of members."""

from __future__ import annotations

from server.identity.codes import Redeemer
from server.identity.merge import AccountMerger, OpenDocuments, Rebuild
from server.identity.removal import MemberRemoval
from server.store import Store


class Identity:
    def __init__(
        self,
        store: Store,
        rebuild: Rebuild,
        open_documents: OpenDocuments,
        removal: MemberRemoval,
    ) -> None:
        self.redeemer = Redeemer()
        self.merger = AccountMerger(store, rebuild, open_documents)
        self.removal = removal

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
