"""`Sql` on PostgreSQL: asyncpg's own pool of plain connections, no SQLAlchemy session.

The collab server appends every applied update through one group-commit loop (about a hundred
transactions a second under load), loads a document on every first connection, checks note
access on every connection, and writes an automatic version and the search text on every
unload. Through SQLAlchemy's session each of those costs several times the CPU of the same
statements on a plain asyncpg connection (bench/HISTORY.md). Everything else goes through the
engine and its pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect, make_url

from storage.sql import Row, Statement, Step

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PG_DIALECT", "PgSql"]

PG_DIALECT: Dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]
"""What statements are compiled for on asyncpg (``$n`` parameters)."""


class PgSql:
    """`Sql` on an ``asyncpg`` pool of up to ``size`` connections, each opened on first use.

    A connection that fails at the connection level is dropped by the pool, and a later call
    opens a new one.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, size: int = 4) -> PgSql:
        """A pool for the SQLAlchemy ``url`` (``postgresql+asyncpg://...``); no connection yet."""
        import asyncpg

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        pool = await asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=size,
            reset=_keep_session,
            # Connections stay open once opened (no idle timer armed on every release).
            max_inactive_connection_lifetime=0,
        )
        return cls(pool)

    async def fetch(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Row]:
        compiled = statement.compiled(PG_DIALECT, values)
        rows: Sequence[Row] = await self._pool.fetch(compiled.sql, *compiled.params(values))
        return compiled.rows(rows)

    async def execute(self, statement: Statement, values: Mapping[str, Any]) -> int:
        compiled = statement.compiled(PG_DIALECT, values)
        return _count(await self._pool.execute(compiled.sql, *compiled.params(values)))

    async def executemany(
        self, statement: Statement, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if not rows:
            return
        compiled = statement.compiled(PG_DIALECT, rows[0])
        # asyncpg runs executemany as one implicit transaction: all rows or none.
        await self._pool.executemany(compiled.sql, [compiled.params(row) for row in rows])

    async def transaction(self, *steps: Step) -> list[int]:
        calls = []
        for statement, values in steps:
            compiled = statement.compiled(PG_DIALECT, values)
            calls.append((compiled.sql, compiled.params(values)))
        async with self._pool.acquire() as conn, conn.transaction():
            return [_count(await conn.execute(sql, *params)) for sql, params in calls]

    async def close(self) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            await self._pool.close()  # waits for connections in use to be released
        self._pool.terminate()


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Our statements leave no session state (no SET, LISTEN, advisory lock or cursor), so a
    released connection needs no reset query (asyncpg's default costs a round trip)."""


def _count(status: str) -> int:
    """The row count of a command status (``UPDATE 3``, ``INSERT 0 1``)."""
    count = status.rpartition(" ")[2]
    return int(count) if count.isdigit() else 0
