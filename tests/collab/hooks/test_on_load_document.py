"""on_load_document: fills the Doc before anyone syncs; a failure reaches every waiter."""

from __future__ import annotations

import anyio
from pycrdt import Text

from collab import Extension, LoadDocument
from collab.errors import CloseCode
from collab.protocol import SyncStep1, SyncStep2
from tests.collab._kit import doc_name, running


class Loader(Extension):
    def __init__(self, fail_times: int = 0) -> None:
        self.calls = 0
        self.fail_times = fail_times

    async def on_load_document(self, event: LoadDocument) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            await anyio.sleep(0.1)  # a slow store, so the second client joins the same load
            raise OSError("store down")
        event.doc.get("t", type=Text).insert(0, "loaded")


async def test_loaded_content_is_what_clients_sync() -> None:
    async with running(extensions=[Loader()]) as h:
        client = await h.connect(doc_name())
        assert isinstance(await client.recv_message(), SyncStep1)
        await client.send(bytes([0, 0, 1, 0]))
        step2 = await client.recv_message()
        assert isinstance(step2, SyncStep2) and b"loaded" in step2.update
        await client.leave()


async def test_failed_load_closes_waiters_with_1011_and_is_retried() -> None:
    loader = Loader(fail_times=1)
    async with running(extensions=[loader]) as h:
        name = doc_name()
        a, b = await h.connect(name, "user-a"), await h.connect(name, "user-b")
        assert await a.wait_closed() == CloseCode.INTERNAL_ERROR
        assert await b.wait_closed() == CloseCode.INTERNAL_ERROR
        assert loader.calls == 1  # one shared load, one shared failure
        c = await h.connect(name, "user-c")
        assert isinstance(await c.recv_message(), SyncStep1)
        assert loader.calls == 2
        await c.leave()
