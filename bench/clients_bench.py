"""What a document written by many client ids costs yrs, beside rooms/sync.py rule 14.

    .venv/bin/python bench/clients_bench.py [--counts 1000 5000 10000 20000 60000]

yrs integrates an update in time that grows with the square of the client ids it holds, and
a document's stored state is one update at every load and compaction, however it was
written. For each count this script builds the update of that many client ids each writing
one character after the one before (``tests/support/updates.py``'s ``many_clients``) and
prints: its size, whether rule 14 lets it into a fresh document, the time yrs takes to apply
it at once, to apply it in pieces of 500 (rooms/pieces.py), and to load the state that
results (what every later load of the file costs).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pycrdt  # noqa: E402

from rooms.exceptions import ProtocolError  # noqa: E402
from rooms.frames import update_frame  # noqa: E402
from rooms.pieces import pieces  # noqa: E402
from rooms.sync import DocumentSync  # noqa: E402
from tests.support.updates import many_clients  # noqa: E402


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def one_count(count: int) -> str:
    update = many_clients(count)
    sync = DocumentSync()
    sync.connect(1, writable=True)
    try:
        sync.receive(1, update_frame(update))
        verdict = "passes"
    except ProtocolError:
        verdict = "refused"
    at_once = timed(lambda: pycrdt.Doc().apply_update(update))
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    parts = pieces(update)

    def in_pieces() -> None:
        while parts:
            doc.apply_update(parts.take(500))

    piecewise = timed(in_pieces)
    state = doc.get_update()
    load = timed(lambda: pycrdt.Doc().apply_update(state))
    times = f"{at_once:.0f} | {piecewise:.0f} | {load:.0f}"
    return f"| {count:,} | {len(update):,} | {verdict} | {times} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    counts = [1_000, 5_000, 10_000, 20_000, 60_000]
    parser.add_argument("--counts", type=int, nargs="+", default=counts)
    args = parser.parse_args()
    print("| client ids | bytes | rule 14 | at once ms | in pieces ms | load after ms |")
    print("|---|---|---|---|---|---|")
    for count in args.counts:
        print(one_count(count), flush=True)


if __name__ == "__main__":
    main()
