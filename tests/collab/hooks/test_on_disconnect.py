"""on_disconnect: once per registered connection, with the close code."""

from __future__ import annotations

from collab import Disconnect, Extension
from collab.errors import CloseCode
from tests.collab._kit import doc_name, running, wait_for


class Gone(Extension):
    def __init__(self) -> None:
        self.events: list[Disconnect] = []

    async def on_disconnect(self, event: Disconnect) -> None:
        self.events.append(event)


async def test_disconnect_reports_code_and_principal() -> None:
    gone = Gone()
    async with running(extensions=[gone]) as h:
        name = doc_name()
        a, b = await h.connect(name, "user-a"), await h.connect(name, "user-b")
        await a.recv()
        await b.recv()
        await a.leave()
        await b.send(b"\x09")  # protocol error
        await wait_for(lambda: len(gone.events) == 2)
        codes = {e.principal.user_id: e.code for e in gone.events if e.principal}
        assert codes == {"a": CloseCode.NORMAL, "b": CloseCode.PROTOCOL_ERROR}


async def test_refused_connection_is_not_reported() -> None:
    gone = Gone()
    async with running(extensions=[gone]) as h:
        client = await h.connect(doc_name(), token=None)
        assert await client.wait_closed() == CloseCode.UNAUTHORIZED
        assert gone.events == []
