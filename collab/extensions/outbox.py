"""``StreamOutbox``: the bounded, retrying publisher behind ``RedisFanout``.

Hooks must never wait for Redis, so they only ``put`` entries here; one writer task drains the
queue in pipelined batches, preserving order: ``XADD MAXLEN ~`` per entry, then (when an
``announce`` callback is given) one announcing entry per document touched, after that
document's entries, then ``EXPIRE`` for each stream written whose expiry was not refreshed in
the last ``min(ttl / 2, 60)`` seconds. A batch is one write and one read on a connection the
writer keeps for itself (no pipeline object, pool checkout or retry wrapper per batch: with one
batch per edit these cost as much as the round trip). It retries with exponential backoff
while Redis is unreachable. The queue is bounded: on overflow the oldest entry is dropped and,
if it was a document update, the document is marked for a *resync*: before anything else is
published again, the ``resync`` callback supplies one entry that supersedes every dropped
update (the document's whole state), so peers still converge.
redis is imported by `run`, not with the module (a process without Redis never loads it).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Fields", "Outgoing", "StreamOutbox"]

log = logging.getLogger(__name__)

Fields = dict[bytes | str, bytes | str]
"""The fields of one stream entry."""

_BATCH = 256
_IDLE = 1.0  # seconds unused after which the connection is checked before a write


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One stream entry to publish.

    Attributes:
        name: the document it belongs to ("" for control entries).
        key: the stream key.
        fields: the entry.
        maxlen: approximate cap of the stream.
        droppable_update: a document update: dropping it requires a resync of ``name``.
    """

    name: str
    key: str
    fields: Fields
    maxlen: int
    droppable_update: bool = False


class StreamOutbox:
    """A FIFO of stream entries, published by `run` (one writer task).

    Args:
        limit: entries kept while Redis is unreachable.
        ttl: seconds each written stream lives after its last write.
        retry_delay: first delay after a failed write (doubled up to 5 s).
        resync: ``resync(name)`` returns the entry that replaces the dropped updates of
            ``name`` (called on the writer task before the queue is published again).
        announce: ``announce(name)`` returns the entry telling readers that document ``name``
            has new entries (``RedisFanout``'s change stream); none for control entries
            (``name == ""``).
    """

    def __init__(self, *, limit: int, ttl: int, retry_delay: float,
                 resync: Callable[[str], Outgoing],
                 announce: Callable[[str], Outgoing] | None = None) -> None:
        self._entries: deque[Outgoing] = deque()
        self._limit = limit
        self._ttl = ttl
        self._refresh = min(ttl / 2, 60.0)  # seconds between two EXPIREs of one stream
        self._expired: dict[str, float] = {}  # stream -> when its expiry was last set
        self._retry_delay = retry_delay
        self._resync_entry = resync
        self._announce = announce
        self._resync: set[str] = set()
        self._conn: Any = None  # the writer's own connection, taken from the client's pool
        self._used = 0.0  # monotonic time of its last write
        self._ready = anyio.Event()
        self._empty = anyio.Event()
        self._empty.set()
        self.healthy = True
        """False after a failed write, True again after the next successful one."""

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, item: Outgoing) -> None:
        """Queue ``item`` (never blocks; drops the oldest entry when full)."""
        if len(self._entries) >= self._limit:
            dropped = self._entries.popleft()
            if dropped.droppable_update:
                self._resync.add(dropped.name)
        self._entries.append(item)
        if self._empty.is_set():
            self._empty = anyio.Event()
        self._ready.set()

    def kick(self) -> None:
        """Wake the writer (for example after Redis came back)."""
        self._ready.set()

    async def wait_empty(self) -> None:
        """Wait until everything queued so far has been written."""
        await self._empty.wait()

    async def run(self, redis: Redis[bytes]) -> None:
        """The writer task: publish forever, retrying while Redis fails."""
        from redis.exceptions import RedisError  # an `except` evaluates it: import it first

        delay = self._retry_delay
        while True:
            if not self._entries and not self._resync:
                self._ready = anyio.Event()
                await self._ready.wait()
            try:
                await self.flush(redis)
                delay = self._retry_delay
            except (RedisError, OSError):
                self.healthy = False
                log.warning("fan-out publish failed; %s entries buffered", len(self._entries))
                await anyio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:
                log.exception("fan-out writer failed; retrying")
                await anyio.sleep(1.0)

    async def flush(self, redis: Redis[bytes]) -> None:
        """Publish everything queued now (resyncs first).

        Raises:
            RedisError | OSError: Redis failed; unpublished entries stay queued, in order.
        """
        while self._resync:
            name = next(iter(self._resync))
            await self._write(redis, [self._resync_entry(name)])
            self._resync.discard(name)
        while self._entries:
            # Taken out while in flight so that an overflow meanwhile cannot drop them.
            batch = [self._entries.popleft() for _ in range(min(len(self._entries), _BATCH))]
            sent = False
            try:
                await self._write(redis, batch)
                sent = True
            finally:
                if not sent:
                    self._entries.extendleft(reversed(batch))
        self._empty.set()

    async def _write(self, redis: Redis[bytes], batch: list[Outgoing]) -> None:
        commands: list[tuple[Any, ...]] = []
        keys: dict[str, None] = {}
        names: dict[str, None] = {}
        for item in batch:
            commands.append(_xadd(item))
            keys[item.key] = None
            if item.name:
                names[item.name] = None
        if self._announce is not None:
            for name in names:  # after the entries they announce: a reader finds them
                notice = self._announce(name)
                commands.append(_xadd(notice))
                keys[notice.key] = None
        now = time.monotonic()
        refreshed = [key for key in keys if now - self._expired.get(key, -1e9) >= self._refresh]
        commands.extend(("EXPIRE", key, self._ttl) for key in refreshed)
        await self._execute(redis, commands)
        if len(self._expired) > 10_000:  # forget streams not written for a while
            self._expired = {k: t for k, t in self._expired.items() if now - t < self._refresh}
        self._expired.update(dict.fromkeys(refreshed, now))
        self.healthy = True

    async def _execute(self, redis: Redis[bytes], commands: list[tuple[Any, ...]]) -> None:
        """Send ``commands`` in one write and read every reply (the first error is raised
        after all were read); any other failure closes the connection."""
        from redis.exceptions import ResponseError

        conn = self._conn
        if conn is None:
            pool: Any = redis.connection_pool
            conn = self._conn = await pool.get_connection()  # held, never released
        elif time.monotonic() - self._used > _IDLE:
            await _revive(conn)
        try:
            await conn.send_packed_command(conn.pack_commands(commands))
            error: ResponseError | None = None
            for _ in commands:
                try:
                    await conn.read_response()
                except ResponseError as exc:  # the connection is still in step
                    error = error or exc
        except BaseException:
            await conn.disconnect(nowait=True)  # replies may be pending: never reuse it as is
            raise
        self._used = time.monotonic()
        if error is not None:
            raise error


def _xadd(item: Outgoing) -> tuple[Any, ...]:
    args: list[Any] = ["XADD", item.key, "MAXLEN", "~", item.maxlen, "*"]
    for field, value in item.fields.items():
        args += (field, value)
    return tuple(args)


async def _revive(conn: Any) -> None:
    """Reconnect ``conn`` if Redis closed it while it was unused (a restart, a timeout)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        stale = not conn.is_connected or await conn.can_read_destructive()
    except (RedisConnectionError, OSError):
        stale = True
    if stale:
        await conn.disconnect()
        await conn.connect()
