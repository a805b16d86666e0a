"""RedisFanout membership: a node reads the change streams of the other nodes only (never its
own), finds the nodes alive when it starts and those that start later without the sweep, and
stops reading a node that left or went silent."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import anyio
import pytest

from collab.extensions.fanout import RedisFanout
from collab.hooks import Configure
from tests.collab import test_fanout
from tests.collab.test_fanout import Cluster, Host, XreadSpy

pytestmark = pytest.mark.redis

cluster, proxy = test_fanout.cluster, test_fanout.proxy  # the fixtures


async def until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def test_a_node_is_never_woken_by_its_own_batches(cluster: Cluster) -> None:
    async with cluster as c:
        a, b = await c.node(sweep=600), await c.node(sweep=600)
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        await a.type(name, ">")  # read by b after everything the loads wrote
        await b.host.wait_for(lambda: b.text(name) == ">")
        spy = XreadSpy(b.fanout)
        for char in "twenty own batches!!":
            await b.type(name, char)
            await b.fanout.wait_published()  # one batch each
        await a.host.wait_for(lambda: a.text(name) == ">twenty own batches!!")
        # (the notice of ">" may still wake b once, and make it read once, as the spy goes in)
        assert len(spy.blocking) <= 2
        assert len(spy.reads) <= 1  # nothing read for b's own entries


async def test_nodes_started_before_and_after_are_read_without_the_sweep(
    cluster: Cluster,
) -> None:
    async with cluster as c:
        a = await c.node(sweep=600)  # found by b when b starts
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        b = await c.node(sweep=600)  # found by a from b's first membership entry
        await b.load(name)
        await a.type(name, "a")
        await b.host.wait_for(lambda: b.text(name) == "a", timeout=5)
        await b.type(name, "b")
        await a.host.wait_for(lambda: a.text(name) == "ab", timeout=5)


async def test_a_node_that_left_or_fell_silent_is_no_longer_read(
    cluster: Cluster, redis_url: str
) -> None:
    async with cluster as c:
        b = await c.node(heartbeat=0.1)  # forgets a node after 0.3 s of silence
        await b.load(f"notes/{uuid.uuid4()}")  # (a node with nothing loaded does not read)
        spy = XreadSpy(b.fanout)

        def named(node: RedisFanout, expected: bool) -> Callable[[], bool]:
            key = f"{c.prefix}changes:{node.node_id}"  # in b's latest blocking read?
            return lambda: bool(spy.blocking) and (key in spy.blocking[-1]) == expected

        for heartbeat in (0.1, 3600.0):  # leaves (goodbye), then falls silent after joining
            host = Host()
            other = RedisFanout(redis_url, f"node-{uuid.uuid4().hex[:6]}", key_prefix=c.prefix,
                                heartbeat=heartbeat)
            await other.on_configure(Configure(host))  # a stand-in for the server
            async with other:
                await until(named(other, True))
                if heartbeat > 1:
                    await until(named(other, False))  # three of b's heartbeats later
            await until(named(other, False))
