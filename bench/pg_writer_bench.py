"""What a commit of document updates costs the PostgreSQL writer, both ways, side by side.

    .venv/bin/python bench/pg_writer_bench.py [--commits 2000] [--rows 1 10] [--rounds 2]

The document writer's thread commits each batch of updates before any of them is broadcast
(server/documents/store.py). On PostgreSQL it did so through SQLAlchemy (``engine.begin()``
and a Core ``INSERT``: ``BEGIN``, ``INSERT``, ``COMMIT``, three round trips); it now sends one
``INSERT`` in autocommit mode (``AutocommitInserter``, server/documents/postgres_inserts.py).
This script commits ``--commits`` batches of ``--rows`` rows each way, alternating the ways for
``--rounds`` rounds, on a private database (created on ``CLASSROOM_BENCH_POSTGRES_URL``'s
server, default 127.0.0.1:5432, dropped after) into a copy of the ``doc_updates`` table, and
prints per commit: the CPU time of the committing thread (``time.thread_time``: its Python,
the driver's and the kernel's work for its system calls; what the server's writer thread
spends) and the wall time (p50 / p99: how long a broadcast waits for its commit when the
writer is idle; PostgreSQL's own work and ``fsync`` included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classroom_servers import private_postgres  # noqa: E402
from sqlalchemy import MetaData, Table, create_engine, insert, text  # noqa: E402

from server.documents.postgres_inserts import AutocommitInserter  # noqa: E402
from server.documents.store import _COLUMNS  # noqa: E402
from server.store import migrate, sync_url  # noqa: E402

Values = list[tuple[object, ...]]


def measure(commit: Callable[[Values], None], batch: Values, commits: int) -> tuple[float, ...]:
    """Per commit: thread CPU µs, wall p50 µs, wall p99 µs."""
    for _ in range(min(200, commits)):  # warm: connection, prepared statement, caches
        commit(batch)
    walls = []
    cpu = time.thread_time()
    for _ in range(commits):
        started = time.perf_counter()
        commit(batch)
        walls.append(time.perf_counter() - started)
    cpu = time.thread_time() - cpu
    walls.sort()
    return (
        1e6 * cpu / commits,
        1e6 * statistics.median(walls),
        1e6 * walls[min(len(walls) - 1, int(0.99 * len(walls)))],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000, help="commits per way and round")
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 10], help="rows per commit")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with private_postgres() as url:
        migrate(url)
        engine = create_engine(sync_url(url), pool_size=1, max_overflow=0)  # as the writer's
        with engine.begin() as conn:
            # No foreign key to rooms: the rows need no classroom (LIKE copies no constraints
            # but NOT NULL, defaults and indexes: the same insert work otherwise).
            conn.execute(text("CREATE TABLE bench_updates (LIKE doc_updates INCLUDING ALL)"))
        table = Table("bench_updates", MetaData(), autoload_with=engine)
        inserter = AutocommitInserter(engine, table, _COLUMNS)

        def core(values: Values) -> None:
            with engine.begin() as conn:
                conn.execute(insert(table), [dict(zip(_COLUMNS, v, strict=True)) for v in values])

        ways = {"SQLAlchemy Core, BEGIN/INSERT/COMMIT (before)": core,
                "one INSERT, autocommit (now)": inserter.insert}  # fmt: skip
        print(f"PostgreSQL writer, {args.commits} commits per way and round, {args.rounds} rounds")
        print("| rows per commit | way | round | thread CPU µs per commit | wall p50 / p99 µs |")
        print("|---|---|---|---|---|")
        for rows in args.rows:
            now = datetime.now(UTC)
            batch = [(1, "students/1/main.py", b"\x01" * 24, now, 1, 1, 42)] * rows
            for round_ in range(1, args.rounds + 1):
                for name, commit in ways.items():
                    cpu, p50, p99 = measure(commit, batch, args.commits)
                    print(f"| {rows} | {name} | {round_} | {cpu:.0f} | {p50:.0f} / {p99:.0f} |")
        inserter.close()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
