"""Where a live update's time goes before and during its fan-out, in a running server.

Loaded by our server's interpreter at start when ``bench/docs_bench.py --probe`` puts this
folder first on its ``PYTHONPATH`` (Python imports a ``sitecustomize`` module by itself), and
only when ``CLASSROOM_BENCH_PROBE`` names a file. It wraps four of the server's own functions
with clocks, changing nothing they do:

- ``LoadedDocument.receive`` of an update frame from a local socket: the whole of it
  (checks, apply, commit, every send), and the time from its start to its first send;
- ``DocumentSync.receive`` within it: the update read, checked and applied (rooms/sync.py);
- ``DocStore.append`` within it: the commit that every send waits for (on SQLite, inline);
- ``DirectWriter.write`` within it: each send written to a socket (the kernel's part of the
  fan-out), counted; or, for a busy document's frames (server/documents/direct.py rule 5),
  kept for the turn's end, whose one write per socket comes after the update is timed.

Every 500 updates it writes what it has to that file as JSON, one row per update:
``[whole, to_first_send, apply, commit, sends, send_count]`` in seconds. The wrappers cost
about half a microsecond each: a probed run is for where the time goes, not for comparing
CPU or latency with another server (bench/README.md).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

DUMP_EVERY = 500


def _install(path: str) -> None:
    from rooms.sync import DocumentSync
    from server.documents.direct import DirectWriter
    from server.documents.loaded import LoadedDocument
    from server.documents.store import DocStore
    from server.security.quotas import is_update_frame

    clock = time.perf_counter
    rows: list[list[float]] = []
    # The update being timed: [start, first send, apply, commit, sends, send count], or None.
    current: list[Any] = [None]

    receive, write = LoadedDocument.receive, DirectWriter.write

    def timed_receive(self: Any, conn_id: int, frame: bytes, *, cut: bool = True) -> Any:
        if not is_update_frame(frame) or current[0] is not None:
            return receive(self, conn_id, frame, cut=cut)
        started = clock()
        current[0] = [started, None, 0.0, 0.0, 0.0, 0]
        try:
            return receive(self, conn_id, frame, cut=cut)
        finally:
            row, current[0] = current[0], None
            first = row[1] if row[1] is not None else clock()
            rows.append([clock() - started, first - started, *row[2:]])
            if len(rows) % DUMP_EVERY == 0:
                with open(path, "w") as sink:
                    json.dump(rows, sink)

    def timed_within(original: Callable[..., Any], column: int) -> Callable[..., Any]:
        """``original``, its time within the update being timed added to ``column``."""

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            row = current[0]
            if row is None:
                return original(self, *args, **kwargs)
            started = clock()
            try:
                return original(self, *args, **kwargs)
            finally:
                row[column] += clock() - started

        return timed

    def timed_write(self: Any, wire: bytes, turn: Any = None) -> bool:
        row = current[0]
        if row is None:
            return write(self, wire, turn)
        started = clock()
        if row[1] is None:
            row[1] = started
        try:
            return write(self, wire, turn)
        finally:
            row[4] += clock() - started
            row[5] += 1

    LoadedDocument.receive = timed_receive  # type: ignore[method-assign]
    DocumentSync.receive = timed_within(DocumentSync.receive, 2)  # type: ignore[method-assign]
    DocStore.append = timed_within(DocStore.append, 3)  # type: ignore[method-assign]
    DirectWriter.write = timed_write  # type: ignore[method-assign]


if os.environ.get("CLASSROOM_BENCH_PROBE"):
    _install(os.environ["CLASSROOM_BENCH_PROBE"])
