"""after_load_document: once per load, after the content is in, before any client syncs."""

from __future__ import annotations

from pycrdt import Text

from collab import AfterLoadDocument, Extension, LoadDocument
from tests.collab._kit import doc_name, running


class Both(Extension):
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.connections_at_after_load = -1

    async def on_load_document(self, event: LoadDocument) -> None:
        event.doc.get("t", type=Text).insert(0, "abc")

    async def after_load_document(self, event: AfterLoadDocument) -> None:
        self.seen.append(str(event.doc.get("t", type=Text)))


async def test_after_load_sees_loaded_doc_once() -> None:
    both = Both()
    async with running(extensions=[both]) as h:
        name = doc_name()
        a, b = await h.connect(name, "user-a"), await h.connect(name, "user-b")
        await a.recv()
        await b.recv()
        assert both.seen == ["abc"]
        await a.leave()
        await b.leave()
