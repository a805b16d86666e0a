"""Two `collab serve` processes sharing one PostgreSQL and one Redis: stock clients on
different nodes edit the same note and see each other's edits and presence; when a node is
killed, its clients move to the other node and nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from backends import Note, RestBackend
from nodeclients import YjsClient
from serverprocess import ServerFactory

pytestmark = [pytest.mark.interop, pytest.mark.redis, pytest.mark.postgres]

Clients = Callable[[str], Awaitable[YjsClient]]


async def test_two_nodes_with_redis_converge(
    server_factory: ServerFactory,
    fresh_pg_url: str,
    redis_url: str,
    redis_prefix: str,
    yjs: Clients,
) -> None:
    shared = {"DATABASE_URL": fresh_pg_url, "REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix}
    node1 = server_factory("node1", COLLAB_AUTO_MIGRATE="true", COLLAB_NODE_ID="node1", **shared)
    node2 = server_factory("node2", COLLAB_AUTO_MIGRATE="false", COLLAB_NODE_ID="node2", **shared)
    async with httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner = await backend.user("Owner")
        note = Note(owner=owner, id=await backend.note(owner))

    a = await yjs("on-node1")
    await a.connect(node1.ws_url, note.name, owner.token, awareness={"node": 1})
    await a.synced()
    b = await yjs("on-node2")
    await b.connect(node2.ws_url, note.name, owner.token, awareness={"node": 2})
    await b.synced()

    await a.insert("from node 1. ")
    await b.wait_for_text("from node 1. ")
    await b.insert("from node 2.")
    await a.wait_for_text("from node 1. from node 2.")
    for n in range(10):
        await (a if n % 2 else b).insert(str(n), index=0)
    await a.wait_for_length(len("from node 1. from node 2.") + 10)
    await b.wait_for_length(len("from node 1. from node 2.") + 10)
    assert await a.text() == await b.text()

    # Presence crosses nodes too.
    await a.wait_for_awareness_field("node", 2)
    await b.wait_for_awareness_field("node", 1)


async def test_clients_of_a_killed_node_move_to_the_other_and_lose_nothing(
    server_factory: ServerFactory,
    fresh_pg_url: str,
    redis_url: str,
    redis_prefix: str,
    yjs: Clients,
) -> None:
    shared = {"DATABASE_URL": fresh_pg_url, "REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix}
    node1 = server_factory("node1", COLLAB_AUTO_MIGRATE="true", COLLAB_NODE_ID="node1", **shared)
    node2 = server_factory("node2", COLLAB_AUTO_MIGRATE="false", COLLAB_NODE_ID="node2", **shared)
    async with httpx.AsyncClient(base_url=node2.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner = await backend.user("Owner")
        note = Note(owner=owner, id=await backend.note(owner))
    a = await yjs("on-node1")
    await a.connect(node1.ws_url, note.name, owner.token)
    await a.synced()
    b = await yjs("on-node2")
    await b.connect(node2.ws_url, note.name, owner.token)
    await b.synced()
    for n in range(20):
        await (a if n % 2 else b).insert(f"<{n}>")
    await asyncio.to_thread(node1.kill)  # SIGKILL mid-session: no flush, no close frames
    await a.insert("[after the crash]")  # buffered by the client
    await a.call("setServer", url=f"{node2.ws_url}/collab")
    await a.synced(timeout=20)
    expected = sum(len(f"<{n}>") for n in range(20)) + len("[after the crash]")
    await a.wait_for_length(expected, timeout=20)
    await b.wait_for_length(expected, timeout=20)
    assert await a.text() == await b.text()
