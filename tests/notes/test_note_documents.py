"""notes.content: seeding, reading, restoring and automatic versions of note documents."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from prometheus_client import CollectorRegistry
from pycrdt import Doc

from collab.config import CollabConfig
from collab.extensions.persistence import Persistence
from collab.hooks import AfterUnloadDocument, Extension, Origin
from collab.server import CollabServer
from notes.autoversions import AutoVersions
from notes.content import (
    current_state,
    doc_from_updates,
    document_name,
    note_text,
    restore_state,
    seed_note_content,
)
from notes.markdown import to_markdown
from notes.richtext import write_plain_text
from storage.db import Database
from storage.documents import DocumentLog
from storage.notes import NoteRepository
from storage.users import UserRepository
from storage.versions import VersionRepository

SEED = "# Día 1 👩‍💻\n\nWe **met** at the café.\n\n- ünïcode\n- 漢字"


async def new_note(db: Database) -> uuid.UUID:
    user = await UserRepository(db).create(
        email=f"c-{uuid.uuid4().hex[:8]}@example.com", name="Cy", password_hash="x"
    )
    return (await NoteRepository(db).create(user.id, title="Content")).id


class Unloaded(Extension):
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def after_unload_document(self, event: AfterUnloadDocument) -> None:
        self.event.set()


def make_server(db: Database, *extensions: Extension, **config: Any) -> CollabServer:
    return CollabServer(
        CollabConfig(**config),
        [Persistence(DocumentLog(db)), *extensions],
        metrics_registry=CollectorRegistry(),
    )


async def test_seed_is_durable_and_readable_live_and_from_the_log(database: Database) -> None:
    note_id = await new_note(database)
    log = DocumentLog(database)
    expected = "Día 1 👩‍💻\nWe met at the café.\nünïcode\n漢字"

    async with make_server(database, unload_delay=3600) as server:
        await seed_note_content(server, log, note_id, SEED)
        assert server.is_loaded(document_name(note_id))
        assert await note_text(server, log, note_id) == expected

    # After shutdown the document is only in the log.
    assert await note_text(None, log, note_id) == expected
    doc = doc_from_updates(await log.load(document_name(note_id)))
    assert to_markdown(doc) == "# Día 1 👩‍💻\n\nWe **met** at the café.\n\n- ünïcode\n- 漢字\n"


async def test_plain_text_seed_keeps_lines(database: Database) -> None:
    note_id = await new_note(database)
    log = DocumentLog(database)
    async with make_server(database, unload_delay=3600) as server:
        await seed_note_content(server, log, note_id, "# not a heading\nline 2", fmt="text")
        text = await note_text(server, log, note_id)
    assert text == "# not a heading\nline 2"


async def test_without_a_collab_server_edits_go_to_the_log(database: Database) -> None:
    note_id = await new_note(database)
    log = DocumentLog(database)
    versions = VersionRepository(database)

    await seed_note_content(None, log, note_id, "offline é 👩‍💻")
    saved = await versions.create(note_id, await current_state(None, log, note_id))
    await seed_note_content(None, log, note_id, "more")
    assert await note_text(None, log, note_id) == "offline é 👩‍💻\nmore"
    await restore_state(None, log, note_id, (await versions.get(note_id, saved.id) or (0, b""))[1])
    assert len(await log.load(document_name(note_id))) == 3

    # A server that loads the document afterwards sees the restored content.
    server = make_server(database, unload_delay=3600)
    async with server, server.open_direct(document_name(note_id)):
        assert server.is_loaded(document_name(note_id))
        assert await note_text(server, log, note_id) == "offline é 👩‍💻"


async def test_restore_is_a_new_edit_and_keeps_history(database: Database) -> None:
    note_id = await new_note(database)
    log = DocumentLog(database)
    versions = VersionRepository(database)

    async with make_server(database, unload_delay=3600) as server:
        await seed_note_content(server, log, note_id, "first draft é")
        saved = await versions.create(note_id, await current_state(server, log, note_id))
        async with server.open_direct(document_name(note_id)) as session:
            session.transact(lambda doc: write_plain_text(doc, "later edit 👍"))
        assert await note_text(server, log, note_id) == "first draft é\nlater edit 👍"
        before_restore = await current_state(server, log, note_id)

        found = await versions.get(note_id, saved.id)
        assert found is not None
        await restore_state(server, log, note_id, found[1])
        assert await note_text(server, log, note_id) == "first draft é"

    # The restore is one more update on top: the pre-restore state is still contained in it.
    restored = doc_from_updates(await log.load(document_name(note_id)))
    assert to_markdown(restored) == "first draft é\n"
    probe = doc_from_updates([before_restore])
    assert restored.get_update(probe.get_state()) != b"\x00\x00"  # strictly newer
    assert to_markdown(doc_from_updates([before_restore])) == "first draft é\n\nlater edit 👍\n"


async def test_auto_versions_on_store_and_on_unload(database: Database) -> None:
    note_id = await new_note(database)
    versions = VersionRepository(database)
    auto = AutoVersions(versions, interval=0, keep=2)
    unloaded = Unloaded()
    server = make_server(database, auto, unloaded, unload_delay=0.01, store_debounce=0.01)
    name = document_name(note_id)

    async with server:
        for i in range(4):
            async with server.open_direct(name) as session:
                line = f"edit {i}"
                session.transact(lambda doc: write_plain_text(doc, line))  # noqa: B023
        async with asyncio.timeout(15):
            await unloaded.event.wait()

    listed = await versions.list(note_id)
    assert auto.created >= 1
    assert 1 <= len(listed) <= 2 and all(v.auto for v in listed)
    latest = await versions.get(note_id, listed[0].id)
    assert latest is not None
    assert to_markdown(doc_from_updates([latest[1]])) == "edit 0\n\nedit 1\n\nedit 2\n\nedit 3\n"


async def test_peer_changes_take_no_versions(database: Database) -> None:
    note_id = await new_note(database)
    versions = VersionRepository(database)
    auto = AutoVersions(versions, interval=0)
    other: Doc[Any] = Doc()
    write_plain_text(other, "from another node")
    name = document_name(note_id)
    async with make_server(database, auto, unload_delay=3600) as server:
        async with server.open_direct(name):
            await server.apply_remote_update(name, other.get_update(), Origin.PEER("n2"))
        assert await note_text(server, DocumentLog(database), note_id) == "from another node"
    assert await versions.list(note_id) == []
    assert auto.created == 0
