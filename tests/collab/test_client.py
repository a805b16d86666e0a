"""`collab.client.CollabClient` against a real CollabServer served by uvicorn on loopback, on
both transports (the ``ws_impl`` fixture: our direct channel and the ASGI fallback)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from pycrdt import Doc, Text
from starlette.applications import Starlette

from collab import CloseCode, CollabConfig, CollabServer, Extension, Principal, Reject
from collab.asgi import routes
from collab.client import CollabClient
from collab.extensions.persistence import MemoryStore, Persistence
from collab.hooks import Authenticate
from collab.transport import CollabWebSocketProtocol


class TokenIsIdentity(Extension):
    """Test auth: token `write:<name>` edits, `read:<name>` reads, anything else is refused."""

    async def on_authenticate(self, event: Authenticate) -> None:
        mode, _, user = (event.token or "").partition(":")
        if mode not in ("write", "read") or not user:
            raise Reject(CloseCode.UNAUTHORIZED, "unauthorized")
        event.principal = Principal(user_id=user, name=user.title())
        event.read_only = mode == "read"


@dataclass(frozen=True, slots=True)
class Served:
    url: str  # ws://127.0.0.1:<port>/collab
    server: CollabServer


@pytest.fixture
async def served(ws_impl: str) -> AsyncIterator[Served]:
    collab = CollabServer(
        config=CollabConfig(unload_delay=0.1, store_debounce=0.05),
        extensions=[TokenIsIdentity(), Persistence(MemoryStore())],
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with collab:
            yield

    # Listening before uvicorn starts: clients queue in the backlog instead of racing startup.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        Starlette(routes=routes(collab), lifespan=lifespan),
        log_config=None,
        lifespan="on",
        ws=CollabWebSocketProtocol if ws_impl == "direct" else "websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield Served(url=f"ws://127.0.0.1:{port}/collab", server=collab)
    finally:
        server.should_exit = True
        await task
        sock.close()


def text_of(doc: Doc[Any]) -> str:
    return str(doc.get("content", type=Text))


def has(expected: str) -> Callable[[Doc[Any]], bool]:
    return lambda doc: text_of(doc) == expected


async def test_two_clients_sync(served: Served) -> None:
    name = "notes/11111111-1111-4111-8111-111111111111"
    async with (
        CollabClient(served.url, name, token="write:ada") as a,
        CollabClient(served.url, name, token="write:bob") as b,
    ):
        async with asyncio.timeout(10):
            await a.synced()
            await b.synced()
        a.doc.get("content", type=Text).insert(0, "hello")
        await b.wait_for(has("hello"), 10)
        b.doc.get("content", type=Text).insert(5, " world")
        await a.wait_for(has("hello world"), 10)

    # A late joiner gets the full state from the server.
    async with CollabClient(served.url, name, token="write:cy") as c:
        async with asyncio.timeout(10):
            await c.synced()
        assert text_of(c.doc) == "hello world"


async def test_offline_edits_converge_after_reconnect(served: Served) -> None:
    name = "notes/22222222-2222-4222-8222-222222222222"
    async with (
        CollabClient(served.url, name, token="write:ada") as a,
        CollabClient(served.url, name, token="write:bob") as b,
    ):
        async with asyncio.timeout(10):
            await a.synced()
            await b.synced()
        a.doc.get("content", type=Text).insert(0, "base")
        await b.wait_for(has("base"), 10)

        await a.go_offline()
        a.doc.get("content", type=Text).insert(0, "[a]")  # buffered locally
        b.doc.get("content", type=Text).insert(4, "[b]")  # made while a is away
        await a.wait_for(has("[a]base"), 10)  # the offline edit is local only...
        await b.wait_for(has("base[b]"), 10)  # ...and b did not get it
        a.go_online()
        await a.wait_for(has("[a]base[b]"), 10)
        await b.wait_for(has("[a]base[b]"), 10)


async def test_read_only_client_edits_never_reach_others(served: Served) -> None:
    name = "notes/33333333-3333-4333-8333-333333333333"
    async with (
        CollabClient(served.url, name, token="write:ada") as writer,
        CollabClient(served.url, name, token="read:eve") as reader,
    ):
        async with asyncio.timeout(10):
            await writer.synced()
            await reader.synced()
        writer.doc.get("content", type=Text).insert(0, "by ada")
        await reader.wait_for(has("by ada"), 10)  # reads work

        reader.doc.get("content", type=Text).insert(0, "EVIL ")
        # Fence on the reader's connection: its awareness after the edit reaches the writer
        # only after the server handled (and dropped) the edit.
        reader.set_awareness({"fence": 1})
        await writer.wait_for(
            lambda _doc: any(s.get("fence") == 1 for s in writer.awareness.states.values()), 10
        )
        assert text_of(writer.doc) == "by ada"

    async with CollabClient(served.url, name, token="write:cy") as fresh:
        async with asyncio.timeout(10):
            await fresh.synced()
        assert text_of(fresh.doc) == "by ada"


async def test_refused_client_stops_with_the_close_code(served: Served) -> None:
    name = "notes/44444444-4444-4444-8444-444444444444"
    async with CollabClient(served.url, name, token="bogus") as client:
        async with asyncio.timeout(10):
            assert await client.closed() == CloseCode.UNAUTHORIZED
        with pytest.raises(ConnectionError):
            await client.synced()


async def test_a_token_callable_is_refreshed_after_4401(served: Served) -> None:
    name = "notes/55555555-5555-4555-8555-555555555555"
    tokens = iter(["expired", "write:ada"])
    issued: list[str] = []

    async def fresh_token() -> str:
        issued.append(next(tokens))
        return issued[-1]

    async with CollabClient(served.url, name, token=fresh_token, min_backoff=0.01) as client:
        async with asyncio.timeout(10):
            await client.synced()
        assert issued == ["expired", "write:ada"]
        assert client.close_code == CloseCode.UNAUTHORIZED  # the first attempt's
