"""Compaction folds the log into a snapshot without losing content or concurrent appends."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from memory_log import MemoryLog
from pycrdt import Doc, Text

from jobs.compaction import compact_all, compact_document, fold_updates

NAME = "notes/00000000-0000-0000-0000-000000000001"


def edits(text: str, count: int) -> tuple[list[bytes], Doc[Text]]:
    """`count` single-character updates typed by one client, plus the resulting doc."""
    doc: Doc[Text] = Doc()
    doc["content"] = content = Text()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(count):
        # pycrdt text positions are UTF-8 byte offsets (docs/hazards.md): append at the byte end
        content.insert(len(str(content).encode()), text[i % len(text)])
    return updates, doc


def text_of(updates: Sequence[bytes]) -> str:
    doc: Doc[Text] = Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("content", type=Text))


def test_fold_updates_equals_the_replayed_state() -> None:
    updates, doc = edits("héllo 🌍 ", 50)
    expected = ("héllo 🌍 " * 7)[:50]
    assert str(doc["content"]) == expected
    assert text_of([fold_updates(updates)]) == expected


async def test_compaction_preserves_content() -> None:
    log = MemoryLog()
    updates, doc = edits("abc", 40)
    await log.append([(NAME, update) for update in updates])
    result = await compact_document(log, NAME)
    assert result.compacted and result.rows == 40
    stored = await log.load(NAME)
    assert len(stored) == 1
    assert text_of(stored) == str(doc["content"])


async def test_appends_during_compaction_survive() -> None:
    log = MemoryLog()
    first, doc = edits("xy", 30)
    await log.append([(NAME, update) for update in first])
    late: list[bytes] = []
    doc.observe(lambda event: late.append(event.update))
    doc["content"].insert(0, "LATE ")
    log.before_replace = [(NAME, update) for update in late]  # lands between read and replace
    result = await compact_document(log, NAME)
    stored = await log.load(NAME)
    assert len(stored) == 1 + len(late)
    assert text_of(stored) == str(doc["content"])
    assert result.through_id < max(row_id for row_id, _, _ in log.rows)


async def test_compact_all_uses_the_threshold_and_isolates_failures() -> None:
    log = MemoryLog()
    small, _ = edits("s", 3)
    big, big_doc = edits("b", 20)
    await log.append([("notes/small", u) for u in small])
    await log.append([("notes/big", u) for u in big])
    await log.append([("notes/broken", b"\xff\x00garbage")] * 20)
    results = await compact_all(log, min_updates=10)
    assert [r.name for r in results] == ["notes/big"]
    assert text_of(await log.load("notes/big")) == str(big_doc["content"])
    assert len(await log.load("notes/small")) == 3
    assert len(await log.load("notes/broken")) == 20


async def test_nothing_to_do_for_a_single_row() -> None:
    log = MemoryLog()
    await log.append([(NAME, fold_updates(edits("a", 5)[0]))])
    result = await compact_document(log, NAME)
    assert not result.compacted
    assert len(log.rows) == 1


@pytest.mark.parametrize("count", [0])
async def test_empty_document(count: int) -> None:
    result = await compact_document(MemoryLog(), NAME)
    assert result.rows == count and not result.compacted
