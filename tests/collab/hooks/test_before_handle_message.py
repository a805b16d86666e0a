"""before_handle_message: sees typed messages, can drop them; read-only guard runs first."""

from __future__ import annotations

from pycrdt import Doc, Text

from collab import BeforeHandleMessage, Extension
from collab.protocol import SyncStep1, SyncStep2, Update, encode_update
from tests.collab._kit import doc_name, running


class DropUpdates(Extension):
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    async def before_handle_message(self, event: BeforeHandleMessage) -> None:
        self.seen.append((type(event.message).__name__, event.drop))
        if isinstance(event.message, Update):
            event.drop = True


async def test_messages_are_typed_and_can_be_dropped() -> None:
    hook = DropUpdates()
    doc: Doc = Doc()
    doc["t"] = Text("dropped")
    async with running(extensions=[hook]) as h:
        name = doc_name()
        client = await h.connect(name)
        assert isinstance(await client.recv_message(), SyncStep1)
        await client.send(encode_update(doc.get_update()))
        await client.send(b"\x03")
        reader = await h.connect(name, "ro-2")
        await reader.recv()
        await reader.send(encode_update(doc.get_update()))
        await reader.send(b"\x03")
        for peer in (client, reader):
            await peer.send(bytes([0, 0, 1, 0]))  # sync step 1: its step 2 reply comes after
            while not isinstance(await peer.recv_message(), SyncStep2):  # everything before it
                pass
        assert ("QueryAwareness", False) in hook.seen  # b"\x03", typed
        assert ("Update", False) in hook.seen
        assert ("Update", True) in hook.seen  # the read-only guard (priority first) dropped it
        document = h.server.registry.documents[name]
        assert str(document.doc.get("t", type=Text)) == ""
        await client.leave()
        await reader.leave()
