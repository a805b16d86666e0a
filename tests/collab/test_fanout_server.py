"""Two CollabServer nodes in one process, each with Persistence on one shared SQLite log (one
Database per node, as two processes would have) and RedisFanout with its own node id."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
from _kit import FAST, Harness, MemoryClient, SyncedClient, TokenAuth, pump, wait_for
from prometheus_client import CollectorRegistry
from pycrdt import Doc, Text
from redis.asyncio import Redis
from test_fanout import TcpProxy

from collab import CollabServer
from collab.extensions.fanout import RedisFanout
from collab.extensions.persistence import Persistence
from collab.kinds import DocumentKind
from collab.protocol import (
    AwarenessEntry,
    decode_awareness,
    encode_awareness,
    encode_awareness_entries,
)
from storage.db import connect
from storage.documents import DocumentLog

pytestmark = pytest.mark.redis


class Node:
    def __init__(self, harness: Harness, fanout: RedisFanout, log: DocumentLog) -> None:
        self.harness, self.fanout, self.log = harness, fanout, log

    async def client(self, name: str, token: str = "user-1") -> tuple[MemoryClient, SyncedClient]:
        memory = await self.harness.connect(name, token)
        synced = SyncedClient(memory.send)
        self.harness.tg.start_soon(pump, memory, synced)
        await synced.start()
        with anyio.fail_after(10):
            await synced.synced.wait()
        return memory, synced


@contextlib.asynccontextmanager
async def node(db_url: str, redis_url: str, prefix: str,
               kinds: list[DocumentKind] | None = None) -> AsyncIterator[Node]:
    async with connect(db_url) as database:
        log = DocumentLog(database)
        fanout = RedisFanout(redis_url, f"node-{uuid.uuid4().hex[:6]}", key_prefix=prefix,
                             store=log, retry_delay=0.05)
        server = CollabServer(FAST, [TokenAuth(), Persistence(log), fanout], kinds=kinds,
                              metrics_registry=CollectorRegistry())
        async with server, anyio.create_task_group() as tg:
            yield Node(Harness(server, tg), fanout, log)
            await server.close()
            tg.cancel_scope.cancel()


async def cleanup(redis_url: str, prefix: str) -> None:
    client: Redis[bytes] = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def two_nodes(db_url: str, redis_url: str, prefix: str,
                    kinds: list[DocumentKind] | None = None) -> AsyncIterator[tuple[Node, Node]]:
    """Nodes a and b on one log and one Redis; the prefix's keys are deleted afterwards."""
    try:
        async with node(db_url, redis_url, prefix, kinds) as a, \
                node(db_url, redis_url, prefix, kinds) as b:
            yield a, b
    finally:
        await cleanup(redis_url, prefix)


async def test_clients_on_two_nodes_converge_and_each_update_is_stored_once(
    sqlite_url: str, redis_url: str, redis_prefix: str
) -> None:
    name = f"notes/{uuid.uuid4()}"
    async with two_nodes(sqlite_url, redis_url, redis_prefix) as (a, b):
        _, on_a = await a.client(name)
        _, on_b = await b.client(name, "user-2")
        for i in range(5):
            on_a.text.insert(0, f"a{i} ")
            await on_a.push()
            on_b.text.insert(0, f"b{i} ")
            await on_b.push()
        await wait_for(lambda: len(str(on_a.text)) == len(str(on_b.text)) == 30, timeout=15)
        assert str(on_a.text) == str(on_b.text)
        await a.harness.server.close()
        await b.harness.server.close()
        stored = await a.log.load(name)
    # PEER changes are not persisted again: one row per client update
    assert len(stored) == 10
    doc: Doc[Text] = Doc()
    for update in stored:
        doc.apply_update(update)
    assert str(doc.get("t", type=Text)) == str(on_a.text)


async def test_awareness_crosses_nodes_and_leaving_removes_it(
    sqlite_url: str, redis_url: str, redis_prefix: str
) -> None:
    name = f"notes/{uuid.uuid4()}"
    async with two_nodes(sqlite_url, redis_url, redis_prefix) as (a, b):
        leaving, _ = await a.client(name, "user-7")
        _, watcher = await b.client(name, "user-8")
        entry = AwarenessEntry(4242, 1, {"cursor": 3, "user": {"id": "spoofed"}})
        await leaving.send(encode_awareness(encode_awareness_entries([entry])))

        def seen() -> list[AwarenessEntry]:
            return [e for p in watcher.awareness for e in decode_awareness(p)
                    if e.client_id == 4242]

        await wait_for(lambda: any(e.state is not None for e in seen()), timeout=15)
        state = next(e.state for e in seen() if e.state is not None)
        assert state["cursor"] == 3 and state["user"]["id"] == "7"  # stamped by node a
        await leaving.leave()
        await wait_for(lambda: seen()[-1].state is None, timeout=15)


async def test_a_node_cut_from_redis_gets_every_update_when_it_returns(
    sqlite_url: str, redis_url: str, redis_prefix: str
) -> None:
    name = f"notes/{uuid.uuid4()}"
    async with TcpProxy("127.0.0.1", 6379) as proxy:
        via_proxy = f"redis://127.0.0.1:{proxy.port}/0"
        async with node(sqlite_url, redis_url, redis_prefix) as a, \
                node(sqlite_url, via_proxy, redis_prefix) as b:
            _, on_a = await a.client(name)
            _, on_b = await b.client(name, "user-2")
            on_a.text.insert(0, "before ")
            await on_a.push()
            await wait_for(lambda: str(on_b.text) == "before ", timeout=15)
            proxy.cut()
            on_a.text.insert(len("before "), "during")
            await on_a.push()
            on_b.text.insert(0, "offline-redis ")
            await on_b.push()
            proxy.restore()
            expected = {"offline-redis before during"}
            await wait_for(lambda: {str(on_a.text), str(on_b.text)} == expected, timeout=20)
    await cleanup(redis_url, redis_prefix)


async def test_a_node_shutting_down_removes_its_clients_presence_elsewhere(
    sqlite_url: str, redis_url: str, redis_prefix: str
) -> None:
    name = f"notes/{uuid.uuid4()}"
    async with node(sqlite_url, redis_url, redis_prefix) as b:
        _, watcher = await b.client(name, "user-8")
        async with node(sqlite_url, redis_url, redis_prefix) as a:
            leaving, _ = await a.client(name, "user-7")
            entry = AwarenessEntry(4343, 1, {"cursor": 1})
            await leaving.send(encode_awareness(encode_awareness_entries([entry])))

            def seen() -> list[AwarenessEntry]:
                return [e for p in watcher.awareness for e in decode_awareness(p)
                        if e.client_id == 4343]

            await wait_for(lambda: any(e.state is not None for e in seen()), timeout=15)
        # node a is gone (graceful shutdown): its client's presence is removed on node b
        await wait_for(lambda: seen()[-1].state is None, timeout=15)
    await cleanup(redis_url, redis_prefix)
