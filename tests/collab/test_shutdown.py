"""Shutdown: ordered, idempotent, flushes stores; extensions are entered and exited."""

from __future__ import annotations

from dataclasses import replace
from types import TracebackType

import anyio
from pycrdt import Doc, Text

from collab import CollabServer, Extension, MemoryStore, Persistence, StoreDocument
from collab.errors import CloseCode, ServerGoingAway
from collab.protocol import encode_update
from tests.collab._kit import FAST, TokenAuth, doc_name, running, wait_for


class Lifecycle(Extension):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aenter__(self) -> Lifecycle:
        self.log.append("enter")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.log.append("exit")

    async def on_store_document(self, event: StoreDocument) -> None:
        self.log.append("store")


async def test_shutdown_order_and_idempotent_close() -> None:
    log: list[str] = []
    store = MemoryStore()
    config = replace(FAST, store_debounce=60, store_max_debounce=60, unload_delay=60)
    server = CollabServer(config, [TokenAuth(), Lifecycle(log),
                                   Persistence(store, flush_interval=60)])
    async with server:
        assert log == ["enter"]
        async with anyio.create_task_group() as tg:
            from tests.collab._kit import Harness

            h = Harness(server, tg)
            name = doc_name()
            client = await h.connect(name)
            await client.recv()
            doc: Doc = Doc()
            doc["t"] = Text("bye")
            await client.send(encode_update(doc.get_update()))
            await client.send(b"\x03")
            await wait_for(lambda: server.registry.documents[name].dirty)
            async with anyio.create_task_group() as closers:  # two concurrent closes
                closers.start_soon(server.close)
                closers.start_soon(server.close)
            assert await client.wait_closed() == CloseCode.GOING_AWAY
            assert log == ["enter", "store"]
            assert len(store.entries[name]) == 1
    assert log == ["enter", "store", "exit"]
    await server.close()  # after exit: still fine


async def test_open_direct_refused_during_shutdown() -> None:
    async with running() as h:
        await h.server.close()
        try:
            async with h.server.open_direct(doc_name()):
                raise AssertionError("admitted during shutdown")
        except ServerGoingAway:
            pass
