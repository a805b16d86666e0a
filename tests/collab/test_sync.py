"""Two clients of one document converge through the server; a late joiner gets the state."""

from __future__ import annotations

import anyio

from collab.protocol import SyncStep1, SyncStep2
from tests.collab._kit import Harness, SyncedClient, doc_name, pump, running, wait_for


async def test_server_sends_step1_and_answers_step1() -> None:
    async with running() as harness:
        await _step1(harness)


async def _step1(harness: Harness) -> None:
    name = doc_name()
    client = await harness.connect(name)
    first = await client.recv_message()
    assert isinstance(first, SyncStep1)
    await client.send(bytes([0, 0, 1, 0]))  # sync step 1 with an empty state vector
    reply = await client.recv_message()
    assert isinstance(reply, SyncStep2)


async def test_two_clients_converge_and_late_joiner_gets_state() -> None:
    async with running() as harness:
        await _converge(harness)


async def _converge(harness: Harness) -> None:
    name = doc_name()
    a_conn, b_conn = await harness.connect(name, "user-a"), await harness.connect(name, "user-b")
    a, b = SyncedClient(a_conn.send), SyncedClient(b_conn.send)
    async with anyio.create_task_group() as tg:
        tg.start_soon(pump, a_conn, a)
        tg.start_soon(pump, b_conn, b)
        await a.start()
        await b.start()
        with anyio.fail_after(5):
            await a.synced.wait()
            await b.synced.wait()
        a.text += "hello "
        await a.push()
        await wait_for(lambda: str(b.text) == "hello ")
        b.text += "world"
        await b.push()
        await wait_for(lambda: str(a.text) == "hello world")
        c_conn = await harness.connect(name, "user-c")
        c = SyncedClient(c_conn.send)
        tg.start_soon(pump, c_conn, c)
        await c.start()
        await wait_for(lambda: str(c.text) == "hello world")
        for conn in (a_conn, b_conn, c_conn):
            await conn.leave()
