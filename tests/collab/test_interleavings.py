"""Property: random interleavings of edits, disconnects and offline edits by several clients
converge, and the server's document equals a single-doc oracle fed every client's state."""

from __future__ import annotations

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from collab.direct import delete_text, insert_text
from tests.collab._kit import Harness, MemoryClient, SyncedClient, doc_name, pump, running

CLIENTS = 3
op = st.tuples(
    st.integers(0, CLIENTS - 1),
    st.sampled_from(["insert", "insert", "insert", "delete", "offline", "online"]),
    st.integers(0, 40),
    st.text(alphabet="ab😀é", min_size=1, max_size=3),
)


class Peer:
    def __init__(self, h: Harness, name: str, index: int) -> None:
        self.h, self.name, self.index = h, name, index
        self.client = SyncedClient(self._send)
        self.conn: MemoryClient | None = None

    async def _send(self, frame: bytes) -> None:
        if self.conn is not None:
            await self.conn.send(frame)

    async def online(self, tg: anyio.abc.TaskGroup) -> None:
        if self.conn is not None:
            return
        self.conn = await self.h.connect(self.name, f"user-{self.index}")
        self.client.synced = anyio.Event()
        tg.start_soon(pump, self.conn, self.client)
        await self.client.start()
        with anyio.fail_after(5):
            await self.client.synced.wait()

    async def offline(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await conn.leave()


async def scenario(ops: list[tuple[int, str, int, str]]) -> None:
    async with running() as h:
        name = doc_name()
        peers = [Peer(h, name, i) for i in range(CLIENTS)]
        async with anyio.create_task_group() as tg:
            for peer in peers:
                await peer.online(tg)
            for index, kind, pos, text in ops:
                peer = peers[index]
                current = str(peer.client.text)
                if kind == "insert":
                    insert_text(peer.client.text, min(pos, len(current)), text)
                elif kind == "delete" and current:
                    delete_text(peer.client.text, min(pos, len(current) - 1), 1)
                elif kind == "offline":
                    await peer.offline()
                elif kind == "online":
                    await peer.online(tg)
                if peer.conn is not None:
                    await peer.client.push()
                else:
                    peer.client._outgoing.clear()  # offline edits travel in the next sync
            for peer in peers:
                await peer.online(tg)
            # a final round trip per client: everything sent before it was applied everywhere
            for peer in peers:
                peer.client.synced = anyio.Event()
                await peer.client.start()
                with anyio.fail_after(5):
                    await peer.client.synced.wait()
            oracle: Doc = Doc()
            for peer in peers:
                oracle.apply_update(peer.client.doc.get_update())
            expected = str(oracle.get("t", type=Text))
            document = h.server.registry.documents[name]
            assert str(document.doc.get("t", type=Text)) == expected
            for peer in peers:
                peer.client.synced = anyio.Event()
                await peer.client.start()
                with anyio.fail_after(5):
                    await peer.client.synced.wait()
                assert str(peer.client.text) == expected
            for peer in peers:
                await peer.offline()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=25))
def test_random_interleavings_converge(ops: list[tuple[int, str, int, str]]) -> None:
    anyio.run(scenario, ops)
