"""The per-user feed across nodes: a user's feed socket is on node2, the changes happen on
node1, which does not have `users/<id>` loaded (two real `collab serve` processes, one
PostgreSQL, one Redis). REST changes and a rename typed into the note's document both reach
the feed, and the rename reaches the notes row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.interop.backends import RestBackend, User
from tests.interop.serverprocess import ServerProcess
from tests.livepeer import LivePeer, set_meta, socket_url

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def changed(note_id: str, change: str) -> dict[str, str]:
    return {"type": "notes.changed", "noteId": note_id, "change": change}


def bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


async def test_changes_on_node1_reach_the_feed_on_node2(
    nodes: Callable[[str], ServerProcess],
) -> None:
    node1 = await asyncio.to_thread(nodes, "node1")
    node2 = await asyncio.to_thread(nodes, "node2")
    async with httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        backend = RestBackend(http)
        owner, guest = await backend.user("Owner"), await backend.user("Guest")
        on1, on2 = f"{node1.ws_url}/collab", f"{node2.ws_url}/collab"
        owner_feed = LivePeer(socket_url(on2, f"users/{owner.id}", owner.token, stateless=True))
        guest_feed = LivePeer(socket_url(on2, f"users/{guest.id}", guest.token, stateless=True))
        async with owner_feed, guest_feed:
            await owner_feed.synced()
            await guest_feed.synced()
            note_id = await backend.note(owner)
            assert await owner_feed.message() == changed(note_id, "created")
            await backend.share(note_id, owner, guest, "write")
            assert await guest_feed.message() == changed(note_id, "shared")
            assert await owner_feed.message() == changed(note_id, "shared")

            # A rename typed into the document on node1 (the meta mirror runs there).
            async with LivePeer(socket_url(on1, f"notes/{note_id}", guest.token)) as editor:
                await editor.synced()
                await editor.edit(set_meta(title="Renamed on node1"))
                assert await owner_feed.message() == changed(note_id, "updated")
                assert await guest_feed.message() == changed(note_id, "updated")
            note = await http.get(f"/api/workbook/notes/{note_id}", headers=bearer(owner))
            assert note.json()["note"]["title"] == "Renamed on node1"

            await backend.delete_note(note_id, owner)
            assert await owner_feed.message() == changed(note_id, "deleted")
            assert await guest_feed.message() == changed(note_id, "deleted")
