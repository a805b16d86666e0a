"""`Sql`, the hot statements' interface: every driver (SQLite's own connection or asyncpg's pool,
and the engine) gives the same rows, row counts and transactions for one `Statement`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.models import DocumentUpdate, Note, User
from storage.sql import Sql, Statement
from storage.types import utcnow

_LOG: sa.Table = DocumentUpdate.__table__  # type: ignore[attr-defined]
_NOTES: sa.Table = Note.__table__  # type: ignore[attr-defined]

_ADD = Statement(
    sa.insert(_LOG).values({c: sa.bindparam(c) for c in ("name", "data", "is_snapshot",
                                                          "created_at")})
)
_NAMED = Statement(
    sa.select(_LOG.c.id, _LOG.c.data, _LOG.c.is_snapshot, _LOG.c.created_at)
    .where(_LOG.c.name.in_(sa.bindparam("names", expanding=True)))
    .order_by(_LOG.c.id)
)
_RENAME = Statement(
    sa.update(_LOG).where(_LOG.c.name == sa.bindparam("old")).values(name=sa.bindparam("new"))
)
_TITLES = Statement(
    sa.select(_NOTES.c.id, _NOTES.c.owner_id, _NOTES.c.updated_at)
    .where(_NOTES.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_NOTES.c.title)
)


def _row(name: str, data: bytes, **extra: object) -> dict[str, object]:
    return {"name": name, "data": data, "is_snapshot": True, "created_at": utcnow(), **extra}


@pytest.fixture(params=["own", "engine"])
def sql(request: pytest.FixtureRequest, database: Database) -> Sql:
    return database.sql if request.param == "own" else Database(database.engine).sql


async def test_rows_come_back_converted_by_the_columns_types(sql: Sql) -> None:
    await sql.executemany(_ADD, [_row("a", b"\x00"), _row("b", b"\x01"), _row("c", b"\x02")])
    rows = await sql.fetch(_NAMED, {"names": ["a", "c"]})
    assert [(bytes(r[1]), r[2]) for r in rows] == [(b"\x00", True), (b"\x02", True)]
    assert all(isinstance(r[3], datetime) and r[3].tzinfo is not None for r in rows)
    assert abs(rows[0][3] - utcnow()) < timedelta(minutes=1)
    # another length of the IN list is another compiled form, not the cached one
    assert len(await sql.fetch(_NAMED, {"names": ["a", "b", "c"]})) == 3
    assert len(await sql.fetch(_NAMED, {"names": ["b"]})) == 1


async def test_uuids_in_and_out(database: Database, sql: Sql) -> None:
    owner = User(email=f"{uuid.uuid4().hex}@example.com", name="o", password_hash="x")
    notes = [Note(owner_id=owner.id, title=t) for t in ("b", "a")]
    async with database.write() as session:
        session.add(owner)
        await session.flush()
        session.add_all(notes)
    rows = await sql.fetch(_TITLES, {"ids": [n.id for n in notes] + [uuid.uuid4()]})
    assert [(r[0], r[1]) for r in rows] == [(notes[1].id, owner.id), (notes[0].id, owner.id)]
    assert all(isinstance(r[2], datetime) and r[2].tzinfo is not None for r in rows)


async def test_execute_counts_the_rows_it_matched(sql: Sql) -> None:
    await sql.executemany(_ADD, [_row("x", b"1"), _row("x", b"2")])
    assert await sql.execute(_RENAME, {"old": "x", "new": "y"}) == 2
    assert await sql.execute(_RENAME, {"old": "x", "new": "y"}) == 0
    assert await sql.transaction((_RENAME, {"old": "y", "new": "z"}),
                                 (_RENAME, {"old": "nothing", "new": "z"})) == [2, 0]


async def test_a_failed_transaction_leaves_nothing_and_the_driver_goes_on(sql: Sql) -> None:
    bad = {"name": "t", "data": None, "is_snapshot": False, "created_at": utcnow()}  # NOT NULL
    with pytest.raises(Exception):  # noqa: B017 (each driver raises its own IntegrityError)
        await sql.transaction((_ADD, _row("t", b"first")), (_ADD, bad))
    with pytest.raises(Exception):  # noqa: B017
        await sql.executemany(_ADD, [_row("t", b"first"), bad])
    assert await sql.fetch(_NAMED, {"names": ["t"]}) == []
    await sql.executemany(_ADD, [_row("t", b"ok")])
    assert [bytes(r[1]) for r in await sql.fetch(_NAMED, {"names": ["t"]})] == [b"ok"]
    await sql.executemany(_ADD, [])  # nothing to do


async def test_values_a_statement_does_not_bind_are_ignored(sql: Sql) -> None:
    """An INSERT executed with a column name it does not bind must not insert that column."""
    await sql.executemany(_ADD, [_row("extra", b"1", id=987_654)])
    await sql.transaction((_ADD, _row("extra", b"2", id=987_655)))
    ids = [r[0] for r in await sql.fetch(_NAMED, {"names": ["extra"]})]
    assert len(ids) == 2 and not {987_654, 987_655} & set(ids)


def test_an_untyped_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="untyped bind parameters: limit"):
        Statement(sa.select(_LOG.c.id).limit(sa.bindparam("limit")))
