"""Workshop modules with ranked full-text search on both databases.

PostgreSQL ranks ``search_vector @@ websearch_to_tsquery`` with ``ts_rank`` (title weighted A,
description B, content C); SQLite ranks its ``modules_fts`` FTS5 table with ``bm25`` using the
same relative weights. Both require every word of the query; neither exposes query syntax.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from storage.db import Database
from storage.models import Difficulty, Module, Tier
from storage.search import fts5_match, terms
from storage.types import utcnow

_UPDATABLE = frozenset(
    {
        "title",
        "description",
        "order_index",
        "difficulty",
        "duration_minutes",
        "is_locked",
        "required_tier",
        "content",
    }
)
_FTS = sa.table("modules_fts", sa.column("rowid"))
_BM25_WEIGHTS = (10.0, 4.0, 1.0)  # title, description, body


class ModuleRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        *,
        title: str,
        description: str = "",
        order_index: int = 0,
        difficulty: Difficulty = Difficulty.BEGINNER,
        duration_minutes: int = 0,
        is_locked: bool = False,
        required_tier: Tier = Tier.FREE,
        content: Mapping[str, object] | None = None,
    ) -> Module:
        module = Module(
            title=title,
            description=description,
            order_index=order_index,
            difficulty=difficulty,
            duration_minutes=duration_minutes,
            is_locked=is_locked,
            required_tier=required_tier,
            content=dict(content or {}),
        )
        async with self._db.write() as session:
            session.add(module)
        return module

    async def get(self, module_id: uuid.UUID) -> Module | None:
        async with self._db.read() as session:
            return await session.get(Module, module_id)

    async def update(self, module_id: uuid.UUID, changes: Mapping[str, object]) -> Module | None:
        """Apply ``changes`` (field name -> value, fields as on :class:`Module`)."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        async with self._db.write() as session:
            module = await session.get(Module, module_id)
            if module is None:
                return None
            for field, value in changes.items():
                setattr(module, field, value)
            module.updated_at = utcnow()
        return module

    async def delete(self, module_id: uuid.UUID) -> bool:
        async with self._db.write() as session:
            result = await session.execute(sa.delete(Module).where(col(Module.id) == module_id))
        return bool(getattr(result, "rowcount", 0))

    async def search(
        self,
        query: str | None = None,
        difficulty: Difficulty | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[Module], int]:
        """Modules matching every word of ``query`` (best first), or all in course order.

        Returns the page and the total number of matches.
        """
        words = terms(query)
        filters: list[sa.ColumnElement[bool]] = []
        if difficulty is not None:
            filters.append(col(Module.difficulty) == difficulty)
        order: list[Any] = [col(Module.order_index), col(Module.title), col(Module.id)]
        stmt = select(Module)
        count = select(sa.func.count()).select_from(Module)
        if words and self._db.dialect == "postgresql":
            vector: sa.ColumnElement[Any] = sa.literal_column("modules.search_vector")
            tsquery = sa.func.websearch_to_tsquery(
                sa.literal_column("'english'::regconfig"), " ".join(words)
            )
            filters.append(vector.op("@@")(tsquery))
            order.insert(0, sa.func.ts_rank(vector, tsquery).desc())
        elif words:
            stmt = stmt.join(_FTS, _FTS.c.rowid == sa.literal_column("modules.rowid"))
            count = count.join(_FTS, _FTS.c.rowid == sa.literal_column("modules.rowid"))
            filters.append(sa.literal_column("modules_fts").op("MATCH")(fts5_match(words)))
            order.insert(0, sa.func.bm25(sa.literal_column("modules_fts"), *_BM25_WEIGHTS))
        async with self._db.read() as session:
            total = int(await session.scalar(count.where(*filters)) or 0)
            result = await session.scalars(
                stmt.where(*filters).order_by(*order).limit(limit).offset(offset)
            )
            return list(result), total
