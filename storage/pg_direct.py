"""The PostgreSQL fast path for the document log's group commit: one asyncpg connection.

The collab server appends every applied update through one group-commit loop (about a hundred
transactions a second under load). Through SQLAlchemy's session each of those cost ~1.6 ms of
the server's CPU (session and pool bookkeeping, a pre-ping per checkout); the same transaction
on a plain asyncpg connection costs ~0.5 ms (measured here, 1,000 two-row appends).
``PgDirect`` keeps one such connection for that single writer, opened on first use and
dropped on any connection error (the next call reconnects; the group commit keeps its batch
and retries). Everything else goes through the engine and its pool.
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
    """One asyncpg connection, used by one caller at a time.

    Args:
        url: the SQLAlchemy URL (``postgresql+asyncpg://...``).
    """

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._conn: asyncpg.Connection | None = None
        self._lock = anyio.Lock()

    async def transaction(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``fn(connection)`` inside one transaction (rolled back if it raises).

        Raises:
            whatever asyncpg raises; after a connection-level error the connection is dropped
            and the next call opens a new one.
        """
        import asyncpg

        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn)
            conn = self._conn
            try:
                async with conn.transaction():
                    return await fn(conn)
            except asyncpg.PostgresConnectionError:
                self._drop(conn)
                raise
            except asyncpg.PostgresError:
                raise  # a statement failed: rolled back, the connection is fine
            except BaseException:  # I/O error, cancellation mid-protocol: state unknown
                self._drop(conn)
                raise

    def _drop(self, conn: asyncpg.Connection) -> None:
        self._conn = None
        conn.terminate()

    async def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.is_closed():
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await conn.close()
                if not conn.is_closed():
                    conn.terminate()
