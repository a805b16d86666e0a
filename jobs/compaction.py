"""Compaction of the durable document update log into one snapshot row per document.

The log (`storage.DocumentLog`) grows by one row per group-committed update. Loading a document
replays every row, so the log is periodically folded: read the rows, apply them to a fresh
`pycrdt.Doc`, encode its full state once and replace exactly the rows that were read.

Never `pycrdt.merge_updates` for a whole log: its cost grows faster than linearly with the number
of updates, while applying them to a Doc and encoding its state stays linear (docs/hazards.md).

Concurrency: rows appended while a compaction runs have ids above the `through_id` that was read,
so `replace_prefix` keeps them. Two compactions of the same document racing each other leave two
snapshots at worst, which is harmless (Yjs updates are idempotent) and folded by the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio.to_thread
from pycrdt import Doc, Text

log = logging.getLogger(__name__)

DEFAULT_MIN_UPDATES = 200
"""Documents whose log holds more rows than this are compacted by `compact_all`."""


class CompactableLog(Protocol):
    """What compaction needs from the durable log (implemented by `storage.DocumentLog`)."""

    async def read_log(self, name: str) -> tuple[list[bytes], int]:
        """Return the rows of `name` oldest first (snapshot included) and the highest row id."""
        ...

    async def replace_prefix(self, name: str, snapshot: bytes, through_id: int) -> None:
        """Atomically insert `snapshot` and delete the rows of `name` with id <= through_id."""
        ...


class ListableLog(CompactableLog, Protocol):
    """A log that can also name the documents worth compacting."""

    async def documents_over(self, threshold: int) -> list[str]:
        """Return the names of documents whose log has more than `threshold` rows."""
        ...


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What one compaction did.

    Attributes:
        name: the document.
        rows: how many log rows were folded (0 when there was nothing to do).
        through_id: the highest row id folded (rows above it were left alone).
        snapshot_bytes: size of the snapshot written (0 when skipped).
    """

    name: str
    rows: int
    through_id: int
    snapshot_bytes: int

    @property
    def compacted(self) -> bool:
        """True when a snapshot was written."""
        return self.snapshot_bytes > 0


def fold_updates(updates: Sequence[bytes]) -> bytes:
    """Fold Yjs updates into one update encoding the same state.

    Args:
        updates: v1 updates in any order (Yjs integrates out-of-order updates once their
            dependencies arrive; duplicates are ignored).

    Returns:
        The encoded state of a fresh document after applying every update.

    Raises:
        ValueError: an update is malformed (pycrdt reports decoding errors as ValueError).
    """
    doc: Doc[Text] = Doc()  # no roots are read: the type parameter is immaterial
    for update in updates:
        doc.apply_update(update)
    return doc.get_update()


async def compact_document(log_: CompactableLog, name: str) -> CompactionResult:
    """Fold the whole current log of `name` into one snapshot row.

    Idempotent and safe to run while clients keep editing: only rows with id <= the highest id
    read are replaced. A log of zero or one row is left as it is.

    Args:
        log_: the durable document log.
        name: the document name, e.g. ``notes/<uuid>``.

    Returns:
        A `CompactionResult` (``compacted`` is False when nothing was written).

    Raises:
        ValueError: a row could not be decoded; nothing was replaced.
    """
    updates, through_id = await log_.read_log(name)
    if len(updates) <= 1:
        return CompactionResult(name=name, rows=len(updates), through_id=through_id,
                                snapshot_bytes=0)
    # CPU-bound, linear in the rows: off the event loop, which may be the web process's.
    # The Doc is created and dropped inside the worker thread, never shared across threads.
    snapshot = await anyio.to_thread.run_sync(fold_updates, updates)
    await log_.replace_prefix(name, snapshot, through_id)
    log.info("compacted document=%s rows=%s through_id=%s snapshot_bytes=%s",
             name, len(updates), through_id, len(snapshot))
    return CompactionResult(name=name, rows=len(updates), through_id=through_id,
                            snapshot_bytes=len(snapshot))


async def compact_all(log_: ListableLog, *,
                      min_updates: int = DEFAULT_MIN_UPDATES) -> list[CompactionResult]:
    """Compact every document whose log has more than `min_updates` rows.

    One failing document (for example an undecodable row) is logged and skipped; the others
    are still compacted.

    Args:
        log_: the durable document log.
        min_updates: the row-count threshold.

    Returns:
        One result per document that was attempted and succeeded.
    """
    results: list[CompactionResult] = []
    for name in await log_.documents_over(min_updates):
        try:
            results.append(await compact_document(log_, name))
        except Exception:
            log.exception("compaction failed document=%s", name)
    return results
