"""``ChangeReader``: the reading side of ``RedisFanout`` (which streams to read, and when).

With every batch it publishes, a node appends one entry per document touched to its own change
stream ``{prefix}changes:{node}`` (``d`` = document). The reader blocks on the change streams of
the *other* nodes, on the membership stream ``{prefix}nodes`` and on its node's wake stream; when
another node names a document loaded here, it reads that document's two streams from its last
ids, without blocking. A wake-up therefore costs what other nodes changed, not what is loaded,
and a node is never woken by its own batches.

Membership: a node writes ``n`` = node id to ``{prefix}nodes`` when it starts (before any notice
of its own) and every ``heartbeat`` seconds, and ``n, b=1`` when it stops. A reader learns the
nodes alive at its start from that stream's last ``3 * heartbeat`` seconds, reads a node's change
stream from the entry that revealed it, and forgets a node after its goodbye or after
``3 * heartbeat`` seconds of the stream's own clock (its entries' ids) without an entry from it.
Control commands (close, read-only, role) are entries of the issuing node's change stream
too (``n``, ``c``): every node reads every other node's stream, so they reach all of them.

The change stream is a hint, the document streams are the truth: a full read of every loaded
document's streams (a *sweep*) runs every ``sweep`` seconds and after every reconnect, so an entry
whose notification was lost (a trimmed change stream, a writer cut between its two ``XADD``, a
node not yet known) is still delivered, late. A newly loaded document is read at once (its replay
window).
redis is imported by the owner, not here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from collab.extensions.outbox import Outgoing
from collab.types import YDoc

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ChangeReader", "EntrySink", "Subscription", "clock_ms", "id_at", "text"]

log = logging.getLogger(__name__)

_COUNT = 500  # entries per stream and read: a longer backlog is read again at once
_CHUNK = 256  # documents named in one non-blocking read


def text(value: bytes | str) -> str:
    """A Redis reply value as ``str``."""
    return value.decode() if isinstance(value, bytes) else value


def clock_ms(seconds: int | bytes, micros: int | bytes) -> int:
    """Redis's ``TIME`` reply in milliseconds."""
    return int(seconds) * 1000 + int(micros) // 1000


def id_at(ms: int) -> str:
    """The first stream id at ``ms`` (clamped at 0)."""
    return f"{max(ms, 0)}-0"


def id_key(stream_id: str) -> tuple[int, int]:
    """A stream id as a comparable ``(ms, seq)``."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(slots=True)
class Subscription:
    """One loaded document's read positions."""

    name: str
    doc_key: str
    awareness_key: str
    doc_last: str  # last stream id read (or the start position)
    awareness_last: str
    doc: YDoc | None
    uncertain: bool  # the start position was not taken from Redis: reload from the store
    since_ms: int = 0  # Redis's clock when the document was loaded (older control is stale)


class EntrySink(Protocol):
    """What the reader hands entries to (the ``RedisFanout``)."""

    async def dispatch(self, sub: Subscription, is_doc: bool, fields: dict[bytes, bytes]) -> None:
        """Apply one entry read from ``sub``'s document (``is_doc``) or awareness stream."""

    async def catch_up(self, sub: Subscription) -> None:
        """Reload ``sub``'s document from the durable log, then replay its whole stream."""

    async def control(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        """Apply a control entry of the change stream (every node reads all of them)."""


class ChangeReader:
    """One task reading other nodes' entries for every subscribed document.

    Args:
        sink: receives the entries.
        node_id: this node.
        changes_prefix: a node's change stream is ``changes_prefix + node_id``.
        nodes_key: the membership stream.
        wake_key: this node's wake stream (an entry re-issues the blocking read at once).
        block: seconds one blocking read waits.
        sweep: seconds between two full reads of every loaded document's streams.
        heartbeat: seconds between two membership entries of this node.
        retry_delay: first delay between reconnection attempts (doubles up to 5 s).
        errors: the exceptions that mean "Redis is unreachable".
        publish: queues an entry for the writer (membership entries).
        on_reconnect: called when Redis answers again after an outage (wakes the writer).
    """

    def __init__(self, sink: EntrySink, node_id: str, *, changes_prefix: str, nodes_key: str,
                 wake_key: str, block: float, sweep: float, heartbeat: float,
                 retry_delay: float, errors: tuple[type[BaseException], ...],
                 publish: Callable[[Outgoing], None],
                 on_reconnect: Callable[[], None] = lambda: None) -> None:
        self._sink = sink
        self._node_id = node_id
        self._changes_prefix = changes_prefix
        self.changes_key = changes_prefix + node_id
        """This node's change stream (written by the outbox, read by the other nodes)."""
        self._nodes_key = nodes_key
        self._wake_key = wake_key
        self._block_ms = max(int(min(block, sweep) * 1000), 1)
        self._sweep = sweep
        self._next_sweep = 0.0  # monotonic time of the next sweep
        self._heartbeat = heartbeat
        self._next_beat = 0.0  # monotonic time of the next membership entry
        self._alive_ms = int(3 * heartbeat * 1000)  # silence after which a node is forgotten
        self._retry_delay = retry_delay
        self._errors = errors
        self._publish = publish
        self._on_reconnect = on_reconnect
        self.subs: dict[str, Subscription] = {}
        self._dirty: set[str] = set()
        self._positions = {wake_key: "0-0", nodes_key: "0-0"}
        self.peers: dict[str, int] = {}
        """Other nodes whose change streams are read -> ms of their last membership entry."""
        self._nodes_clock = 0  # ms of the newest membership entry read
        self._started = False  # positions taken from Redis's clock
        self._discovered = False  # the nodes alive at the start position were looked up
        self._subs_changed = anyio.Event()
        self.connected = False
        """Whether the last Redis command succeeded (for health checks and tests)."""

    def start_at(self, stream_id: str) -> None:
        """Read the wake, membership and change streams after ``stream_id`` (Redis's clock at
        start); the nodes alive then are looked up by the reader's next step."""
        self._positions = {self._wake_key: stream_id, self._nodes_key: stream_id}
        self.peers.clear()
        self._started = True
        self._discovered = False

    def join(self) -> None:
        """Announce this node on the membership stream (call before anything is published:
        the other nodes read its change stream from this entry on)."""
        self._publish(Outgoing("", self._nodes_key, {"n": self._node_id}, 1000))
        self._next_beat = time.monotonic() + self._heartbeat

    def leave(self) -> None:
        """Announce that this node stops (the other nodes stop reading its change stream)."""
        self._publish(Outgoing("", self._nodes_key, {"n": self._node_id, "b": "1"}, 1000))

    def add(self, sub: Subscription) -> None:
        """Start reading ``sub``'s streams; the first read replays from its start position."""
        self.subs[sub.name] = sub
        self._dirty.add(sub.name)
        self._subs_changed.set()

    def remove(self, name: str) -> Subscription | None:
        """Stop reading document ``name``'s streams."""
        self._dirty.discard(name)
        return self.subs.pop(name, None)

    async def run(self, redis: Redis[bytes]) -> None:
        """The reader task: read forever, surviving Redis outages and bad entries."""
        while True:
            try:
                await self._step(redis)
            except Exception:
                # A bug or a failing store must not take the server down with the reader.
                log.exception("fan-out reader failed; retrying")
                await anyio.sleep(1.0)

    async def _step(self, redis: Redis[bytes]) -> None:
        if time.monotonic() >= self._next_beat:
            self.join()
        if not self.subs:
            self._dirty.clear()
            self._subs_changed = anyio.Event()
            with anyio.move_on_after(max(self._next_beat - time.monotonic(), 0.0)):
                await self._subs_changed.wait()
            if self.subs:
                # Idle until now: resume at the earliest load of the documents now loaded
                # (Redis's clock taken at load); older control commands concern none of them.
                since = min(sub.since_ms for sub in self.subs.values())
                if since > 0:
                    self.start_at(id_at(since))
                else:
                    self._started = False
            return
        if self.connected:  # loaded while Redis was down: its start position is a guess
            for sub in [sub for sub in self.subs.values() if sub.uncertain]:
                await self._sink.catch_up(sub)
        try:
            if not self._started:
                # Started while Redis was down: begin at its clock, not at the change stream's
                # first entry (a backlog of other nodes' notices); the sweep covers the gap.
                self.start_at(id_at(clock_ms(*await redis.time())))
                self._next_sweep = 0.0
            if not self._discovered:
                await self._discover(redis)
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + self._sweep
                self._dirty.update(self.subs)
            if self._dirty:
                await self._read_documents(redis)
            else:
                await self._wait_for_changes(redis)
            self.connected = True
        except self._errors:
            self.connected = False
            log.warning("fan-out lost its redis connection; catching up when it returns")
            await self._recover(redis)

    async def _discover(self, redis: Redis[bytes]) -> None:
        """Read the change streams of the nodes alive at the start position, from there on."""
        start = self._positions[self._nodes_key]
        since = id_at(id_key(start)[0] - self._alive_ms)
        entries: Any = await redis.xrange(self._nodes_key, min=since, max=start)
        self._members(entries, start)
        self._discovered = True

    async def _wait_for_changes(self, redis: Redis[bytes]) -> None:
        reply: Any = await redis.xread(self._positions, count=1000, block=self._block_ms)
        members: Any = []
        for raw_key, entries in reply or []:
            key = text(raw_key)
            if key not in self._positions:
                continue  # a node forgotten meanwhile
            self._positions[key] = text(entries[-1][0])
            if key == self._nodes_key:
                members = entries  # after the notices: a goodbye must not drop its last ones
            elif key != self._wake_key:  # the wake stream: only the re-issue mattered
                for entry_id, fields in entries:
                    if b"c" in fields:
                        await self._sink.control(text(entry_id), fields)
                        continue
                    name = text(fields.get(b"d", b""))
                    if name in self.subs:
                        self._dirty.add(name)
        if members:
            self._members(members, None)

    def _members(self, entries: Any, start: str | None) -> None:
        """Follow membership entries: a new node's change stream is read from the entry that
        revealed it (or from ``start``); a goodbye or ``3 * heartbeat`` of silence ends it."""
        for raw_id, fields in entries:
            stream_id = text(raw_id)
            ms = id_key(stream_id)[0]
            self._nodes_clock = max(self._nodes_clock, ms)
            node = text(fields.get(b"n", b""))
            if node == self._node_id or not node:
                continue
            key = self._changes_prefix + node
            if b"b" in fields:
                self.peers.pop(node, None)
                self._positions.pop(key, None)
                continue
            if node not in self.peers:
                self._positions[key] = start or stream_id
            self.peers[node] = ms
        for node, seen in list(self.peers.items()):
            if seen < self._nodes_clock - self._alive_ms:
                del self.peers[node]
                self._positions.pop(self._changes_prefix + node, None)

    async def _read_documents(self, redis: Redis[bytes]) -> None:
        """Read the streams of the dirty documents (non-blocking), in chunks."""
        names = [name for name in self._dirty if name in self.subs]
        self._dirty.clear()
        for start in range(0, len(names), _CHUNK):
            chunk = names[start:start + _CHUNK]
            try:
                await self._read_chunk(redis, chunk)
            except BaseException:
                self._dirty.update(names[start:])  # unread: read them after the reconnect
                raise

    async def _read_chunk(self, redis: Redis[bytes], names: list[str]) -> None:
        streams: dict[str, str] = {}
        keys: dict[str, tuple[Subscription, bool]] = {}
        for name in names:
            sub = self.subs.get(name)
            if sub is None:
                continue
            streams[sub.doc_key] = sub.doc_last
            streams[sub.awareness_key] = sub.awareness_last
            keys[sub.doc_key] = (sub, True)
            keys[sub.awareness_key] = (sub, False)
        if not streams:
            return
        reply: Any = await redis.xread(streams, count=_COUNT)
        for raw_key, entries in reply or []:
            sub, is_doc = keys[text(raw_key)]
            for raw_id, fields in entries:
                if self.subs.get(sub.name) is not sub:
                    break  # unloaded (or reloaded) while we were reading
                await self._sink.dispatch(sub, is_doc, fields)
                if is_doc:
                    sub.doc_last = text(raw_id)
                else:
                    sub.awareness_last = text(raw_id)
            if len(entries) >= _COUNT and self.subs.get(sub.name) is sub:
                self._dirty.add(sub.name)  # more is waiting

    async def _recover(self, redis: Redis[bytes]) -> None:
        """Wait for Redis to answer again, catch up every document that may have lost entries
        to trimming meanwhile, and sweep: notifications may have been missed."""
        delay = self._retry_delay
        while True:
            await anyio.sleep(delay)
            try:
                await redis.ping()
                break
            except self._errors:
                delay = min(delay * 2, 5.0)
        self.connected = True
        self._next_sweep = 0.0
        log.info("fan-out reconnected to redis")
        self._on_reconnect()
        for sub in list(self.subs.values()):
            try:
                if sub.uncertain or await self._trimmed_past(redis, sub):
                    await self._sink.catch_up(sub)
            except self._errors:
                self.connected = False
                return  # the next read will fail again and come back here

    async def _trimmed_past(self, redis: Redis[bytes], sub: Subscription) -> bool:
        """Whether entries after our position may have been trimmed away (conservative: a
        false positive costs one idempotent reload). Redis 7.0 does not record trims in
        ``max-deleted-entry-id`` (only XDEL), so compare with the first remaining entry."""
        from redis.exceptions import ResponseError

        try:
            info: dict[str, Any] = await redis.xinfo_stream(sub.doc_key)
        except ResponseError:
            return True  # the stream is gone (expired or deleted): we cannot tell what we missed
        last = id_key(sub.doc_last)
        if id_key(text(info["last-generated-id"])) <= last:
            return False  # nothing was written since our position
        first = info.get("first-entry")
        return first is None or id_key(text(first[0])) > last
