"""The server process stops and starts again on the same data directory (and database) between
edits: graceful SIGTERM (flush on exit) and SIGKILL with the clients still running; on the
embedded SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from backends import Note, RestBackend
from nodeclients import YjsClient
from serverprocess import ServerFactory, ServerProcess

pytestmark = pytest.mark.interop

Clients = Callable[[str], Awaitable[YjsClient]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_server(
    request: pytest.FixtureRequest, server_factory: ServerFactory
) -> ServerProcess:
    if request.param == "postgres":
        database = request.getfixturevalue("fresh_pg_url")
        return server_factory("restartable", DATABASE_URL=database, COLLAB_AUTO_MIGRATE="true")
    return server_factory("restartable")  # embedded SQLite under the data dir


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


async def test_sigterm_between_edits_loses_nothing(
    own_server: ServerProcess, own_note: Note, yjs: Clients
) -> None:
    token = own_note.owner.token
    editor = await yjs("editor")
    await editor.connect(own_server.ws_url, own_note.name, token)
    await editor.synced()
    await editor.insert("first edit")
    await _server_has(yjs, own_server, own_note, "first edit")
    await editor.close()  # nobody is left to re-send it: only the server's store has it

    await _restart(own_server, kill=False)
    second = await yjs("second")
    await second.connect(own_server.ws_url, own_note.name, token)
    await second.synced()
    assert await second.text() == "first edit"
    await second.insert(", second edit")
    await _server_has(yjs, own_server, own_note, "first edit, second edit")
    await second.close()

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
