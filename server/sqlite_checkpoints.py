"""WAL checkpoints of one SQLite database, taken by the process itself, never in a commit.

Design note. SQLite starts a checkpoint inside any commit that finds the WAL past
``wal_autocheckpoint`` frames (1,000 by default): it copies the WAL's pages into the database
file and syncs it before that commit returns. Every write of this process holds its write
lock until its commit returns (server/sqlite_writes.py), and while the lock is held no
document update commits (server/documents/inline.py rule 1): so a checkpoint run in a commit
held every update typed meanwhile, 57 ms once, measured. The document writer's own
connections had been spared that; the ORM's sessions had not, and typing keeps the WAL past
1,000 frames most of the time (about three frames a commit; the store checkpointed every
1,000 of its commits), so the first ORM commit past that mark (a run's row, a submission's,
a grade) copied and synced the whole WAL under the lock: 61 ms for 4,500 frames here.

So every connection the store opens has ``wal_autocheckpoint=0`` (server/store.py), and
:class:`Checkpoints` counts the process's commits instead: every write transaction (each
gives back the write lock once, server/sqlite_writes.py) and every inline commit of
document updates, which takes no lock. After :data:`CHECKPOINT_EVERY` of them it starts a
passive checkpoint on a thread of its own, in two passes (inline.py rule 2): the first
copies what is there while commits go on; the second, under a millisecond, copies what they
added meanwhile, and inline commits wait for it (:attr:`Checkpoints.last_pass`,
:meth:`Checkpoints.after_last_pass`), so that every frame is copied and the next commit
starts the WAL over from its beginning. A process that writes rows but no documents still
checkpoints every :data:`CHECKPOINT_EVERY` transactions, so its WAL never grows without
bound; SQLite's own checkpoint when the last connection closes is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("classroom.store")

# Commits of this process (inline or in a write transaction) between two checkpoints.
CHECKPOINT_EVERY = 1000


class Checkpoints:
    """The two-pass checkpoints of the database at ``path``, on a thread of their own,
    waiting up to ``busy_timeout_ms`` for another process's lock. Used on the event loop's
    thread only."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._thread: ThreadPoolExecutor | None = None
        self._closed = False
        self.since = 0  # commits since the last checkpoint started
        self.running: asyncio.Future[None] | None = None  # either pass, while it runs
        self.last_pass = False  # the second pass runs: no inline commit meanwhile

    def committed(self) -> None:
        """Count a commit; start a checkpoint after :data:`CHECKPOINT_EVERY` of them."""
        self.since += 1
        if self.since >= CHECKPOINT_EVERY and self.start():
            self.since = 0

    def start(self) -> bool:
        """Start the first pass, unless a checkpoint runs already or the store is closed
        (then False)."""
        if self.running is not None or self._closed:
            return False
        self._pass(self._first_done)
        return True

    async def wait(self) -> None:
        """Until no pass runs (the first starts the second)."""
        while self.running is not None:
            await _after_callbacks(self.running)

    async def after_last_pass(self) -> None:
        """Until no second pass runs (under a millisecond): what the writer's thread
        commits waits for it, as inline commits do, so that it copies every frame."""
        while self.last_pass and self.running is not None:
            await _after_callbacks(self.running)

    async def close(self) -> None:
        """Let a running checkpoint finish, then end the thread; start none after."""
        self._closed = True
        await self.wait()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown()

    def _pass(self, then: Callable[[asyncio.Future[None]], None]) -> None:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self.running = asyncio.get_running_loop().run_in_executor(
            self._thread, checkpoint, self.path, self.busy_timeout_ms
        )
        self.running.add_done_callback(then)

    def _first_done(self, done: asyncio.Future[None]) -> None:
        if _failed(done):
            self.running = None
            return
        self.last_pass = True
        self._pass(self._last_done)

    def _last_done(self, done: asyncio.Future[None]) -> None:
        self.running = None
        self.last_pass = False
        _failed(done)


def _after_callbacks(running: asyncio.Future[None]) -> asyncio.Future[None]:
    """A future done once ``running`` is done and its earlier done-callbacks (``_first_done``,
    ``_last_done``, which move :class:`Checkpoints` on) have run.

    Not ``asyncio.gather(running)``: since Python 3.12 it returns a future already done when
    ``running`` is, and ``await`` on that does not yield. A pass that had finished, its
    callbacks scheduled but not yet run, then kept the ``while`` loops above spinning on
    the event loop's thread forever (the server stopped answering; seen on 3.13 in the
    fan-out benchmark). A done-callback is always called from the loop, after those added
    before it, so awaiting this one always yields and wakes to the state they left."""
    after = running.get_loop().create_future()

    def settle(_: asyncio.Future[None]) -> None:
        if not after.done():
            after.set_result(None)

    running.add_done_callback(settle)
    return after


def _failed(done: asyncio.Future[None]) -> bool:
    if done.cancelled():
        return True
    if done.exception() is not None:
        log.warning("WAL checkpoint failed: %s", done.exception())
        return True
    return False


def checkpoint(path: str, busy_timeout_ms: int) -> None:
    """A passive WAL checkpoint on a connection of its own (run on the checkpoints' thread)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()
