"""Access changes made through the REST API of one node reach an editor connected to another
node: revoke, downgrade to read, upgrade to write and delete (two real `collab serve`
processes, one PostgreSQL, one Redis). The documented bound is sub-second on a healthy Redis;
the tests allow 1 s before they expect enforcement and print what they measured."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Text

from collab.client import CollabClient
from tests.interop.backends import RestBackend, User
from tests.interop.serverprocess import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

BOUND = 1.0  # seconds: docs/multinode.md, "Control across nodes"


def text(doc: Doc[Any]) -> str:
    return str(doc.get("t", type=Text))


def append(client: CollabClient, value: str) -> None:
    content = client.doc.get("t", type=Text)
    content.insert(len(str(content).encode()), value)


@asynccontextmanager
async def two_nodes(
    nodes: Callable[[str], ServerProcess],
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    node1 = await asyncio.to_thread(nodes, "node1")
    node2 = await asyncio.to_thread(nodes, "node2")
    yield node1, node2


async def setup(
    http: httpx.AsyncClient, permission: str = "write"
) -> tuple[RestBackend, User, User, str]:
    backend = RestBackend(http)
    owner, guest = await backend.user("Owner"), await backend.user("Guest")
    note_id = await backend.note(owner)
    await backend.share(note_id, owner, guest, permission)  # type: ignore[arg-type]
    return backend, owner, guest, note_id


async def test_revoke_on_node1_closes_the_editor_on_node2(
    nodes: Callable[[str], ServerProcess],
) -> None:
    async with two_nodes(nodes) as (node1, node2), \
            httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        _, owner, guest, note_id = await setup(http)
        name = f"notes/{note_id}"
        watcher = CollabClient(f"{node1.ws_url}/collab", name, token=owner.token)
        guest_client = CollabClient(f"{node2.ws_url}/collab", name, token=guest.token)
        async with watcher, guest_client:
            async with asyncio.timeout(20):
                await asyncio.gather(watcher.synced(), guest_client.synced())
            append(guest_client, "before;")
            await watcher.wait_for(lambda d: "before;" in text(d), 10)
            started = time.monotonic()
            response = await http.delete(
                f"/api/workbook/notes/{note_id}/shares/{guest.id}",
                headers={"Authorization": f"Bearer {owner.token}"},
            )
            assert response.status_code == 200, response.text
            async with asyncio.timeout(10):
                code = await guest_client.closed()
            elapsed = time.monotonic() - started
            print(f"revoke reached node2 in {elapsed * 1000:.0f} ms")
            assert code == 4403
            assert elapsed < BOUND, f"revoke took {elapsed:.2f} s"
            append(guest_client, "after;")  # typed locally; the client no longer connects
            append(watcher, "owner;")
            await asyncio.sleep(BOUND)
            assert "after;" not in text(watcher.doc) and "owner;" in text(watcher.doc)


async def test_downgrade_then_upgrade_on_node1_applies_on_node2(
    nodes: Callable[[str], ServerProcess],
) -> None:
    async with two_nodes(nodes) as (node1, node2), \
            httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        backend, owner, guest, note_id = await setup(http)
        name = f"notes/{note_id}"
        watcher = CollabClient(f"{node1.ws_url}/collab", name, token=owner.token)
        guest_client = CollabClient(f"{node2.ws_url}/collab", name, token=guest.token)
        async with watcher, guest_client:
            async with asyncio.timeout(20):
                await asyncio.gather(watcher.synced(), guest_client.synced())
            await backend.share(note_id, owner, guest, "read")
            await asyncio.sleep(BOUND)
            append(guest_client, "refused;")
            append(watcher, "owner;")
            await guest_client.wait_for(lambda d: "owner;" in text(d), 10)
            await asyncio.sleep(BOUND)  # long enough for a relayed edit to arrive
            assert "refused;" not in text(watcher.doc)
            late = CollabClient(f"{node1.ws_url}/collab", name, token=owner.token)
            async with late:  # what node1 has, stored or relayed
                async with asyncio.timeout(20):
                    await late.synced()
                assert "owner;" in text(late.doc) and "refused;" not in text(late.doc)
            # Writing again: the next edit lands (with what the guest typed meanwhile, which a
            # writer's client sends as part of its state).
            await backend.share(note_id, owner, guest, "write")
            await asyncio.sleep(BOUND)
            append(guest_client, "upgraded;")
            await watcher.wait_for(lambda d: "upgraded;" in text(d), 10)


async def test_delete_on_node1_closes_the_editor_on_node2(
    nodes: Callable[[str], ServerProcess],
) -> None:
    async with two_nodes(nodes) as (node1, node2), \
            httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        backend, owner, guest, note_id = await setup(http)
        guest_client = CollabClient(f"{node2.ws_url}/collab", f"notes/{note_id}",
                                    token=guest.token)
        async with guest_client:
            async with asyncio.timeout(20):
                await guest_client.synced()
            started = time.monotonic()
            await backend.delete_note(note_id, owner)
            async with asyncio.timeout(10):
                code = await guest_client.closed()
            elapsed = time.monotonic() - started
            print(f"delete reached node2 in {elapsed * 1000:.0f} ms")
            assert code == 4410
            assert elapsed < BOUND, f"delete took {elapsed:.2f} s"
