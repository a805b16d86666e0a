"""Durable documents: the ``DocumentStore`` seam, an in-memory store, and the ``Persistence``
extension that group-commits every applied update to the store.

Write path: every update applied to a document (origin CLIENT or SERVER; PEER updates are
stored by the node that received them) is queued by ``on_change``. One loop writes everything
queued, for all documents, in ONE ``DocumentStore.append`` call per ``flush_interval``. A
failing store keeps the updates queued (retried with exponential backoff up to
``max_backoff``) and the documents in memory (``on_store_document`` raises, so the server does
not unload them).

Crash window: an update is durable ``flush_interval`` (default 10 ms) plus one append after the
server applied and broadcast it. A ``kill -9`` loses at most that window for clients that went
away at the same moment; clients still running re-send it on reconnect (sync step 2 carries
everything the server lacks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

import anyio

from collab.background import Background, Loop
from collab.hooks import Change, Extension, LoadDocument, StoreDocument
from collab.metrics import CollabMetrics

__all__ = ["DocumentStore", "MemoryStore", "Persistence", "StoreUnavailable"]

log = logging.getLogger(__name__)


class DocumentStore(Protocol):
    """The durable document log (implemented by ``storage.documents.DocumentLog``)."""

    async def load(self, name: str) -> list[bytes]:
        """The snapshot (if any) followed by the logged updates, oldest first; [] if none."""
        ...

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Append ``(name, update)`` entries in one transaction; durable on return."""
        ...

    async def delete(self, name: str) -> None:
        """Forget everything stored for ``name``."""
        ...


class MemoryStore:
    """A ``DocumentStore`` in a dict (tests, and an embedded fallback without durability).

    Attributes:
        entries: name -> updates in append order.
        batches: how many ``append`` calls were made.
    """

    def __init__(self) -> None:
        self.entries: dict[str, list[bytes]] = {}
        self.batches = 0

    async def load(self, name: str) -> list[bytes]:
        """See ``DocumentStore.load``."""
        return list(self.entries.get(name, ()))

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """See ``DocumentStore.append``."""
        self.batches += 1
        for name, data in entries:
            self.entries.setdefault(name, []).append(data)

    async def delete(self, name: str) -> None:
        """See ``DocumentStore.delete``."""
        self.entries.pop(name, None)


class StoreUnavailable(Exception):
    """The store failed and queued updates are not durable yet (they stay queued)."""


class Persistence(Background, Extension):
    """Loads documents from a ``DocumentStore`` and group-commits their updates to it.

    Enter it as an async context manager (``CollabServer`` does) to run the commit loop; its
    exit flushes what is queued (bounded by ``final_flush_timeout``).

    Args:
        store: the durable log.
        flush_interval: group-commit window in seconds (the crash window).
        max_backoff: upper bound of the retry delay while the store fails.
        final_flush_timeout: how long exit keeps retrying a failing store.
        metrics: collectors for the store latency (optional).
    """

    priority = 1000  # load before anything else looks at the document

    def __init__(
        self,
        store: DocumentStore,
        *,
        flush_interval: float = 0.01,
        max_backoff: float = 5.0,
        final_flush_timeout: float = 10.0,
        metrics: CollabMetrics | None = None,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self.final_flush_timeout = final_flush_timeout
        self.metrics = metrics
        self._pending: list[tuple[str, bytes]] = []
        self._inflight: list[tuple[str, bytes]] = []
        self._queued = 0  # entries ever queued
        self._written = 0  # entries durable (FIFO, so a prefix of the queued ones)
        self._failing = False
        self._wake = anyio.Event()
        self._progress = anyio.Event()
        self._urgent = anyio.Event()

    @property
    def backlog(self) -> int:
        """Entries queued or being written."""
        return len(self._pending) + len(self._inflight)

    def _loops(self) -> tuple[Loop, ...]:
        return (self._commit_loop,)

    async def _drain(self) -> None:
        with anyio.move_on_after(self.final_flush_timeout):
            while self.backlog:
                try:
                    await self.flush()
                except StoreUnavailable:
                    await anyio.sleep(min(self.max_backoff, 0.1))
        if self.backlog:
            log.error("shutdown with %d updates not stored", self.backlog)

    # -- hooks --------------------------------------------------------------------------------

    async def on_load_document(self, event: LoadDocument) -> None:
        """Apply the stored log, then anything still queued for this name (a rebuild after a
        panic must not lose updates that are not durable yet)."""
        started = time.perf_counter()
        stored = await self.store.load(event.document)
        if self.metrics is not None:
            self.metrics.store_latency.observe(time.perf_counter() - started)
        queued = [
            data for name, data in (*self._inflight, *self._pending) if name == event.document
        ]
        for data in (*stored, *queued):
            try:
                event.doc.apply_update(data)
            except ValueError:
                log.error("skipping an undecodable stored update of %s", event.document)

    async def on_change(self, event: Change) -> None:
        """Queue the update unless it came from a peer node."""
        if event.origin.kind == "peer":
            return
        self._pending.append((event.document, event.update))
        self._queued += 1
        self._wake.set()

    async def on_store_document(self, event: StoreDocument) -> None:
        """Wait until every queued update is durable.

        Raises:
            StoreUnavailable: the store failed; the server keeps the document in memory.
        """
        await self.flush()

    # -- group commit -------------------------------------------------------------------------

    async def flush(self, *, urgent: bool = True) -> None:
        """Wait until everything queued before this call is durable.

        Args:
            urgent: skip the rest of the group-commit window; without it the wait ends with
                the window's commit (many waiters share one transaction).

        Raises:
            StoreUnavailable: a write attempt failed before that.
        """
        target = self._queued
        if self._group is None:  # not entered: write inline
            while self._written < target:
                await self._write_batch()
                if self._failing:
                    raise StoreUnavailable("store append failed")
            return
        if urgent:
            self._urgent.set()  # skip the rest of the group-commit window
        self._wake.set()
        while self._written < target:
            progress = self._progress
            await progress.wait()
            if self._written < target and self._failing:
                raise StoreUnavailable("store append failed")

    async def _commit_loop(self) -> None:
        backoff = self.flush_interval
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            with anyio.move_on_after(self.flush_interval):  # the group-commit window
                await self._urgent.wait()
            self._urgent = anyio.Event()
            while self._pending:
                await self._write_batch()
                if self._failing:
                    backoff = min(self.max_backoff, max(backoff * 2, 0.05))
                    await anyio.sleep(backoff)
                else:
                    backoff = self.flush_interval

    async def _write_batch(self) -> None:
        batch, self._pending = self._pending, []
        self._inflight = batch
        started = time.perf_counter()
        try:
            await self.store.append(batch)
        except Exception:
            log.exception("store append of %d updates failed; kept queued", len(batch))
            self._pending = batch + self._pending
            self._failing = True
        else:
            self._written += len(batch)
            self._failing = False
            if self.metrics is not None:
                self.metrics.store_latency.observe(time.perf_counter() - started)
        finally:
            self._inflight = []
            progress, self._progress = self._progress, anyio.Event()
            progress.set()
