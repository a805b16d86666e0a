"""Single-flight load, delayed unload after the last client, observer cleanup, flat memory."""

from __future__ import annotations

import asyncio
import gc
import resource
import weakref
from dataclasses import replace

import anyio

from collab import Extension, LoadDocument
from collab.document import Document
from collab.hooks import AfterLoadDocument, AfterUnloadDocument
from collab.protocol import SyncStep1, SyncStep2, encode_update
from collab.types import YDoc
from tests.collab._kit import FAST, doc_name, running, wait_for


def _content() -> bytes:
    from pycrdt import Doc, Text

    doc: Doc = Doc()
    doc["t"] = Text("some note text " * 20)
    return encode_update(doc.get_update())


UPDATE = _content()


class GatedLoad(Extension):
    """Counts loads and holds each one until ``release`` is set."""

    def __init__(self) -> None:
        self.loads = 0
        self.started = anyio.Event()
        self.release = anyio.Event()

    async def on_load_document(self, event: LoadDocument) -> None:
        self.loads += 1
        self.started.set()
        await self.release.wait()
        event.doc.get("t", type=__import__("pycrdt").Text).insert(0, "stored")


async def test_500_concurrent_connects_load_once_and_nobody_syncs_early() -> None:
    gate = GatedLoad()
    config = replace(FAST, max_connections_per_user=1000)
    async with running(config, [gate]) as h:
        name = doc_name()
        clients = [await h.connect(name, f"user-{i}") for i in range(500)]
        with anyio.fail_after(5):
            await gate.started.wait()
        for client in clients[:20]:
            await client.send(bytes([0, 0, 1, 0]))  # step 1 while the load is pending
        await wait_for(lambda: h.server.registry.loading == 1)
        assert all(client.from_server.statistics().current_buffer_used == 0
                   for client in clients)  # nothing was sent before the load finished
        gate.release.set()
        for client in clients[:20]:
            assert isinstance(await client.recv_message(), SyncStep1)
            step2 = await client.recv_message()
            assert isinstance(step2, SyncStep2) and b"stored" in step2.update
        assert gate.loads == 1
        assert h.server.registry.loads == 1
        for client in clients:
            await client.leave()


class Unloads(Extension):
    def __init__(self) -> None:
        self.unloaded: list[str] = []
        self.docs: list[weakref.ref[YDoc]] = []

    async def after_load_document(self, event: AfterLoadDocument) -> None:
        self.docs.append(weakref.ref(event.doc))

    async def after_unload_document(self, event: AfterUnloadDocument) -> None:
        self.unloaded.append(event.document)


async def test_unload_after_last_client_removes_observer() -> None:
    unloads = Unloads()
    async with running(FAST, [unloads]) as h:
        name = doc_name()
        a = await h.connect(name)
        await a.recv()
        document: Document = h.server.registry.documents[name]
        assert document.observed
        doc_ref = weakref.ref(document.doc)
        document_ref = weakref.ref(document)
        await a.leave()
        await wait_for(lambda: unloads.unloaded == [name])
        assert name not in h.server.registry.documents
        assert not document.observed
        del document
        # The unload task may still be finishing (its frame holds the document) when the hook
        # has run: give it a moment, collecting; a real leak keeps it past the deadline.
        for _ in range(200):
            gc.collect()
            if document_ref() is None and doc_ref() is None:
                break
            await asyncio.sleep(0.01)
        assert document_ref() is None  # nothing (no observer callback) keeps it alive
        assert doc_ref() is None


async def test_reconnect_within_grace_keeps_the_document() -> None:
    config = replace(FAST, unload_delay=10)
    async with running(config) as h:
        name = doc_name()
        a = await h.connect(name)
        await a.recv()
        document = h.server.registry.documents[name]
        await a.leave()
        b = await h.connect(name)
        await b.recv()
        assert h.server.registry.documents[name] is document
        assert h.server.registry.loads == 1
        await b.leave()


async def test_documents_waiting_to_unload_need_no_task_each() -> None:
    config = replace(FAST, unload_delay=10)
    async with running(config) as h:
        baseline = len(asyncio.all_tasks())  # server, its sweepers, the release watcher
        clients = [await h.connect(doc_name(), f"user-{i}") for i in range(40)]
        for client in clients:
            await client.recv()
        for client in clients:
            await client.leave()
        await wait_for(lambda: not h.server.connections)
        assert len(h.server.registry.documents) == 40  # all still loaded, waiting
        # Each loaded document runs its own task (awareness, debounced store); waiting to be
        # unloaded adds none (a sleeping task per document did: 80 here).
        assert len(asyncio.all_tasks()) <= baseline + 40 + 1


async def test_memory_flat_over_2000_short_lived_documents() -> None:
    config = replace(FAST, unload_delay=0.0)
    unloads = Unloads()
    async with running(config, [unloads]) as h:
        async def cycle(count: int) -> None:
            for start in range(0, count, 100):
                batch = [await h.connect(doc_name(), f"user-{i}") for i in range(start,
                                                                                 start + 100)]
                for client in batch:
                    await client.recv()
                    await client.send(UPDATE)
                for client in batch:
                    await client.leave()
            await wait_for(lambda: len(unloads.unloaded) >= done + count, timeout=30)

        done = 0
        await cycle(500)  # warm-up: allocator pools, metrics label sets
        done = 500
        gc.collect()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await cycle(1500)
        await wait_for(lambda: not h.server.registry.documents and not h.server.connections)
        gc.collect()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert not h.server.registry.documents
        assert h.server.registry.loads == 2000
        assert sum(ref() is not None for ref in unloads.docs) == 0  # every Doc was freed
        assert (after - before) < 50_000  # KiB: loose, a leak of ~126 KiB/doc would be 190 MB
