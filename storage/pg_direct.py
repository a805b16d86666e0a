"""The PostgreSQL fast path for the hottest statements: a small pool of plain asyncpg connections.

The collab server appends every applied update through one group-commit loop (about a hundred
transactions a second under load), loads a document on every first connection, and writes an
automatic version and the search text on every unload. Through SQLAlchemy's session each of
those cost ~1.6 ms of the server's CPU (session and pool bookkeeping, a pre-ping per checkout);
the same transaction on a plain asyncpg connection costs ~0.5 ms (measured here, 1,000
two-row appends). ``PgDirect`` keeps a few such connections (opened on first use; a
connection that fails at the connection level is discarded and the next call opens a new
one). Everything else goes through the engine and its pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import anyio
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PgDirect"]

T = TypeVar("T")


class PgDirect:
    """Up to ``size`` asyncpg connections, each used by one caller at a time.

    Args:
        url: the SQLAlchemy URL (``postgresql+asyncpg://...``).
        size: connections kept at most.
    """

    def __init__(self, url: str, *, size: int = 4) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._idle: list[asyncpg.Connection] = []
        self._slots = anyio.Semaphore(size)
        self._all: set[asyncpg.Connection] = set()

    async def transaction(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``fn(connection)`` inside one transaction (rolled back if it raises).

        Raises:
            whatever asyncpg raises; after a connection-level error that connection is
            dropped and a later call opens a new one.
        """

        async def in_transaction(conn: asyncpg.Connection) -> T:
            async with conn.transaction():
                return await fn(conn)

        return await self.run(in_transaction)

    async def run(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``fn(connection)`` (autocommit: each statement is its own transaction)."""
        import asyncpg

        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(self._dsn)
                self._all.add(conn)
            try:
                result = await fn(conn)
            except asyncpg.PostgresConnectionError:
                self._drop(conn)
                raise
            except asyncpg.PostgresError:
                self._idle.append(conn)  # a statement failed: rolled back, the connection is fine
                raise
            except BaseException:  # I/O error, cancellation mid-protocol: state unknown
                self._drop(conn)
                raise
            self._idle.append(conn)
            return result

    def _drop(self, conn: asyncpg.Connection) -> None:
        self._all.discard(conn)
        conn.terminate()

    async def close(self) -> None:
        """Close every connection (a later call opens new ones)."""
        conns, self._all, self._idle = list(self._all), set(), []
        for conn in conns:
            if not conn.is_closed():
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await conn.close()
            if not conn.is_closed():
                conn.terminate()
