"""Cross-node fan-out of document updates and awareness through Redis Streams.

Each node publishes its own clients' changes and applies other nodes' changes with origin
``Origin.PEER(node)``: persistence does not store them again (the originating node did) and
fan-out does not echo them. Keys, with ``prefix`` (default ``collab:``)::

    {prefix}doc:{name}        updates    n=<node id>, u=<v1 update> | n, r=1 (reload from store)
    {prefix}awareness:{name}  awareness  n, a=<awareness update> | n, q=1 (who is here?)
                                         | n, s=<stateless message broadcast>[, t=<to user>]
    {prefix}changes:{id}      d=<document>: "d has new entries" (one per document and batch)
                              | n, c=<control command> (close, read-only, role: every node)
    {prefix}nodes             n=<node id> when a node starts and every heartbeat | n, b=1 (it stops)
    {prefix}node:{id}:wake    re-issues this node's blocking read when a document loads

Streams, not pub/sub (at-most-once): a node that loses Redis resumes from its last id. Streams
are capped (``XADD MAXLEN ~``) and expire ``stream_ttl`` seconds after their last write. The
reader (`collab.extensions.streamreader`) blocks on the other nodes' change streams only and
reads the streams of the documents they named; a periodic sweep reads every loaded document's
streams.
Guarantees and limits (docs/multinode.md has the whole story):

* The stream position is taken (Redis ``TIME``) before the database read of a load, minus
  ``replay_window``: updates not yet durable in the log are replayed (duplicates are harmless).
* During an outage the node serves its clients, buffers ``outbox_limit`` outgoing updates (on
  overflow it publishes the whole state on return) and resumes reading from its last ids; a
  stream trimmed past them is caught up from the ``DocumentStore`` (idempotent).
* Control commands (``CollabServer.control``) ride the issuing node's change stream, which
  every other node blocks on, so they reach every node within one read (sub-second on a
  healthy Redis); during an outage they
  wait in the outbox like updates. A node that loads the document later asks its authorizer
  anyway, which reads the same database the command came from.
* Awareness and stateless broadcasts are at most once. Removals cross nodes; the presence of
  a dead node's clients times out on clients after y-protocols' 30 s ``outdatedTimeout``
  (joiners never get it: server snapshots skip states older than 30 s). A node loading a
  document asks the others for their clients' current states (a ``q`` entry) instead of
  waiting for the 15 s renewals.

redis is imported when a `RedisFanout` is built, not with this module: a single node never needs it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

import anyio
from anyio.abc import TaskGroup

from collab.control import Control, decode_control, encode_control
from collab.extensions.outbox import Outgoing, StreamOutbox
from collab.extensions.streamreader import (
    ChangeReader,
    Subscription,
    clock_ms,
    id_at,
    id_key,
    text,
)
from collab.hooks import (
    AfterLoadDocument,
    AwarenessChange,
    BeforeUnloadDocument,
    Change,
    Configure,
    ControlApplied,
    Extension,
    LoadDocument,
    Origin,
    StatelessBroadcast,
)
from collab.protocol import AwarenessEntry, decode_awareness, encode_awareness_entries

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["PeerTarget", "RedisFanout", "UpdateSource", "default_node_id"]

log = logging.getLogger(__name__)

_MAX_SEQ = 2**64 - 1  # the largest sequence number of a stream id


class PeerTarget(Protocol):
    """Where updates and awareness from other nodes are applied (the ``CollabServer``)."""

    async def apply_remote_update(self, name: str, update: bytes, origin: Origin) -> None:
        """Apply ``update`` to the live document ``name`` (no-op when it is not loaded)."""

    async def apply_remote_awareness(self, name: str, payload: bytes, origin: Origin) -> None:
        """Relay an awareness update from another node to this node's clients of ``name``."""

    async def apply_remote_stateless(self, name: str, payload: str, origin: Origin,
                                     user_id: str | None = None) -> None:
        """Deliver another node's stateless broadcast to this node's clients of ``name``."""

    async def apply_remote_control(self, command: Control, origin: Origin) -> int:
        """Apply another node's control command to this node's connections."""
        ...


class UpdateSource(Protocol):
    """The durable log, for catching up after a trimmed stream (``DocumentStore.load``)."""

    async def load(self, name: str) -> list[bytes]:
        """The snapshot then the logged updates of ``name``; ``[]`` if none."""
        ...


def default_node_id() -> str:
    """A node id unique per process: ``<host>-<pid>-<random>``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class RedisFanout(Extension):
    """The fan-out extension: an async context manager owning its Redis client and two tasks
    (one reader for all documents' streams, one writer draining the outbox).

    Args:
        redis_url: ``redis://host:port/db``.
        node_id: unique per process; entries written by this node are skipped when read.
        key_prefix: prefix of every key (a test or deployment namespace).
        store: the durable log to catch up from when a stream was trimmed past our position.
        maxlen: approximate cap of each document stream.
        replay_window: seconds of stream history replayed when a document loads; must exceed
            how long a peer takes to make an update durable (Persistence's group commit is
            ~10 ms; the margin covers a store that is failing and retrying).
        outbox_limit: outgoing updates buffered while Redis is unreachable.
        stream_ttl: seconds a stream lives after its last write.
        block: seconds one ``XREAD`` blocks (also the reader's liveness interval).
        sweep: seconds between two reads of every loaded document's streams (the safety net
            behind the change streams' notifications).
        heartbeat: seconds between two membership entries of this node (the other nodes
            stop reading the change stream of a node silent for three heartbeats).
        retry_delay: first delay between reconnection attempts (doubles up to 5 s).

    The server it runs in (``on_configure``) is where peers' changes are applied.
    """

    priority = 2000  # before persistence (1000): the stream position must precede the DB read

    def __init__(self, redis_url: str, node_id: str, *, key_prefix: str = "collab:",
                 store: UpdateSource | None = None, maxlen: int = 10_000,
                 replay_window: float = 60.0, outbox_limit: int = 10_000,
                 stream_ttl: int = 24 * 3600, block: float = 5.0, sweep: float = 5.0,
                 heartbeat: float = 30.0, retry_delay: float = 0.2) -> None:
        from redis.exceptions import RedisError  # an `except` evaluates it: import it first

        self._errors = (RedisError, OSError)  # what a lost connection raises
        self.node_id = node_id
        self._url = redis_url
        self._prefix = key_prefix
        self._store = store
        self._maxlen = maxlen
        self._replay_ms = int(replay_window * 1000)
        self._outbox = StreamOutbox(limit=outbox_limit, ttl=stream_ttl, retry_delay=retry_delay,
                                    resync=self._resync_entry, announce=self._announce)
        self._target: PeerTarget | None = None
        self._redis: Redis[bytes] | None = None
        self._group: TaskGroup | None = None
        self._local_awareness: dict[str, dict[int, AwarenessEntry]] = {}  # our clients' states
        self._starting: dict[str, tuple[str, str, bool]] = {}
        self._wake_key = f"{key_prefix}node:{node_id}:wake"
        self._reader = ChangeReader(self, node_id, changes_prefix=f"{key_prefix}changes:",
                                    nodes_key=f"{key_prefix}nodes", wake_key=self._wake_key,
                                    block=block, sweep=sweep, heartbeat=heartbeat,
                                    retry_delay=retry_delay, errors=self._errors,
                                    publish=self._outbox.put, on_reconnect=self._outbox.kick)
        self.catch_ups = 0
        """How many times a document was reloaded from the store after a trimmed stream."""

    # -- wiring and lifecycle ----------------------------------------------------------------

    async def on_configure(self, event: Configure) -> None:
        """Apply peers' changes to the server this extension runs in."""
        self._target = event.server

    def doc_key(self, name: str) -> str:
        """The stream key of document ``name``."""
        return f"{self._prefix}doc:{name}"

    def awareness_key(self, name: str) -> str:
        """The awareness stream key of document ``name``."""
        return f"{self._prefix}awareness:{name}"

    @property
    def connected(self) -> bool:
        """Whether the last Redis command succeeded (for health checks and tests)."""
        return self._reader.connected

    @connected.setter
    def connected(self, value: bool) -> None:
        self._reader.connected = value

    async def __aenter__(self) -> Self:
        if self._target is None:
            raise RuntimeError("RedisFanout runs inside a CollabServer (on_configure)")
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self._url, socket_connect_timeout=2.0,
                                     socket_keepalive=True, health_check_interval=30,
                                     client_name=f"collab-fanout:{self.node_id}")
        try:
            self._reader.start_at(id_at(await self._server_ms()))
            self.connected = True
        except self._errors:
            log.warning("redis unreachable at start; fan-out keeps retrying", exc_info=True)
        self._reader.join()  # before anything of ours is published
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        group.start_soon(self._reader.run, self._redis)
        group.start_soon(self._outbox.run, self._redis)
        log.info("fan-out started node=%s", self.node_id)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        group, redis = self._group, self._redis
        self._group = None
        if group is None or redis is None:
            return None
        self._reader.leave()
        group.cancel_scope.cancel()  # the writer stops first: the final flush is ours alone
        try:
            return await group.__aexit__(exc_type, exc, tb)
        finally:
            with anyio.move_on_after(2.0):  # best effort: publish what is still buffered
                try:
                    await self._outbox.flush(redis)
                except self._errors:
                    log.warning("fan-out stopped with %s entries unpublished", len(self._outbox))
            await redis.aclose()  # type: ignore[attr-defined]  # types-redis predates 5.x
            self._redis = None
            log.info("fan-out stopped node=%s", self.node_id)

    @property
    def redis(self) -> Redis[bytes]:
        """The client (only while entered)."""
        if self._redis is None:
            raise RuntimeError("RedisFanout is not running")
        return self._redis

    async def _server_ms(self) -> int:
        return clock_ms(*await self.redis.time())

    async def _load_positions(self, awareness_key: str) -> tuple[int, str]:
        """Redis's clock in ms and the awareness stream's newest id (``0-0`` when empty), in
        one round trip: this runs on every document load."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.time()
        pipe.xrevrange(awareness_key, count=1)
        (seconds, micros), newest = await pipe.execute()
        return clock_ms(seconds, micros), text(newest[0][0]) if newest else "0-0"

    # -- hooks -------------------------------------------------------------------------------

    async def on_load_document(self, event: LoadDocument) -> None:
        """Take the stream positions before the document is read from the database."""
        now: int | None = None
        awareness_last: str | None = None
        if self.connected:
            with anyio.move_on_after(1.0):  # never hold a load hostage to a dead Redis
                try:
                    now, awareness_last = await self._load_positions(
                        self.awareness_key(event.document)
                    )
                except self._errors:
                    self.connected = False
        uncertain = now is None
        if now is None:
            now = int(time.time() * 1000)
        # Awareness is not replayed: start after the stream's last entry. (A position taken
        # from the clock would skip an answer to our presence query written in the same
        # millisecond.)
        self._starting[event.document] = (
            id_at(now - self._replay_ms),
            awareness_last if awareness_last is not None else f"{now}-{_MAX_SEQ}",
            uncertain,
        )

    async def after_load_document(self, event: AfterLoadDocument) -> None:
        """Start reading the document's streams from the positions taken at load."""
        now = int(time.time() * 1000)
        doc_last, awareness_last, uncertain = self._starting.pop(
            event.document, (id_at(now - self._replay_ms), id_at(now), True))
        name = event.document
        since_ms = id_key(doc_last)[0] + self._replay_ms  # the clock taken at load
        self._reader.add(Subscription(name, self.doc_key(name), self.awareness_key(name),
                                      doc_last, awareness_last, event.doc, uncertain, since_ms))
        # The reader may be blocked on the change stream: an entry on our own wake stream
        # (published by the writer, no Redis I/O in the hook) makes it read the new document.
        self._outbox.put(Outgoing("", self._wake_key, {"n": self.node_id}, 10))
        # Ask the other nodes for their clients' presence: they would otherwise only show up
        # here when those clients renew it (every 15 s).
        self._outbox.put(Outgoing(event.document, self.awareness_key(event.document),
                              {"n": self.node_id, "q": "1"}, 100))

    async def before_unload_document(self, event: BeforeUnloadDocument) -> None:
        """Stop reading the document's streams; announce the removal of any presence of ours
        that was not removed yet (at shutdown the document may unload before its coalesced
        awareness removals were relayed)."""
        states = self._local_awareness.pop(event.document, None)
        if states:
            gone = [AwarenessEntry(e.client_id, e.clock + 1, None) for e in states.values()]
            self._outbox.put(Outgoing(event.document, self.awareness_key(event.document),
                                      {"n": self.node_id, "a": encode_awareness_entries(gone)},
                                      100))
        self._reader.remove(event.document)

    async def on_change(self, event: Change) -> None:
        """Publish a change made on this node (changes from peers are not echoed)."""
        if event.origin.kind == "peer":
            return
        self._outbox.put(Outgoing(event.document, self.doc_key(event.document),
                              {"n": self.node_id, "u": event.update}, self._maxlen, True))

    async def on_awareness_update(self, event: AwarenessChange) -> None:
        """Publish awareness changes of this node's clients (at most once, never buffered)."""
        if event.origin.kind == "peer":
            return
        states = self._local_awareness.setdefault(event.document, {})
        for entry in decode_awareness(event.payload):
            if entry.state is None:
                states.pop(entry.client_id, None)
            else:
                states[entry.client_id] = entry
        if not self.connected:
            return
        self._outbox.put(Outgoing(event.document, self.awareness_key(event.document),
                              {"n": self.node_id, "a": event.payload}, 100))

    async def on_stateless_broadcast(self, event: StatelessBroadcast) -> None:
        """Relay a stateless broadcast of this node (at most once, like awareness)."""
        if event.origin.kind == "peer" or not self.connected:
            return
        fields: dict[bytes | str, bytes | str] = {"n": self.node_id, "s": event.payload.encode()}
        if event.user_id is not None:
            fields["t"] = event.user_id
        self._outbox.put(Outgoing(event.document, self.awareness_key(event.document), fields,
                                  100))

    async def on_control(self, event: ControlApplied) -> None:
        """Relay a control command issued on this node to every other node."""
        if event.origin.kind == "peer":
            return
        self._outbox.put(Outgoing("", self._reader.changes_key,
                                  {"n": self.node_id, "c": encode_control(event.command)},
                                  100_000))

    # -- the writer --------------------------------------------------------------------------

    async def wait_published(self) -> None:
        """Wait until every queued update and awareness change has been written to Redis."""
        await self._outbox.wait_empty()

    def _announce(self, name: str) -> Outgoing:
        # Written by the outbox after a batch's entries of `name`: readers block on this.
        return Outgoing("", self._reader.changes_key, {"d": name}, 100_000)

    def _resync_entry(self, name: str) -> Outgoing:
        # Updates of `name` were dropped from the full outbox: publish the whole state instead
        # (or, once unloaded here, tell peers to reload it from the durable log).
        sub = self._reader.subs.get(name)
        fields: dict[bytes | str, bytes | str] = {"n": self.node_id, "r": "1"}
        if sub is not None and sub.doc is not None:
            fields = {"n": self.node_id, "u": sub.doc.get_update()}
        return Outgoing(name, self.doc_key(name), fields, self._maxlen)

    # -- the reader --------------------------------------------------------------------------

    async def dispatch(self, sub: Subscription, is_doc: bool, fields: dict[bytes, bytes]) -> None:
        """Apply one entry of another node (``EntrySink``; this node's own are skipped)."""
        node = text(fields.get(b"n", b""))
        target = self._target
        if node == self.node_id or target is None:
            return
        origin = Origin.PEER(node)
        try:
            if not is_doc and b"q" in fields:
                self._answer_awareness_query(sub.name)
            elif not is_doc and b"s" in fields:
                to = fields.get(b"t")
                await target.apply_remote_stateless(sub.name, fields[b"s"].decode(), origin,
                                                    None if to is None else to.decode())
            elif not is_doc:
                await target.apply_remote_awareness(sub.name, fields[b"a"], origin)
            elif b"u" in fields:
                await target.apply_remote_update(sub.name, fields[b"u"], origin)
            elif b"r" in fields:
                await self.catch_up(sub)
        except Exception:
            # One bad entry (malformed, or a document being rebuilt) never stops the reader.
            log.exception("applying a peer entry failed document=%s node=%s", sub.name, node)

    async def control(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        """Apply a control command another node wrote to the change stream (``EntrySink``).
        A command older than this node's load of the document is skipped: the authorizer
        admitted its connections after it, from the same database."""
        node = text(fields.get(b"n", b""))
        target = self._target
        if node == self.node_id or target is None:
            return
        try:
            command = decode_control(fields[b"c"])
            sub = self._reader.subs.get(command.document)
            if sub is not None and id_key(entry_id)[0] < sub.since_ms:
                return
            await target.apply_remote_control(command, Origin.PEER(node))
        except Exception:
            log.exception("applying a peer control command failed node=%s", node)

    def _answer_awareness_query(self, name: str) -> None:
        states = self._local_awareness.get(name)
        if states:
            payload = encode_awareness_entries(list(states.values()))
            self._outbox.put(Outgoing(name, self.awareness_key(name),
                                  {"n": self.node_id, "a": payload}, 100))

    async def catch_up(self, sub: Subscription) -> None:
        """Apply the durable log (idempotent), then replay the whole remaining stream."""
        target = self._target
        if self._store is None or target is None:
            log.warning("stream of %s was trimmed and no store is configured", sub.name)
            return
        origin = Origin.PEER(self.node_id)
        try:
            for update in await self._store.load(sub.name):
                await target.apply_remote_update(sub.name, update, origin)
        except Exception:
            sub.uncertain = True  # retried after the next read
            log.exception("fan-out catch-up of %s failed; will retry", sub.name)
            return
        sub.doc_last = "0-0"
        sub.uncertain = False
        self.catch_ups += 1
        log.info("fan-out caught up document=%s from the store", sub.name)

