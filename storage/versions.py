"""Note versions: named and automatic checkpoints of a note's Yjs document.

Each version stores the full encoded document state (`Doc.get_update()`), not a pycrdt
`Snapshot`: snapshots need `Doc(skip_gc=True)` and restoring one of a garbage-collected document
crashed (docs/hazards.md). A state is self-contained, so a version stays readable after the update
log is compacted. Listing never loads the state bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col

from storage.db import Database
from storage.sql import Statement
from storage.types import UTCDateTime, utcnow

__all__ = ["NoteVersion", "VersionInfo", "VersionRepository"]


class NoteVersion(SQLModel, table=True):
    """One stored version of a note's document."""

    __tablename__ = "note_versions"
    __table_args__ = (sa.Index("ix_note_versions_note_id_created_at", "note_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    note_id: uuid.UUID = Field(
        sa_type=sa.Uuid,
        foreign_key="notes.id",
        ondelete="CASCADE",
        nullable=False,
    )
    name: str | None = Field(default=None, sa_type=sa.String(255), nullable=True)
    auto: bool = Field(default=False, nullable=False)
    created_by: uuid.UUID | None = Field(
        default=None,
        sa_type=sa.Uuid,
        foreign_key="users.id",
        ondelete="SET NULL",
        nullable=True,
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    size: int = Field(default=0, nullable=False)
    state: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """A version without its state bytes (what lists show)."""

    id: uuid.UUID
    note_id: uuid.UUID
    name: str | None
    auto: bool
    created_by: uuid.UUID | None
    created_at: datetime
    size: int


_INFO_COLUMNS = (
    col(NoteVersion.id),
    col(NoteVersion.note_id),
    col(NoteVersion.name),
    col(NoteVersion.auto),
    col(NoteVersion.created_by),
    col(NoteVersion.created_at),
    col(NoteVersion.size),
)


def _info(row: Any) -> VersionInfo:  # a NoteVersion or a row of _INFO_COLUMNS
    return VersionInfo(
        id=row.id,
        note_id=row.note_id,
        name=row.name,
        auto=row.auto,
        created_by=row.created_by,
        created_at=row.created_at,
        size=row.size,
    )


_TABLE: sa.Table = NoteVersion.__table__  # type: ignore[attr-defined]
# What a document's unload runs (`add_auto`), on ``Database.sql``.
_INSERT = Statement(
    sa.insert(_TABLE).values(
        {c: sa.bindparam(c) for c in ("id", "note_id", "auto", "created_at", "size", "state")}
    )
)
_PRUNE = Statement(
    sa.delete(_TABLE).where(
        _TABLE.c.note_id == sa.bindparam("note_id"),
        _TABLE.c.auto.is_(True),
        _TABLE.c.id.not_in(
            sa.select(_TABLE.c.id)
            .where(_TABLE.c.note_id == sa.bindparam("note_id"), _TABLE.c.auto.is_(True))
            .order_by(_TABLE.c.created_at.desc())
            .limit(sa.bindparam("keep", type_=sa.Integer))
            .scalar_subquery()
        ),
    )
)


class VersionRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        note_id: uuid.UUID,
        state: bytes,
        *,
        name: str | None = None,
        auto: bool = False,
        created_by: uuid.UUID | None = None,
        created_at: datetime | None = None,
    ) -> VersionInfo:
        version = NoteVersion(
            note_id=note_id,
            name=name,
            auto=auto,
            created_by=created_by,
            created_at=created_at or utcnow(),
            size=len(state),
            state=state,
        )
        async with self._db.write() as session:
            session.add(version)
        return _info(version)

    async def list(self, note_id: uuid.UUID, *, limit: int = 100) -> list[VersionInfo]:
        """Newest first."""
        query = (
            sa.select(*_INFO_COLUMNS)
            .where(col(NoteVersion.note_id) == note_id)
            .order_by(col(NoteVersion.created_at).desc(), col(NoteVersion.id))
            .limit(limit)
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [_info(row) for row in rows]

    async def get(
        self, note_id: uuid.UUID, version_id: uuid.UUID
    ) -> tuple[VersionInfo, bytes] | None:
        """The version and its state, or None when it does not exist for this note."""
        async with self._db.read() as session:
            version = await session.get(NoteVersion, version_id)
        if version is None or version.note_id != note_id:
            return None
        return _info(version), version.state

    async def latest(self, note_id: uuid.UUID, *, auto: bool | None = None) -> VersionInfo | None:
        """The newest version (only automatic or only named ones when `auto` is given)."""
        query = sa.select(*_INFO_COLUMNS).where(col(NoteVersion.note_id) == note_id)
        if auto is not None:
            query = query.where(col(NoteVersion.auto) == auto)
        query = query.order_by(col(NoteVersion.created_at).desc()).limit(1)
        async with self._db.read() as session:
            row = (await session.execute(query)).first()
        return _info(row) if row is not None else None

    async def add_auto(self, note_id: uuid.UUID, state: bytes, *, keep: int) -> None:
        """Store an automatic version of ``state`` and prune to the newest ``keep`` automatic
        versions, in one transaction (what a document does when it unloads)."""
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "note_id": note_id,
            "auto": True,
            "created_at": utcnow(),
            "size": len(state),
            "state": state,
            "keep": keep,
        }
        await self._db.sql.transaction((_INSERT, values), (_PRUNE, values))
