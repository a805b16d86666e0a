"""Read-only connections sync and share awareness, but their updates never reach anyone."""

from __future__ import annotations

import anyio

from collab.protocol import AwarenessUpdate, SyncStep1, SyncStep2, decode_awareness
from tests.collab._kit import SyncedClient, doc_name, pump, running, wait_for


async def test_read_only_updates_are_dropped_but_sync_works() -> None:
    async with running() as h:
        name = doc_name()
        writer_conn, reader_conn = await h.connect(name, "user-w"), await h.connect(name, "ro-r")
        writer, reader = SyncedClient(writer_conn.send), SyncedClient(reader_conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, writer_conn, writer)
            tg.start_soon(pump, reader_conn, reader)
            await writer.start()
            await reader.start()
            writer.text += "from writer"
            await writer.push()
            await wait_for(lambda: str(reader.text) == "from writer")  # reader receives updates
            reader.text += " HACKED"
            await reader.push()  # as an update; its step 2 answers are dropped too
            reader.synced = anyio.Event()
            await reader.start()  # a round trip: the server handled the update before replying
            with anyio.fail_after(5):
                await reader.synced.wait()
            writer.text += "!"
            await writer.push()
            await wait_for(lambda: "!" in str(reader.text))
            assert str(writer.text) == "from writer!"
            document = h.server.registry.documents[name]
            assert str(document.doc.get("t", type=type(writer.text))) == "from writer!"
            await writer_conn.leave()
            await reader_conn.leave()


async def test_set_read_only_downgrades_a_live_connection() -> None:
    async with running() as h:
        name = doc_name()
        conn = await h.connect(name, "user-1")
        client = SyncedClient(conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, conn, client)
            await client.start()
            with anyio.fail_after(5):
                await client.synced.wait()
            assert await h.server.set_read_only(name, "1", read_only=True) == 1
            client.text += "blocked"
            await client.push()
            client.synced = anyio.Event()
            await client.start()  # a round trip: the update above was handled before the reply
            with anyio.fail_after(5):
                await client.synced.wait()
            document = h.server.registry.documents[name]
            assert str(document.doc.get("t", type=type(client.text))) == ""
            await conn.leave()


async def test_read_only_connection_gets_awareness_both_ways() -> None:
    async with running() as h:
        name = doc_name()
        reader = await h.connect(name, "ro-r")
        writer = await h.connect(name, "user-w")
        assert isinstance(await reader.recv_message(), SyncStep1)
        assert isinstance(await writer.recv_message(), SyncStep1)
        from collab.protocol import AwarenessEntry, encode_awareness, encode_awareness_entries

        await reader.send(encode_awareness(encode_awareness_entries(
            [AwarenessEntry(7, 1, {"cursor": 1})])))
        message = await writer.recv_message()
        assert isinstance(message, AwarenessUpdate)
        [entry] = decode_awareness(message.payload)
        assert entry.state is not None and entry.state["user"]["id"] == "r"
        await writer.send(bytes([0, 0, 1, 0]))
        assert isinstance(await writer.recv_message(), SyncStep2)
        await reader.leave()
        await writer.leave()
