"""The transport seam of a connection: ``Channel``, ``StreamChannel`` and ``BufferedChannel``.

A ``Channel`` sends without blocking: ``send`` buffers the frame and returns, so a broadcast
to a hundred connections is a hundred appends, not a hundred awaits. The connection enforces
the limits from what the channel reports (``buffered`` bytes, ``stalled_since``).

Two implementations:

- ``collab.transport.DirectChannel`` writes straight into uvicorn's transport (what
  ``collab serve`` runs);
- ``BufferedChannel`` adapts any await-per-message ``StreamChannel`` (Starlette's
  ``WebSocket`` under another ASGI server, the in-memory pair of the tests) with one writer
  task, its ``pump``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import anyio
from anyio.abc import TaskStatus

__all__ = ["CLAIM_EXTENSION", "BufferedChannel", "Channel", "ConnectRequest", "StreamChannel"]

# The ASGI scope extension a server offers when the endpoint may claim the socket as a Channel
# (``collab.transport`` offers it); here so that the endpoint needs no uvicorn internals.
CLAIM_EXTENSION = "collab.channel"


class Channel(Protocol):
    """A message-oriented transport with a non-blocking, buffered ``send``."""

    async def receive(self) -> bytes:
        """The next binary message. Raises ``ConnectionClosed`` or ``UnsupportedData``."""
        ...

    def send(self, data: bytes) -> None:
        """Buffer one binary message for sending; never blocks. Dropped once closed."""
        ...

    @property
    def buffered(self) -> int:
        """Bytes accepted by ``send`` and not yet handed to the network."""
        ...

    @property
    def stalled_since(self) -> float | None:
        """``time.monotonic()`` since when the peer has not been taking data, or None."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame (idempotent)."""
        ...


class StreamChannel(Protocol):
    """An await-per-message transport (wrap it in ``BufferedChannel``)."""

    async def receive(self) -> bytes:
        """The next binary message. Raises ``ConnectionClosed`` or ``UnsupportedData``."""
        ...

    async def send(self, data: bytes) -> None:
        """Send one binary message. Raises ``ConnectionClosed``."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame (idempotent)."""
        ...


class BufferedChannel:
    """A ``Channel`` over a ``StreamChannel``: frames queue here and ``pump`` sends them.

    Args:
        stream: the await-per-message transport.
    """

    def __init__(self, stream: StreamChannel) -> None:
        self.stream = stream
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._wake = anyio.Event()
        self._sending_since: float | None = None
        self._closed = False
        self._pump_scope: anyio.CancelScope | None = None
        self._pump_done = anyio.Event()

    async def receive(self) -> bytes:
        """The stream's next message."""
        return await self.stream.receive()

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the pump."""
        if self._closed:
            return
        self._frames.append(data)
        self._bytes += len(data)
        self._wake.set()

    @property
    def buffered(self) -> int:
        """Bytes queued or being sent."""
        return self._bytes

    @property
    def stalled_since(self) -> float | None:
        """When the send in progress started (None between sends)."""
        return self._sending_since

    async def pump(
        self,
        on_error: Callable[[BaseException], None],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Send queued frames in order until ``close``; a failed send calls ``on_error``."""
        try:
            with anyio.CancelScope() as scope:
                self._pump_scope = scope
                task_status.started()
                while True:
                    if not self._frames:
                        self._wake = anyio.Event()
                        await self._wake.wait()
                        continue
                    frame = self._frames[0]
                    self._sending_since = time.monotonic()
                    await self.stream.send(frame)
                    self._sending_since = None
                    self._frames.popleft()
                    self._bytes -= len(frame)
        except Exception as exc:  # noqa: BLE001 - reported to the connection's boundary
            on_error(exc)
        finally:
            self._closed = True
            self._pump_done.set()
            # A cancellation's traceback keeps this frame: it must not keep the connection.
            del on_error

    async def close(self, code: int, reason: str) -> None:
        """Stop the pump (what is still queued is dropped), then close the stream."""
        self._closed = True
        if self._pump_scope is not None:
            self._pump_scope.cancel()
            await self._pump_done.wait()
        self._frames.clear()
        self._bytes = 0
        await self.stream.close(code, reason)


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What the transport knows about a new connection."""

    kind: str
    doc_id: str
    token: str | None = None
    cookies: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # the URL's query parameters

    @property
    def document(self) -> str:
        """The document name, ``"{kind}/{doc_id}"``."""
        return f"{self.kind}/{self.doc_id}"
