from __future__ import annotations

import asyncio
from datetime import timedelta

import pycrdt
import sqlalchemy as sa

from storage.db import Database, EngineSql
from storage.documents import DocumentLog
from storage.models import DocumentUpdate
from storage.pg_direct import PgSql
from storage.sqlite_direct import SqliteSql
from storage.types import utcnow


def _updates(count: int) -> tuple[list[bytes], str]:
    doc = pycrdt.Doc()
    text = doc.get("t", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(count):
        text += f"{i};"
    return updates, str(text)


def _replay(rows: list[bytes]) -> str:
    doc = pycrdt.Doc()
    text = doc.get("t", type=pycrdt.Text)
    for row in rows:
        doc.apply_update(row)
    return str(text)


async def test_append_batch_across_documents_and_load_in_order(database: Database) -> None:
    log = DocumentLog(database)
    assert await log.load("notes/a") == []
    await log.append([("notes/a", b"1"), ("notes/b", b"x"), ("notes/a", b"2")])
    await log.append([("notes/a", b"3")])
    await log.append([])
    assert await log.load("notes/a") == [b"1", b"2", b"3"]
    assert await log.load("notes/b") == [b"x"]
    assert await log.size("notes/a") == (3, 3)


async def test_concurrent_appends_all_land(database: Database) -> None:
    log = DocumentLog(database)
    await asyncio.gather(*(log.append([("notes/c", bytes([i]))] * 5) for i in range(10)))
    rows = await log.load("notes/c")
    assert len(rows) == 50
    assert sorted(set(rows)) == [bytes([i]) for i in range(10)]


async def test_replace_prefix_keeps_later_rows_and_puts_the_snapshot_first(
    database: Database,
) -> None:
    log = DocumentLog(database)
    updates, expected = _updates(30)
    await log.append([("notes/d", u) for u in updates[:20]])
    rows, through = await log.read_log("notes/d")
    assert len(rows) == 20 and through > 0
    # Appended while "compaction" runs: must survive.
    await log.append([("notes/d", u) for u in updates[20:]])
    snapshot = pycrdt.Doc()
    snapshot.get("t", type=pycrdt.Text)
    for row in rows:
        snapshot.apply_update(row)
    await log.replace_prefix("notes/d", snapshot.get_update(), through)
    loaded = await log.load("notes/d")
    assert len(loaded) == 11
    assert loaded[0] == snapshot.get_update()
    assert _replay(loaded) == expected
    again, through2 = await log.read_log("notes/d")
    assert again == loaded and through2 > through


async def test_documents_over_and_delete(database: Database) -> None:
    log = DocumentLog(database)
    await log.append([("notes/big", b"u")] * 5 + [("notes/small", b"u")])
    assert await log.documents_over(3) == ["notes/big"]
    await log.delete("notes/big")
    await log.delete("notes/big")
    assert await log.load("notes/big") == []
    assert await log.load("notes/small") == [b"u"]


async def test_own_driver_and_engine_read_each_others_rows(database: Database) -> None:
    """A file-backed SQLite database and PostgreSQL run the log on their own `Sql` driver; the
    engine's must see exactly the same rows (values converted by the columns' own types) and
    vice versa."""
    assert isinstance(database.sql, SqliteSql | PgSql)
    log = DocumentLog(database)
    await log.append([("notes/fast", b"\x00\x01"), ("notes/fast", b"\x02")])
    engine_only = DocumentLog(Database(database.engine))  # the same database, engine driver
    assert isinstance(engine_only._db.sql, EngineSql)
    assert await engine_only.load("notes/fast") == [b"\x00\x01", b"\x02"]
    rows, last = await engine_only.read_log("notes/fast")
    assert rows == [b"\x00\x01", b"\x02"] and last >= 2
    async with database.read() as session:
        created = (await session.execute(
            sa.select(DocumentUpdate.created_at).where(DocumentUpdate.name == "notes/fast")
        )).scalars().all()
    assert all(c.tzinfo is not None and abs(c - utcnow()) < timedelta(minutes=1)
               for c in created)
    await engine_only.append([("notes/fast", b"\x03")])
    assert await log.load("notes/fast") == [b"\x00\x01", b"\x02", b"\x03"]


async def test_postgres_driver_reconnects_after_losing_its_connection(
    database: Database,
) -> None:
    if not isinstance(database.sql, PgSql):
        return  # SQLite: nothing to check
    log = DocumentLog(database)
    await log.append([("notes/pg", b"1")])
    async with database.engine.connect() as conn:  # kill the pool's backend
        await conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))
    try:  # fails on the dead connection, unless asyncpg already noticed it and reconnected
        await log.append([("notes/pg", b"maybe")])
        maybe = [b"maybe"]
    except Exception:  # asyncpg's or an OSError: the batch was not written
        maybe = []
    await log.append([("notes/pg", b"2")])  # on a new connection either way
    assert await log.load("notes/pg") == [b"1", *maybe, b"2"]
