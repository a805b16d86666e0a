"""Two or more CollabServer nodes in one process, each with Persistence on one shared log (one
Database per node, as two processes would have) and RedisFanout with its own node id."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import anyio
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from collab import CollabServer
from collab.extensions.fanout import RedisFanout
from collab.extensions.persistence import Persistence
from collab.kinds import DocumentKind
from storage.db import connect
from storage.documents import DocumentLog
from tests.collab._kit import FAST, Harness, MemoryClient, SyncedClient, TokenAuth


class Node:
    def __init__(self, harness: Harness, fanout: RedisFanout, log: DocumentLog) -> None:
        self.harness, self.fanout, self.log = harness, fanout, log

    async def client(self, name: str, token: str = "user-1") -> tuple[MemoryClient, SyncedClient]:
        return await self.harness.synced(name, token)


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


# `node_pair(kinds=None)`, the fixture: two_nodes on the test's log, Redis and key prefix.
NodePair = Callable[..., AbstractAsyncContextManager[tuple[Node, Node]]]
