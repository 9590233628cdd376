"""PostgreSQL commits of document updates: one statement, one round trip, no SQLAlchemy.

Design note. Every update is stored before it is broadcast (server/documents/store.py). On
PostgreSQL the writer's thread committed each batch through SQLAlchemy's ``engine.begin()``
and a Core ``INSERT``: psycopg sent ``BEGIN``, the ``INSERT`` and ``COMMIT``, three round trips,
and SQLAlchemy's statement and pool machinery ran around them. Measured on the writer's thread
here, one row a commit (the usual batch: a batch takes what queued while the last one ran):
410 to 560 µs of CPU and 0.9 to 1.3 ms of wall time a commit; in the classroom simulation with
two processes that thread was half of each server's CPU. One ``INSERT`` of all the batch's rows
on a connection in autocommit mode is atomic and durable by itself when it returns (PostgreSQL
commits a lone statement, ``synchronous_commit`` as configured): one round trip, 110 to 140 µs
of CPU and 0.4 to 0.5 ms a commit.

The statement and each column's conversion come from SQLAlchemy's dialect of the store's
engine for the model's table, and the connection from that dialect's own connect arguments,
so the rows are what the Core ``INSERT`` stored and the connection what the engine opened.
psycopg prepares a statement it has run five times (one per batch size). A batch of more than
:data:`ROWS_PER_STATEMENT` rows is several statements in one transaction.

The connection belongs to the writer's thread. Errors are raised as SQLAlchemy's (``DBAPIError``
and its subclasses, the driver's error as ``orig``), as the Core path raised them. After an
error that is not the rows' own (an integrity error), the connection is closed, and the next
batch opens a new one: the store retries. The store imports this module only for PostgreSQL:
psycopg and libpq add about 9 MB to a process that does not need them (SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

# Rows in one INSERT at most: 7 columns each, far below PostgreSQL's 65,535 parameters.
ROWS_PER_STATEMENT = 1000


class AutocommitInserter:
    """Inserts rows of one table on a psycopg connection in autocommit mode (one thread)."""

    def __init__(self, engine: Engine, table: Table, columns: Sequence[str]) -> None:
        dialect = engine.dialect
        self._connect_args = dialect.create_connect_args(engine.url)
        self.columns = tuple(columns)
        quote = dialect.identifier_preparer
        self._head = (
            f"INSERT INTO {quote.format_table(table)} "
            f"({', '.join(quote.quote(c) for c in self.columns)}) VALUES "
        )
        self._one = "(" + ", ".join(["%s"] * len(self.columns)) + ")"
        self._statements: dict[int, str] = {}
        converters: list[tuple[int, Callable[[Any], Any]]] = []
        for position, name in enumerate(self.columns):
            column_type = table.c[name].type
            convert = column_type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                converters.append((position, convert))
        self._converters = tuple(converters)
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            args, kwargs = self._connect_args
            self._conn = psycopg.connect(*args, **kwargs, autocommit=True)
        return self._conn

    def _statement(self, rows: int) -> str:
        sql = self._statements.get(rows)
        if sql is None:
            sql = self._head + ", ".join([self._one] * rows)
            if len(self._statements) < 64:
                self._statements[rows] = sql
        return sql

    def insert(self, values: Sequence[Sequence[Any]]) -> None:
        """Insert and commit rows, each its values in :attr:`columns` order, or raise a
        ``sqlalchemy.exc.DBAPIError`` having stored none (``IntegrityError`` when they can
        never be, ``OperationalError`` when the database is away)."""
        try:
            conn = self._connection()
            if len(values) <= ROWS_PER_STATEMENT:
                conn.execute(self._statement(len(values)), self._flat(values))
                return
            with conn.transaction():
                for start in range(0, len(values), ROWS_PER_STATEMENT):
                    chunk = values[start : start + ROWS_PER_STATEMENT]
                    conn.execute(self._statement(len(chunk)), self._flat(chunk))
        except psycopg.Error as exc:
            if not isinstance(exc, psycopg.errors.IntegrityError):
                self.close()  # the next batch connects again
            statement = f"{self._head}… ({len(values)} rows)"
            raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc

    def _flat(self, values: Sequence[Sequence[Any]]) -> list[Any]:
        flat: list[Any] = []
        for row in values:
            at = len(flat)
            flat.extend(row)
            for position, convert in self._converters:
                flat[at + position] = convert(flat[at + position])
        return flat

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
