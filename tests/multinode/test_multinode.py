"""Two real `collab serve` processes with one PostgreSQL and one Redis: Python clients on both
nodes converge; a node killed with SIGKILL mid-edit loses nothing once its client reconnects
to the surviving node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Text

from collab.client import CollabClient
from tests.interop.backends import RestBackend
from tests.interop.serverprocess import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def text(doc: Doc[Any]) -> str:
    return str(doc.get("t", type=Text))


def append(client: CollabClient, value: str) -> None:
    content = client.doc.get("t", type=Text)
    content.insert(len(str(content).encode()), value)  # pycrdt offsets are UTF-8 bytes


async def test_two_nodes_converge_and_a_killed_node_loses_nothing(
    nodes: Callable[[str], ServerProcess],
) -> None:
    node1 = await asyncio.to_thread(nodes, "node1")
    node2 = await asyncio.to_thread(nodes, "node2")  # after node1 migrated the database
    async with httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner = await backend.user("Owner")
        name = f"notes/{await backend.note(owner)}"

    t0 = time.monotonic()
    marks: list[str] = []

    def mark(what: str) -> None:
        marks.append(f"{time.monotonic() - t0:.2f}s {what}")

    a = CollabClient(f"{node1.ws_url}/collab", name, token=owner.token)
    b = CollabClient(f"{node2.ws_url}/collab", name, token=owner.token)
    async with a, b:
        async with asyncio.timeout(20):
            await asyncio.gather(a.synced(), b.synced())
        for i in range(20):
            append(a, f"a{i};")
            append(b, f"b{i};")
            await asyncio.sleep(0)  # interleave with the network
        await a.wait_for(lambda d: text(d).count(";") == 40, 20)
        await b.wait_for(lambda d: text(d).count(";") == 40, 20)
        assert text(a.doc) == text(b.doc)

        # Kill node2 in the middle of a burst of edits from both sides.
        for i in range(20, 30):
            append(b, f"b{i};")
            append(a, f"a{i};")
        mark("killing node2")
        await asyncio.to_thread(node2.kill)
        mark("killed node2")
        for i in range(30, 40):
            append(b, f"b{i};")  # offline on b: its node is gone
            append(a, f"a{i};")
        # The same local document, now synced through node1. `b` stays open (it keeps trying
        # node2 in the background) and is closed at the end, while it sleeps between attempts.
        moved = CollabClient(f"{node1.ws_url}/collab", name, token=owner.token, doc=b.doc)
        async with moved:
            async with asyncio.timeout(20):
                await moved.synced()
            mark("moved synced")
            try:
                await a.wait_for(lambda d: text(d).count(";") == 80, 20)
                await moved.wait_for(lambda d: text(d).count(";") == 80, 20)
            except TimeoutError:
                pytest.fail(
                    f"no convergence:\na={text(a.doc)!r}\nmoved={text(moved.doc)!r}\n"
                    f"a connected={a.connected} moved connected={moved.connected}\n{marks}\n"
                    f"node1 log:\n{node1.log(40)}\nnode2 log:\n{node2.log(20)}"
                )
            assert text(a.doc) == text(moved.doc)
            for i in range(40):
                assert f"a{i};" in text(a.doc) and f"b{i};" in text(a.doc)
