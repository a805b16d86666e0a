"""Automatic versions of notes: a collab extension that checkpoints edited note documents.

A note that is being edited gets an automatic version at most every `interval` seconds of
editing (taken when the document is stored, with the state the store hook hands over), and
one more when it unloads if it changed since the last one. Only the newest `keep` automatic
versions are kept; named versions are never pruned. PEER changes are ignored: the node whose
clients made the edit takes the version, so several nodes do not duplicate it.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Protocol

from collab.hooks import BeforeUnloadDocument, Change, Extension, StoreDocument
from collab.types import YDoc
from notes.search_index import note_id_of

__all__ = ["AutoVersions", "VersionSink"]

log = logging.getLogger(__name__)


class VersionSink(Protocol):
    """Where automatic versions go (implemented by `storage.VersionRepository`)."""

    async def add_auto(self, note_id: uuid.UUID, state: bytes, *, keep: int) -> None:
        """Store an automatic version holding the full encoded document `state` and delete
        all but the newest `keep` automatic versions, in one transaction."""
        ...


class AutoVersions(Extension):
    """Takes automatic versions of `notes/<id>` documents while they are edited.

    Args:
        versions: the version store (`storage.VersionRepository`).
        interval: seconds of editing between two automatic versions.
        keep: automatic versions kept per note.
    """

    priority = 5  # after persistence: a version never precedes the stored update

    def __init__(self, versions: VersionSink, *, interval: float = 300.0, keep: int = 50) -> None:
        if interval < 0 or keep < 1:
            raise ValueError("interval must be >= 0 and keep >= 1")
        self._versions = versions
        self._interval = interval
        self._keep = keep
        self._changed_since: dict[str, float] = {}
        self.created = 0
        """Automatic versions taken so far (for tests and metrics)."""

    def mark_versioned(self, document: str) -> None:
        """A version was just taken elsewhere (a named one): restart the interval."""
        if document in self._changed_since:
            self._changed_since[document] = time.monotonic()

    async def on_change(self, event: Change) -> None:
        """Remember when the note first changed since its last version."""
        if event.origin.kind != "peer" and note_id_of(event.document) is not None:
            self._changed_since.setdefault(event.document, time.monotonic())

    async def on_store_document(self, event: StoreDocument) -> None:
        """Take a version when the note has been edited for `interval` since the last one."""
        since = self._changed_since.get(event.document)
        if since is not None and time.monotonic() - since >= self._interval:
            await self._take(event.document, event.doc)

    async def before_unload_document(self, event: BeforeUnloadDocument) -> None:
        """Take a last version of a note that changed since its last one."""
        if event.document in self._changed_since:
            await self._take(event.document, event.doc)

    async def _take(self, document: str, doc: YDoc) -> None:
        note_id = note_id_of(document)
        if note_id is None:
            return
        self._changed_since.pop(document, None)
        try:
            await self._versions.add_auto(note_id, doc.get_update(), keep=self._keep)
        except Exception:
            # Never fail the store (that would keep the document in memory for a checkpoint).
            log.exception("automatic version of %s failed", document)
            return
        self.created += 1
