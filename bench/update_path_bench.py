"""The work one typed character costs the server before its broadcast, counted in instructions.

    .venv/bin/python bench/update_path_bench.py [--updates 2000] [--source OLD] [--wall-only]

Every document update from a client is applied (``DocumentSync.receive``, which checks it),
metered for the typing history (``TextMeter``) and committed (on SQLite, ``InlineWriter``)
before any recipient gets it (server/documents/store.py). That work sits on the fan-out's
latency ahead of the first send. This script runs ``--updates`` one-character updates of one
client through each stage in turn, on a document in a room of 20 and a fresh SQLite database
with the server's settings (WAL mode, its page size), as the server does:

- **apply + meter**: ``DocumentSync.receive`` of the update frame, with the meter recording;
- **commit**: one inline commit of the update's row.

It runs each stage in a child process under ``valgrind --tool=callgrind`` and prints the
instructions per update (the child's total less that of a child that only sets up), which,
unlike wall time, do not change with what else the machine runs; then the wall time per update
of each stage, run without valgrind (hot caches: a lower bound of the live cost). With
``--source`` the same stages run the code of another checkout too, side by side. System calls
are counted as the instructions that make them, not the kernel's work: a commit's writes and
locks (about 6 ``pwrite64`` and 6 ``fcntl`` each; ``strace -c`` shows them) cost more than
their count here says.

Needs valgrind (Debian's package) for the counts (about a minute per stage and side); without
it, or with ``--wall-only``, only the wall times are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("setup", "apply + meter", "commit")


def child(stage: str, updates: int, checkpoint: bool) -> None:
    """Set up, then run ``stage`` over every update (in the child process); after the commit
    stage, with ``checkpoint``, the WAL's bytes per update and a checkpoint's time."""
    import pycrdt
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    import server.models  # noqa: F401 - every table, for create_all
    from rooms.frames import update_frame
    from rooms.integrity.replay import TextMeter
    from rooms.sync import DocumentSync
    from server.documents.inline import InlineWriter
    from server.documents.store import _COLUMNS, _UPDATES
    from server.models.clock import utcnow
    from server.store import install_sqlite_pragmas

    path = os.path.join(tempfile.mkdtemp(prefix="update-path-"), "classroom.db")
    engine = create_engine(f"sqlite:///{path}")
    install_sqlite_pragmas(engine)  # the side's own: WAL mode, its page size
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    writer = InlineWriter(path, _UPDATES, _COLUMNS)
    writer.open()
    assert writer._conn is not None
    writer._conn.execute("PRAGMA foreign_keys=OFF")  # no room row: the check is one lookup

    typist: pycrdt.Doc[object] = pycrdt.Doc()
    text = typist.get("text", type=pycrdt.Text)
    typed: list[bytes] = []
    typist.observe(lambda event: typed.append(event.update))
    for i in range(updates):
        text.insert(len(text) if i % 40 else 0, "x")  # typing, and a new line now and then
    frames = [update_frame(update) for update in typed]
    sync = DocumentSync()
    for conn_id in range(20):
        sync.connect(conn_id, writable=True, user=conn_id)
    meter = TextMeter(sync.doc)

    started = time.perf_counter()
    if stage == "apply + meter":
        for frame in frames:
            meter.start()
            sync.receive(0, frame)
            meter.take().inserted_key  # noqa: B018 - what the registry stores with the row
    elif stage == "commit":
        # The time as the store takes it: the writer's own where it has one (since 4de1d23).
        now = getattr(writer, "now", utcnow)
        for update in typed:
            writer.insert([(1, "demo", update, now(), 1, 1, 12345)])
    elapsed = time.perf_counter() - started
    print(f"wall {elapsed / updates * 1e6:.2f}")
    if stage == "commit" and checkpoint:
        # What the WAL holds now, then a checkpoint of it on a connection of its own, as the
        # server takes them (before the writer closes: the last connection's close empties it).
        print(f"wal {os.path.getsize(path + '-wal') / updates:.0f}")
        conn = sqlite3.connect(path, isolation_level=None)
        started = time.perf_counter()
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        print(f"checkpoint {(time.perf_counter() - started) * 1e3:.2f}")
        conn.close()
    writer.close()


def run_child(source: Path, stage: str, updates: int, valgrind: bool) -> dict[str, float]:
    """The whole child's instructions under callgrind (``instructions``), or its wall µs per
    update (``wall``) and after the commit stage ``wal`` and ``checkpoint``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        stage,
        "--updates",
        str(updates),
    ]
    if valgrind:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]
    else:
        cmd.append("--checkpoint")
    done = subprocess.run(cmd, cwd=source, env=env, capture_output=True, text=True, check=True)
    if valgrind:
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found, done.stderr[-2000:]
        return {"instructions": float(found.group(1))}
    figures = {k: float(v) for k, v in re.findall(r"^(\w+) ([0-9.]+)$", done.stdout, re.M)}
    assert "wall" in figures, done.stdout
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--source", type=Path, help="another checkout, measured beside this one")
    parser.add_argument("--wall-only", action="store_true", help="no instruction counts")
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.updates, args.checkpoint)
        return
    sides = [("this checkout", ROOT)]
    if args.source:
        sides.insert(0, ("--source", args.source.resolve()))
    valgrind = not args.wall_only and shutil.which("valgrind") is not None
    print(f"{args.updates} one-character updates, a room of 20, SQLite in WAL mode")
    print("| side | stage | instructions per update | wall µs per update (hot) |")
    print("|---|---|---|---|")
    stored: list[str] = []
    for name, source in sides:
        base = run_child(source, "setup", args.updates, True)["instructions"] if valgrind else 0
        for stage in STAGES[1:]:
            counted = "not counted"
            if valgrind:
                total = run_child(source, stage, args.updates, True)["instructions"]
                counted = f"{(total - base) / args.updates:,.0f}"
            runs = [run_child(source, stage, args.updates, False) for _ in range(3)]
            wall = min(run["wall"] for run in runs)
            print(f"| {name} | {stage} | {counted} | {wall:.1f} |", flush=True)
            if stage == "commit":
                wal = runs[0]["wal"]
                checkpoint = min(run["checkpoint"] for run in runs)
                stored.append(f"| {name} | {wal:,.0f} | {checkpoint:.1f} |")
    print(f"\nWhat the commits leave in the WAL, and a passive checkpoint of all {args.updates}:")
    print("| side | WAL bytes per commit | checkpoint ms (best of 3) |")
    print("|---|---|---|")
    print("\n".join(stored))


if __name__ == "__main__":
    main()
