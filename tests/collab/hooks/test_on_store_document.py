"""on_store_document: debounced after changes, once for a burst, and on unload."""

from __future__ import annotations

from dataclasses import replace

from pycrdt import Doc, Text

from collab import Extension, StoreDocument
from collab.protocol import encode_update
from tests.collab._kit import FAST, doc_name, running, wait_for


class Stores(Extension):
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def on_store_document(self, event: StoreDocument) -> None:
        self.texts.append(str(event.doc.get("t", type=Text)))


async def test_store_is_debounced_and_sees_the_document() -> None:
    stores = Stores()
    config = replace(FAST, store_debounce=0.3, store_max_debounce=5, unload_delay=60)
    async with running(config, [stores]) as h:
        client = await h.connect(doc_name())
        await client.recv()
        doc: Doc = Doc()
        text = doc.get("t", type=Text)
        for ch in "abcdef":
            state = doc.get_state()
            text += ch
            await client.send(encode_update(doc.get_update(state)))
        await wait_for(lambda: stores.texts[-1:] == ["abcdef"])
        assert len(stores.texts) < 6  # debounced (one store unless the machine stalled 0.3 s)
        await client.leave()


async def test_store_runs_before_unload() -> None:
    stores = Stores()
    config = replace(FAST, store_debounce=60, store_max_debounce=60, unload_delay=0.01)
    async with running(config, [stores]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        doc: Doc = Doc()
        doc["t"] = Text("x")
        await client.send(encode_update(doc.get_update()))
        await client.leave()
        await wait_for(lambda: not h.server.is_loaded(name))
        assert stores.texts == ["x"]
