"""The identity component of a process: the rejoin rate limiter and the account merger."""

from __future__ import annotations

from server.identity.codes import Redeemer
from server.identity.merge import AccountMerger, OpenDocuments, Rebuild
from server.store import Store


class Identity:
    def __init__(self, store: Store, rebuild: Rebuild, open_documents: OpenDocuments) -> None:
        self.redeemer = Redeemer()
        self.merger = AccountMerger(store, rebuild, open_documents)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
