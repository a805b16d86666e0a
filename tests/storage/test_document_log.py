from __future__ import annotations

import asyncio

import pycrdt

from storage.db import Database
from storage.documents import DocumentLog


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
