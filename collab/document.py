"""``Document``: one live document: a pycrdt ``Doc``, its awareness states, its connections.

The Document is the pycrdt error boundary. ``apply_update`` turns pycrdt's ``ValueError`` into
``ProtocolViolation`` and a Rust panic (``pyo3_runtime.PanicException``, a ``BaseException``)
into ``DocumentPoisoned``: after a panic the YDoc may abort the process or corrupt text on its
next use, so it is never touched again and the server rebuilds it from the durable log.

Fan-out encodes each applied diff once and queues the same bytes on every other connection
(non-blocking: a full buffer closes that connection, never the room). Awareness relays are
coalesced per document to one broadcast per ``awareness_interval`` (latest state wins), and
``on_store_document`` is debounced; both run in the document's single background task.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import anyio
from pycrdt import Doc, Subscription, TransactionEvent, merge_updates

from collab.awareness import AwarenessStates
from collab.config import CollabConfig
from collab.errors import (
    CloseCode,
    DocumentPoisoned,
    DocumentTooLarge,
    ProtocolViolation,
    default_reason,
    is_panic,
)
from collab.hooks import (
    AfterStoreDocument,
    AwarenessChange,
    Change,
    Hooks,
    Origin,
    Principal,
    StoreDocument,
)
from collab.metrics import CollabMetrics
from collab.parked import ParkedUpdates
from collab.protocol import (
    AwarenessEntry,
    encode_awareness,
    encode_awareness_entries,
    encode_awareness_entry,
    encode_sync_step1,
    encode_update,
    join_awareness_entries,
)
from collab.types import YDoc

__all__ = ["Document", "Recipient"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Awareness payloads remembered (by digest) to recognise echoes (``was_relayed``): in a connect
# storm an echo of a joiner's snapshot comes back after hundreds of other relays.
_RECENT_RELAYS = 1024


class Recipient(Protocol):
    """What a Document needs from a connection."""

    @property
    def connection_id(self) -> str: ...

    @property
    def principal(self) -> Principal: ...

    def send(self, frame: bytes) -> None:
        """Queue ``frame`` without blocking; a full buffer closes the connection."""

    def close(self, code: int, reason: str) -> None:
        """Close the connection (non-blocking, idempotent)."""


def _digest(payload: bytes) -> tuple[int, int]:
    """The key a relayed payload is remembered by: its length and Python's keyed (per process
    random) SipHash, never the payload itself; a false match could only drop the sender's own
    message."""
    return len(payload), hash(payload)


class Document:
    """A loaded document. Created and owned by the server's registry.

    Args:
        name: ``"{kind}/{id}"``.
        config: the server configuration (limits, intervals).
        hooks: the server's extension hooks.
        metrics: where panics are counted (none in unit tests).
    """

    def __init__(
        self,
        name: str,
        config: CollabConfig,
        hooks: Hooks,
        metrics: CollabMetrics | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.hooks = hooks
        self.metrics = metrics
        self.awareness = AwarenessStates(
            max_clients_per_owner=config.awareness_clients_per_connection
        )
        self.connections: dict[str, Recipient] = {}
        self.leases = 0  # connections and direct sessions using it (unload at 0)
        self.released_at = 0.0  # when leases last dropped to 0
        self.size = 0
        self.poisoned = False
        self._doc: YDoc | None = None
        self._subscription: Subscription | None = None
        self._diffs: list[bytes] = []
        self._ready = anyio.Event()
        self._wake = anyio.Event()
        self._dirty_since: float | None = None
        self._last_change = 0.0
        self._pending_awareness: dict[int, tuple[str, AwarenessEntry]] = {}
        self._last_awareness = -math.inf
        self._relayed: dict[tuple[int, int], None] = {}  # keys of the last payloads sent
        self._store_lock = anyio.Lock()
        self.parked = ParkedUpdates.for_config(config)
        # The last applied diff carries parked updates of others: its sender lacks them too.
        self.echo = False

    # -- the YDoc and its observer ------------------------------------------------------------

    def new_doc(self) -> YDoc:
        """A fresh, unobserved YDoc for loading (the loader fills it, then ``attach``es it)."""
        return Doc(skip_gc=self.config.skip_gc)

    def attach(self, doc: YDoc) -> None:
        """Make ``doc`` (already loaded) the live YDoc and start observing its updates."""
        self.detach()
        self._doc = doc
        self._subscription = doc.observe(self._on_transaction)
        self.size = len(doc.get_update())
        self.poisoned = False
        self.parked.clear()  # a new Doc holds nothing back
        self._ready.set()

    def detach(self) -> None:
        """Remove the observer (a YDoc observer that is never removed leaks the whole YDoc)."""
        doc, subscription = self._doc, self._subscription
        self._doc, self._subscription = None, None
        if doc is not None and subscription is not None and not self.poisoned:
            doc.unobserve(subscription)

    @property
    def doc(self) -> YDoc:
        """The live Doc. Raises ``DocumentPoisoned`` while it is being rebuilt."""
        if self._doc is None or self.poisoned:
            raise DocumentPoisoned(self.name)
        return self._doc

    @property
    def observed(self) -> bool:
        """Whether an observer is attached (false after unload)."""
        return self._subscription is not None

    @property
    def ready(self) -> bool:
        """Whether the YDoc is usable now (``wait_ready`` would return at once)."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Wait until the YDoc is usable (loaded, or rebuilt after a panic)."""
        await self._ready.wait()

    def _on_transaction(self, event: TransactionEvent) -> None:
        update = event.update
        if update != b"\x00\x00":  # an empty update (no insert, no delete)
            self._diffs.append(update)

    def _poison(
        self, source: str, suspects: frozenset[str] = frozenset(), sender: str = ""
    ) -> DocumentPoisoned:
        """Drop the panicked YDoc; one log line (no traceback: it is always the same Rust
        unwrap, and an attacker can repeat it) and one count per panic. With ``suspects``
        (senders of parked updates, which yrs retried inside this one) those connections are
        closed (the ``sender`` among them by its caller) instead of the ``sender`` alone."""
        log.warning(
            "pycrdt panicked on %s (%s%s); the document is rebuilt",
            self.name,
            source,
            f"; parked updates of {', '.join(sorted(suspects))} closed" if suspects else "",
        )
        if self.metrics is not None:
            self.metrics.panics.inc()
        self._drop_doc()
        for suspect in suspects - {sender}:
            recipient = self.connections.get(suspect)
            if recipient is not None:
                recipient.close(CloseCode.INTERNAL_ERROR, default_reason(CloseCode.INTERNAL_ERROR))
        return DocumentPoisoned(self.name, suspects)

    def _drop_doc(self) -> None:
        self.poisoned = True
        self._ready = anyio.Event()
        # The poisoned YDoc is dropped without calling into it again (not even unobserve):
        # dropping the last reference frees it together with its observer.
        self._doc, self._subscription = None, None

    # -- mutations (synchronous: no await between apply and queueing the broadcast) ----------

    def apply_update(self, update: bytes, sender: str = "a peer") -> bytes | None:
        """Apply a y-protocols update from ``sender`` (a connection id, for the log).

        Returns:
            the diff it actually made (to broadcast and store), or None if it changed nothing
            (already known, or parked by yrs until its dependencies arrive).

        Raises:
            DocumentTooLarge: the document would grow over ``max_document_size``.
            ProtocolViolation: pycrdt could not decode the update.
            DocumentPoisoned: pycrdt panicked; the YDoc is dropped and must be rebuilt.
        """
        doc = self.doc
        if self.size + len(update) > self.config.max_document_size:
            raise DocumentTooLarge(self.name)
        self._diffs.clear()
        suspects = self.parked.senders if self.parked else frozenset()
        try:
            doc.apply_update(update)
        except ValueError as exc:
            raise ProtocolViolation("invalid update") from exc
        except BaseException as exc:  # the documented pycrdt panic boundary
            if is_panic(exc):
                raise self._poison(f"update from {sender}", suspects, sender) from None
            raise
        diff = self._take_diff()
        self.echo = False
        if diff != update:  # not integrated whole as it came: something may be parked
            self._track_parked(doc, update, sender, settle=diff is not None)
            self.echo = bool(self.parked.released - {sender})
        return diff

    def _track_parked(self, doc: YDoc, update: bytes, sender: str, *, settle: bool) -> None:
        """Over the limits of parked updates close the sender (4424) and, for the document's,
        drop the Doc (the caller schedules the rebuild: only a new Doc lets go of them)."""
        over = self.parked.track(doc.get_state(), update, sender, settle=settle)
        if over is None:
            return
        log.warning("parked updates of %s on %s over the %s limits", sender, self.name, over)
        recipient = self.connections.get(sender)
        if recipient is not None:
            code = CloseCode.MISSING_DEPENDENCIES
            recipient.close(code, default_reason(code))
        if over == "document":
            self._drop_doc()

    def transact(self, fn: Callable[[YDoc], T], origin: Origin) -> tuple[T, bytes | None]:
        """Run ``fn(doc)`` in one transaction (server-side edit).

        Returns:
            ``(fn's result, the diff or None)``.
        """
        doc = self.doc
        self._diffs.clear()
        try:
            with doc.transaction(origin=origin):
                result = fn(doc)
        except BaseException as exc:  # the documented pycrdt panic boundary
            if is_panic(exc):
                raise self._poison(f"server edit by {origin.kind} {origin.id}") from None
            raise
        return result, self._take_diff()

    def _take_diff(self) -> bytes | None:
        diffs, self._diffs = self._diffs, []
        if not diffs:
            return None
        # One transaction gives one event; nested transactions could give more.
        diff = diffs[0] if len(diffs) == 1 else merge_updates(*diffs)
        self.size += len(diff)
        now = time.monotonic()
        if self._dirty_since is None:
            self._dirty_since = now
        self._last_change = now
        self._wake.set()
        return diff

    def sync_step1(self) -> bytes:
        """The server's sync step 1 frame (its state vector)."""
        return encode_sync_step1(self.doc.get_state())

    def diff_since(self, state_vector: bytes, sender: str = "a peer") -> bytes:
        """The update a peer with ``state_vector`` is missing.

        Raises:
            ProtocolViolation: the state vector cannot be decoded.
        """
        doc = self.doc
        try:
            return doc.get_update(state_vector)
        except ValueError as exc:
            raise ProtocolViolation("invalid state vector") from exc
        except BaseException as exc:  # the documented pycrdt panic boundary
            if is_panic(exc):
                raise self._poison(f"state vector from {sender}") from None
            raise

    async def commit(self, diff: bytes, origin: Origin, *, echo: bool = False) -> None:
        """Broadcast ``diff`` to every connection but the origin's (to it as well with
        ``echo``), then run ``on_change``."""
        exclude = origin.id if origin.kind == "client" and not echo else None
        self.broadcast(encode_update(diff), exclude=exclude)
        await self.hooks.notify(lambda ext: ext.on_change(Change(self.name, diff, origin)))

    def broadcast(self, frame: bytes, *, exclude: str | None = None) -> None:
        """Queue the same ``frame`` bytes on every connection except ``exclude``."""
        for connection_id, recipient in list(self.connections.items()):
            if connection_id != exclude:
                recipient.send(frame)

    # -- awareness ----------------------------------------------------------------------------

    def queue_awareness(self, owner: str, entries: list[AwarenessEntry]) -> None:
        """Queue awareness entries for the next coalesced broadcast (latest wins)."""
        for entry in entries:
            self._pending_awareness[entry.client_id] = (owner, entry)
        if entries:
            self._wake.set()

    def awareness_snapshot_frame(self) -> bytes | None:
        """The frame with every live awareness state, or None when there is none."""
        payload = self.awareness.snapshot_payload(time.monotonic())
        if payload is None:
            return None
        return encode_awareness(self._relaying(payload))

    def was_relayed(self, payload: bytes) -> bool:
        """Whether ``payload`` is byte for byte one of the last awareness updates this document
        sent. A stock y-websocket provider sends every update it receives straight back (its
        ``awareness.on('update')`` has no origin filter), so with n clients each relay comes
        back up to n - 1 times; such an echo carries only states and clocks we sent, so it is
        dropped whole, without reading its entries."""
        return _digest(payload) in self._relayed

    def _relaying(self, payload: bytes) -> bytes:
        relayed = self._relayed
        key = _digest(payload)
        relayed.pop(key, None)
        relayed[key] = None
        if len(relayed) > _RECENT_RELAYS:
            del relayed[next(iter(relayed))]
        return payload

    async def flush_awareness(self) -> None:
        """Broadcast the queued awareness entries now; each owner gets the others' only."""
        pending, self._pending_awareness = self._pending_awareness, {}
        self._last_awareness = time.monotonic()
        if not pending:
            return
        items = list(pending.values())
        wires = [encode_awareness_entry(entry) for _, entry in items]  # each encoded once
        by_owner: dict[str, list[AwarenessEntry]] = {}
        for owner, entry in items:
            by_owner.setdefault(owner, []).append(entry)
        frame_all = encode_awareness(self._relaying(join_awareness_entries(wires)))
        for connection_id, recipient in list(self.connections.items()):
            own = by_owner.get(connection_id)
            if own is None:
                recipient.send(frame_all)
            elif len(own) < len(items):
                others = [w for (o, _), w in zip(items, wires, strict=True) if o != connection_id]
                recipient.send(encode_awareness(self._relaying(join_awareness_entries(others))))
        for owner, entries in by_owner.items():
            origin = (
                Origin.PEER(owner.removeprefix("peer:"))
                if owner.startswith("peer:")
                else Origin.CLIENT(owner)
            )
            event = AwarenessChange(
                self.name,
                encode_awareness_entries(entries),
                origin,
                tuple(e.client_id for e in entries if e.state is None),
            )
            await self._emit_awareness(event)

    async def _emit_awareness(self, event: AwarenessChange) -> None:
        await self.hooks.notify(lambda ext: ext.on_awareness_update(event))

    # -- debounced store ----------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Whether changes happened since the last successful store."""
        return self._dirty_since is not None

    async def store(self) -> None:
        """Run ``on_store_document`` then ``after_store_document`` now (serialised).

        Raises:
            Exception: a store hook failed; the document stays dirty and in memory.
        """
        async with self._store_lock:
            if self._dirty_since is None or self.poisoned or self._doc is None:
                return
            since, self._dirty_since = self._dirty_since, None
            try:
                event = StoreDocument(self.name, self._doc)
                await self.hooks.run(lambda ext: ext.on_store_document(event))
            except Exception:
                self._dirty_since = since if self._dirty_since is None else self._dirty_since
                raise
            done = AfterStoreDocument(self.name)
            await self.hooks.run(lambda ext: ext.after_store_document(done))

    async def run(self) -> None:
        """The document's background task: coalesced awareness and debounced stores."""
        cfg = self.config
        while True:
            now = time.monotonic()
            due: list[float] = []
            if self._pending_awareness:
                due.append(self._last_awareness + cfg.awareness_interval)
            if self._dirty_since is not None:
                due.append(
                    min(
                        self._last_change + cfg.store_debounce,
                        self._dirty_since + cfg.store_max_debounce,
                    )
                )
            wait = (min(due) - now) if due else math.inf
            if wait > 0:
                self._wake = anyio.Event()
                with anyio.move_on_after(wait):
                    await self._wake.wait()
                continue
            if self._pending_awareness and self._last_awareness + cfg.awareness_interval <= now:
                try:
                    await self.flush_awareness()
                except Exception:
                    log.exception("awareness hook failed for document %s", self.name)
            if self._dirty_since is not None and now >= min(
                self._last_change + cfg.store_debounce,
                self._dirty_since + cfg.store_max_debounce,
            ):
                try:
                    await self.store()
                except Exception:
                    log.exception("store failed for document %s; kept in memory", self.name)
                    self._dirty_since = self._last_change = time.monotonic()
