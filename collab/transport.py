"""uvicorn's sans-I/O WebSocket protocol with a direct ``Channel`` for collab sockets.

Document frames skip ASGI: no awaited ``send`` event per frame and recipient through
Starlette's ``WebSocket``, the middlewares and uvicorn's protocol.
``CollabWebSocketProtocol`` (``uvicorn.Config(ws=CollabWebSocketProtocol)``, what
``collab serve`` runs) keeps uvicorn's handshake, keepalive pings, close handshake and
shutdown, and offers ``scope["extensions"]["collab.channel"]["claim"]``: after the ASGI
accept, the collab endpoint claims the socket and gets a ``DirectChannel``:

- ``send`` encodes the frame header itself (server frames are unmasked; messages are never
  fragmented) and corks: every frame sent during one event-loop iteration is written with a
  single ``transport.write`` per socket, from one loop-wide flush callback;
- ``receive`` reads from an inbox the protocol fills from ``data_received``; reading pauses
  only when the inbox holds ``_INBOX_HIGH`` messages (the ASGI path pauses after each one);
- after the claim, ``data_received`` splits the common frame itself (final, masked, binary,
  within ``ws_max_size``: what y-websocket sends) and unmasks it with websockets' C helper;
  every other frame (ping/pong, close, text, fragments, anything malformed) is handed whole,
  at a frame boundary, to websockets' parser, which keeps answering them as before;
- ``buffered`` counts the cork and the transport's write buffer; ``stalled_since`` is set
  while asyncio has paused writing (the peer is not reading).

Without the extension (another ASGI server, Starlette's TestClient) the endpoint falls back to
``BufferedChannel`` over Starlette's ``WebSocket``; the socket tests run on both. The subclass
uses uvicorn internals, hence the uvicorn minor-version pin (docs/protocol.md, "Transports").
"""

from __future__ import annotations

import asyncio
import struct
import time
import weakref
from collections import deque
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State
from websockets.speedups import apply_mask

from collab.channel import CLAIM_EXTENSION
from collab.errors import ConnectionClosed, UnsupportedData

__all__ = ["CollabWebSocketProtocol", "DirectChannel"]

_INBOX_HIGH = 64  # pause reading above this many unread messages...
_INBOX_LOW = 16  # ...and resume below this many
_TEXT = object()  # inbox marker: the peer sent a text message
_SHORT = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def frame_header(length: int) -> bytes:
    """The header of an unmasked, final, binary WebSocket frame of ``length`` bytes."""
    if length < 126:
        return bytes((0x82, length))
    if length < 65536:
        return _SHORT.pack(0x82, 126, length)
    return _LONG.pack(0x82, 127, length)


class _Flusher:
    """One call_soon per loop iteration writes every corked channel."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[DirectChannel] = []

    def add(self, channel: DirectChannel) -> None:
        if not self._dirty:
            self._loop.call_soon(self._run)
        self._dirty.append(channel)

    def _run(self) -> None:
        dirty, self._dirty = self._dirty, []
        for channel in dirty:
            channel.flush()


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flusher] = (
    weakref.WeakKeyDictionary()
)


def _flusher_for(loop: asyncio.AbstractEventLoop) -> _Flusher:
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = _Flusher(loop)
    return flusher


class DirectChannel:
    """A ``Channel`` over a claimed ``CollabWebSocketProtocol`` (create with its ``claim``)."""

    def __init__(self, protocol: CollabWebSocketProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        self._loop = protocol.loop
        self._flusher = _flusher_for(protocol.loop)
        self._inbox: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._gone: int | None = None  # the close code once the peer closed or vanished
        self._cork: list[bytes] = []
        self._corked = 0
        self.stalled_since: float | None = None

    # -- receiving --------------------------------------------------------------------------

    async def receive(self) -> bytes:
        """The next binary message; raises ``ConnectionClosed`` once the socket is gone."""
        inbox = self._inbox
        while not inbox:
            if self._gone is not None:
                raise ConnectionClosed(self._gone)
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        item = inbox.popleft()
        protocol = self._protocol
        if protocol.read_paused and len(inbox) <= _INBOX_LOW and not protocol.close_sent:
            protocol.read_paused = False
            self._transport.resume_reading()
        if item is _TEXT:
            raise UnsupportedData("text frame")
        return item  # type: ignore[no-any-return]

    def deliver(self, data: Any) -> None:
        """(protocol) A complete message arrived: bytes, or ``_TEXT``."""
        self._inbox.append(data)
        protocol = self._protocol
        if len(self._inbox) >= _INBOX_HIGH and not protocol.read_paused:
            protocol.read_paused = True
            self._transport.pause_reading()
        self._wake()

    def end(self, code: int) -> None:
        """(protocol) The peer closed or the connection was lost."""
        if self._gone is None:
            self._gone = code
        self._cork.clear()
        self._corked = 0
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- sending ----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Cork one binary message; it is written at the end of this loop iteration."""
        if self._gone is not None or self._protocol.close_sent:
            return
        if not self._cork:
            self._flusher.add(self)
        self._cork.append(frame_header(len(data)))
        self._cork.append(data)
        self._corked += len(data)

    def flush(self) -> None:
        """Write the cork now (the flusher calls this once per loop iteration)."""
        if not self._cork:
            return
        cork, self._cork, self._corked = self._cork, [], 0
        if self._gone is None and not self._transport.is_closing():
            self._transport.write(b"".join(cork))

    @property
    def buffered(self) -> int:
        """Corked bytes plus the transport's write buffer."""
        return self._corked + self._transport.get_write_buffer_size()

    async def close(self, code: int, reason: str) -> None:
        """Write what is corked (dropped if the peer stopped reading), then the close frame;
        the peer's reply ends the TCP connection, as uvicorn does for an ASGI
        ``websocket.close``, or after uvicorn's close timeout it is aborted."""
        protocol = self._protocol
        if self.stalled_since is None:
            self.flush()
        else:
            self._cork.clear()
            self._corked = 0
        if protocol.close_sent or self._gone is not None or self._transport.is_closing():
            return
        protocol.conn.send_close(code, reason)
        self._transport.write(b"".join(protocol.conn.data_to_send()))
        protocol.close_sent = True
        if protocol.read_paused:
            protocol.read_paused = False
            self._transport.resume_reading()
        protocol.close_timer = self._loop.call_later(protocol.close_timeout, self._abort)

    def _abort(self) -> None:
        # Not ``close``: that waits for the write buffer to drain, which a peer that stopped
        # reading never lets happen (the buffer would stay in memory).
        self._transport.abort()


class CollabWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol plus the ``collab.channel`` claim."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel: DirectChannel | None = None
        self._rx: list[bytes] = []  # pieces of a frame not complete yet (fast path only)
        self._rx_len = 0  # their total length
        self._rx_need = 0  # bytes that frame needs, header included (2 while unknown)
        self._fast = True  # False for good once websockets' parser took over mid-frame
        self._max_frame = self.config.ws_max_size

    def data_received(self, data: bytes) -> None:
        channel = self.channel
        if (
            channel is None
            or not self._fast
            or self.close_sent
            or self.conn.state is not State.OPEN
        ):
            super().data_received(data)
            return
        if self._rx:
            self._rx.append(data)
            self._rx_len += len(data)
            if self._rx_len < self._rx_need:
                return  # a large frame still arriving: join its pieces once, when complete
            data = b"".join(self._rx)
            self._rx, self._rx_len, self._rx_need = [], 0, 0
        self._split(channel, data)

    def _split(self, channel: DirectChannel, buf: bytes) -> None:
        end_of_data = len(buf)
        pos = 0
        while end_of_data - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length = second & 0x7F
            head = pos + 2
            if length == 126:
                if end_of_data - pos < 4:
                    break
                length = int.from_bytes(buf[head : head + 2], "big")
                head += 2
            elif length == 127:
                if end_of_data - pos < 10:
                    break
                length = int.from_bytes(buf[head : head + 8], "big")
                head += 8
            if length > self._max_frame:  # websockets closes it with 1009
                self._fast = False
                super().data_received(buf[pos:])
                return
            masked = second & 0x80
            end = head + (4 if masked else 0) + length
            if end > end_of_data:
                self._rx_need = end - pos  # the rest of this frame is still on its way
                break
            if first != 0x82 or not masked or self.frames:  # (frames: a fragmented message)
                # ping, pong, close, text, a fragment or a protocol error: websockets' parser
                # handles it (it is at a frame boundary: it has only ever had whole frames)
                super().data_received(buf[pos:end])
                pos = end
                if self.close_sent or self.conn.state is not State.OPEN or self.channel is None:
                    self._fast = False
                    if pos < end_of_data:
                        super().data_received(buf[pos:])
                    return
                continue
            channel.deliver(apply_mask(buf[head + 4 : end], buf[head : head + 4]))
            pos = end
        if pos < end_of_data:  # keep the incomplete frame (at least its header's 2 bytes)
            self._rx, self._rx_len = [buf[pos:]], end_of_data - pos
            self._rx_need = max(self._rx_need, 2)
        else:
            self._rx_need = 0

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            self.scope["extensions"][CLAIM_EXTENSION] = {"claim": self.claim}

    def claim(self) -> DirectChannel:
        """Take the accepted socket away from the ASGI receive queue."""
        if self.channel is not None or not self.handshake_complete:
            raise RuntimeError("claim() needs an accepted, unclaimed WebSocket")
        channel = self.channel = DirectChannel(self)
        while not self.queue.empty():  # messages that arrived before the claim
            message = self.queue.get_nowait()
            if message["type"] == "websocket.receive":
                data = message.get("bytes")
                channel.deliver(_TEXT if data is None else data)
            elif message["type"] == "websocket.disconnect":
                channel.end(int(message.get("code", 1005)))
        if self.read_paused and not self.close_sent:
            self.read_paused = False
            self.transport.resume_reading()
        if self.disconnected:
            channel.end(1006)
        return channel

    def send_receive_event_to_app(self) -> None:
        channel = self.channel
        if channel is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past our close frame: only the peer's close reply matters now
        if self.curr_msg_data_type == "text":
            channel.deliver(_TEXT)
        else:
            channel.deliver(data if type(data) is bytes else bytes(data))

    def handle_close(self, event: Any) -> None:
        if self.channel is not None and not self.close_sent:
            received = self.conn.close_rcvd
            self.channel.end(received.code if received is not None else 1005)
        super().handle_close(event)

    def handle_parser_exception(self) -> None:
        if self.channel is not None:
            sent = self.conn.close_sent
            self.channel.end(sent.code if sent is not None else 1002)
        super().handle_parser_exception()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.channel is not None and self.channel.stalled_since is None:
            self.channel.stalled_since = time.monotonic()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.channel is not None:
            self.channel.stalled_since = None

    def shutdown(self) -> None:
        channel = self.channel
        if channel is not None and not self.close_sent:
            channel.flush()
            channel.end(1012)
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.channel is not None:
            self.channel.end(1006)
