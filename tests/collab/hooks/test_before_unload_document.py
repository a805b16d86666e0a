"""before_unload_document: after the last client left and the stores ran, with the Doc."""

from __future__ import annotations

from pycrdt import Doc, Text

from collab import BeforeUnloadDocument, Extension
from collab.protocol import encode_update
from tests.collab._kit import doc_name, running, wait_for


class Unload(Extension):
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def before_unload_document(self, event: BeforeUnloadDocument) -> None:
        self.texts.append(str(event.doc.get("t", type=Text)))


async def test_before_unload_sees_final_doc() -> None:
    unload = Unload()
    async with running(extensions=[unload]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        doc: Doc = Doc()
        doc["t"] = Text("final")
        await client.send(encode_update(doc.get_update()))
        await client.leave()
        await wait_for(lambda: unload.texts == ["final"])
