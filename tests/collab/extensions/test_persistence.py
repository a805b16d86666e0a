"""Persistence: group commit across documents, a failing store keeps updates and documents,
flush on unload and shutdown, reload after unload, PEER changes not stored twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import anyio
from pycrdt import Doc, Text

from collab import MemoryStore, Origin, Persistence
from collab.protocol import encode_update
from tests.collab._kit import FAST, SyncedClient, doc_name, pump, running, wait_for


def update(text: str) -> bytes:
    doc: Doc = Doc()
    doc["t"] = Text(text)
    return doc.get_update()


class FlakyStore(MemoryStore):
    """Fails every append while ``failing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = True
        self.attempts = 0

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        self.attempts += 1
        if self.failing:
            raise OSError("database unavailable")
        await super().append(entries)


def text_of(updates: list[bytes]) -> str:
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    for data in updates:
        doc.apply_update(data)
    return str(text)


class GatedStore(MemoryStore):
    """Holds every append until ``release`` is set (a slow database)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        await self.release.wait()
        await super().append(entries)


async def test_group_commit_one_append_for_many_documents() -> None:
    store = GatedStore()
    persistence = Persistence(store, flush_interval=0.005)
    async with running(FAST, [persistence]) as h:
        names = [doc_name() for _ in range(20)]
        clients = [await h.connect(name) for name in names]
        for client, name in zip(clients, names, strict=True):
            await client.recv()
            await client.send(encode_update(update(name)))
        await wait_for(lambda: persistence.backlog == 20)  # one append in flight, 19 queued
        store.release.set()
        await wait_for(lambda: sum(len(v) for v in store.entries.values()) == 20)
        assert store.batches <= 2  # 20 documents' updates: the in-flight batch + one more
        for name in names:
            assert text_of(store.entries[name]) == name
        for client in clients:
            await client.leave()


async def test_failing_store_keeps_updates_and_document_then_recovers() -> None:
    store = FlakyStore()
    config = replace(FAST, unload_delay=0.01)
    persistence = Persistence(store, flush_interval=0.002, max_backoff=0.02)
    async with running(config, [persistence]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        await client.send(encode_update(update("precious")))
        await client.leave()
        await wait_for(lambda: store.attempts >= 5)
        assert name in h.server.registry.documents  # not unloaded: its store failed
        assert persistence.backlog == 1
        store.failing = False
        await wait_for(lambda: name not in h.server.registry.documents)
        assert text_of(store.entries[name]) == "precious"


async def test_reload_after_unload_reads_the_store() -> None:
    store = MemoryStore()
    async with running(FAST, [Persistence(store, flush_interval=0.002)]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        await client.send(encode_update(update("durable")))
        await client.leave()
        await wait_for(lambda: name not in h.server.registry.documents)
        again = await h.connect(name)
        synced = SyncedClient(again.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, again, synced)
            await synced.start()
            await wait_for(lambda: str(synced.text) == "durable")
            await again.leave()


async def test_shutdown_flushes_pending_updates() -> None:
    store = MemoryStore()
    config = replace(FAST, unload_delay=60, store_debounce=60, store_max_debounce=60)
    persistence = Persistence(store, flush_interval=30)  # nothing would be written in time
    async with running(config, [persistence]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        await client.send(encode_update(update("last words")))
        await client.send(b"\x03")  # a round trip so the update was applied
        await wait_for(lambda: persistence.backlog == 1)
    assert text_of(store.entries[name]) == "last words"


async def test_peer_changes_are_not_stored_but_server_changes_are() -> None:
    store = MemoryStore()
    async with running(FAST, [Persistence(store, flush_interval=0.002)]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        await h.server.apply_remote_update(name, update("from peer"), Origin.PEER("node-2"))
        async with h.server.open_direct(name, actor="test") as session:
            session.transact(lambda doc: doc.get("s", type=Text).insert(0, "server"))
        await wait_for(lambda: len(store.entries.get(name, [])) == 1)
        doc: Doc = Doc()
        for data in store.entries[name]:
            doc.apply_update(data)
        assert str(doc.get("s", type=Text)) == "server"
        assert str(doc.get("t", type=Text)) == ""
        await client.leave()
