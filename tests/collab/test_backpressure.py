"""A client that never reads is closed with 1013 once its bounded buffer is full; the room
carries on at full speed. In memory (``BufferedChannel``) and over a real socket whose client
stops reading (``DirectChannel``: the kernel buffers fill, then asyncio pauses writing)."""

from __future__ import annotations

from dataclasses import replace

import anyio
from pycrdt import Doc, Text

from collab.connection import Connection
from collab.errors import CloseCode
from collab.protocol import encode_sync_step1
from tests.collab._kit import (
    FAST,
    Harness,
    MemoryClient,
    SyncedClient,
    doc_name,
    pump,
    running,
    wait_for,
)


async def test_stalled_client_is_closed_and_room_continues() -> None:
    config = replace(FAST, send_queue_bytes=600, send_timeout=60)
    async with running(config) as h:
        name = doc_name()
        stalled = await h.connect(name, "user-stall", stall=True)
        writer_conn = await h.connect(name, "user-w")
        reader_conn = await h.connect(name, "user-r")
        writer, reader = SyncedClient(writer_conn.send), SyncedClient(reader_conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, writer_conn, writer)
            tg.start_soon(pump, reader_conn, reader)
            await writer.start()
            for i in range(100):
                writer.text += str(i % 10)
                await writer.push()
            assert await stalled.wait_closed() == CloseCode.TRY_AGAIN_LATER
            await wait_for(lambda: len(str(reader.text)) == 100)
            assert str(reader.text) == str(writer.text)
            await writer_conn.leave()
            await reader_conn.leave()


async def test_byte_budget_overflow_is_1013_but_one_big_message_passes() -> None:
    config = replace(FAST, send_queue_bytes=2000, send_timeout=60)
    async with running(config) as h:
        name = doc_name()
        stalled = await h.connect(name, "user-stall", stall=True)
        writer_conn = await h.connect(name, "user-w")
        reader_conn = await h.connect(name, "user-r")
        writer, reader = SyncedClient(writer_conn.send), SyncedClient(reader_conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, writer_conn, writer)
            tg.start_soon(pump, reader_conn, reader)
            await writer.start()
            await reader.start()
            with anyio.fail_after(5):
                await reader.synced.wait()
            writer.text += "x" * 5000  # one message above the byte budget: sent alone
            await writer.push()
            # A reader that keeps up gets it whole and stays connected.
            await wait_for(lambda: str(reader.text) == "x" * 5000)
            assert not reader_conn.closed.is_set()
            writer.text += "y" * 100
            await writer.push()
            # The stalled client had the big one still queued: the next frame is over budget.
            assert await stalled.wait_closed() == CloseCode.TRY_AGAIN_LATER
            await wait_for(lambda: str(reader.text) == "x" * 5000 + "y" * 100)
            assert not reader_conn.closed.is_set()
            await writer_conn.leave()
            await reader_conn.leave()


async def test_send_timeout_is_1013() -> None:
    config = replace(FAST, send_timeout=0.05)
    async with running(config) as h:
        stalled = await h.connect(doc_name(), "user-stall", stall=True)
        assert await stalled.wait_closed() == CloseCode.TRY_AGAIN_LATER


async def test_dead_socket_during_broadcast_closes_only_that_connection() -> None:
    async with running() as h:
        name = doc_name()
        dead = await h.connect(name, "user-dead")
        await dead.recv()
        await dead.from_server.aclose()  # the socket died: sends to it now fail
        writer_conn, reader_conn = await h.connect(name, "user-w"), await h.connect(name, "user-r")
        writer, reader = SyncedClient(writer_conn.send), SyncedClient(reader_conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, writer_conn, writer)
            tg.start_soon(pump, reader_conn, reader)
            await writer.start()
            writer.text += "still fine"
            await writer.push()
            await wait_for(lambda: str(reader.text) == "still fine")
            document = h.server.registry.documents[name]
            await wait_for(lambda: len(document.connections) == 2)
            assert document.observed
            await writer_conn.leave()
            await reader_conn.leave()


async def _stalled_syncing_client(
    h: Harness, name: str, size: int
) -> tuple[MemoryClient, Connection]:
    """A document of ``size`` characters, and a client that asks for it and never reads."""
    async with h.server.open_direct(name) as session:
        session.transact(lambda doc: doc.get("t", type=Text).insert(0, "x" * size))
    stalled = await h.connect(name, "user-big", stall=True)  # its sync step 1 stays buffered
    await stalled.send(encode_sync_step1(Doc().get_state()))
    document = h.server.registry.documents[name]
    await wait_for(lambda: len(document.connections) == 1)
    (connection,) = document.connections.values()
    assert isinstance(connection, Connection)
    await wait_for(lambda: connection.channel.buffered > size or stalled.closed.is_set())
    return stalled, connection


async def test_the_sync_reply_is_never_a_reason_to_call_a_client_slow() -> None:
    # The budget is smaller than the document: the reply to the client's sync step 1 must
    # still be queued behind the server's own sync step 1, and broadcasts must still pass
    # while it drains; a flood of them still ends in 1013.
    config = replace(FAST, send_queue_bytes=2000, send_timeout=60)
    async with running(config) as h:
        name = doc_name()
        stalled, connection = await _stalled_syncing_client(h, name, 5000)
        assert not stalled.closed.is_set()
        writer_conn = await h.connect(name, "user-w")
        writer = SyncedClient(writer_conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, writer_conn, writer)
            await writer.start()
            await wait_for(lambda: len(str(writer.text)) == 5000)
            writer.text += "y" * 100  # a broadcast while the reply is buffered
            await writer.push()
            await wait_for(lambda: connection.channel.buffered > 5100 or stalled.closed.is_set())
            assert not stalled.closed.is_set()
            for _ in range(40):  # broadcasts stay bounded by the budget
                writer.text += "z" * 100
                await writer.push()
            assert await stalled.wait_closed() == CloseCode.TRY_AGAIN_LATER
            await writer_conn.leave()


async def test_asking_for_the_sync_again_without_reading_is_1013() -> None:
    config = replace(FAST, send_queue_bytes=2000, send_timeout=60)
    async with running(config) as h:
        stalled, _ = await _stalled_syncing_client(h, doc_name(), 5000)
        assert not stalled.closed.is_set()
        await stalled.send(encode_sync_step1(Doc().get_state()))
        assert await stalled.wait_closed() == CloseCode.TRY_AGAIN_LATER
