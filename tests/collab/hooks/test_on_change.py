"""on_change: the applied diff with its origin; nothing for an update already known."""

from __future__ import annotations

from pycrdt import Doc, Text

from collab import Change, Extension
from collab.protocol import encode_update
from tests.collab._kit import doc_name, running, wait_for


class Changes(Extension):
    def __init__(self) -> None:
        self.events: list[Change] = []

    async def on_change(self, event: Change) -> None:
        self.events.append(event)


async def test_on_change_once_per_new_update_with_client_origin() -> None:
    changes = Changes()
    doc: Doc = Doc()
    doc["t"] = Text("hi")
    async with running(extensions=[changes]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        await client.send(encode_update(doc.get_update()))
        await client.send(encode_update(doc.get_update()))  # duplicate: no change
        await client.send(bytes([0, 0, 1, 0]))
        await client.recv()
        await wait_for(lambda: len(changes.events) >= 1)
        [event] = changes.events
        assert event.document == name and event.origin.kind == "client"
        replay: Doc = Doc()
        replay.apply_update(event.update)
        assert str(replay.get("t", type=Text)) == "hi"
        await client.leave()


class Crash(Extension):
    priority = 500

    async def on_change(self, event: Change) -> None:
        raise RuntimeError("indexer bug")


async def test_a_crashing_extension_does_not_hide_the_change_from_the_others() -> None:
    changes = Changes()
    doc: Doc = Doc()
    doc["t"] = Text("hi")
    async with running(extensions=[Crash(), changes]) as h:
        client = await h.connect(doc_name())
        await client.recv()
        await client.send(encode_update(doc.get_update()))
        assert await client.wait_closed() == 1011  # the connection's boundary reports it
        assert len(changes.events) == 1  # but the lower-priority extension still got it
