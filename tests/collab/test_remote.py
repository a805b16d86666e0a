"""The fan-out entry points: updates and awareness from other nodes reach local clients."""

from __future__ import annotations

import anyio
from pycrdt import Doc, Text

from collab import Change, Extension, Origin
from collab.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    decode_awareness,
    encode_awareness_entries,
)
from tests.collab._kit import SyncedClient, doc_name, pump, running, wait_for


class Changes(Extension):
    def __init__(self) -> None:
        self.origins: list[Origin] = []

    async def on_change(self, event: Change) -> None:
        self.origins.append(event.origin)


async def test_remote_update_reaches_local_clients_with_peer_origin() -> None:
    changes = Changes()
    async with running(extensions=[changes]) as h:
        name = doc_name()
        conn = await h.connect(name)
        client = SyncedClient(conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, conn, client)
            await client.start()
            with anyio.fail_after(5):
                await client.synced.wait()
            doc: Doc = Doc()
            doc["t"] = Text("from node 2")
            await h.server.apply_remote_update(name, doc.get_update(), Origin.PEER("node-2"))
            await wait_for(lambda: str(client.text) == "from node 2")
            assert changes.origins == [Origin.PEER("node-2")]
            # a document that is not loaded here is left alone (its node stored the update)
            await h.server.apply_remote_update(doc_name(), doc.get_update(), Origin.PEER("n"))
            assert len(h.server.registry.documents) == 1
            await conn.leave()


async def test_remote_awareness_reaches_local_clients() -> None:
    async with running() as h:
        name = doc_name()
        conn = await h.connect(name)
        await conn.recv()
        payload = encode_awareness_entries([AwarenessEntry(5, 2, {"user": {"id": "far"}})])
        await h.server.apply_remote_awareness(name, payload, Origin.PEER("node-2"))
        message = await conn.recv_message()
        assert isinstance(message, AwarenessUpdate)
        assert decode_awareness(message.payload) == [AwarenessEntry(5, 2, {"user": {"id": "far"}})]
        await conn.leave()
