"""The durable Yjs update log: collab's ``DocumentStore``, implemented structurally.

Each row is one Yjs update (or a compacted snapshot) of a named document. Loading returns the
snapshot rows first and then the updates by id: a snapshot written by compaction gets an id
above updates appended while the compaction ran, so id order alone would put it after them
(harmless for Yjs, whose updates commute, but the contract promises snapshot first).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from storage.db import Database
from storage.models import DocumentUpdate
from storage.sql import Statement
from storage.types import utcnow

_TABLE: sa.Table = DocumentUpdate.__table__  # type: ignore[attr-defined]
_ORDER = (_TABLE.c.is_snapshot.desc(), _TABLE.c.id.asc())

# The hot statements, run on ``Database.sql``: every load and every group commit.
_INSERT = Statement(
    sa.insert(_TABLE)
    .inline()  # no RETURNING of the generated ids
    .values({c: sa.bindparam(c) for c in ("name", "data", "is_snapshot", "created_at")})
)
_LOAD = Statement(
    sa.select(_TABLE.c.data).where(_TABLE.c.name == sa.bindparam("name")).order_by(*_ORDER)
)


class DocumentLog:
    """Append-only update log per document name, with snapshot compaction support."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def load(self, name: str) -> list[bytes]:
        """The snapshot (if any) then the logged updates, oldest first; ``[]`` if none."""
        return [bytes(row[0]) for row in await self._db.sql.fetch(_LOAD, {"name": name})]

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Append a batch (possibly across documents) in one transaction; durable on return."""
        now = utcnow()
        await self._db.sql.executemany(
            _INSERT,
            [
                {"name": name, "data": data, "is_snapshot": False, "created_at": now}
                for name, data in entries
            ],
        )

    async def delete(self, name: str) -> None:
        """Forget every row of ``name`` (idempotent)."""
        async with self._db.write() as session:
            await session.execute(sa.delete(_TABLE).where(_TABLE.c.name == name))

    async def read_log(self, name: str) -> tuple[list[bytes], int]:
        """Every row of ``name`` in load order, and the highest row id (0 when empty)."""
        async with self._db.read() as session:
            result = await session.execute(
                sa.select(_TABLE.c.id, _TABLE.c.data).where(_TABLE.c.name == name).order_by(*_ORDER)
            )
            rows = result.all()
        return [bytes(row.data) for row in rows], max((int(row.id) for row in rows), default=0)

    async def replace_prefix(self, name: str, snapshot: bytes, through_id: int) -> None:
        """Atomically insert ``snapshot`` and delete rows of ``name`` with id <= through_id.

        Rows appended after :meth:`read_log` have higher ids and are kept.
        """
        async with self._db.write() as session:
            await session.execute(
                sa.delete(_TABLE).where(_TABLE.c.name == name, _TABLE.c.id <= through_id)
            )
            await session.execute(
                sa.insert(_TABLE).values(
                    name=name, data=snapshot, is_snapshot=True, created_at=utcnow()
                )
            )

    async def documents_over(self, threshold: int) -> list[str]:
        """Names of documents whose log holds more than ``threshold`` rows."""
        async with self._db.read() as session:
            result = await session.execute(
                sa.select(_TABLE.c.name)
                .group_by(_TABLE.c.name)
                .having(sa.func.count() > threshold)
                .order_by(_TABLE.c.name)
            )
            return [str(row.name) for row in result]

    async def size(self, name: str) -> tuple[int, int]:
        """``(rows, bytes)`` held for ``name``."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.coalesce(sa.func.sum(sa.func.length(_TABLE.c.data)), 0),
                    ).where(_TABLE.c.name == name)
                )
            ).one()
        return int(row[0]), int(row[1])
