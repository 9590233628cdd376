"""A compaction's write, timed: how long it holds the write lock that every update waits for.

    .venv/bin/python bench/compaction_bench.py [--rounds 8] [--updates 500] [--repeat 2]
                                               [--source OLD] [--postgres URL]

A compaction merges a document's stored updates on the event loop, then writes in one
transaction on the document writer's thread (server/documents/compaction.py): it moves the
snapshot, copies the folded updates into the typing history and deletes them. On SQLite that
transaction holds this process's write lock, so every update typed meanwhile, in any room,
waits for it; on PostgreSQL it holds the writer's thread, which every batch commits through.

Each round types ``--updates`` one-character updates into one document (each committed, as
the server does) and compacts it, with the history kept (120 days, the default). The script
times the fold (the transaction's statements, from the first to the last, without the commit)
and, apart, the time spent inside the database driver's ``execute``; the rest is Python
(SQLAlchemy) with the lock held. The first round of each process compiles the statements and
is left out. With ``--source`` the code of another checkout runs too, the two alternating
``--repeat`` times, so a machine whose speed moves affects both alike. ``--postgres URL``
(a server where the user may create databases) runs on a new database there, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def child(url: str, rounds: int, updates: int) -> None:
    """In the checkout under test: type and compact, printing one line per fold."""
    import pycrdt
    from sqlalchemy import event

    from server.documents import store as store_module
    from server.documents.store import DocStore
    from server.models import User
    from server.store import Store, migrate
    from tests.support.rows import classroom_with_room

    await asyncio.to_thread(migrate, url)
    store = Store(url)
    room_id = (await classroom_with_room(store, User(name="Bench"), join_code="BENCH1")).room_id
    docs = DocStore(store, compact_after=10**9, history_days=120)
    await docs.start()

    real_fold = store_module.fold
    in_driver: list[float] = []
    folds: list[float] = []

    def timed_fold(conn: Any, **kwargs: Any) -> Any:
        started: list[float] = []

        def before(*_: Any) -> None:
            started.append(time.perf_counter())

        def after(*_: Any) -> None:
            in_driver.append(time.perf_counter() - started.pop())

        event.listen(conn, "before_cursor_execute", before)
        event.listen(conn, "after_cursor_execute", after)
        began = time.perf_counter()
        try:
            return real_fold(conn, **kwargs)
        finally:
            folds.append(time.perf_counter() - began)
            event.remove(conn, "before_cursor_execute", before)
            event.remove(conn, "after_cursor_execute", after)

    store_module.fold = timed_fold
    typist: pycrdt.Doc[object] = pycrdt.Doc()
    text = typist.get("text", type=pycrdt.Text)
    typed: list[bytes] = []
    typist.observe(lambda event: typed.append(event.update))
    try:
        for _ in range(rounds):
            for i in range(updates):
                text.insert(len(text) if i % 40 else 0, "x")
                await docs.append(room_id, "demo", [typed[-1]], author=1, inserted=1)
            in_driver.clear()
            folded = await docs.compact(room_id, "demo")
            assert folded == updates, folded
            print(f"fold {folds[-1] * 1000:.3f} driver {sum(in_driver) * 1000:.3f}", flush=True)
    finally:
        await docs.close()
        await store.close()


def run_child(source: Path, url: str, rounds: int, updates: int) -> list[tuple[float, float]]:
    """(fold ms, driver ms) of each round after the first, run with ``source``'s code."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", url]
    cmd += ["--rounds", str(rounds), "--updates", str(updates)]
    done = subprocess.run(cmd, cwd=source, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the child for {source} failed:\n{done.stderr[-3000:]}")
    found = re.findall(r"^fold ([0-9.]+) driver ([0-9.]+)$", done.stdout, re.M)
    assert len(found) == rounds, done.stdout
    return [(float(fold), float(driver)) for fold, driver in found[1:]]


def database(postgres: str | None) -> tuple[str, Any]:
    """A new empty database's URL, and what drops it."""
    if postgres is None:
        directory = tempfile.mkdtemp(prefix="compaction-bench-")
        return f"sqlite:///{directory}/classroom.db", lambda: None
    import psycopg

    name = f"compaction_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{postgres.rpartition('/')[0]}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="compactions per process")
    parser.add_argument("--updates", type=int, default=500, help="updates folded by each")
    parser.add_argument("--repeat", type=int, default=2, help="processes per side")
    parser.add_argument("--source", type=Path, help="another checkout, measured beside this one")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the first is left out)")
    if args.child:
        asyncio.run(child(args.child, args.rounds, args.updates))
        return
    sides = [("this checkout", ROOT)]
    if args.source:
        sides.insert(0, ("--source", args.source.resolve()))
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in sides}
    for _ in range(args.repeat):
        for name, source in sides:
            url, drop = database(args.postgres)
            try:
                measured[name] += run_child(source, url, args.rounds, args.updates)
            finally:
                drop()
    kind = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{kind}: {args.updates} updates folded per compaction, history kept")
    print("| side | folds | fold ms p50 (min-max) | in the driver ms p50 (min-max) |")
    print("|---|---|---|---|")
    for name, rows in measured.items():
        folds = [fold for fold, _ in rows]
        driver = [d for _, d in rows]
        print(
            f"| {name} | {len(rows)} | {statistics.median(folds):.2f} "
            f"({min(folds):.2f}-{max(folds):.2f}) | {statistics.median(driver):.2f} "
            f"({min(driver):.2f}-{max(driver):.2f}) |"
        )


if __name__ == "__main__":
    main()
