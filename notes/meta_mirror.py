"""The notes row follows the document's ``meta`` map: a collab extension beside search indexing.

After a change to a loaded ``notes/<id>`` document the extension waits until the note has been
quiet for ``debounce`` seconds (or changing for ``max_delay``), reads ``meta`` through the
server's front door and, when its valid values differ from the last ones seen, copies them to
the row (`MetaStore.mirror`) and announces ``updated`` on the users' feeds (`NoteFeed`).

Only changes made on this node are copied (client edits and in-process ones): a PEER change was
copied by the node it came from, so here it only refreshes the values last seen. A document
whose ``meta`` lacks keys (a note older than ``meta``) gets them from the row right after it
loads. Pending work of a document that unloads is done from the unloading document itself.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from pycrdt import Doc

from collab.background import Background, Loop
from collab.hooks import AfterLoadDocument, BeforeUnloadDocument, Change, Configure, Extension
from collab.server import CollabServer
from notes.feeds import NoteFeed
from notes.meta import MetaRow, fill_meta, has_full_meta, read_meta
from notes.search_index import note_id_of

__all__ = ["MetaMirror", "MetaStore"]

log = logging.getLogger(__name__)


class MetaStore(Protocol):
    """The notes rows (`storage.NoteMetaStore`)."""

    async def get(self, note_id: uuid.UUID) -> MetaRow | None:
        """The live note's row, or None."""
        ...

    async def mirror(self, note_id: uuid.UUID, values: dict[str, object]) -> bool:
        """Copy the values to the row; True when it changed."""
        ...


@dataclass(slots=True)
class _Pending:
    first: float
    last: float
    local: bool  # a change made on this node: copy it to the row
    fill: bool = False  # ``meta`` lacks keys: fill them from the row first


class MetaMirror(Background, Extension):
    """Keeps the notes rows' title, tags and folder in step with the documents' ``meta``."""

    priority = 11  # after persistence and fan-out, before search indexing

    def __init__(
        self,
        store: MetaStore,
        feed: NoteFeed | None = None,
        *,
        debounce: float = 0.3,
        max_delay: float = 1.0,
    ) -> None:
        if debounce < 0 or max_delay < debounce:
            raise ValueError("need 0 <= debounce <= max_delay")
        self._store = store
        self._feed = feed
        self._debounce = debounce
        self._max_delay = max_delay
        self._server: CollabServer | None = None
        self._seen: dict[str, dict[str, object]] = {}  # document -> valid meta last seen
        self._pending: dict[str, _Pending] = {}
        self._busy = 0  # documents being processed now
        self._wake = anyio.Event()
        self._done = anyio.Event()
        self.mirrored = 0
        """Rows changed so far (for tests)."""

    async def on_configure(self, event: Configure) -> None:
        self._server = event.server

    def _loops(self) -> tuple[Loop, ...]:
        return (self._run,)  # on exit: unloads (before it) already did the pending work

    # -- hooks ----------------------------------------------------------------------------

    async def after_load_document(self, event: AfterLoadDocument) -> None:
        if note_id_of(event.document) is None:
            return
        try:
            self._seen[event.document] = read_meta(event.doc)
            full = has_full_meta(event.doc)
        except Exception:  # `meta` of another shared type: never stop the document loading
            log.exception("meta mirror: reading the meta of %s failed", event.document)
            return
        if not full:
            self._mark(event.document, local=False, fill=True)

    async def on_change(self, event: Change) -> None:
        if event.document in self._seen:
            self._mark(event.document, local=event.origin.kind != "peer")

    async def before_unload_document(self, event: BeforeUnloadDocument) -> None:
        pending = self._pending.pop(event.document, None)
        note_id = note_id_of(event.document)
        if pending is not None and note_id is not None and pending.local:
            await self._compare(event.document, note_id, event.doc, local=True)
        self._seen.pop(event.document, None)

    async def settled(self) -> None:
        """Wait until nothing is pending (tests)."""
        while self._pending or self._busy:
            await self._done.wait()

    # -- the loop -------------------------------------------------------------------------

    def _mark(self, name: str, *, local: bool, fill: bool = False) -> None:
        now = time.monotonic()
        entry = self._pending.get(name)
        if entry is None:
            self._pending[name] = _Pending(now, now, local, fill)
            self._wake.set()
            return
        entry.last = now
        entry.local = entry.local or local
        entry.fill = entry.fill or fill

    def _due(self, entry: _Pending) -> float:
        return min(entry.last + self._debounce, entry.first + self._max_delay)

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            pending = self._pending if self._server is not None else {}
            due = [name for name, entry in pending.items() if self._due(entry) <= now]
            for name in due:
                entry = self._pending.pop(name, None)
                if entry is None:
                    continue
                self._busy += 1
                try:
                    await self._process(name, entry)
                finally:
                    self._busy -= 1
            if not self._pending:
                done, self._done = self._done, anyio.Event()
                done.set()
            if due:
                continue
            wait = min((self._due(e) for e in pending.values()), default=math.inf) - now
            self._wake = anyio.Event()
            with anyio.move_on_after(max(wait, 0.0)):
                await self._wake.wait()

    async def _process(self, name: str, entry: _Pending) -> None:
        server, note_id = self._server, note_id_of(name)
        if server is None or note_id is None or not server.is_loaded(name):
            return
        try:
            row = await self._store.get(note_id) if entry.fill else None
            async with server.open_direct(name, actor="meta-mirror") as session:
                if row is not None and not has_full_meta(session.doc):
                    session.transact(lambda doc: fill_meta(doc, row))
                    entry.local = True
                doc = session.doc
                await self._compare(name, note_id, doc, local=entry.local)
        except Exception:
            log.exception("meta mirror: %s failed", name)

    async def _compare(self, name: str, note_id: uuid.UUID, doc: Doc[Any], *, local: bool) -> None:
        values = read_meta(doc)
        if values == self._seen.get(name):
            return
        self._seen[name] = values
        if not local or not values or not await self._store.mirror(note_id, values):
            return
        self.mirrored += 1
        if self._feed is not None:
            await self._feed.note_changed(note_id, "updated")
