"""The configurable limits, reached by stock clients against `collab serve` started with small
values (conftest.LIMITS): each closes only the offender, with its documented code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import httpx
import pytest
from backends import Note, RestBackend
from nodeclients import RawClient, YjsClient
from serverprocess import ServerProcess

pytestmark = pytest.mark.interop

Clients = Callable[[str], Awaitable[YjsClient]]
Raws = Callable[[str], Awaitable[RawClient]]


@pytest.fixture
async def limited_note(limited_server: ServerProcess) -> AsyncIterator[Note]:
    async with httpx.AsyncClient(base_url=limited_server.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner = await backend.user("Limited")
        yield Note(owner=owner, id=await backend.note(owner))


async def _editor(yjs: Clients, label: str, server: ServerProcess, note: Note) -> YjsClient:
    client = await yjs(label)
    await client.connect(server.ws_url, note.name, note.owner.token)
    await client.synced()
    return client


async def test_4429_over_the_connections_per_user(
    limited_server: ServerProcess, limited_note: Note, yjs: Clients
) -> None:
    tabs = [await _editor(yjs, f"tab{i}", limited_server, limited_note) for i in range(3)]
    extra = await yjs("tab3")
    await extra.connect(limited_server.ws_url, limited_note.name, limited_note.owner.token)
    code, _ = await extra.wait_for_close()
    assert code == 4429
    # The three admitted tabs are untouched.
    await tabs[0].insert("still here")
    await tabs[2].wait_for_text("still here")


async def test_4413_for_an_edit_that_would_exceed_the_document_size(
    limited_server: ServerProcess, limited_note: Note, yjs: Clients
) -> None:
    writer = await _editor(yjs, "writer", limited_server, limited_note)
    watcher = await _editor(yjs, "watcher", limited_server, limited_note)
    await writer.insert("small")
    await watcher.wait_for_text("small")
    await writer.insert("x" * 100_000)  # over COLLAB_MAX_DOCUMENT_BYTES (64 KiB)
    code, _ = await writer.wait_for_close()
    assert code == 4413
    fresh = await _editor(yjs, "fresh", limited_server, limited_note)
    assert await fresh.text() == "small"
    assert await watcher.text() == "small"


async def test_1013_over_the_message_rate(
    limited_server: ServerProcess, limited_note: Note, raw: Raws, yjs: Clients
) -> None:
    watcher = await _editor(yjs, "watcher", limited_server, limited_note)
    flooder = await raw("flooder")
    token = quote(limited_note.owner.token)
    await flooder.open(f"{limited_server.ws_url}/collab/{limited_note.name}?token={token}")
    await flooder.call("syncStep1")
    # 200 small messages as fast as possible: far over 20/s after a burst of 40.
    await flooder.call("floodAwareness", count=200, size=16, intervalMs=0)
    code, _ = await flooder.wait_for_close()
    assert code == 1013
    assert (await watcher.status())["connected"]
