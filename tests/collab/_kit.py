"""Collab test kit: a token-as-identity auth extension, an in-memory channel pair, a real
uvicorn server on port 0, and a tiny y-websocket client built on our own protocol module."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import anyio
import uvicorn
from prometheus_client import CollectorRegistry
from pycrdt import Doc, Text
from starlette.applications import Starlette

from collab import CollabConfig, CollabServer, Extension, Principal
from collab.asgi import routes
from collab.connection import ConnectRequest
from collab.errors import ConnectionClosed
from collab.hooks import Authenticate
from collab.kinds import DocumentKind
from collab.protocol import (
    AwarenessUpdate,
    Message,
    SyncStep1,
    SyncStep2,
    Update,
    decode_message,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
)
from collab.transport import CollabWebSocketProtocol

FAST = CollabConfig(unload_delay=0.05, store_debounce=0.02, store_max_debounce=0.1,
                    shutdown_timeout=2.0, awareness_interval=0.01)


class TokenAuth(Extension):
    """Token "user-<id>" authenticates user <id>; "ro-<id>" read-only; anything else 4401."""

    async def on_authenticate(self, event: Authenticate) -> None:
        token = event.token or ""
        if token.startswith("user-"):
            uid = token.removeprefix("user-")
            event.principal = Principal(uid, f"User {uid}")
        elif token.startswith("ro-"):
            uid = token.removeprefix("ro-")
            event.principal = Principal(uid, f"Reader {uid}")
            event.read_only = True


def doc_name() -> str:
    return f"notes/{uuid.uuid4().hex}"


# -- in-memory channel -------------------------------------------------------------------------


@dataclass
class MemoryClient:
    """The client end of an in-memory connection."""

    to_server: anyio.abc.ObjectSendStream[bytes | None]
    from_server: anyio.abc.ObjectReceiveStream[bytes]
    closed: anyio.Event = field(default_factory=anyio.Event)
    close_code: int | None = None
    close_reason: str = ""

    async def send(self, frame: bytes) -> None:
        await self.to_server.send(frame)

    async def recv(self, timeout: float = 5.0) -> bytes:
        with anyio.fail_after(timeout):
            return await self.from_server.receive()

    async def recv_message(self, timeout: float = 5.0) -> Message:
        return decode_message(await self.recv(timeout))

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        with anyio.fail_after(timeout):
            await self.closed.wait()
        return self.close_code

    async def leave(self) -> None:
        await self.to_server.send(None)


class MemoryChannel:
    """The server end: a ``Channel``."""

    def __init__(self, client: MemoryClient, inbox: anyio.abc.ObjectReceiveStream[bytes | None],
                 outbox: anyio.abc.ObjectSendStream[bytes], *, stall: bool = False) -> None:
        self.client = client
        self.inbox = inbox
        self.outbox = outbox
        self.stall = stall

    async def receive(self) -> bytes:
        try:
            frame = await self.inbox.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise ConnectionClosed(1006) from None
        if frame is None:  # the client left: no close frame will be read by anyone
            await self.outbox.aclose()
            raise ConnectionClosed(1000)
        return frame

    async def send(self, data: bytes) -> None:
        if self.stall:  # a client that never reads
            await anyio.sleep_forever()
        try:
            await self.outbox.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise ConnectionClosed(1006) from None

    async def close(self, code: int, reason: str) -> None:
        if not self.client.closed.is_set():
            self.client.close_code = code
            self.client.close_reason = reason
            self.client.closed.set()
        await self.outbox.aclose()


@dataclass
class Harness:
    server: CollabServer
    tg: anyio.abc.TaskGroup

    async def connect(self, name: str, token: str | None = "user-1", *, stall: bool = False,
                      buffer: int = 10_000,
                      params: dict[str, str] | None = None) -> MemoryClient:
        to_server, inbox = anyio.create_memory_object_stream[bytes | None](buffer)
        outbox, from_server = anyio.create_memory_object_stream[bytes](buffer)
        client = MemoryClient(to_server, from_server)
        channel = MemoryChannel(client, inbox, outbox, stall=stall)
        kind, doc_id = name.split("/", 1)
        self.tg.start_soon(self.server.serve_stream, channel,
                           ConnectRequest(kind, doc_id, token=token, params=params or {}))
        return client

    async def synced(self, name: str, token: str = "user-1") -> tuple[MemoryClient, SyncedClient]:
        """A connected client, synced; the harness's task group feeds it until it closes."""
        memory = await self.connect(name, token)
        synced = SyncedClient(memory.send)
        self.tg.start_soon(pump, memory, synced)
        await synced.start()
        with anyio.fail_after(10):
            await synced.synced.wait()
        return memory, synced


@contextlib.asynccontextmanager
async def running(config: CollabConfig = FAST, extensions: Sequence[Extension] = (),
                  auth: bool = True,
                  registry: CollectorRegistry | None = None,
                  kinds: Sequence[DocumentKind] | None = None) -> AsyncIterator[Harness]:
    exts = [TokenAuth(), *extensions] if auth else list(extensions)
    server = CollabServer(config, exts, kinds=kinds,
                          metrics_registry=registry or CollectorRegistry())
    async with server, anyio.create_task_group() as tg:
        yield Harness(server, tg)
        await server.close()


# -- a synced client ---------------------------------------------------------------------------


class SyncedClient:
    """A pycrdt Doc kept in sync with the server through a MemoryClient or a websocket."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.doc: Doc = Doc()
        self.text = self.doc.get("t", type=Text)
        self._send = send
        self.synced = anyio.Event()
        self.awareness: list[bytes] = []
        self._outgoing: list[bytes] = []
        self.doc.observe(lambda e: self._outgoing.append(e.update))

    async def start(self) -> None:
        await self._send(encode_sync_step1(self.doc.get_state()))

    async def handle(self, frame: bytes) -> None:
        message = decode_message(frame)
        if isinstance(message, SyncStep1):
            await self._send(encode_sync_step2(self.doc.get_update(message.state_vector)))
        elif isinstance(message, SyncStep2 | Update):
            self.doc.apply_update(message.update)
            self._outgoing.clear()  # remote changes are not re-sent
            if isinstance(message, SyncStep2):
                self.synced.set()
        elif isinstance(message, AwarenessUpdate):
            self.awareness.append(message.payload)

    async def push(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        for update in outgoing:
            await self._send(encode_update(update))


async def pump(client: MemoryClient, synced: SyncedClient) -> None:
    """Feed every frame from the server into ``synced`` until the connection closes."""
    with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
        async for frame in client.from_server:
            await synced.handle(frame)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polls the event loop; the deadline fails the test)."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.002)


# -- a real socket -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def uvicorn_app(server: CollabServer, ws: str = "direct") -> AsyncIterator[str]:
    """``ws="direct"``: our protocol (what ``collab serve`` runs); ``"asgi"``: stock uvicorn,
    every frame through ASGI (the ``BufferedChannel`` fallback)."""
    app = Starlette(routes=routes(server))
    impl: type[asyncio.Protocol] | str = (
        CollabWebSocketProtocol if ws == "direct" else "websockets-sansio"
    )
    # log_config=None: uvicorn's default config would stop its loggers propagating for every
    # later test in this process (tests/api/test_log_privacy.py reads them)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                            ws=impl, log_config=None)
    userver = uvicorn.Server(config)
    task = asyncio.create_task(userver.serve())
    try:
        await wait_for(lambda: userver.started or task.done(), 10)
        if task.done():
            task.result()
        port = userver.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"
    finally:
        userver.should_exit = True
        with anyio.fail_after(10):
            await task
