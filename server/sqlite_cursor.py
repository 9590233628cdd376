"""aiosqlite statements in one trip to the connection's thread instead of four.

Design note. aiosqlite runs every call on its connection's own thread; the caller waits on a
future that the thread completes through ``call_soon_threadsafe``, so each call costs a thread
switch and then a turn of the event loop before the caller runs again. SQLAlchemy's aiosqlite
cursor makes four such calls for a query (open a cursor, execute, fetch all, close) and three
for a write. Under load a turn of the loop is milliseconds, and a write transaction pays it for
every statement while it holds the process's SQLite write lock (server/sqlite_writes.py), so
everybody else's writes wait for those turns too.

Rule 1: :class:`OneTripCursor` opens a sqlite3 cursor, executes, fetches every row and closes
it in one function on the connection's thread: one trip per statement. What SQLAlchemy reads
afterwards (``description``, ``rowcount``, ``lastrowid``, the rows) is kept on the adapter.
Rule 2: statements of one connection still run one at a time (the adapter's mutex), and errors
are sqlite3's own, raised to the caller as before.
Rule 3: server-side cursors (``stream()``), which fetch in chunks, keep SQLAlchemy's cursor.
"""

from __future__ import annotations

import collections
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(connection: Any, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: the whole statement, from cursor to close."""
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's DB-API cursor over aiosqlite, one thread trip per statement (rule 1)."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor opened here: no trip
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        """Rows are all fetched at once; the size asked for changes nothing."""

    async def _async_soft_close(self) -> None:
        """Nothing left open on the thread to close."""

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await connection._execute(
                _run, connection, operation, parameters, many
            )
        description, rows, self._rowcount, self._lastrowid = outcome
        self._description = description
        self._rows = collections.deque(rows)

    def nextset(self) -> None:
        """sqlite3 has one result set per statement."""

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 ignores input sizes."""


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy adapts it, with :class:`OneTripCursor` for its cursors."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        """SQLAlchemy's connect (its thread settings, a creator function), rewrapped."""
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)
