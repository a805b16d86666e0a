"""The document registry: single-flight load, leases, delayed unload, rebuild after a panic.

* ``acquire(name)`` returns the loaded Document and takes a lease. Concurrent acquires of one
  name share one load (500 clients connecting at once load it once), and none returns before
  ``on_load_document`` and ``after_load_document`` finished: nobody syncs against a
  half-loaded document.
* ``release(document)`` drops the lease; when the last one goes, the document is unloaded after
  ``unload_delay`` if nobody came back, and only after ``on_store_document`` succeeded (a
  failing store keeps it in memory and retries later). One release queue: every document waits
  the same delay, so a FIFO is ordered by due time and one task watches it; an unload task
  exists only while a document is actually being unloaded, never one per waiting document.
* ``rebuild(document)`` replaces a poisoned Doc by a fresh one loaded from the store.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import anyio
from anyio.abc import TaskGroup

from collab.config import CollabConfig
from collab.document import Document
from collab.errors import CloseCode, InternalError
from collab.hooks import AfterLoadDocument, AfterUnloadDocument, BeforeUnloadDocument, Hooks
from collab.hooks import LoadDocument as LoadEvent
from collab.metrics import CollabMetrics

__all__ = ["Registry"]

log = logging.getLogger(__name__)


class _Load:
    __slots__ = ("document", "done", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.document: Document | None = None
        self.error: BaseException | None = None


class Registry:
    """Loaded documents of one server. Call ``start(task_group)`` before use.

    Args:
        config: limits and delays.
        hooks: the extension hooks (load, unload, store).
        metrics: collectors to update.
    """

    def __init__(self, config: CollabConfig, hooks: Hooks, metrics: CollabMetrics) -> None:
        self.config = config
        self.hooks = hooks
        self.metrics = metrics
        self.documents: dict[str, Document] = {}
        self._loading: dict[str, _Load] = {}
        self._unloading: dict[str, anyio.Event] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._rebuilding: set[str] = set()
        self._released: deque[tuple[float, Document]] = deque()  # (released_at, document)
        self._released_wake = anyio.Event()
        self._tg: TaskGroup | None = None
        self.loads = 0  # total loads performed (observability and tests)

    def start(self, task_group: TaskGroup | None) -> None:
        """Give the registry the task group that runs document tasks and unload timers
        (None on shutdown: no more timers)."""
        self._tg = task_group
        self._released_wake.set()  # a running release watcher re-reads the task group
        if task_group is not None:
            task_group.start_soon(self._watch_releases, task_group)

    @property
    def loading(self) -> int:
        """Loads in progress."""
        return len(self._loading)

    def is_loading(self, name: str) -> bool:
        """Whether ``name`` is being loaded right now."""
        return name in self._loading

    def is_live(self, name: str) -> bool:
        """Whether ``name`` is loaded (or loading) and not being unloaded."""
        if name in self._unloading:
            return False
        return name in self.documents or name in self._loading

    async def acquire(self, name: str) -> Document:
        """Return the loaded document ``name`` with a lease taken; load it if needed.

        Raises:
            InternalError: the load failed or timed out (every concurrent waiter gets it).
            Reject: an ``on_load_document`` hook refused.
        """
        while True:
            unloading = self._unloading.get(name)
            if unloading is not None:
                await unloading.wait()
                continue
            document = self.documents.get(name)
            if document is not None:
                document.leases += 1
                return document
            pending = self._loading.get(name)
            if pending is None:
                pending = _Load()
                self._loading[name] = pending
                try:
                    pending.document = await self._load(name)
                except BaseException as exc:  # handed to every waiter, then re-raised
                    pending.error = exc
                    raise
                finally:
                    del self._loading[name]
                    pending.done.set()
            else:
                await pending.done.wait()
            if pending.error is not None:
                raise InternalError(f"loading {name} failed") from pending.error

    async def _load(self, name: str) -> Document:
        document = Document(name, self.config, self.hooks, self.metrics)
        doc = document.new_doc()
        with anyio.fail_after(self.config.load_timeout):
            await self.hooks.run(lambda ext: ext.on_load_document(LoadEvent(name, doc)))
        document.attach(doc)
        self.documents[name] = document
        self.loads += 1
        self.metrics.documents.inc()
        self._spawn_task(document)
        try:
            await self.hooks.run(lambda ext: ext.after_load_document(AfterLoadDocument(name, doc)))
        except BaseException:
            self._drop(document)
            raise
        log.debug("document loaded: %s", name)
        return document

    def _spawn_task(self, document: Document) -> None:
        assert self._tg is not None, "Registry.start() was not called"
        scope = anyio.CancelScope()
        self._scopes[document.name] = scope

        async def run() -> None:
            with scope:
                try:
                    await document.run()
                except Exception:  # never take the server's task group down with one document
                    log.exception("background task of %s failed", document.name)

        self._tg.start_soon(run)

    def _drop(self, document: Document) -> None:
        scope = self._scopes.pop(document.name, None)
        if scope is not None:
            scope.cancel()
        document.detach()
        if self.documents.get(document.name) is document:
            del self.documents[document.name]
            self.metrics.documents.dec()

    def release(self, document: Document) -> None:
        """Drop a lease; schedule the unload when it was the last one."""
        document.leases -= 1
        if document.leases > 0 or self._tg is None:
            return
        self._queue_release(document)

    def _queue_release(self, document: Document) -> None:
        document.released_at = time.monotonic()
        self._released.append((document.released_at, document))
        self._released_wake.set()

    async def _watch_releases(self, task_group: TaskGroup) -> None:
        """Unload each released document once ``unload_delay`` passed without a new lease."""
        while self._tg is task_group:
            wait = self._next_release(task_group)
            if wait is None:
                self._released_wake = anyio.Event()
                await self._released_wake.wait()
            elif wait > 0:
                await anyio.sleep(wait)  # later releases are due later: nothing to wake for

    def _next_release(self, task_group: TaskGroup) -> float | None:
        """Start the unload of the first queued document if it is due; else how long until
        it is (None: nothing queued). Holds no reference while the watcher waits."""
        if not self._released:
            return None
        released_at, document = self._released[0]
        wait = released_at + self.config.unload_delay - time.monotonic()
        if wait > 0:
            return wait
        self._released.popleft()
        # Acquired since (leases), or released again (a later entry is due later).
        if document.leases == 0 and document.released_at == released_at:
            task_group.start_soon(self._unload_released, document)
        return 0.0

    async def _unload_released(self, document: Document) -> None:
        try:
            await self.unload(document)
        except Exception:  # never take the server's task group down with one document
            log.exception("unloading %s failed", document.name)

    async def unload(self, document: Document) -> bool:
        """Store and unload ``document`` now if nobody uses it.

        Returns:
            True when it was unloaded; False when it is in use, already gone, or its store
            failed (it then stays in memory and the unload is retried after ``unload_delay``).
        """
        name = document.name
        if document.leases > 0 or self.documents.get(name) is not document:
            return False
        if name in self._unloading:
            return False
        done = anyio.Event()
        self._unloading[name] = done
        try:
            try:
                await document.store()
            except Exception:
                log.exception("store before unload failed: %s; kept in memory", name)
                self.release_retry(document)
                return False
            await self._run_quietly(
                "before_unload_document",
                lambda ext: ext.before_unload_document(BeforeUnloadDocument(name, document.doc)),
            )
            self._drop(document)
            await self._run_quietly(
                "after_unload_document",
                lambda ext: ext.after_unload_document(AfterUnloadDocument(name)),
            )
            log.debug("document unloaded: %s", name)
            return True
        finally:
            del self._unloading[name]
            done.set()

    def release_retry(self, document: Document) -> None:
        """Retry an unload later (after a failed store)."""
        if self._tg is not None and document.leases == 0:
            self._queue_release(document)

    async def _run_quietly(self, what: str, call: object) -> None:
        try:
            await self.hooks.run(call)  # type: ignore[arg-type]
        except Exception:
            log.exception("%s hook failed", what)

    async def unload_all(self) -> None:
        """Store and unload every document nobody uses (shutdown)."""
        for document in list(self.documents.values()):
            document.leases = 0
            await self.unload(document)

    async def rebuild(self, document: Document) -> None:
        """Replace a poisoned Doc by one loaded from the store; resync its connections.

        Every remaining connection gets the rebuilt Doc's sync step 1, so it answers with the
        step 2 the server is missing (anything not yet durable); the offending update was never
        broadcast nor stored, so clients and store converge without it.
        """
        name = document.name
        if not document.poisoned or name in self._rebuilding:
            return
        self._rebuilding.add(name)
        try:
            await self._rebuild(document)
        finally:
            self._rebuilding.discard(name)

    async def _rebuild(self, document: Document) -> None:
        name = document.name
        try:
            doc = document.new_doc()
            with anyio.fail_after(self.config.load_timeout):
                await self.hooks.run(lambda ext: ext.on_load_document(LoadEvent(name, doc)))
            document.attach(doc)
        except Exception:
            log.exception("rebuilding poisoned document %s failed; closing it", name)
            for recipient in list(document.connections.values()):
                recipient.close(CloseCode.INTERNAL_ERROR, "internal error")
            return
        log.warning("document %s rebuilt after a pycrdt panic", name)
        frame = document.sync_step1()
        document.broadcast(frame)
