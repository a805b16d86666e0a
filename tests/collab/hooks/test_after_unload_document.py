"""after_unload_document: the document is gone from the registry; a new connect reloads."""

from __future__ import annotations

from collab import AfterUnloadDocument, Extension
from collab.server import CollabServer
from tests.collab._kit import doc_name, running, wait_for


class After(Extension):
    def __init__(self) -> None:
        self.server: CollabServer | None = None
        self.loaded_at_unload: list[bool] = []

    async def after_unload_document(self, event: AfterUnloadDocument) -> None:
        assert self.server is not None
        self.loaded_at_unload.append(self.server.is_loaded(event.document))


async def test_after_unload_document_is_not_loaded_anymore() -> None:
    after = After()
    async with running(extensions=[after]) as h:
        after.server = h.server
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        await client.leave()
        await wait_for(lambda: after.loaded_at_unload == [False])
        again = await h.connect(name)
        await again.recv()
        assert h.server.registry.loads == 2
        await again.leave()
