"""Every close code of the table (docs/protocol.md), produced by the case that should produce
it and observed by a real client's WebSocket close event."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from backends import Note, RestBackend, mint_token
from nodeclients import RawClient, YjsClient
from serverprocess import ServerFactory, ServerProcess
from stalledclient import StalledClient

pytestmark = pytest.mark.interop

Clients = Callable[[str], Awaitable[YjsClient]]
Raws = Callable[[str], Awaitable[RawClient]]

DATA = Path(__file__).resolve().parents[1] / "data"  # test inputs (tests/data/README.md)
MiB = 1024 * 1024
DEFAULT_MAX_MESSAGE_SIZE = 16 * MiB  # CollabConfig.max_message_size (and uvicorn ws_max_size)


async def _close_code_of(
    yjs: Clients, server: ServerProcess, name: str, token: str | None
) -> int:
    client = await yjs("refused")
    await client.connect(server.ws_url, name, token)
    code, _reason = await client.wait_for_close()
    # y-websocket gives up on 4400-4499: the server said reconnecting cannot help.
    if 4400 <= code < 4500:
        status = await client.status()
        assert status["shouldConnect"] is False
        assert not status["synced"]
    return code


def _socket_url(server: ServerProcess, note: Note, token: str) -> str:
    return f"{server.ws_url}/collab/{note.name}?token={quote(token)}"


@pytest.mark.parametrize("token", [None, "not-a-jwt", "expired"])
async def test_4401_without_a_valid_token(
    server: ServerProcess, note: Note, yjs: Clients, token: str | None
) -> None:
    if token == "expired":
        token = mint_token(note.owner, expires_in=-600)
    assert await _close_code_of(yjs, server, note.name, token) == 4401


async def test_4401_for_a_token_signed_with_another_secret(
    server: ServerProcess, note: Note, yjs: Clients
) -> None:
    forged = mint_token(note.owner, secret="someone-elses-secret-0123456789abcdef")
    assert await _close_code_of(yjs, server, note.name, forged) == 4401


async def test_4403_for_a_note_not_shared_with_the_user(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> None:
    stranger = await backend.user("Stranger")
    assert await _close_code_of(yjs, server, note.name, stranger.token) == 4403


async def test_4404_for_an_unknown_note(server: ServerProcess, note: Note, yjs: Clients) -> None:
    name = f"notes/{uuid.uuid4()}"
    assert await _close_code_of(yjs, server, name, note.owner.token) == 4404


async def test_4410_when_the_note_is_deleted_while_connected(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> None:
    client = await yjs("editor")
    await client.connect(server.ws_url, note.name, note.owner.token)
    await client.synced()
    await backend.delete_note(note.id, note.owner)
    code, _ = await client.wait_for_close()
    assert code == 4410
    assert (await client.status())["shouldConnect"] is False
    # Connecting afterwards is refused permanently as well.
    assert await _close_code_of(yjs, server, note.name, note.owner.token) in (4404, 4410)


async def test_1002_for_a_malformed_message(server: ServerProcess, note: Note, raw: Raws) -> None:
    client = await raw("malformed")
    await client.open(_socket_url(server, note, note.owner.token))
    await client.call("syncStep1")
    await client.call("sendHex", hex="00ff01")  # sync message of unknown type 255, truncated
    code, _ = await client.wait_for_close()
    assert code == 1002


async def test_1011_for_an_update_that_panics_yrs_and_the_room_carries_on(
    server: ServerProcess, note: Note, raw: Raws, yjs: Clients
) -> None:
    # This update panics yrs inside pycrdt and poisons the Doc (docs/hazards.md).
    data = json.loads((DATA / "yrs-panic-update.json").read_text())
    peer = await yjs("peer")
    await peer.connect(server.ws_url, note.name, note.owner.token, text="t")
    await peer.synced()
    attacker = await raw("attacker")
    await attacker.open(_socket_url(server, note, note.owner.token))
    await attacker.call("syncStep1")
    for update in data["prefix"]:
        await attacker.call("sendSyncUpdate", hex=update)
    await peer.wait_for_length(64)  # the valid prefix arrived (a 64-character text)
    before = await peer.text()
    await attacker.call("sendSyncUpdate", hex=data["bad"])
    code, _ = await attacker.wait_for_close()
    assert code == 1011

    # Only the sender was closed; the document was rebuilt and keeps working for the others.
    await peer.insert("!")
    fresh = await yjs("fresh")
    await fresh.connect(server.ws_url, note.name, note.owner.token, text="t")
    await fresh.wait_for_text(before + "!")
    assert (await peer.status())["connected"]


async def test_1003_for_a_text_frame(server: ServerProcess, note: Note, raw: Raws) -> None:
    client = await raw("text")
    await client.open(_socket_url(server, note, note.owner.token))
    await client.call("sendText", text="hello")
    code, _ = await client.wait_for_close()
    assert code == 1003


async def test_1009_for_a_message_over_the_size_limit(
    server: ServerProcess, note: Note, raw: Raws, yjs: Clients
) -> None:
    client = await raw("huge")
    await client.open(_socket_url(server, note, note.owner.token))
    await client.call("syncStep1")
    await client.call("sendUpdate", size=DEFAULT_MAX_MESSAGE_SIZE + 1024, timeout=60)
    code, _ = await client.wait_for_close(timeout=30)
    assert code == 1009
    # Nothing of it was applied.
    reader = await yjs("reader")
    await reader.connect(server.ws_url, note.name, note.owner.token)
    await reader.synced()
    assert await reader.text() == ""


async def test_1013_for_a_client_that_stops_reading(
    server: ServerProcess, note: Note, raw: Raws, yjs: Clients
) -> None:
    stuck = StalledClient(_socket_url(server, note, note.owner.token))
    await stuck.open()  # from now on it reads nothing
    try:
        await _flood_past(stuck, server, note, raw, yjs)
    finally:
        await stuck.close()


async def _slow_consumer_closes(http: httpx.AsyncClient) -> float:
    response = await http.get("/metrics")
    assert response.status_code == 200
    total = 0.0
    for line in response.text.splitlines():
        if line.startswith("collab_closes_total{") and 'code="1013"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _flood_past(
    stuck: StalledClient, server: ServerProcess, note: Note, raw: Raws, yjs: Clients
) -> None:
    flooder = await raw("flooder")
    await flooder.open(_socket_url(server, note, note.owner.token))
    await flooder.call("syncStep1")
    observer = await yjs("observer")
    await observer.connect(server.ws_url, note.name, note.owner.token)
    await observer.synced()
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        closes_before = await _slow_consumer_closes(http)

        # Large awareness states (never stored, so the note stays small), under the
        # per-connection message rate. The server relays at most one awareness frame per 50 ms,
        # ~20 MiB/s here: the stuck client's 16 MiB send buffer (plus ~4 MiB of kernel buffers)
        # overflows in about a second.
        flood = asyncio.create_task(
            flooder.call("floodAwareness", count=80, size=1024 * 1024, intervalMs=25, timeout=60)
        )
        # The room is not slowed down by the stuck client: edits still reach the observer.
        writer = await yjs("writer")
        await writer.connect(server.ws_url, note.name, note.owner.token)
        await writer.synced()
        await writer.insert("still flowing")
        await observer.wait_for_text("still flowing", timeout=15)

        # The close frame sits behind what is already in flight, and the server gives up on
        # delivering it after a few seconds: read again as soon as the server has decided
        # (its close counter), as a slow but live client would.
        async with asyncio.timeout(20):
            while await _slow_consumer_closes(http) == closes_before:
                await asyncio.sleep(0.05)
        async with asyncio.timeout(30):
            assert await stuck.drain() == 1013
        await flood


async def test_1001_when_the_server_shuts_down(
    server_factory: ServerFactory, yjs: Clients
) -> None:
    own = server_factory("shutdown")
    async with httpx.AsyncClient(base_url=own.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner = await backend.user("Owner")
        note = Note(owner=owner, id=await backend.note(owner))
    client = await yjs("editor")
    await client.connect(own.ws_url, note.name, owner.token)
    await client.synced()
    await client.insert("before shutdown")
    await asyncio.to_thread(own.terminate)
    code, _ = await client.wait_for_close()
    print("close code on shutdown:", code)
    assert code in (1001, 1012)
    # A transient code: the stock client keeps trying to reconnect.
    assert (await client.status())["shouldConnect"] is True
