"""after_store_document: only after every on_store_document hook succeeded."""

from __future__ import annotations

from dataclasses import replace

from pycrdt import Doc, Text

from collab import AfterStoreDocument, Extension, StoreDocument
from collab.protocol import encode_update
from tests.collab._kit import FAST, doc_name, running, wait_for


class Flaky(Extension):
    def __init__(self) -> None:
        self.attempts = 0
        self.after: list[str] = []

    async def on_store_document(self, event: StoreDocument) -> None:
        self.attempts += 1
        if self.attempts == 1:
            raise OSError("first store fails")

    async def after_store_document(self, event: AfterStoreDocument) -> None:
        self.after.append(event.document)


async def test_after_store_only_after_success() -> None:
    flaky = Flaky()
    config = replace(FAST, store_debounce=0.01, store_max_debounce=0.05, unload_delay=60)
    async with running(config, [flaky]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        doc: Doc = Doc()
        doc["t"] = Text("x")
        await client.send(encode_update(doc.get_update()))
        await wait_for(lambda: flaky.after == [name])
        assert flaky.attempts == 2  # the failed attempt was retried, the document kept dirty
        await client.leave()
