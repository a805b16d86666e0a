"""``CollabServer``: the collab front door and its lifecycle.

``CollabServer(config, extensions, kinds=...)`` is cheap (no I/O). ``async with server:`` runs
every extension's ``on_configure``, enters the extensions that are async context managers (in
list order) and starts the task group that runs document tasks. Leaving it shuts down in order,
idempotently:

1. stop admitting (new sockets are accepted and closed with 1001);
2. close open connections with ``shutdown_close_code`` (1001, or 1012 for a restart);
3. wait up to ``shutdown_timeout`` for them to finish;
4. store and unload every document (flushes the debounced stores);
5. cancel the task group, then exit the extensions in reverse order (persistence flushes its
   group-commit queue last).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from types import TracebackType

import anyio
from anyio.abc import TaskGroup
from prometheus_client import CollectorRegistry

from collab.channel import BufferedChannel, Channel, ConnectRequest, StreamChannel
from collab.config import CollabConfig
from collab.connection import Connection
from collab.control import ALL_DOCUMENTS, Control
from collab.direct import DirectSession
from collab.document import Document
from collab.errors import (
    CloseCode,
    DocumentPoisoned,
    ServerGoingAway,
    default_reason,
)
from collab.extensions.readonly import ReadOnlyGuard
from collab.hooks import Configure, ControlApplied, Extension, Hooks, Origin, StatelessBroadcast
from collab.kinds import DocumentKind
from collab.metrics import CollabMetrics
from collab.protocol import decode_awareness, encode_awareness_entries, encode_stateless
from collab.registry import Registry
from collab.roster import Roster

__all__ = ["CollabServer"]

log = logging.getLogger(__name__)


class CollabServer:
    """Hosts collab documents for WebSocket clients and in-process sessions.

    Args:
        config: limits and delays (``CollabConfig()`` when omitted).
        extensions: hooks, run in ``priority`` order; async context managers among them are
            entered with the server.
        kinds: the document kinds served, each with its authorizer and stateless handler;
            when omitted, every kind of ``config.kinds`` is served without an authorizer.
        metrics_registry: the Prometheus registry (the process default when omitted).
    """

    def __init__(
        self,
        config: CollabConfig | None = None,
        extensions: Sequence[Extension] = (),
        *,
        kinds: Sequence[DocumentKind] | None = None,
        metrics_registry: CollectorRegistry | None = None,
    ) -> None:
        self.config = config or CollabConfig()
        if kinds is None:
            kinds = [DocumentKind(name) for name in sorted(self.config.kinds)]
        self.kinds: Mapping[str, DocumentKind] = {kind.name: kind for kind in kinds}
        self.extensions = tuple(extensions)
        self.hooks = Hooks([ReadOnlyGuard(), *self.extensions])
        self.metrics = CollabMetrics.for_registry(metrics_registry)
        self.registry = Registry(self.config, self.hooks, self.metrics)
        self.roster = Roster(self.config)
        self.connections = self.roster.connections  # admitted connections by id
        self._accepting = False
        self._stack: AsyncExitStack | None = None
        self._tg: TaskGroup | None = None
        self._closing = False
        self._closed = anyio.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> CollabServer:
        configure = Configure(self)
        for extension in self.extensions:
            await extension.on_configure(configure)
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            for extension in self.extensions:
                if isinstance(extension, AbstractAsyncContextManager):
                    await stack.enter_async_context(extension)
            self._tg = await stack.enter_async_context(anyio.create_task_group())
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.registry.start(self._tg)
        self._tg.start_soon(self._sweep)
        self._accepting = True
        log.info("collab server started with %d extensions", len(self.extensions))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.close()
        finally:
            # Cancelled only here: the caller's own code runs inside this task group's scope
            # (it was entered by __aenter__), so cancelling it earlier would cancel the caller.
            if self._tg is not None:
                self._tg.cancel_scope.cancel()
            stack, self._stack = self._stack, None
            if stack is not None:
                await stack.aclose()  # the task group, then the extensions in reverse order

    async def close(self) -> None:
        """Close connections and store every document (steps 1-4 of the module docstring).

        Idempotent: a second call awaits the first. Leaving ``async with`` calls it, then stops
        the task group and exits the extensions.
        """
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self._accepting = False
        cfg = self.config
        try:
            for connection in list(self.connections.values()):
                connection.close(cfg.shutdown_close_code, default_reason(cfg.shutdown_close_code))
            with anyio.move_on_after(cfg.shutdown_timeout):
                await self.roster.drained.wait()
            with anyio.move_on_after(cfg.shutdown_timeout):
                await self.registry.unload_all()
            if self.registry.documents:
                log.error("shutdown: %d documents not stored", len(self.registry.documents))
            self.registry.start(None)
        finally:
            self._closed.set()
            log.info("collab server stopped")

    # -- connections --------------------------------------------------------------------------

    async def serve(self, channel: Channel, request: ConnectRequest) -> None:
        """Serve one accepted WebSocket until it closes (the ASGI adapter calls this)."""
        await self._connection(channel, request).run()

    async def serve_stream(self, stream: StreamChannel, request: ConnectRequest) -> None:
        """``serve`` for an await-per-message transport: a ``BufferedChannel`` and its pump
        run beside the connection; a failed send ends the connection."""
        channel = BufferedChannel(stream)
        connection = self._connection(channel, request)
        async with anyio.create_task_group() as tg:
            await tg.start(channel.pump, connection.abort)
            await connection.run()
            tg.cancel_scope.cancel()

    def _connection(self, channel: Channel, request: ConnectRequest) -> Connection:
        return Connection(
            channel,
            request,
            config=self.config,
            hooks=self.hooks,
            registry=self.registry,
            metrics=self.metrics,
            gate=self,
            kinds=self.kinds,
        )

    async def _sweep(self) -> None:
        """Run the roster's sweep (stalled, idle and parked connections, the send budget) a
        few times per limit."""
        cfg = self.config
        interval = min(
            1.0, cfg.send_timeout / 4, (cfg.idle_timeout or 4.0) / 4, cfg.parked_timeout / 4
        )
        while True:
            await anyio.sleep(interval)
            self.roster.sweep(time.monotonic(), self.registry.documents.values())

    def admit(self, connection: Connection) -> None:
        """(Gate) Count ``connection`` in, unless shutting down or over a limit."""
        if not self._accepting:
            raise ServerGoingAway("shutting down")
        self.roster.admit(connection)

    def discharge(self, connection: Connection) -> None:
        """(Gate) Count ``connection`` out."""
        self.roster.discharge(connection)

    def queued(self, delta: int) -> None:
        """(Gate) A connection's buffered bytes changed by ``delta``."""
        self.roster.queued(delta)

    def schedule_rebuild(self, document: Document) -> None:
        """Rebuild a poisoned document in the background."""
        if self._tg is not None and not self._closing:
            self._tg.start_soon(self.registry.rebuild, document)

    def _live(self, name: str) -> list[Connection]:
        if name == ALL_DOCUMENTS:
            return [
                c
                for document in self.registry.documents.values()
                for c in document.connections.values()
                if isinstance(c, Connection)
            ]
        document = self.registry.documents.get(name)
        if document is None:
            return []
        return [c for c in document.connections.values() if isinstance(c, Connection)]

    async def control(self, command: Control, *, wait: bool = True) -> int:
        """Apply ``command`` to this node's connections, then relay it to every other node
        (``on_control``: the fan-out extension publishes it; each node applies it within the
        documented bound, docs/multinode.md).

        Args:
            command: what to do (``Control.close`` or ``Control.access``).
            wait: for ``close``, wait (bounded by ``shutdown_timeout``) until this node's
                affected connections are gone.

        Returns:
            how many of this node's connections were closed or changed.
        """
        return await self._control(command, Origin.SERVER("control"), wait=wait)

    async def apply_remote_control(self, command: Control, origin: Origin) -> int:
        """Apply a command another node issued (the fan-out calls this; not relayed again).

        Returns:
            how many of this node's connections were closed or changed.
        """
        return await self._control(command, origin, wait=False)

    async def _control(self, command: Control, origin: Origin, *, wait: bool) -> int:
        affected = await self._apply_control(command, wait=wait)
        event = ControlApplied(command, origin, affected)
        await self.hooks.notify(lambda ext: ext.on_control(event))
        return affected

    async def _apply_control(self, command: Control, *, wait: bool) -> int:
        targets = [
            c for c in self._live(command.document)
            if command.user_id is None or c.user_id == command.user_id
        ]
        if command.action == "close":
            reason = command.reason or default_reason(command.code)
            for connection in targets:
                connection.close(command.code, reason)
            if wait:
                await self._wait_gone(targets)
            return len(targets)
        changed = 0
        for connection in targets:
            changed += connection.apply_access(read_only=command.read_only, role=command.role)
        return changed

    async def close_document(
        self, name: str, code: CloseCode = CloseCode.DOCUMENT_DELETED, reason: str | None = None
    ) -> int:
        """Close every connection of ``name``, on every node, with ``code`` (for example after
        a delete). Returns how many of this node's connections were closed."""
        return await self.control(Control.close(name, code, reason or default_reason(code)))

    async def close_user(
        self,
        name: str,
        user_id: str,
        code: CloseCode = CloseCode.FORBIDDEN,
        reason: str | None = None,
    ) -> int:
        """Close ``user_id``'s connections of ``name`` on every node (access revoked, or a host
        removed a participant). Returns how many of this node's connections were closed."""
        command = Control.close(name, code, reason or default_reason(code), user_id=user_id)
        return await self.control(command)

    async def close_user_everywhere(
        self, user_id: str, code: CloseCode = CloseCode.UNAUTHORIZED, reason: str | None = None
    ) -> int:
        """Close every connection of ``user_id``, whatever the document, on every node (signed
        out everywhere, password changed, account deleted). Returns this node's count."""
        command = Control.close(
            ALL_DOCUMENTS, code, reason or default_reason(code), user_id=user_id
        )
        return await self.control(command)

    async def set_read_only(self, name: str, user_id: str, *, read_only: bool = True) -> int:
        """Downgrade (or upgrade) ``user_id``'s live connections of ``name`` on every node,
        from their next message. Returns how many of this node's connections changed."""
        return await self.control(Control.access(name, user_id, read_only=read_only))

    async def set_role(
        self, name: str, user_id: str, role: str, *, read_only: bool | None = None
    ) -> int:
        """Change ``user_id``'s role in ``name`` (and optionally read-only) on every node.
        Returns how many of this node's connections changed."""
        return await self.control(Control.access(name, user_id, read_only=read_only, role=role))

    # -- stateless messages -------------------------------------------------------------------

    async def broadcast_stateless(
        self, name: str, payload: str, *, exclude: str | None = None, user_id: str | None = None
    ) -> int:
        """Send ``payload`` to every opted-in connection of ``name`` on every node, except the
        connection ``exclude`` (at most once: a node unreachable right now misses it). With
        ``user_id``, only that user's connections of ``name`` get it (a message addressed to
        one member of a room: its other members never see it, on any node).

        Returns:
            how many of this node's connections it was queued on.
        """
        sent = self._send_stateless(name, payload, exclude, user_id)
        event = StatelessBroadcast(name, payload, Origin.SERVER("stateless"), user_id)
        await self.hooks.notify(lambda ext: ext.on_stateless_broadcast(event))
        return sent

    async def apply_remote_stateless(
        self, name: str, payload: str, origin: Origin, user_id: str | None = None
    ) -> None:
        """Deliver a stateless broadcast from another node to this node's connections (only
        ``user_id``'s, when given)."""
        self._send_stateless(name, payload, None, user_id)

    def _send_stateless(
        self, name: str, payload: str, exclude: str | None, user_id: str | None = None
    ) -> int:
        frame = encode_stateless(payload)
        targets = [c for c in self._live(name) if c.stateless and c.connection_id != exclude
                   and (user_id is None or c.user_id == user_id)]
        for connection in targets:
            connection.send(frame)
        return len(targets)

    async def _wait_gone(self, targets: list[Connection]) -> None:
        with anyio.move_on_after(self.config.shutdown_timeout):
            for connection in targets:
                await connection.finished.wait()

    # -- in-process access --------------------------------------------------------------------

    @asynccontextmanager
    async def open_direct(self, name: str, actor: str = "server") -> AsyncIterator[DirectSession]:
        """Edit a live document in-process, through the same hooks as a client.

        Usage::

            async with server.open_direct("notes/<id>", actor="api") as session:
                session.transact(lambda doc: ...)

        Changes are broadcast at once; ``on_change`` runs for them when the block exits (or on
        ``await session.flush()``), with origin ``Origin.SERVER(actor)``.

        Raises:
            ServerGoingAway: the server is shutting down.
        """
        if not self._accepting:
            raise ServerGoingAway("shutting down")
        document = await self.registry.acquire(name)
        try:
            await document.wait_ready()
            session = DirectSession(document, Origin.SERVER(actor))
            try:
                yield session
            finally:
                with anyio.CancelScope(shield=True):
                    await session.flush()
        finally:
            self.registry.release(document)

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` is loaded in this process."""
        return name in self.registry.documents

    async def apply_remote_update(self, name: str, update: bytes, origin: Origin) -> None:
        """Apply an update received from another node (fan-out) to a loaded document.

        Broadcasts it to the local connections and runs ``on_change`` with ``origin`` (use
        ``Origin.PEER(node_id)``: persistence and fan-out skip PEER changes). If the document
        is being loaded, waits for the load first.

        Nothing happens when the document is not loaded here (the sending node stored the
        update; a later load reads it from the store).

        Raises:
            ProtocolViolation: the update cannot be decoded.
            DocumentPoisoned: pycrdt panicked (the document is being rebuilt).
        """
        if not self.registry.is_live(name):
            return  # not here, or unloading: a later load reads the store
        document = await self.registry.acquire(name)
        try:
            await document.wait_ready()
            sender = f"peer {origin.id}"
            try:
                diff = document.apply_update(update, sender)
            except DocumentPoisoned as exc:
                self.schedule_rebuild(document)
                if not exc.parked_by or sender in exc.parked_by:
                    raise
                await document.wait_ready()  # local parked updates panicked: they are closed
                diff = document.apply_update(update, sender)
            if document.poisoned:  # over the limits of parked updates: rebuilt without them
                self.schedule_rebuild(document)
            if diff is not None:
                await document.commit(diff, origin)
        finally:
            self.registry.release(document)

    async def apply_remote_awareness(self, name: str, payload: bytes, origin: Origin) -> None:
        """Relay an awareness update received from another node to the local connections.

        ``payload`` is what ``on_awareness_update`` gave the other node (already stamped).
        Nothing happens when the document is not loaded here.

        Raises:
            ProtocolViolation: the payload cannot be decoded.
        """
        document = self.registry.documents.get(name)
        if document is None:
            return
        owner = f"peer:{origin.id}"
        now = time.monotonic()
        relay = []
        for entry in decode_awareness(payload):
            user = entry.state.get("user") if entry.state is not None else None
            user_id = user.get("id") if isinstance(user, dict) else None
            relay += document.awareness.apply(owner, str(user_id or owner), [entry], None, now)
        document.queue_awareness(owner, relay)

    def local_awareness(self, name: str) -> bytes | None:
        """The awareness states of this node's own connections to ``name``, encoded as a
        y-protocols awareness update (what a peer node asks for when it loads the document),
        or None when there is none or the document is not loaded here."""
        document = self.registry.documents.get(name)
        if document is None:
            return None
        entries = document.awareness.snapshot(time.monotonic(), local_only=True)
        return encode_awareness_entries(entries) if entries else None
