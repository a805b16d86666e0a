"""One client connection: authentication, the read loop, the send budget, and THE error
boundary of the collab package.

Lifecycle (``Connection.run``): ``on_connect`` -> ``on_authenticate`` (within
``auth_timeout``) -> admission (limits) -> acquire the document (single-flight load; nothing is
sent before it finished) -> send sync step 1 and the awareness states -> read loop ->
``on_disconnect`` -> close frame. Sending never blocks: frames go into the channel's buffer
(``Channel.send``); more than ``send_queue_bytes`` buffered closes the connection with 1013
(the frames that sync the client are exempt: see ``send``),
and the server's sweeper (``check``) closes one whose peer stopped reading for
``send_timeout`` (1013) or sent nothing for ``idle_timeout`` (4408).

Every way a connection can end is mapped to a close code by ``errors.close_for``: typed collab
errors to their row, an extension crash or any unexpected exception to 1011 with a generic
reason (details only in the log), and a pycrdt panic to 1011 plus a rebuild of the document.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Protocol

import anyio

from collab.awareness import stamp_for
from collab.channel import Channel, ConnectRequest
from collab.config import CollabConfig
from collab.document import Document
from collab.errors import (
    CloseCode,
    CollabError,
    ConnectionClosed,
    DocumentPoisoned,
    MessageTooBig,
    NotFound,
    ProtocolViolation,
    RateLimited,
    SlowConsumer,
    Timeout,
    TooManyConnections,
    close_for,
    is_panic,
)
from collab.hooks import (
    BeforeHandleMessage,
    Disconnect,
    Hooks,
    Origin,
    Principal,
)
from collab.kinds import DocumentKind, StatelessReceived, admit
from collab.limits import SendBudget, TokenBucket
from collab.metrics import CollabMetrics
from collab.protocol import (
    AwarenessUpdate,
    Message,
    QueryAwareness,
    Stateless,
    SyncStep1,
    SyncStep2,
    Update,
    decode_message,
    encode_stateless,
    encode_sync_step2,
    parse_awareness_entry,
    read_awareness,
)
from collab.registry import Registry

__all__ = ["Channel", "ConnectRequest", "Connection", "Gate"]

log = logging.getLogger(__name__)
_CLOSE_TIMEOUT = 5.0
_KNOWN_CODES = frozenset(int(code) for code in CloseCode)
_DOC_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# A connection reports its buffered bytes to the server's budget only above this (a reading
# peer's buffer is empty between loop turns: no cost per frame for it).
_REPORT_FLOOR = 64 * 1024
# Connection ids: a random per-process prefix and a counter: unique within the process, which
# is all they need (other nodes know this one by its node id); no OS random read per connection.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(1)
_MESSAGE_TYPES: dict[type[object], str] = {
    SyncStep1: "sync_step1",
    SyncStep2: "sync_step2",
    Update: "update",
    AwarenessUpdate: "awareness",
    QueryAwareness: "query_awareness",
    Stateless: "stateless",
}


def _drop_tracebacks(exc: BaseException | None) -> None:
    """Forget the frames an ended connection's failure (and its causes) still hold: they hold
    the connection, so it and its document would wait for the cycle collector instead of going
    with their last reference."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__


class Gate(Protocol):
    """Server-wide admission: limits across documents, shutdown, rebuild scheduling."""

    def admit(self, connection: Connection) -> None:
        """Raise ``ServerGoingAway`` or ``TooManyConnections``, or count the connection in."""

    def discharge(self, connection: Connection) -> None:
        """Count an admitted connection out."""

    def queued(self, delta: int) -> None:
        """A connection's buffered bytes changed by ``delta`` (server-wide send budget)."""

    def schedule_rebuild(self, document: Document) -> None:
        """Rebuild a poisoned document in the background."""

    async def broadcast_stateless(self, name: str, payload: str, *, exclude: str | None) -> int:
        """Send a stateless message to ``name``'s opted-in connections on every node."""
        ...


class Connection:
    """One WebSocket client of one document. Create per accepted socket and ``await run()``.

    Args:
        channel: the transport.
        request: kind, id, credentials.
        config, hooks, registry, metrics, gate: the server's collaborators.
        kinds: the registered document kinds (authorizer, stateless handler) by name.
    """

    # An idle connection is mostly this object: slots keep it small (no per-instance dict).
    __slots__ = (
        "__weakref__", "_admitted", "_budget", "_failure", "_last_in", "_messages",
        "_principal", "_requested", "_scope", "_sent", "_sent_bytes", "_stamp",
        "_stateless_bucket", "channel", "config", "connection_id", "document", "finished",
        "gate", "hooks", "kind", "metrics", "name", "read_only", "registry", "request", "role",
        "stateless",
    )

    def __init__(
        self,
        channel: Channel,
        request: ConnectRequest,
        *,
        config: CollabConfig,
        hooks: Hooks,
        registry: Registry,
        metrics: CollabMetrics,
        gate: Gate,
        kinds: Mapping[str, DocumentKind],
    ) -> None:
        self.channel = channel
        self.request = request
        self.config = config
        self.hooks = hooks
        self.registry = registry
        self.metrics = metrics
        self.gate = gate
        self.kind = kinds.get(request.kind)
        self.connection_id = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        self.name = request.document
        self.read_only = False
        self.role: str | None = None  # the principal's role in the document (its authorizer)
        # Stateless messages reach only connections that asked (``?stateless=1``, or by
        # sending one): a stock y-websocket client logs an error for a type it does not know.
        self.stateless = request.params.get("stateless") == "1"
        self.document: Document | None = None
        self._principal: Principal | None = None
        self._admitted = False
        self.finished = anyio.Event()  # set once the connection is closed and counted out
        self._failure: BaseException | None = None
        self._requested: tuple[int, str] | None = None
        self._scope: anyio.CancelScope | None = None
        self._last_in = now = time.monotonic()
        self._messages = TokenBucket(config.max_messages_per_second, config.message_burst, now)
        self._stateless_bucket = TokenBucket(
            config.stateless_per_second, config.stateless_burst, now
        )
        self._budget = SendBudget(config.send_queue_bytes, _REPORT_FLOOR)
        self._stamp: dict[str, str] | None = None
        self._sent = self._sent_bytes = 0  # not yet added to the metrics (see ``check``)

    @property
    def principal(self) -> Principal:
        """The authenticated principal (only valid once authenticated)."""
        assert self._principal is not None
        return self._principal

    @property
    def user_id(self) -> str | None:
        """The principal's user id, or None before authentication."""
        return None if self._principal is None else self._principal.user_id

    # -- outside control (non-blocking, idempotent) --------------------------------------------

    def send(self, frame: bytes, *, sync: bool = False) -> None:
        """Buffer a frame. Over ``send_queue_bytes`` buffered closes this connection with 1013
        (a single larger frame still goes out when nothing else is buffered).

        ``sync`` marks a frame the server must send to sync this client (its sync step 1, the
        step 2 reply, the awareness snapshot at open): admitted whatever else is buffered
        (``collab.limits.SendBudget`` has the rule).
        """
        if self._requested is not None or self._failure is not None:
            return
        channel = self.channel
        queued = channel.buffered
        refusal = self._budget.refusal(queued, len(frame), sync=sync)
        if refusal is not None:
            self._fail(SlowConsumer(refusal))
            return
        channel.send(frame)
        self._sent += 1
        self._sent_bytes += len(frame)
        delta = self._budget.added(queued, len(frame), sync=sync)
        if delta:
            self.gate.queued(delta)

    def held(self) -> int:
        """(the server's budget) Bytes buffered now, 0 once closing; resets what this
        connection reported to the server."""
        self._budget.reported = 0 if self.closing else self.channel.buffered
        return self._budget.reported

    @property
    def closing(self) -> bool:
        """Whether the connection was asked to close or failed (it is winding down)."""
        return self._requested is not None or self._failure is not None

    def check(self, now: float) -> None:
        """(the server's sweeper) Close a stalled or idle connection; publish send counters."""
        self._publish()
        stalled = self.channel.stalled_since
        if stalled is not None and now - stalled > self.config.send_timeout:
            self._fail(SlowConsumer("send timeout"))
        idle = self.config.idle_timeout
        if idle is not None and now - self._last_in > idle:
            self._fail(Timeout("idle"))

    def _publish(self) -> None:
        if self._sent:
            self.metrics.messages_out.inc(self._sent)
            self.metrics.bytes_out.inc(self._sent_bytes)
            self._sent = self._sent_bytes = 0

    def close(self, code: int, reason: str) -> None:
        """Ask the connection to close with ``code``; returns at once."""
        if self._requested is None and self._failure is None:
            self._requested = (code, reason)
            if self._scope is not None:
                self._scope.cancel()

    def abort(self, exc: BaseException) -> None:
        """End the connection because of ``exc`` (mapped to a close code like any failure)."""
        self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None and self._requested is None:
            self._failure = exc
        if self._scope is not None:
            self._scope.cancel()

    # -- the boundary -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it ends, then close it with the mapped code."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                await self._open()
                await self._read_loop()
            except Exception as exc:  # noqa: BLE001 - THE connection error boundary
                self._fail(exc)
            except BaseException as exc:  # the documented pycrdt panic boundary
                if not is_panic(exc):
                    raise
                self._fail(exc)
        try:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                await self._finish()
        finally:
            _drop_tracebacks(self._failure)
            self.finished.set()

    async def _finish(self) -> None:
        failure = self._failure
        if self._requested is not None:
            code, reason = self._requested
        elif failure is None or isinstance(failure, ConnectionClosed):
            code, reason = CloseCode.NORMAL, ""
        else:
            code, reason = close_for(failure)
            poisoned = isinstance(failure, DocumentPoisoned)  # the Document logged the panic
            if poisoned and self.document is not None:
                self.gate.schedule_rebuild(self.document)
            if not poisoned and (
                not isinstance(failure, CollabError) or code == CloseCode.INTERNAL_ERROR
            ):
                log.error(
                    "connection %s on %s failed",
                    self.connection_id,
                    self.name,
                    exc_info=(type(failure), failure, failure.__traceback__),
                )
        log.info(
            "connection %s on %s closed: %s (%s)",
            self.connection_id,
            self.name,
            int(code),
            "requested" if self._requested else type(failure).__name__ if failure else "left",
        )
        # The label is the code's name, never the free-form reason (bounded cardinality).
        label = CloseCode(code).name.lower() if code in _KNOWN_CODES else "other"
        self.metrics.closes.labels(code=str(int(code)), reason=label).inc()
        self._publish()
        if self._admitted:
            await self._leave(code)
        if not isinstance(failure, ConnectionClosed):
            try:
                await self.channel.close(int(code), reason)
            except Exception:
                log.debug("close of %s failed", self.connection_id, exc_info=True)

    async def _leave(self, code: int) -> None:
        document = self.document
        self.gate.discharge(self)
        self.metrics.connections.dec()
        self._admitted = False
        if document is None:
            return
        document.connections.pop(self.connection_id, None)
        removed = document.awareness.remove_owner(self.connection_id, time.monotonic())
        document.queue_awareness(self.connection_id, removed)
        event = Disconnect(self.name, self.connection_id, self._principal, code)
        try:
            await self.hooks.run(lambda ext: ext.on_disconnect(event))
        except Exception:
            log.exception("on_disconnect hook failed for %s", self.connection_id)
        self.registry.release(document)

    # -- opening ------------------------------------------------------------------------------

    async def _open(self) -> None:
        request = self.request
        if self.kind is None or not _DOC_ID.fullmatch(request.doc_id):
            raise NotFound(self.name)
        grant = await admit(self.hooks, self.kind, request, self.connection_id, self.config)
        # Credentials, cookies and headers serve authentication only: an open connection keeps
        # none of them (nothing to leak, nothing to hold per idle connection).
        self.request = ConnectRequest(request.kind, request.doc_id)
        self._principal = grant.principal
        self.read_only = grant.read_only
        self.role = grant.role
        self._stamp = stamp_for(grant.principal.user_id, grant.principal.name)
        self.gate.admit(self)
        self._admitted = True
        self.metrics.connections.inc()
        document = self.document = await self.registry.acquire(self.name)
        if len(document.connections) >= self.config.max_connections_per_document:
            raise TooManyConnections(self.name)
        await document.wait_ready()
        document.connections[self.connection_id] = self
        self.send(document.sync_step1(), sync=True)
        awareness = document.awareness_snapshot_frame()
        if awareness is not None:
            self.send(awareness, sync=True)
        log.info(
            "connection %s opened on %s (user %s%s%s)",
            self.connection_id,
            self.name,
            grant.principal.user_id,
            ", read-only" if self.read_only else "",
            f", role {self.role}" if self.role else "",
        )

    # -- loops --------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            frame = await self.channel.receive()
            if len(frame) > self.config.max_message_size:
                raise MessageTooBig(len(frame))
            self._take_token()
            message = decode_message(frame)
            self.metrics.received(_MESSAGE_TYPES[type(message)], len(frame))
            if type(message) is Stateless and len(frame) > self.config.max_stateless_size:
                raise MessageTooBig(len(frame))
            await self.handle(message)

    def _take_token(self) -> None:
        self._last_in = now = time.monotonic()
        if not self._messages.take(now):
            raise RateLimited(self.connection_id)

    async def _stateless(self, message: Stateless) -> None:
        """Hand a stateless message to the kind's handler and carry out its answer.

        Raises:
            ProtocolViolation: the kind takes none, or the client sent a rejection.
            RateLimited: over the stateless rate.
            Reject: the handler closed the connection.
        """
        handler = self.kind.stateless if self.kind is not None else None
        if handler is None:
            raise ProtocolViolation(f"no stateless messages on {self.request.kind} documents")
        if message.rejected:
            raise ProtocolViolation("a rejection is sent by the server only")
        if not self._stateless_bucket.take(time.monotonic()):
            raise RateLimited(self.connection_id)
        self.stateless = True
        request = self.request
        event = StatelessReceived(
            self.name, request.kind, request.doc_id, self.connection_id, self.principal,
            self.read_only, self.role, message.payload,
        )
        await handler.on_stateless(event)
        if event.rejection is not None:
            self.send(encode_stateless(event.rejection, rejected=True))
            return
        for reply in event.replies:
            self.send(encode_stateless(reply))
        for payload in event.broadcasts:
            await self.gate.broadcast_stateless(self.name, payload, exclude=self.connection_id)

    def apply_access(self, *, read_only: bool | None, role: str | None) -> bool:
        """Change this connection's access in place (from its next message). A connection
        that becomes writable is sent a sync step 1, so its client re-sends what it has.

        Returns:
            whether anything changed.
        """
        changed = False
        if read_only is not None and read_only != self.read_only:
            self.read_only, changed = read_only, True
            document = self.document
            if not read_only and document is not None and document.ready:
                # Its edits made while read-only were dropped and later ones build on them:
                # a sync step 1 makes the client send whatever the document lacks (step 2).
                self.send(document.sync_step1(), sync=True)
        if role is not None and role != self.role:
            self.role, changed = role, True
        return changed

    async def _apply(self, document: Document, update: bytes) -> bytes | None:
        """Apply this connection's update. A panic caused by other connections' parked updates
        (they are closed) is retried once on the rebuilt Doc; over the document's limits of
        parked updates the Doc was dropped and is rebuilt."""
        try:
            diff = document.apply_update(update, self.connection_id)
        except DocumentPoisoned as exc:
            if not exc.parked_by or self.connection_id in exc.parked_by:
                raise
            self.gate.schedule_rebuild(document)
            await document.wait_ready()
            diff = document.apply_update(update, self.connection_id)
        if document.poisoned:
            self.gate.schedule_rebuild(document)
        return diff

    async def handle(self, message: Message) -> None:
        """Handle one decoded client message against the document.

        Raises:
            ProtocolViolation, DocumentTooLarge, DocumentPoisoned, Reject: the connection ends.
        """
        document = self.document
        assert document is not None
        if not document.ready:
            await document.wait_ready()
        event = BeforeHandleMessage(
            self.name, self.connection_id, self.principal, self.read_only, message
        )
        await self.hooks.run(lambda ext: ext.before_handle_message(event))
        if event.drop:
            return
        if not document.ready:  # a hook awaited: the Doc may have been poisoned meanwhile
            await document.wait_ready()
        if isinstance(message, SyncStep1):
            missing = document.diff_since(message.state_vector, self.connection_id)
            self.send(encode_sync_step2(missing), sync=True)
        elif isinstance(message, Update | SyncStep2):
            started = time.perf_counter()
            diff = await self._apply(document, message.update)
            echo = document.echo  # (read before any await)
            if diff is not None:
                # Applied and broadcast already: persistence and fan-out must hear about it even
                # if this connection is being closed right now (bounded, so it cannot hang).
                with anyio.CancelScope(shield=True) as scope:
                    scope.deadline = anyio.current_time() + self.config.send_timeout
                    await document.commit(diff, Origin.CLIENT(self.connection_id), echo=echo)
                self.metrics.fanout_latency.observe(time.perf_counter() - started)
        elif isinstance(message, AwarenessUpdate):
            if document.was_relayed(message.payload):
                return  # an echo of what this document sent (y-websocket providers echo)
            awareness = document.awareness
            entries = [
                parse_awareness_entry(entry)
                for entry in read_awareness(message.payload)
                if not awareness.is_echo(self.connection_id, entry)
            ]
            relay = awareness.apply(
                self.connection_id, self.principal.user_id, entries, self._stamp, time.monotonic()
            )
            document.queue_awareness(self.connection_id, relay)
        elif isinstance(message, Stateless):
            await self._stateless(message)
        else:
            frame = document.awareness_snapshot_frame()
            if frame is not None:
                self.send(frame)
