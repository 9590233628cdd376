"""``--server ours-unstored``: our server with its document store's commit taken out.

Loaded by the server's interpreter at start when ``bench/docs_bench.py`` puts this folder
first on its ``PYTHONPATH`` (Python imports a ``sitecustomize`` module by itself), and only
when ``CLASSROOM_BENCH_UNSTORED`` is set. It replaces ``DocStore.append`` with one that stores
nothing and answers at once, as if the updates had been committed: every update is still
read, checked, applied, metered and sent to every other client, but none is written to the
database, so there is nothing to compact or checkpoint either.

What it is for. The reference server keeps its documents in memory only; ours commits each
update before any recipient gets it (server/documents/store.py), as the product requires. Run
beside ``ours`` and the reference, this variant shows how much of the difference is that
commit and how much is the rest of our path. It loses every document when it stops: it is a
benchmark's instrument, never a way to run the server.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any


def unstored_append(self: Any, room_id: int, doc: str, updates: list[bytes], **_: Any) -> Any:
    """``DocStore.append`` that stores nothing: the store's shared resolved future where it
    has one (SQLite's inline path returns it too), else a new resolved one."""
    committed = getattr(self, "_committed", None)
    if committed is not None:
        return committed
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


def _install() -> None:
    from server.documents.store import DocStore

    DocStore.append = unstored_append  # type: ignore[method-assign]


if os.environ.get("CLASSROOM_BENCH_UNSTORED"):
    _install()
