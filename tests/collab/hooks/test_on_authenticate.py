"""on_authenticate: explicit outputs, StopHooks, priority order, credentials passed through."""

from __future__ import annotations

from typing import ClassVar

import anyio

from collab import Authenticate, Extension, Principal, StopHooks
from collab.connection import ConnectRequest
from collab.errors import CloseCode
from tests.collab._kit import MemoryChannel, MemoryClient, doc_name, running


class First(Extension):
    priority: ClassVar[int] = 500

    def __init__(self) -> None:
        self.seen: Authenticate | None = None

    async def on_authenticate(self, event: Authenticate) -> None:
        self.seen = event
        if event.cookies.get("collab_access") == "cookie-token":
            event.principal = Principal("cookie-user", "Cookie User")
            raise StopHooks


class Last(Extension):
    priority: ClassVar[int] = 1

    def __init__(self) -> None:
        self.calls = 0

    async def on_authenticate(self, event: Authenticate) -> None:
        self.calls += 1


async def test_cookie_auth_and_stop_hooks_skip_lower_priority() -> None:
    first, last = First(), Last()
    async with running(extensions=[last, first], auth=False) as h:
        to_server, inbox = anyio.create_memory_object_stream[bytes | None](10)
        outbox, from_server = anyio.create_memory_object_stream[bytes](10)
        client = MemoryClient(to_server, from_server)
        request = ConnectRequest("notes", doc_name()[6:], None, {"collab_access": "cookie-token"},
                                 {"user-agent": "test"})
        h.tg.start_soon(h.server.serve_stream, MemoryChannel(client, inbox, outbox), request)
        await client.recv()
        assert first.seen is not None and first.seen.headers["user-agent"] == "test"
        assert first.seen.token is None and first.seen.connection_id
        assert last.calls == 0  # StopHooks skipped it
        await client.leave()


async def test_no_principal_is_4401_and_read_only_output_is_kept() -> None:
    last = Last()
    async with running(extensions=[last], auth=False) as h:
        client = await h.connect(doc_name(), "user-1")
        assert await client.wait_closed() == CloseCode.UNAUTHORIZED
        assert last.calls == 1
    async with running() as h:
        name = doc_name()
        reader = await h.connect(name, "ro-1")
        await reader.recv()
        [connection] = h.server.connections.values()
        assert connection.read_only and connection.principal == Principal("1", "Reader 1")
        await reader.leave()
