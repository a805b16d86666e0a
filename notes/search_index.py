"""Search in step with live edits: a collab extension that re-extracts a note's text after edits.

`on_change` only marks a `notes/<id>` document dirty (cheap, on the hot path). A loop owned by
the extension waits until the note has been quiet for `debounce` seconds, or dirty for
`max_delay` seconds under continuous typing, then reads the live document through the server's
front door (`open_direct`) and writes its plain text with `NoteTextSink.set_content_text`
(`storage.NoteRepository` implements it; the database's full-text index follows the column).

Every origin counts, PEER included: on several nodes each indexes its own converged view, and
the writes are idempotent. Before a document unloads, its pending text is written from the
unloading document itself; on shutdown the loop writes whatever is still dirty.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

import anyio

from collab.background import Background, Loop
from collab.hooks import BeforeUnloadDocument, Change, Configure, Extension
from collab.server import CollabServer
from notes.richtext import to_plain_text

__all__ = ["NoteTextSink", "SearchIndexer", "note_id_of"]

log = logging.getLogger(__name__)

_RETRY_AFTER = 5.0


class NoteTextSink(Protocol):
    """Where extracted note text goes (implemented by `storage.NoteRepository`)."""

    async def set_content_text(self, note_id: uuid.UUID, text: str) -> bool:
        """Store `text` as the note's searchable content; False if the note is gone."""
        ...


def note_id_of(document: str, kind: str = "notes") -> uuid.UUID | None:
    """The note id of a `notes/<uuid>` document name, or None for any other document."""
    prefix, _, doc_id = document.partition("/")
    if prefix != kind:
        return None
    try:
        return uuid.UUID(doc_id)
    except ValueError:
        return None


@dataclass(slots=True)
class _Dirty:
    first: float
    last: float


class SearchIndexer(Background, Extension):
    """Keeps `notes.content_text` in step with the live documents (debounced).

    Args:
        sink: stores the text (`storage.NoteRepository`).
        debounce: index once a note has had no change for this long (seconds).
        max_delay: ...but at the latest this long after its first unindexed change.

    It reads live documents through the server it runs in (``on_configure``); documents that
    are no longer loaded have their text written at unload.
    """

    priority = 10  # after persistence and fan-out: indexing is the least urgent

    def __init__(
        self, sink: NoteTextSink, *, debounce: float = 1.0, max_delay: float = 5.0
    ) -> None:
        if debounce < 0 or max_delay < debounce:
            raise ValueError("need 0 <= debounce <= max_delay")
        self._sink = sink
        self._debounce = debounce
        self._max_delay = max_delay
        self._server: CollabServer | None = None
        self._dirty: dict[str, _Dirty] = {}
        self._wake = anyio.Event()
        self.indexed = 0
        """Texts written so far (for tests and metrics)."""
        self._written = anyio.Event()

    async def on_configure(self, event: Configure) -> None:
        """Read live documents through the server this extension runs in."""
        self._server = event.server

    def _loops(self) -> tuple[Loop, ...]:
        return (self._run,)

    async def _drain(self) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            await self.flush()

    # -- hooks ----------------------------------------------------------------------------

    async def on_change(self, event: Change) -> None:
        """Mark the note dirty; the loop indexes it after the debounce."""
        now = time.monotonic()
        entry = self._dirty.get(event.document)
        if entry is not None:
            # Its due time only moves later: the loop, asleep until at most the old one,
            # finds out then; a keystroke never wakes it.
            entry.last = now
            return
        if note_id_of(event.document) is None:
            return
        self._dirty[event.document] = _Dirty(now, now)
        self._wake.set()

    async def before_unload_document(self, event: BeforeUnloadDocument) -> None:
        """Write the pending text from the unloading document itself."""
        note_id = note_id_of(event.document)
        if note_id is None or self._dirty.pop(event.document, None) is None:
            return
        await self._write(event.document, note_id, to_plain_text(event.doc))

    async def next_write(self) -> None:
        """Wait until the next text is written (lets callers wait on an event, not a timer)."""
        await self._written.wait()

    # -- the loop ---------------------------------------------------------------------------

    async def flush(self) -> None:
        """Index every dirty note now (shutdown, tests)."""
        for name in list(self._dirty):
            await self._index(name)

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            pending = self._dirty if self._server is not None else {}
            due = [name for name, entry in pending.items() if self._due_at(entry) <= now]
            for name in due:
                await self._index(name)
            if due:
                continue
            wait = min((self._due_at(e) for e in pending.values()), default=math.inf) - now
            self._wake = anyio.Event()
            with anyio.move_on_after(max(wait, 0.0)):
                await self._wake.wait()

    def _due_at(self, entry: _Dirty) -> float:
        return min(entry.last + self._debounce, entry.first + self._max_delay)

    async def _index(self, name: str) -> None:
        note_id = note_id_of(name)
        entry = self._dirty.pop(name, None)
        server = self._server
        if note_id is None or entry is None or server is None or not server.is_loaded(name):
            return  # not loaded any more: before_unload_document wrote it
        try:
            async with server.open_direct(name, actor="search-index") as session:
                text = to_plain_text(session.doc)
        except Exception:
            log.exception("search index: reading %s failed", name)
            return
        if not await self._write(name, note_id, text):
            # Retry later unless a newer change already re-marked it.
            retry = time.monotonic() + _RETRY_AFTER - self._debounce
            self._dirty.setdefault(name, _Dirty(retry, retry))

    async def _write(self, name: str, note_id: uuid.UUID, text: str) -> bool:
        try:
            await self._sink.set_content_text(note_id, text)
        except Exception:
            log.exception("search index: storing the text of %s failed", name)
            return False
        self.indexed += 1
        self._written.set()
        self._written = anyio.Event()
        log.debug("search index: %s indexed (%d chars)", name, len(text))
        return True
