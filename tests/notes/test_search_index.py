"""Search in step with live edits: a word typed through the collab front door is found by search."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry
from pycrdt import Doc

from collab.config import CollabConfig
from collab.server import CollabServer
from notes.markdown import write_markdown
from notes.richtext import write_plain_text
from notes.search_index import SearchIndexer, note_id_of
from storage.db import Database
from storage.notes import NoteRepository
from storage.users import UserRepository


class RecordingSink:
    """The real repository, plus an event per write so tests wait without sleeping."""

    def __init__(self, inner: NoteRepository) -> None:
        self.inner = inner
        self.writes: list[tuple[uuid.UUID, str]] = []
        self._changed = asyncio.Event()

    async def set_content_text(self, note_id: uuid.UUID, text: str) -> bool:
        stored = await self.inner.set_content_text(note_id, text)
        self.writes.append((note_id, text))
        self._changed.set()
        return stored

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


async def new_note(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    user = await UserRepository(db).create(
        email=f"s-{uuid.uuid4().hex[:8]}@example.com", name="Sam", password_hash="x"
    )
    note = await NoteRepository(db).create(user.id, title="Live note")
    return user.id, note.id


def indexing(
    database: Database, *, debounce: float, max_delay: float, unload_delay: float
) -> tuple[RecordingSink, SearchIndexer, CollabServer]:
    """A server whose one extension is a SearchIndexer writing through a RecordingSink."""
    sink = RecordingSink(NoteRepository(database))
    indexer = SearchIndexer(sink, debounce=debounce, max_delay=max_delay)
    config = CollabConfig(unload_delay=unload_delay)
    return sink, indexer, CollabServer(config, [indexer], metrics_registry=CollectorRegistry())


async def edit(
    server: CollabServer, name: str, text: str,
    write: Callable[[Doc, str], None] = write_plain_text,
) -> None:
    """One edit through the server's front door, as a client's would arrive."""
    async with server.open_direct(name, actor="test") as session:
        session.transact(lambda doc: write(doc, text))


async def test_word_typed_seconds_ago_is_found(database: Database) -> None:
    user_id, note_id = await new_note(database)
    word = f"zebra{uuid.uuid4().hex[:6]}"
    sink, _, server = indexing(database, debounce=0.05, max_delay=0.5, unload_delay=60)
    notes = sink.inner

    async with server:
        await edit(server, f"notes/{note_id}", "# Café 👩‍💻 notes\n\n- ünïcode", write_markdown)
        await edit(server, f"notes/{note_id}", f"typed {word} just now")

        await sink.wait_for(lambda: any(word in text for _, text in sink.writes))
        hits, total = await notes.search(user_id, word)

    assert total == 1 and hits[0].note.id == note_id
    stored = await notes.get(note_id)
    assert stored is not None
    assert stored.content_text == f"Café 👩‍💻 notes\nünïcode\ntyped {word} just now"
    # Both edits fell inside one debounce window or two; never more writes than edits.
    assert 1 <= len(sink.writes) <= 2


async def test_pending_text_is_written_when_the_document_unloads(database: Database) -> None:
    user_id, note_id = await new_note(database)
    sink, _, server = indexing(database, debounce=3600, max_delay=3600, unload_delay=0.01)

    async with server:
        await edit(server, f"notes/{note_id}", "unload flushes me")
        await sink.wait_for(lambda: bool(sink.writes))
        assert not server.is_loaded(f"notes/{note_id}")

    hits, _ = await sink.inner.search(user_id, "flushes")
    assert [hit.note.id for hit in hits] == [note_id]


async def test_shutdown_writes_what_is_still_pending(database: Database) -> None:
    _, note_id = await new_note(database)
    sink, _, server = indexing(database, debounce=3600, max_delay=3600, unload_delay=3600)

    async with server:
        await edit(server, f"notes/{note_id}", "still pending at shutdown")
        assert sink.writes == []

    assert sink.writes == [(note_id, "still pending at shutdown")]


async def test_other_documents_are_ignored(database: Database) -> None:
    sink, indexer, server = indexing(database, debounce=0, max_delay=0, unload_delay=0.01)
    async with server:
        await edit(server, f"sessions/{uuid.uuid4()}", "room state")
    # Shutdown flushes everything pending, so a tracked document would have been written.
    assert sink.writes == []
    assert indexer.indexed == 0


def test_note_id_of() -> None:
    note_id = uuid.uuid4()
    assert note_id_of(f"notes/{note_id}") == note_id
    assert note_id_of("notes/not-a-uuid") is None
    assert note_id_of(f"sessions/{note_id}") is None
    with pytest.raises(ValueError, match="debounce"):
        SearchIndexer(
            RecordingSink(NoteRepository.__new__(NoteRepository)), debounce=2, max_delay=1
        )
