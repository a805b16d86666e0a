"""The channel over a real socket, on both transports (the ``ws_impl`` fixture): our
``DirectChannel`` (``collab serve``) and the ``BufferedChannel`` fallback over Starlette's
``WebSocket`` (stock uvicorn, any other ASGI server). Frame lengths, batched, split and
fragmented frames, close codes, backpressure, uvicorn's shutdown and freeing an ended
connection must behave the same on both."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from dataclasses import replace

import anyio
import pytest
from prometheus_client import CollectorRegistry
from pycrdt import Doc, Text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from collab import CollabServer, Extension
from collab.channel import BufferedChannel
from collab.errors import CloseCode
from collab.hooks import Authenticate
from collab.protocol import SyncStep1, SyncStep2, decode_message, encode_sync_step1, encode_update
from collab.transport import DirectChannel, frame_header
from tests.collab._kit import FAST, TokenAuth, doc_name, uvicorn_app, wait_for
from tests.interop.stalledclient import StalledClient


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
def test_frame_header_matches_websockets_serialization(length: int) -> None:
    payload = bytes(length)
    expected = Frame(Opcode.BINARY, payload).serialize(mask=False)
    assert frame_header(length) + payload == expected


def _server(config: object = FAST) -> tuple[CollabServer, CollectorRegistry]:
    registry = CollectorRegistry()
    return CollabServer(config, [TokenAuth()], metrics_registry=registry), registry  # type: ignore[arg-type]


_CHANNEL = {"direct": DirectChannel, "asgi": BufferedChannel}


def _assert_transport(server: CollabServer, ws_impl: str) -> None:
    """The one open connection runs on the channel ``ws_impl`` stands for."""
    (connection,) = server.connections.values()
    assert type(connection.channel) is _CHANNEL[ws_impl]


async def test_frames_of_every_length_class_arrive_intact(ws_impl: str) -> None:
    server, _ = _server()
    name = doc_name()
    async with (
        server,
        uvicorn_app(server, ws_impl) as base,
        connect(f"{base}/collab/{name}?token=user-a", max_size=None) as a,
    ):
        assert isinstance(decode_message(await a.recv()), SyncStep1)  # type: ignore[arg-type]
        _assert_transport(server, ws_impl)
        doc: Doc = Doc()
        text = doc.get("t", type=Text)
        for size in (10, 200, 70_000):  # 7-bit, 16-bit and 64-bit payload lengths
            text += "x" * size
            await a.send(encode_update(doc.get_update()))
        assert await _text_of(base, name) == str(text)  # a fresh client syncs all of it


async def _stall_then_drain(config: object, ws_impl: str, reason: str) -> None:
    """A client that stops reading (a raw socket with a small receive buffer, never read)
    while a writer pushes up to ~10 MB: the server closes it with 1013 (counted), the room
    carries on, and the client, reading again, gets the close frame."""
    server, registry = _server(config)
    name = doc_name()
    async with (
        server,
        uvicorn_app(server, ws_impl) as base,
        connect(f"{base}/collab/{name}?token=user-w", max_size=None) as writer,
    ):
        await writer.recv()
        stalled = await RawSocket.open(base, f"/collab/{name}?token=user-stall",
                                       receive_buffer=64 * 1024)
        await wait_for(lambda: len(server.connections) == 2)
        doc: Doc = Doc()
        text = doc.get("t", type=Text)
        closed = {"code": "1013", "reason": "try_again_later"}
        for _ in range(100):
            before = doc.get_state()
            text += "y" * 100_000
            await writer.send(encode_update(doc.get_update(before)))
            if registry.get_sample_value("collab_closes_total", closed):
                break
        await wait_for(lambda: bool(registry.get_sample_value("collab_closes_total", closed)),
                       10)
        assert len(server.registry.documents[name].connections) == 1  # the writer stays
        with anyio.fail_after(10):
            close = await stalled.until(Opcode.CLOSE)
        assert int.from_bytes(close[:2], "big") == CloseCode.TRY_AGAIN_LATER, reason
        stalled.writer.close()


async def test_a_client_that_stops_reading_is_closed_by_the_byte_budget(ws_impl: str) -> None:
    config = replace(FAST, send_queue_bytes=1 << 20, send_timeout=60)
    await _stall_then_drain(config, ws_impl, "bytes")


async def test_a_client_that_stops_reading_is_closed_by_the_send_timeout(ws_impl: str) -> None:
    config = replace(FAST, send_queue_bytes=1 << 30, send_timeout=0.3)
    await _stall_then_drain(config, ws_impl, "timeout")


async def test_uvicorn_shutdown_closes_open_sockets_with_1012(ws_impl: str) -> None:
    server, _ = _server()
    async with server:
        async with uvicorn_app(server, ws_impl) as base:
            ws = await connect(f"{base}/collab/{doc_name()}?token=user-a")
            await ws.recv()
            _assert_transport(server, ws_impl)
        # leaving uvicorn_app ran uvicorn's shutdown: every socket gets 1012 (service restart)
        with pytest.raises(ConnectionClosed) as info, anyio.fail_after(5):
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.SERVICE_RESTART
        await wait_for(lambda: not server.connections)


# -- frames as bytes on the wire (DirectChannel: CollabWebSocketProtocol.data_received) -----


class RawSocket:
    """A WebSocket client at the byte level: frames are written exactly as the test says
    (several in one write, one split byte by byte, control frames in between)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str, path: str, *, receive_buffer: int | None = None) -> RawSocket:
        """``receive_buffer`` fixes the socket's receive buffer (Linux would otherwise grow
        it up to ``net.ipv4.tcp_rmem``'s maximum, tens of MB, and swallow what the server
        sends to a client that stopped reading)."""
        host, port = base.removeprefix("ws://").split(":")
        sock = socket.socket()
        if receive_buffer is not None:  # before connect, so the window is sized for it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def frame(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload)."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return first & 0x0F, await self.reader.readexactly(length)

    async def until(self, opcode: int) -> bytes:
        while True:
            got, payload = await self.frame()
            if got == opcode:
                return payload


def masked(opcode: Opcode, payload: bytes, *, fin: bool = True) -> bytes:
    return Frame(opcode, payload, fin=fin).serialize(mask=True)


async def _text_of(base: str, name: str) -> str:
    async with connect(f"{base}/collab/{name}?token=user-reader", max_size=None) as b:
        await b.recv()
        await b.send(encode_sync_step1(Doc().get_state()))
        while not isinstance(message := decode_message(await b.recv()), SyncStep2):  # type: ignore[arg-type]
            pass
        fresh: Doc = Doc()
        fresh.apply_update(message.update)
        return str(fresh.get("t", type=Text))


async def test_frames_batched_split_fragmented_and_between_pings_all_arrive_in_order(
    ws_impl: str,
) -> None:
    server, _ = _server()
    name = doc_name()
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    updates = []
    for word in ("alpha ", "beta ", "gamma ", "delta ", "epsilon ", "zeta " * 30_000):
        before = doc.get_state()
        text += word
        updates.append(encode_update(doc.get_update(before)))
    async with server, uvicorn_app(server, ws_impl) as base:
        raw = await RawSocket.open(base, f"/collab/{name}?token=user-raw")
        await raw.until(Opcode.BINARY)  # the server's sync step 1: the socket is served
        _assert_transport(server, ws_impl)
        # three frames and a ping in one write: each frame delivered, the ping answered
        raw.writer.write(
            masked(Opcode.BINARY, updates[0])
            + masked(Opcode.PING, b"p1")
            + masked(Opcode.BINARY, updates[1])
            + masked(Opcode.BINARY, updates[2])
        )
        assert await raw.until(Opcode.PONG) == b"p1"
        # one frame byte by byte
        for byte in masked(Opcode.BINARY, updates[3]):
            raw.writer.write(bytes([byte]))
            await raw.writer.drain()
            await anyio.sleep(0)
        # a fragmented message (websockets' parser assembles it), then a 64-bit-length frame
        # split in two writes in the middle of its header
        half = len(updates[4]) // 2
        raw.writer.write(
            masked(Opcode.BINARY, updates[4][:half], fin=False)
            + masked(Opcode.CONT, updates[4][half:])
        )
        big = masked(Opcode.BINARY, updates[5])
        raw.writer.write(big[:5])
        await raw.writer.drain()
        await anyio.sleep(0.05)
        raw.writer.write(big[5:])
        await raw.writer.drain()
        with anyio.fail_after(10):  # every update applied, in order, on the server
            while await _text_of(base, name) != str(text):
                await anyio.sleep(0.05)
        raw.writer.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (masked(Opcode.TEXT, b"hello"), 1003),  # not a Yjs message
        (Frame(Opcode.BINARY, b"\x00\x00\x00").serialize(mask=False), 1002),  # clients mask
        (b"\x82\xff" + (2**40).to_bytes(8, "big"), 1009),  # masked, announces 1 TiB
    ],
    # Named ids: a random mask in the id would differ between collecting processes (xdist).
    ids=["text", "unmasked", "oversized"],
)
async def test_text_unmasked_and_oversized_frames_get_their_close_code(
    frame: bytes, code: int, ws_impl: str
) -> None:
    server, _ = _server()
    async with server, uvicorn_app(server, ws_impl) as base:
        raw = await RawSocket.open(base, f"/collab/{doc_name()}?token=user-raw")
        await raw.until(Opcode.BINARY)
        raw.writer.write(frame)
        with anyio.fail_after(10):
            close = await raw.until(Opcode.CLOSE)
        assert int.from_bytes(close[:2], "big") == code
        raw.writer.close()


async def test_a_large_frame_arriving_in_many_small_pieces_is_delivered_once_intact(
    ws_impl: str,
) -> None:
    """Pieces of an incomplete frame are kept and joined once the frame is complete (joining
    on every arrival would copy a 16 MiB frame hundreds of times)."""
    server, _ = _server()
    name = doc_name()
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    text += "".join(f"line {i} é 👩‍💻\n" for i in range(60_000))  # ~1.4 MB of update
    frame = masked(Opcode.BINARY, encode_update(doc.get_update()))
    async with server, uvicorn_app(server, ws_impl) as base:
        raw = await RawSocket.open(base, f"/collab/{name}?token=user-raw")
        await raw.until(Opcode.BINARY)
        for start in range(0, len(frame), 4096):
            raw.writer.write(frame[start : start + 4096])
            await raw.writer.drain()
        with anyio.fail_after(20):
            while await _text_of(base, name) != str(text):
                await anyio.sleep(0.05)
        raw.writer.close()


async def test_an_ended_connection_and_its_unloaded_document_need_no_garbage_collection(
    ws_impl: str,
) -> None:
    """Reference counting alone frees an ended connection and its unloaded document: nothing
    (such as the exception that ended it) holds them in a reference cycle."""
    server, _ = _server(replace(FAST, unload_delay=0.0))
    name = doc_name()
    gc.disable()
    try:
        async with server, uvicorn_app(server, ws_impl) as base:
            async with connect(f"{base}/collab/{name}?token=user-a") as client:
                await client.recv()
                _assert_transport(server, ws_impl)
                (connection,) = server.connections.values()
                refs = [weakref.ref(connection), weakref.ref(server.registry.documents[name])]
                del connection
            await wait_for(lambda: name not in server.registry.documents and not
                           server.connections)
            await wait_for(lambda: refs[1]() is None, 5)  # the document: no collection ran
            # The connection may stay the sweeper's loop variable until its next sweep.
            await wait_for(lambda: refs[0]() is None, 5)
    finally:
        gc.enable()


class SlowAuth(Extension):
    """Authentication that takes a database round trip: the client's sync step 1 arrives
    while the connection is still opening (a stock y-websocket client sends it at once)."""

    def __init__(self) -> None:
        self.sent = anyio.Event()

    async def on_authenticate(self, event: Authenticate) -> None:
        await self.sent.wait()
        await anyio.sleep(0.2)  # the simulated lookup


@pytest.mark.parametrize("ws", ["direct", "asgi"])
async def test_a_document_over_16_mib_opens_over_a_real_socket(ws: str) -> None:
    # Default limits: the sync reply (17 MiB) is larger than the send budget (16 MiB) and
    # uvicorn's ws_max_size (16 MiB, which only bounds what the server receives), and it is
    # queued while the server's own sync step 1 is still buffered.
    auth = SlowAuth()
    registry = CollectorRegistry()
    server = CollabServer(FAST, [TokenAuth(), auth], metrics_registry=registry)
    name = doc_name()
    size = 17 * 1024 * 1024
    async with (
        server,
        uvicorn_app(server, ws) as base,
        server.open_direct(name) as session,  # (keeps the document loaded: no store here)
    ):
        session.transact(lambda doc: doc.get("t", type=Text).insert(0, "x" * size))
        async with connect(f"{base}/collab/{name}?token=user-a", max_size=None) as client:
            await client.send(encode_sync_step1(Doc().get_state()))
            auth.sent.set()
            doc: Doc = Doc()
            with anyio.fail_after(30):
                while True:
                    message = decode_message(await client.recv())  # type: ignore[arg-type]
                    if isinstance(message, SyncStep2):
                        doc.apply_update(message.update)
                        break
            assert len(str(doc.get("t", type=Text))) == size
            assert not registry.get_sample_value(
                "collab_closes_total", {"code": "1013", "reason": "try_again_later"}
            )


@pytest.mark.parametrize("total", [6 << 20, 1 << 40], ids=["budget", "no-budget"])
async def test_stalled_sockets_share_one_server_wide_budget(total: int) -> None:
    # Four sockets that stop reading, each under its own 4 MiB budget, while a writer pushes
    # 1 MB updates: together they may not hold more than the server-wide budget.
    config = replace(FAST, send_queue_bytes=4 << 20, send_queue_total_bytes=total,
                     send_timeout=60)
    server, registry = _server(config)
    name = doc_name()
    chunk = 1 << 20
    peak = 0
    async with (
        server,
        uvicorn_app(server) as base,
        connect(f"{base}/collab/{name}?token=user-w", max_size=None) as writer,
    ):
        await writer.recv()
        stalled = [StalledClient(f"{base}/collab/{name}?token=user-s{i}") for i in range(4)]
        for client in stalled:
            await client.open()
        await wait_for(lambda: len(server.registry.documents[name].connections) == 5)
        doc: Doc = Doc()
        text = doc.get("t", type=Text)
        for _ in range(8):
            before = doc.get_state()
            text += "y" * chunk
            await writer.send(encode_update(doc.get_update(before)))
            await writer.send(encode_sync_step1(doc.get_state()))  # a round trip: handled
            while not isinstance(decode_message(await writer.recv()), SyncStep2):  # type: ignore[arg-type]
                pass
            held = [c.channel.buffered for c in server.connections.values() if not c.closing]
            peak = max(peak, sum(held))
        shed = registry.get_sample_value(
            "collab_closes_total", {"code": "1013", "reason": "try_again_later"}
        )
        for client in stalled:
            await client.close()
        if total < 1 << 40:
            assert peak <= total + chunk + 64, peak  # (+ the frame that went over)
            assert shed
            assert len(server.registry.documents[name].connections) >= 1  # the writer stays
        else:
            assert peak > 8 << 20, peak  # what the budget prevents


async def test_a_closed_socket_that_never_reads_is_dropped_after_the_close_timeout() -> None:
    # Closing waits for the peer's close frame; a peer that reads nothing never sends it, and
    # asyncio's ``close`` would keep the unsent bytes in memory until the peer reads them.
    config = replace(FAST, send_queue_bytes=2 << 20, send_timeout=60)
    server, _ = _server(config)
    name = doc_name()
    async with (
        server,
        uvicorn_app(server) as base,
        connect(f"{base}/collab/{name}?token=user-w", max_size=None) as writer,
    ):
        await writer.recv()
        stalled = StalledClient(f"{base}/collab/{name}?token=user-s")
        await stalled.open()
        await wait_for(lambda: len(server.registry.documents[name].connections) == 2)
        channel = next(c.channel for c in server.connections.values() if c.user_id == "s")
        assert isinstance(channel, DirectChannel)
        channel._protocol.close_timeout = 0.2
        transport = channel._transport
        doc: Doc = Doc()
        text = doc.get("t", type=Text)
        while len(server.registry.documents[name].connections) == 2:  # kernel buffers first
            before = doc.get_state()
            text += "y" * (1 << 20)
            await writer.send(encode_update(doc.get_update(before)))
            await writer.send(encode_sync_step1(doc.get_state()))  # a round trip: handled
            while not isinstance(decode_message(await writer.recv()), SyncStep2):  # type: ignore[arg-type]
                pass
        await wait_for(lambda: transport.get_write_buffer_size() > 0)  # closed, unsent bytes
        await wait_for(lambda: transport.get_write_buffer_size() == 0, 5)  # dropped
        await stalled.close()


async def test_an_open_connection_keeps_no_credentials_or_headers(ws_impl: str) -> None:
    """The token, cookies, headers and query serve authentication only: once a connection is
    open it holds none of them (nothing to leak from a long-lived object, nothing to hold per
    idle connection)."""
    server, _ = _server()
    name = doc_name()
    async with (
        server,
        uvicorn_app(server, ws_impl) as base,
        connect(
            f"{base}/collab/{name}?token=user-a&stateless=1",
            additional_headers={"Cookie": "collab_access=secret-cookie", "X-Extra": "1"},
        ) as client,
    ):
        await client.recv()
        (connection,) = server.connections.values()
        request = connection.request
        assert (request.kind, request.doc_id) == tuple(name.split("/"))
        assert request.token is None
        assert not request.cookies and not request.headers and not request.params
        assert connection.stateless  # what the query asked for is kept as a flag
