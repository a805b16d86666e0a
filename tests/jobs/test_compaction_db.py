"""Compaction on the real `DocumentLog` (SQLite and PostgreSQL): content is preserved and rows
appended while a compaction runs (ids above `through_id`) survive it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pycrdt import Doc, Text

from jobs.compaction import compact_all, compact_document
from storage.db import connect
from storage.documents import DocumentLog


@pytest.fixture
async def log(migrated_database_url: str) -> AsyncIterator[DocumentLog]:
    async with connect(migrated_database_url) as database:
        yield DocumentLog(database)


class Editor:
    """One client typing into a doc; collects the updates it produced."""

    def __init__(self) -> None:
        self.doc: Doc[Text] = Doc()
        self.doc["t"] = self.text = Text()
        self.updates: list[bytes] = []
        self.doc.observe(lambda event: self.updates.append(event.update))

    def type(self, value: str) -> list[bytes]:
        start = len(self.updates)
        for char in value:
            self.text.insert(len(str(self.text).encode()), char)
        return self.updates[start:]


def replay(rows: list[bytes]) -> str:
    doc: Doc[Text] = Doc()
    for row in rows:
        doc.apply_update(row)
    return str(doc.get("t", type=Text))


class AppendDuringCompaction:
    """A DocumentLog whose `replace_prefix` first lets a concurrent writer append."""

    def __init__(self, inner: DocumentLog, name: str, late: list[bytes]) -> None:
        self.inner, self.name, self.late = inner, name, late

    async def read_log(self, name: str) -> tuple[list[bytes], int]:
        return await self.inner.read_log(name)

    async def replace_prefix(self, name: str, snapshot: bytes, through_id: int) -> None:
        await self.inner.append([(self.name, update) for update in self.late])
        await self.inner.replace_prefix(name, snapshot, through_id)


async def test_compaction_preserves_content_and_concurrent_appends(log: DocumentLog) -> None:
    name = f"notes/{uuid.uuid4()}"
    editor = Editor()
    await log.append([(name, u) for u in editor.type("héllo wörld 🌍 ")])
    late = editor.type("typed meanwhile")
    result = await compact_document(AppendDuringCompaction(log, name, late), name)
    assert result.compacted
    rows = await log.load(name)
    assert len(rows) == 1 + len(late)  # the snapshot and every late row
    assert replay(rows) == "héllo wörld 🌍 typed meanwhile" == str(editor.text)
    # and a second compaction folds the late rows too
    await compact_document(log, name)
    rows = await log.load(name)
    assert len(rows) == 1 and replay(rows) == str(editor.text)


async def test_compact_all_on_the_database(log: DocumentLog) -> None:
    busy, quiet = f"notes/{uuid.uuid4()}", f"notes/{uuid.uuid4()}"
    editor = Editor()
    await log.append([(busy, u) for u in editor.type("x" * 50)])
    await log.append([(quiet, u) for u in Editor().type("abc")])
    results = await compact_all(log, min_updates=10)
    assert busy in [r.name for r in results] and quiet not in [r.name for r in results]
    assert len(await log.load(busy)) == 1
    assert replay(await log.load(busy)) == "x" * 50
    assert len(await log.load(quiet)) == 3
