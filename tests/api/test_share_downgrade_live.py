"""A share downgraded to read while its holder is connected: the server itself refuses that
connection's next update. The client here is a raw y-websocket peer that ignores the
downgrade (as a modified or stale page would), so only the server can keep the note unchanged.

Only the REST endpoints and the socket are used: no internal function is called or faked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import websockets
from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection

from collab.protocol import (
    SyncStep2,
    decode_message,
    encode_sync_step1,
    encode_update,
)
from tests.api.conftest import bearer, register


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


class SharedNote:
    """A note its owner shared with one other user, and the socket URLs to it."""

    def __init__(self, client: httpx.AsyncClient, owner: dict[str, Any], holder: dict[str, Any],
                 note_id: str, ws: str) -> None:
        self.client, self.note_id = client, note_id
        self.auth = bearer(owner["token"])
        self.holder_email = holder["user"]["email"]
        url = f"{ws}/{note_id}"
        self.owner_url = f"{url}?token={owner['token']}"
        self.holder_url = f"{url}?token={holder['token']}"

    async def share(self, permission: str) -> None:
        """Creates or changes the holder's share through REST."""
        response = await self.client.post(
            f"/api/workbook/notes/{self.note_id}/shares",
            json={"email": self.holder_email, "permission": permission},
            headers=self.auth,
        )
        assert response.status_code == 201, response.text


async def shared_note(live_app: dict[str, Any], permission: str) -> SharedNote:
    client: httpx.AsyncClient = live_app["client"]
    owner = await register(client, name="Owner")
    holder = await register(client, name="Holder")
    created = await client.post(
        "/api/workbook/notes", json={"title": "Shared"}, headers=bearer(owner["token"])
    )
    note = SharedNote(client, owner, holder, created.json()["note"]["id"], live_app["ws"])
    await note.share(permission)
    return note


async def test_a_downgraded_connection_cannot_edit_any_more(live_app: dict[str, Any]) -> None:
    note = await shared_note(live_app, "write")

    async with websockets.connect(note.holder_url) as ws:
        peer = Peer(ws)
        await peer.write("allowed")
        assert await processed(ws)
        # the socket can write: a real control
        assert await server_text(note.owner_url) == "allowed"

        await note.share("read")
        await peer.write(" after the downgrade")
        await processed(ws)  # answered or closed: either way the update was dealt with

    assert await server_text(note.owner_url) == "allowed"


async def test_an_upgraded_connection_can_edit_again(live_app: dict[str, Any]) -> None:
    note = await shared_note(live_app, "read")

    async with websockets.connect(note.holder_url) as ws:
        peer = Peer(ws)
        await peer.write("refused")
        await processed(ws)
        assert await server_text(note.owner_url) == ""
        await note.share("write")
        await peer.write("!")
        await peer.resend_everything()  # the refused edit is still in the client's document
        assert await processed(ws)
    assert await server_text(note.owner_url) == "refused!"
