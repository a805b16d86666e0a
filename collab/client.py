"""A small y-websocket client: keeps a local `pycrdt.Doc` in sync with a collab server.

Jobs, bots and tests use it the way a browser uses `y-websocket`'s `WebsocketProvider`::

    async with CollabClient("ws://host:8000/collab", "notes/<id>", token=token) as client:
        await client.synced()
        client.doc.get("content", type=Text).insert(0, "hello")
        await client.wait_for(lambda doc: "world" in str(doc.get("content", type=Text)), 10)

Offline-first: local edits made while disconnected stay in `client.doc`. On every (re)connect
the client sends sync step 1 (its state vector); the server answers with sync step 2 (what the
client lacks) and its own step 1, to which the client answers with step 2 computed from the
server's state vector, so each side receives only the difference (y-protocols sync.js).
Updates made while connected are sent as they happen (message type 0/2).

The client reconnects with exponential backoff, except after a close code in 4400-4499
(forbidden, not found, deleted, unauthorized...), which y-websocket also treats as "do not
reconnect"; the code is kept in `close_code` and `closed()` returns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from pycrdt import Awareness, Doc, Subscription, TransactionEvent
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from collab.errors import CloseCode, ProtocolViolation
from collab.protocol import (
    AwarenessUpdate,
    QueryAwareness,
    Stateless,
    SyncStep1,
    SyncStep2,
    Update,
    decode_message,
    encode_awareness,
    encode_stateless,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
)

__all__ = ["CollabClient"]

log = logging.getLogger(__name__)

#: Default frame size limit: large enough for the sync step 2 of a big document.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
#: Awareness states are renewed at half of y-protocols' 30 s `outdatedTimeout`.
AWARENESS_RENEW_SECONDS = 15.0


class CollabClient:
    """Sync one document with a collab server over the y-websocket protocol.

    Args:
        url: the collab endpoint, e.g. ``ws://127.0.0.1:8000/collab`` (as y-websocket's
            ``serverUrl``).
        name: the document name, e.g. ``notes/<uuid>``; the socket URL is ``{url}/{name}``.
        token: an access token sent as ``?token=`` (never logged), or an async callable
            returning a fresh one, called before every connection attempt: with a callable,
            4401 (expired token) is retried instead of being final.
        doc: the local document; a new ``Doc`` when omitted.
        reconnect: reconnect after a transient close or a network error.
        min_backoff: first reconnect delay in seconds, doubled per failed attempt.
        max_backoff: the delay cap.
        max_message_size: the largest frame accepted from the server.
        stateless: opt in to stateless messages (``?stateless=1``, docs/protocol.md): they
            arrive in ``stateless`` as ``(payload, rejected)``; send with ``send_stateless``.

    The client is an async context manager: entering starts the connection loop in the
    background (it does not wait for the first sync: use ``synced()``), leaving stops it and
    removes every observer it installed on ``doc``.
    """

    def __init__(
        self,
        url: str,
        name: str,
        *,
        token: str | Callable[[], Awaitable[str]] | None = None,
        doc: Doc[Any] | None = None,
        reconnect: bool = True,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        stateless: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name
        self.doc = doc if doc is not None else Doc()
        self.awareness = Awareness(self.doc)
        self.reconnect = reconnect
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.max_message_size = max_message_size
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._token = token
        self._ws: ClientConnection | None = None
        self._online = asyncio.Event()  # the user wants a connection
        self._online.set()
        self._synced = asyncio.Event()
        self._stopped = asyncio.Event()  # no further connection attempts will be made
        self._changed = asyncio.Event()
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._applying_remote = False
        self._doc_subscription: Subscription | None = None
        self._awareness_subscription: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._stateless = stateless
        self.stateless: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()

    async def _socket_url(self) -> str:
        token = self._token if self._token is None or isinstance(self._token, str) else (
            await self._token()
        )
        params = {} if token is None else {"token": token}
        if self._stateless:
            params["stateless"] = "1"
        query = "?" + urlencode(params) if params else ""
        return f"{self.url}/{self.name}{query}"

    @property
    def connected(self) -> bool:
        """True while a WebSocket to the server is open."""
        return self._ws is not None

    async def __aenter__(self) -> CollabClient:
        self._doc_subscription = self.doc.observe(self._on_doc_change)
        self._awareness_subscription = self.awareness.observe(self._on_awareness_change)
        self._task = asyncio.create_task(self._run(), name=f"collab-client {self.name}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Announce our awareness removal, close the socket and stop. Idempotent."""
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                # A removal (state null, clock + 1) so peers drop us at once, not after 30 s.
                self.awareness.remove_awareness_states([self.awareness.client_id], "closing")
                payload = self.awareness.encode_awareness_update([self.awareness.client_id])
                await ws.send(encode_awareness(payload))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if self._doc_subscription is not None:
            self.doc.unobserve(self._doc_subscription)
            self._doc_subscription = None
        if self._awareness_subscription is not None:
            self.awareness.unobserve(self._awareness_subscription)
            self._awareness_subscription = None

    async def synced(self) -> None:
        """Wait until the current connection finished its initial sync.

        Wrap it in ``asyncio.timeout()`` to bound the wait.

        Raises:
            ConnectionError: the client stopped (a permanent close code, see ``close_code``,
                or ``go_offline()``) before syncing.
        """
        synced = asyncio.ensure_future(self._synced.wait())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({synced, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            synced.cancel()
            stopped.cancel()
        if not self._synced.is_set():
            raise ConnectionError(f"closed by the server with {self.close_code}")

    # `timeout` as a parameter on purpose: the documented call shape, as asyncio.wait_for.
    async def wait_for(
        self,
        predicate: Callable[[Doc[Any]], bool],
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``predicate(doc)`` is true; it is re-checked after every change.

        Raises:
            TimeoutError: the predicate stayed false for ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not predicate(self.doc):
                self._changed.clear()
                await self._changed.wait()

    async def closed(self) -> int | None:
        """Wait until the client stopped for good; return the server's close code, if any."""
        await self._stopped.wait()
        return self.close_code

    async def go_offline(self) -> None:
        """Drop the connection and stay offline; local edits keep accumulating in ``doc``.

        Returns once the connection is gone. ``synced()`` raises ``ConnectionError`` until
        ``go_online()``.
        """
        self._online.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # not `await task`: our own cancellation must propagate

    def go_online(self) -> None:
        """Reconnect after ``go_offline()``; the resync sends only what the server lacks."""
        self._online.set()
        if self._task is None:
            self._stopped.clear()
            self._task = asyncio.create_task(self._run(), name=f"collab-client {self.name}")

    def set_awareness(self, state: dict[str, Any] | None) -> None:
        """Set (or clear, with ``None``) our awareness state; sent at once when connected."""
        self.awareness.set_local_state(state)

    def send_stateless(self, payload: str) -> None:
        """Send a stateless message (type 100) on the current connection.

        Raises:
            ConnectionError: not connected (stateless messages are not queued offline).
        """
        if self._ws is None:
            raise ConnectionError("not connected")
        self._outbox.put_nowait(encode_stateless(payload))

    # -- internals ---------------------------------------------------------------------------

    def _on_doc_change(self, event: TransactionEvent) -> None:
        self._changed.set()
        # Remote updates are never echoed back; local ones are sent only while connected, the
        # next resync covers anything made offline.
        if not self._applying_remote and self._ws is not None:
            self._outbox.put_nowait(encode_update(event.update))

    def _on_awareness_change(self, topic: str, change: tuple[dict[str, Any], Any]) -> None:
        if topic != "update":
            return
        _, origin = change
        if origin == "local" and self._ws is not None:
            payload = self.awareness.encode_awareness_update([self.awareness.client_id])
            self._outbox.put_nowait(encode_awareness(payload))

    async def _run(self) -> None:
        failures = 0
        try:
            while True:
                await self._online.wait()
                code: int | None = None
                try:
                    code = await self._connect_once()
                except (OSError, InvalidHandshake, TimeoutError) as exc:
                    log.info("collab client %s: cannot connect: %s", self.name, type(exc).__name__)
                except ProtocolViolation:
                    log.warning("collab client %s: malformed frame from the server", self.name)
                except Exception:  # the background task's boundary: log, retry later
                    log.exception("collab client %s: connection attempt failed", self.name)
                finally:
                    self._ws = None
                    if self._synced.is_set():
                        failures = 0
                    self._synced.clear()
                if code is not None:
                    log.info("collab client %s: closed by the server with %s", self.name, code)
                    self.close_code = code
                    refreshable = code == CloseCode.UNAUTHORIZED and callable(self._token)
                    if 4400 <= code < 4500 and not refreshable:
                        return
                if not self.reconnect:
                    return
                failures += 1
                await asyncio.sleep(min(self.max_backoff, self.min_backoff * 2 ** (failures - 1)))
        finally:
            self._stopped.set()
            self._changed.set()

    async def _connect_once(self) -> int | None:
        """Run one connection until it closes; return the server's close code, if it sent one."""
        url = await self._socket_url()
        async with connect(url, max_size=self.max_message_size, open_timeout=10) as ws:
            while not self._outbox.empty():  # stale frames from a previous connection
                self._outbox.get_nowait()
            self._ws = ws
            sender = asyncio.create_task(self._send_loop(ws))
            renewer = asyncio.create_task(self._renew_awareness())
            try:
                await ws.send(encode_sync_step1(self.doc.get_state()))
                if self.awareness.get_local_state() is not None:
                    payload = self.awareness.encode_awareness_update([self.awareness.client_id])
                    await ws.send(encode_awareness(payload))
                await self._receive_loop(ws)
            except ConnectionClosed:
                pass
            finally:
                for task in (sender, renewer):
                    task.cancel()
                # asyncio.wait, not `await task`: a cancellation of this task (aclose) arriving
                # while we wait must propagate, not be swallowed along with the subtasks' own.
                await asyncio.wait((sender, renewer))
                for task in (sender, renewer):
                    if not task.cancelled():
                        task.exception()  # mark retrieved; ConnectionClosed is expected here
        received = ws.protocol.close_rcvd
        if received is None:
            return None
        self.close_reason = received.reason
        return int(received.code)

    async def _send_loop(self, ws: ClientConnection) -> None:
        while True:
            frame = await self._outbox.get()
            await ws.send(frame)

    async def _renew_awareness(self) -> None:
        while True:
            await asyncio.sleep(AWARENESS_RENEW_SECONDS)
            state = self.awareness.get_local_state()
            if state is not None:
                self.awareness.set_local_state(state)

    async def _receive_loop(self, ws: ClientConnection) -> None:
        async for frame in ws:
            if isinstance(frame, str):
                raise ProtocolViolation("text frame from the server")
            message = decode_message(frame)
            if isinstance(message, SyncStep1):
                await ws.send(encode_sync_step2(self.doc.get_update(message.state_vector)))
            elif isinstance(message, SyncStep2 | Update):
                self._apply_remote(message.update)
                if isinstance(message, SyncStep2):
                    self._synced.set()
                    self._changed.set()
            elif isinstance(message, AwarenessUpdate):
                self.awareness.apply_awareness_update(message.payload, "remote")
                self._changed.set()
            elif isinstance(message, Stateless):
                self.stateless.put_nowait((message.payload, message.rejected))
            elif isinstance(message, QueryAwareness):
                payload = self.awareness.encode_awareness_update([self.awareness.client_id])
                await ws.send(encode_awareness(payload))

    def _apply_remote(self, update: bytes) -> None:
        if update == b"\x00\x00":
            return
        self._applying_remote = True
        try:
            self.doc.apply_update(update)
        finally:
            self._applying_remote = False
