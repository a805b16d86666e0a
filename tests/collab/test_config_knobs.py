"""CollabConfig knobs reach the code that enforces them: `load_timeout` (a load that hangs
closes its waiters with 1011 and the next client loads again) and
`awareness_clients_per_connection` (client ids one connection may announce)."""

from __future__ import annotations

from dataclasses import replace

import anyio
from pycrdt import Text

from collab import Extension, LoadDocument
from collab.errors import CloseCode
from collab.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    SyncStep1,
    SyncStep2,
    decode_awareness,
    encode_awareness,
    encode_awareness_entries,
)
from tests.collab._kit import FAST, MemoryClient, doc_name, running


class HangsOnce(Extension):
    """The first load never finishes (a store that stopped answering); later ones do."""

    def __init__(self) -> None:
        self.calls = 0

    async def on_load_document(self, event: LoadDocument) -> None:
        self.calls += 1
        if self.calls == 1:
            await anyio.sleep_forever()
        event.doc.get("t", type=Text).insert(0, "loaded")


async def test_a_load_that_hangs_is_given_up_after_load_timeout() -> None:
    loader = HangsOnce()
    config = replace(FAST, load_timeout=0.3)
    async with running(config, extensions=[loader]) as h:
        name = doc_name()
        started = anyio.current_time()
        first = await h.connect(name, "user-a")
        # Within a few times the timeout, well before the 30 s default.
        assert await first.wait_closed(timeout=3) == CloseCode.INTERNAL_ERROR
        assert anyio.current_time() - started >= 0.3
        second = await h.connect(name, "user-b")
        assert isinstance(await second.recv_message(), SyncStep1)
        assert loader.calls == 2
        await second.send(bytes([0, 0, 1, 0]))
        step2 = await second.recv_message()
        assert isinstance(step2, SyncStep2) and b"loaded" in step2.update
        await second.leave()


def _awareness(*entries: AwarenessEntry) -> bytes:
    return encode_awareness(encode_awareness_entries(list(entries)))


async def _handled(client: MemoryClient) -> None:
    """Everything `client` sent before is handled: its sync step 1 is answered in order."""
    await client.send(bytes([0, 0, 1, 0]))
    while not isinstance(await client.recv_message(), SyncStep2):
        pass


async def _live_ids(client: MemoryClient) -> list[int]:
    await client.send(b"\x03")  # query awareness: the reply holds every live state
    while True:
        message = await client.recv_message()
        if isinstance(message, AwarenessUpdate):
            entries = decode_awareness(message.payload)
            if len(entries) > 1 or (entries and entries[0].state is not None):
                return sorted(e.client_id for e in entries if e.state is not None)


async def test_one_connection_announces_at_most_awareness_clients_per_connection() -> None:
    config = replace(FAST, awareness_clients_per_connection=2)  # the default is 4
    async with running(config) as h:
        name = doc_name()
        a, b = await h.connect(name, "user-alice"), await h.connect(name, "user-bob")
        assert isinstance(await a.recv_message(), SyncStep1)
        assert isinstance(await b.recv_message(), SyncStep1)
        await a.send(_awareness(*(AwarenessEntry(i, 1, {"n": i}) for i in (11, 12, 13))))
        await _handled(a)
        assert await _live_ids(b) == [11, 12]
        await a.leave()
        await b.leave()
