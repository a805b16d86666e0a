"""on_awareness_update: the stamped payload per origin connection, and removals."""

from __future__ import annotations

from collab import AwarenessChange, Extension
from collab.protocol import (
    AwarenessEntry,
    decode_awareness,
    encode_awareness,
    encode_awareness_entries,
)
from tests.collab._kit import doc_name, running, wait_for


class Presence(Extension):
    def __init__(self) -> None:
        self.events: list[AwarenessChange] = []

    async def on_awareness_update(self, event: AwarenessChange) -> None:
        self.events.append(event)


async def test_awareness_hook_gets_stamped_payload_and_removal() -> None:
    presence = Presence()
    async with running(extensions=[presence]) as h:
        client = await h.connect(doc_name(), "user-7")
        await client.recv()
        await client.send(encode_awareness(encode_awareness_entries(
            [AwarenessEntry(3, 1, {"user": {"name": "Mallory"}})])))
        await wait_for(lambda: len(presence.events) == 1)
        [entry] = decode_awareness(presence.events[0].payload)
        assert entry.state is not None and entry.state["user"]["id"] == "7"
        assert presence.events[0].origin.kind == "client"
        await client.leave()
        await wait_for(lambda: len(presence.events) == 2)
        assert presence.events[1].removed == (3,)
