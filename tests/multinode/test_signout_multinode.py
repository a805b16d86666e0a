"""Signing out everywhere on node1 reaches node2 at once: node2 had the user's token epoch
cached, and still refuses the old token on its next request; the user's socket on node2 closes
with 4401 (two real `collab serve` processes, one PostgreSQL, one Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from collab.client import CollabClient
from tests.interop.backends import RestBackend
from tests.interop.serverprocess import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

BOUND = 1.0  # seconds: docs/multinode.md, "Control across nodes"


async def test_sign_out_everywhere_on_node1_refuses_the_token_on_node2(
    nodes: Callable[[str], ServerProcess],
) -> None:
    node1 = await asyncio.to_thread(nodes, "node1")
    node2 = await asyncio.to_thread(nodes, "node2")
    async with (
        httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http1,
        httpx.AsyncClient(base_url=node2.http_url, timeout=20) as http2,
    ):
        user = await RestBackend(http1).user("Leaver")
        note_id = await RestBackend(http1).note(user)
        headers = {"Authorization": f"Bearer {user.token}"}
        assert (await http2.get("/api/workbook/notes", headers=headers)).is_success  # cached
        editor = CollabClient(f"{node2.ws_url}/collab", f"notes/{note_id}", token=user.token)
        async with editor:
            async with asyncio.timeout(20):
                await editor.synced()
            started = time.monotonic()
            response = await http1.post("/api/workbook/auth/logout-all", headers=headers)
            assert response.status_code == 200, response.text
            refused = await http2.get("/api/workbook/notes", headers=headers)
            print(f"node2 refused the token {(time.monotonic() - started) * 1000:.0f} ms later")
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "token_revoked"
            async with asyncio.timeout(10):
                assert await editor.closed() == 4401
            elapsed = time.monotonic() - started
            print(f"node2's socket closed {elapsed * 1000:.0f} ms after the sign-out")
            assert elapsed < BOUND
