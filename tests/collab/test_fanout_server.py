"""Two CollabServer nodes in one process, each with Persistence on one shared SQLite log (one
Database per node, as two processes would have) and RedisFanout with its own node id."""

from __future__ import annotations

import uuid

import pytest
from _kit import wait_for
from pycrdt import Doc, Text
from test_fanout import TcpProxy

from collab.protocol import (
    AwarenessEntry,
    decode_awareness,
    encode_awareness,
    encode_awareness_entries,
)
from tests.collab._nodes import NodePair, cleanup, node

pytestmark = pytest.mark.redis


async def test_clients_on_two_nodes_converge_and_each_update_is_stored_once(
    node_pair: NodePair,
) -> None:
    name = f"notes/{uuid.uuid4()}"
    async with node_pair() as (a, b):
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
    node_pair: NodePair,
) -> None:
    name = f"notes/{uuid.uuid4()}"
    async with node_pair() as (a, b):
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
