"""Who may do what with a note, for many ``(note, user)`` pairs at once.

Every collab connection to ``notes/<id>`` asks this before it is admitted; a connect storm asks
it hundreds of times a second (the live layer batches concurrent checks into one call). On
SQLite the query runs on ``Database.sqlite_direct`` (one thread hop instead of a session's
many); its SQL is compiled from the same SQLAlchemy statement, once per shape, and values go
through the columns' own SQLite processors. PostgreSQL runs the same statement on
``Database.pg_direct`` (asyncpg takes UUIDs as they are).
"""

from __future__ import annotations

import functools
import sqlite3
import uuid
from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from storage.db import Database
from storage.direct_sql import PG_DIALECT
from storage.models import Note, NoteShare
from storage.sqlite_direct import SQLITE_DIALECT

__all__ = ["Access", "access_many"]

Pair = tuple[uuid.UUID, uuid.UUID]

_NOTES: sa.Table = Note.__table__  # type: ignore[attr-defined]
_SHARES: sa.Table = NoteShare.__table__  # type: ignore[attr-defined]
_SQLITE = SQLITE_DIALECT
_UUID_TYPE = _NOTES.c.id.type.dialect_impl(_SQLITE)
_UUID_IN = _UUID_TYPE.bind_processor(_SQLITE)
_UUID_OUT = _UUID_TYPE.result_processor(_SQLITE, None)
_PERMISSION_OUT = _SHARES.c.permission.type.dialect_impl(_SQLITE).result_processor(_SQLITE, None)


class Access(StrEnum):
    OWNER = "owner"
    WRITE = "write"
    READ = "read"


def _statement(note_ids: Any, user_ids: Any) -> sa.Select[Any]:
    shared = sa.and_(_SHARES.c.note_id == _NOTES.c.id, _SHARES.c.user_id.in_(user_ids))
    return (
        sa.select(_NOTES.c.id, _NOTES.c.owner_id, _SHARES.c.user_id, _SHARES.c.permission)
        .select_from(_NOTES)
        .outerjoin(_SHARES, shared)
        .where(_NOTES.c.id.in_(note_ids), _NOTES.c.deleted_at.is_(None))
    )


@functools.lru_cache(maxsize=512)
def _direct_sql(pg: bool, notes: int, users: int) -> tuple[str, tuple[tuple[str, int], ...]]:
    """The SQLite (or asyncpg) SQL for that many notes and users, and which value each
    positional parameter takes."""
    placeholder = uuid.UUID(int=0)
    statement = _statement(
        sa.bindparam("n", [placeholder] * notes, expanding=True),
        sa.bindparam("u", [placeholder] * users, expanding=True),
    )
    compiled = statement.compile(
        dialect=PG_DIALECT if pg else _SQLITE, compile_kwargs={"render_postcompile": True}
    )
    order = tuple(
        (name[0], int(name.rsplit("_", 1)[1]) - 1) for name in compiled.positiontup or ()
    )
    return str(compiled), order


def _convert(value: Any, processor: Any) -> Any:
    return value if value is None or processor is None else processor(value)


async def _rows_sqlite(db: Database, note_ids: list[uuid.UUID], user_ids: list[uuid.UUID]
                       ) -> Sequence[tuple[Any, ...]]:
    assert db.sqlite_direct is not None
    sql, order = _direct_sql(False, len(note_ids), len(user_ids))
    values = {
        "n": [_convert(n, _UUID_IN) for n in note_ids],
        "u": [_convert(u, _UUID_IN) for u in user_ids],
    }
    params = [values[kind][index] for kind, index in order]

    def query(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
        return conn.execute(sql, params).fetchall()

    raw = await db.sqlite_direct.run(query)
    return [
        (
            _convert(note, _UUID_OUT),
            _convert(owner, _UUID_OUT),
            _convert(user, _UUID_OUT),
            _convert(permission, _PERMISSION_OUT),
        )
        for note, owner, user, permission in raw
    ]


async def _rows_pg(db: Database, note_ids: list[uuid.UUID], user_ids: list[uuid.UUID]
                   ) -> Sequence[tuple[Any, ...]]:
    assert db.pg_direct is not None
    sql, order = _direct_sql(True, len(note_ids), len(user_ids))
    values = {"n": note_ids, "u": user_ids}
    params = [values[kind][index] for kind, index in order]

    async def query(conn: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await conn.fetch(sql, *params)]

    return await db.pg_direct.run(query)


async def access_many(db: Database, pairs: Collection[Pair]) -> dict[Pair, Access | None]:
    """What each user may do with each live note: owner, write, read, or None (nothing, or
    no such live note)."""
    if not pairs:
        return {}
    note_ids = list({note for note, _ in pairs})
    user_ids = list({user for _, user in pairs})
    rows: Sequence[tuple[Any, ...]]
    if db.sqlite_direct is not None:
        rows = await _rows_sqlite(db, note_ids, user_ids)
    elif db.pg_direct is not None:
        rows = await _rows_pg(db, note_ids, user_ids)
    else:
        async with db.read() as session:
            result = await session.execute(_statement(note_ids, user_ids))
            rows = [tuple(row) for row in result]
    owners: dict[uuid.UUID, uuid.UUID] = {}
    shares: dict[Pair, Access] = {}
    for note, owner, user, permission in rows:
        owners[note] = owner
        if user is not None:
            shares[(note, user)] = Access(str(permission))
    result_map: dict[Pair, Access | None] = {}
    for note, user in pairs:
        owner_id = owners.get(note)
        if owner_id is None:
            result_map[(note, user)] = None
        else:
            result_map[(note, user)] = Access.OWNER if owner_id == user else shares.get(
                (note, user)
            )
    return result_map
