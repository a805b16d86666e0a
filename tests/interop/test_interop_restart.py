"""The server process stops and starts again on the same data directory (and database) between
edits: graceful SIGTERM (flush on exit) and SIGKILL with the clients still running; on the
embedded SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from backends import Note, RestBackend
from nodeclients import YjsClient
from pycrdt import Doc, Text
from serverprocess import ServerFactory, ServerProcess

from storage.db import connect
from storage.documents import DocumentLog

pytestmark = pytest.mark.interop

Clients = Callable[[str], Awaitable[YjsClient]]
SHUTDOWN_TIMEOUT = 1


# Writes held back: the group-commit window at its maximum and documents never unloaded while
# the server runs, so an edit made just before SIGTERM is stored only by the shutdown flush.
HOLD_WRITES = {"COLLAB_PERSIST_INTERVAL": "1", "COLLAB_UNLOAD_DELAY": "600"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_server(
    request: pytest.FixtureRequest, server_factory: ServerFactory
) -> ServerProcess:
    if request.param == "postgres":
        database = request.getfixturevalue("fresh_pg_url")
        return server_factory(
            "restartable", DATABASE_URL=database, COLLAB_AUTO_MIGRATE="true", **HOLD_WRITES
        )
    return server_factory("restartable", **HOLD_WRITES)  # embedded SQLite under the data dir


def database_of(server: ServerProcess) -> str:
    url = server.env.get("DATABASE_URL")
    return url or f"sqlite+aiosqlite:///{Path(server.env['COLLAB_DATA_DIR']) / 'collab.db'}"


async def stored_text(server: ServerProcess, note: Note) -> str:
    """The note's text as the database has it right now (not as the server holds it)."""
    doc: Doc[Text] = Doc()
    doc["content"] = content = Text()
    async with connect(database_of(server)) as db:
        for update in await DocumentLog(db).load(note.name):
            doc.apply_update(update)
    return str(content)


@pytest.fixture
async def own_note(own_server: ServerProcess) -> AsyncIterator[Note]:
    async with httpx.AsyncClient(base_url=own_server.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner = await backend.user("Owner")
        yield Note(owner=owner, id=await backend.note(owner))


async def _restart(server: ServerProcess, *, kill: bool) -> None:
    if kill:
        await asyncio.to_thread(server.kill)
    else:
        # uvicorn re-raises SIGTERM after its graceful shutdown, hence -SIGTERM.
        status = await asyncio.to_thread(server.terminate)
        assert status in (0, -signal.SIGTERM), server.log()
        assert "Application shutdown complete" in server.log()
    await asyncio.to_thread(server.start)


async def _server_has(yjs: Clients, server: ServerProcess, note: Note, text: str) -> None:
    """A new client receives `text`: the server applied the edit (so the editor may leave)."""
    witness = await yjs("witness")
    await witness.connect(server.ws_url, note.name, note.owner.token)
    await witness.wait_for_text(text)
    await witness.close()


async def _edit_then_leave(
    yjs: Clients, server: ServerProcess, note: Note, text: str, before: str
) -> None:
    """Insert `text`, wait until the server applied it, then close every client, all inside the
    group-commit window: nobody is left to re-send it and the store does not have it yet."""
    witness = await yjs("witness")  # connected first, so seeing the edit takes one broadcast
    await witness.connect(server.ws_url, note.name, note.owner.token)
    await witness.synced()
    editor = await yjs("editor")
    await editor.connect(server.ws_url, note.name, note.owner.token)
    await editor.synced()
    await editor.insert(text)
    await witness.wait_for_text(before + text)
    await editor.close()
    await witness.close()
    assert await stored_text(server, note) == before, "stored before SIGTERM: window too short"


async def test_sigterm_between_edits_loses_nothing(
    own_server: ServerProcess, own_note: Note, yjs: Clients
) -> None:
    token = own_note.owner.token
    await _edit_then_leave(yjs, own_server, own_note, "first edit", "")
    await _restart(own_server, kill=False)  # only the shutdown flush can store it
    assert await stored_text(own_server, own_note) == "first edit"

    second = await yjs("second")
    await second.connect(own_server.ws_url, own_note.name, token)
    await second.synced()
    assert await second.text() == "first edit"
    await second.close()
    await _edit_then_leave(yjs, own_server, own_note, ", second edit", "first edit")
    await _restart(own_server, kill=False)
    third = await yjs("third")
    await third.connect(own_server.ws_url, own_note.name, token)
    await third.synced()
    # Exactly once: a restart never duplicates content.
    assert await third.text() == "first edit, second edit"


async def test_sigkill_mid_edit_with_clients_running_loses_nothing(
    own_server: ServerProcess, own_note: Note, yjs: Clients
) -> None:
    token = own_note.owner.token
    a = await yjs("a")
    b = await yjs("b")
    for client in (a, b):
        await client.connect(own_server.ws_url, own_note.name, token)
        await client.synced()
    for n in range(30):
        await (a if n % 2 else b).insert(f"<{n}>")
    await _restart(own_server, kill=True)
    # Edits made while the server is gone are buffered by the clients.
    await a.insert("[while down]")
    # The stock clients reconnect by themselves and re-sync in both directions.
    await a.synced(timeout=20)
    await b.synced(timeout=20)
    # Whatever the server had stored when it died, the two clients together hold everything.
    expected_length = sum(len(f"<{n}>") for n in range(30)) + len("[while down]")
    await a.wait_for_length(expected_length, timeout=20)
    await b.wait_for_length(expected_length, timeout=20)
    assert await a.text() == await b.text()

    fresh = await yjs("fresh")
    await fresh.connect(own_server.ws_url, own_note.name, token)
    await fresh.synced()
    text = await fresh.text()
    assert text == await a.text()
    assert all(f"<{n}>" in text for n in range(30))
    assert "[while down]" in text



@pytest.mark.postgres
async def test_sigterm_gives_up_on_a_stuck_database_after_the_shutdown_timeout(
    server_factory: ServerFactory, fresh_pg_url: str, yjs: Clients
) -> None:
    # COLLAB_SHUTDOWN_TIMEOUT bounds how long SIGTERM waits for stores: the edit is held in the
    # group-commit window, then the table it goes to is locked by another session.
    server = server_factory(
        "stuck-db", DATABASE_URL=fresh_pg_url, COLLAB_AUTO_MIGRATE="true",
        COLLAB_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT), **HOLD_WRITES,
    )
    async with httpx.AsyncClient(base_url=server.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner = await backend.user("Owner")
        note = Note(owner=owner, id=await backend.note(owner))
    await _edit_then_leave(yjs, server, note, "unsaved", "")
    admin = await asyncpg.connect(fresh_pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        lock = admin.transaction()
        await lock.start()
        await admin.execute("LOCK TABLE document_updates IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        status = await asyncio.to_thread(server.terminate, 60)
        elapsed = time.monotonic() - started
        await lock.rollback()
    finally:
        await admin.close()
    assert status in (0, -signal.SIGTERM), server.log()
    # It waited for the store (closing, storing, the last flush: each bounded by the timeout)
    # and then gave up; Persistence's own 10 s default no longer applies.
    assert SHUTDOWN_TIMEOUT <= elapsed < 3 * SHUTDOWN_TIMEOUT + 3, (elapsed, server.log())
    assert "updates not stored" in server.log()
