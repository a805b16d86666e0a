"""A share downgraded to read while its holder is connected: the server itself refuses that
connection's next update. The client here is a raw y-websocket peer that ignores the
downgrade (as a modified or stale page would), so only the server can keep the note unchanged.

Only the REST endpoints and the socket are used: no internal function is called or faked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection

from api.app import create_app
from collab.protocol import (
    SyncStep2,
    decode_message,
    encode_sync_step1,
    encode_update,
)
from tests.api.conftest import bearer, empty_database, make_settings, register, serve


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    await empty_database(database_url)
    app = create_app(
        make_settings(database_url, COOKIE_SECURE=False, COLLAB_DATA_DIR=str(tmp_path))
    )
    async with serve(app) as running:
        yield running


class Peer:
    """A raw peer with its own document; `write` sends one edit as a y-websocket update."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.doc: Doc[Text] = Doc()
        self.doc["probe"] = self.text = Text()

    async def write(self, value: str) -> None:
        updates: list[bytes] = []
        subscription = self.doc.observe(lambda event: updates.append(event.update))
        self.text += value
        self.doc.unobserve(subscription)
        await self.ws.send(encode_update(b"".join(updates[:1])))

    async def resend_everything(self) -> None:
        """What a y-websocket client does on (re)sync: its whole state as one update."""
        await self.ws.send(encode_update(self.doc.get_update()))


async def server_text(url: str) -> str:
    """The probe text of the server's copy: a fresh connection's sync step 2 (full state)."""
    async with websockets.connect(url) as ws:
        await ws.send(encode_sync_step1(Doc().get_state()))
        async with asyncio.timeout(10):
            while True:
                frame = await ws.recv()
                assert isinstance(frame, bytes)
                message = decode_message(frame)
                if isinstance(message, SyncStep2):
                    break
    doc: Doc[Text] = Doc()
    doc["probe"] = probe = Text()
    doc.apply_update(message.update)
    return str(probe)


async def processed(ws: ClientConnection) -> bool:
    """Whether the server handled everything sent before: it answers a sync step 1 in order
    (False if it closed the connection instead, which also means it took no more edits)."""
    try:
        await ws.send(encode_sync_step1(Doc().get_state()))
        async with asyncio.timeout(10):
            while True:
                frame = await ws.recv()
                if isinstance(frame, bytes) and isinstance(decode_message(frame), SyncStep2):
                    return True
    except websockets.ConnectionClosed:
        return False


async def test_a_downgraded_connection_cannot_edit_any_more(live: dict[str, Any]) -> None:
    client: httpx.AsyncClient = live["client"]
    owner = await register(client, name="Owner")
    editor = await register(client, name="Editor")
    auth = bearer(owner["token"])
    note_id = (
        await client.post("/api/workbook/notes", json={"title": "Shared"}, headers=auth)
    ).json()["note"]["id"]
    share = {"email": editor["user"]["email"], "permission": "write"}
    created = await client.post(f"/api/workbook/notes/{note_id}/shares", json=share, headers=auth)
    assert created.status_code == 201, created.text
    url = f"{live['ws']}/{note_id}"
    owner_url = f"{url}?token={owner['token']}"

    async with websockets.connect(f"{url}?token={editor['token']}") as ws:
        peer = Peer(ws)
        await peer.write("allowed")
        assert await processed(ws)
        assert await server_text(owner_url) == "allowed"  # the socket can write: a real control

        downgraded = await client.post(
            f"/api/workbook/notes/{note_id}/shares",
            json={**share, "permission": "read"},
            headers=auth,
        )
        assert downgraded.status_code == 201, downgraded.text
        await peer.write(" after the downgrade")
        await processed(ws)  # answered or closed: either way the update was dealt with

    assert await server_text(owner_url) == "allowed"


async def test_an_upgraded_connection_can_edit_again(live: dict[str, Any]) -> None:
    client: httpx.AsyncClient = live["client"]
    owner = await register(client, name="Owner")
    reader = await register(client, name="Reader")
    auth = bearer(owner["token"])
    note_id = (
        await client.post("/api/workbook/notes", json={"title": "Shared"}, headers=auth)
    ).json()["note"]["id"]
    share = {"email": reader["user"]["email"], "permission": "read"}
    await client.post(f"/api/workbook/notes/{note_id}/shares", json=share, headers=auth)
    url = f"{live['ws']}/{note_id}"
    owner_url = f"{url}?token={owner['token']}"

    async with websockets.connect(f"{url}?token={reader['token']}") as ws:
        peer = Peer(ws)
        await peer.write("refused")
        await processed(ws)
        assert await server_text(owner_url) == ""
        upgraded = await client.post(
            f"/api/workbook/notes/{note_id}/shares",
            json={**share, "permission": "write"},
            headers=auth,
        )
        assert upgraded.status_code == 201, upgraded.text
        await peer.write("!")
        await peer.resend_everything()  # the refused edit is still in the client's document
        assert await processed(ws)
    assert await server_text(owner_url) == "refused!"
