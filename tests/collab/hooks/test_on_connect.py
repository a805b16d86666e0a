"""on_connect: fired before authentication with the document coordinates; can refuse."""

from __future__ import annotations

from collab import Connect, Extension, Reject
from collab.errors import CloseCode
from tests.collab._kit import doc_name, running


class Seen(Extension):
    def __init__(self, refuse: bool = False) -> None:
        self.events: list[Connect] = []
        self.refuse = refuse

    async def on_connect(self, event: Connect) -> None:
        self.events.append(event)
        if self.refuse:
            raise Reject(CloseCode.TOO_MANY_CONNECTIONS, "busy")


async def test_on_connect_sees_the_document() -> None:
    seen = Seen()
    async with running(extensions=[seen]) as h:
        name = doc_name()
        client = await h.connect(name)
        await client.recv()
        [event] = seen.events
        assert (event.document, event.kind, event.doc_id) == (name, "notes", name[6:])
        await client.leave()


async def test_on_connect_can_refuse_before_auth() -> None:
    async with running(extensions=[Seen(refuse=True)]) as h:
        client = await h.connect(doc_name(), token=None)  # would be 4401 otherwise
        assert await client.wait_closed() == CloseCode.TOO_MANY_CONNECTIONS
        assert client.close_reason == "busy"
