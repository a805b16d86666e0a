"""`Sql` on a file-backed SQLite database: one ``sqlite3`` connection, one thread hop per call.

Through SQLAlchemy's async engine every DBAPI call of aiosqlite is a round trip to its thread
and back through the event loop (checkout, ``BEGIN``, cursor, execute, fetch, close, commit):
an append transaction of the document log cost several times the CPU of one function run
in a thread (bench/HISTORY.md). ``SqliteSql`` runs each call as such a function with its own
connection, configured like the engine's (WAL, foreign keys, busy timeout,
``synchronous=NORMAL``), one function at a time, on one dedicated thread (like aiosqlite's
own: a pool of short-lived worker threads would give each its own malloc arena, and memory
freed in one is not reused by the next). It shares the database file, not a
transaction, with the engine: SQLite's locking (``BEGIN IMMEDIATE`` plus the busy timeout)
orders the two.

A write (`execute`, `executemany`, `transaction`) is ``BEGIN IMMEDIATE`` ... ``COMMIT`` in
that one hop: it queues on the busy timeout for the write lock instead of failing when a read
lock would have to be upgraded.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import anyio
from sqlalchemy.dialects import sqlite

from storage.sql import Row, Statement, Step

__all__ = ["SQLITE_DIALECT", "SqliteSql", "configure_sqlite"]

SQLITE_DIALECT = sqlite.dialect(paramstyle="qmark")
"""What statements are compiled for on ``sqlite3`` (its ``?`` style), and whose type
processors convert the values."""

T = TypeVar("T")


def configure_sqlite(cursor: Any, busy_timeout_ms: int) -> None:
    """Settings of every SQLite connection of ours (engine and `SqliteSql`): busy timeout, WAL,
    foreign keys, ``synchronous=NORMAL``, through a DBAPI ``cursor`` of that connection
    (``sqlite3``'s own, or SQLAlchemy's adapter over aiosqlite).

    The busy timeout comes first, and WAL (a property of the file, kept once set) is only
    switched on when the file is not in WAL yet: switching needs an exclusive lock, and
    connections racing to do it on a new file got "database is locked" at once.
    """

    def query(sql: str) -> Any:
        cursor.execute(sql)
        row = cursor.fetchone()
        return row[0] if row else None

    query(f"PRAGMA busy_timeout={busy_timeout_ms}")
    deadline = time.monotonic() + busy_timeout_ms / 1000
    if str(query("PRAGMA journal_mode")).lower() != "wal":
        while True:
            try:
                query("PRAGMA journal_mode=WAL")  # (an in-memory database stays "memory")
                break
            except Exception as exc:  # sqlite3's or the async adapter's OperationalError
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)  # only a new file's first connections ever get here
    query("PRAGMA foreign_keys=ON")
    query("PRAGMA synchronous=NORMAL")


class SqliteSql:
    """`Sql` on one ``sqlite3`` connection, used from one worker thread, one call at a time.

    Args:
        path: the database file.
        busy_timeout_ms: how long a statement waits for another connection's write lock.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-direct")
        self._closed = False

    async def fetch(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Row]:
        compiled = statement.compiled(SQLITE_DIALECT, values)
        sql, params = compiled.sql, compiled.params(values)
        raw = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return compiled.rows(raw)

    async def execute(self, statement: Statement, values: Mapping[str, Any]) -> int:
        return (await self.transaction((statement, values)))[0]

    async def executemany(
        self, statement: Statement, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if not rows:
            return
        compiled = statement.compiled(SQLITE_DIALECT, rows[0])
        sql, params = compiled.sql, [compiled.params(row) for row in rows]
        # One execute per row, not sqlite3's executemany: under calls submitted concurrently
        # that intermittently raised SQLITE_MISUSE ("bad parameter or other API misuse",
        # CPython 3.11) in tests/storage/test_document_log.py.
        await self._run(lambda conn: _write(conn, lambda: [conn.execute(sql, p) for p in params]))

    async def transaction(self, *steps: Step) -> list[int]:
        compiled = [(s.compiled(SQLITE_DIALECT, v), v) for s, v in steps]
        calls = [(c.sql, c.params(v)) for c, v in compiled]

        def run(conn: sqlite3.Connection) -> list[int]:
            return _write(conn, lambda: [conn.execute(sql, p).rowcount for sql, p in calls])

        return await self._run(run)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            cursor = conn.cursor()
            try:
                configure_sqlite(cursor, self._busy_timeout_ms)
            finally:
                cursor.close()
            self._conn = conn
        return self._conn

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in the worker thread and return its result.

        The call is not abandoned on cancellation: a write transaction started is finished
        (committed or rolled back) before the caller sees the cancellation.
        """
        done = asyncio.wrap_future(self._thread.submit(self._call, fn))
        with anyio.CancelScope(shield=True):  # bounded: the busy timeout, then an error
            result = await done
        return result

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return fn(self._connection())

    async def close(self) -> None:
        """Close the connection and stop the thread (idempotent; calls fail afterwards)."""

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await asyncio.wrap_future(self._thread.submit(close))
        self._thread.shutdown(wait=False)


def _write(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
    """``fn()`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back if it raises)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result
