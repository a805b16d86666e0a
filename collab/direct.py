"""``DirectSession``: server-side edits of a live document through the same path as clients,
plus text helpers that take *character* positions.

pycrdt 0.14.13 addresses text by UTF-8 byte offset (pycrdt issue #308). An insert at a
character index inside or after a multi-byte character (accents, emoji) produces an update that
Yjs clients cannot apply, and every later server edit of that document is stuck behind it.
Server code must therefore never pass a character index to ``Text.insert`` or ``del text[a:b]``;
use ``insert_text`` and ``delete_text`` here, which convert.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pycrdt import Text

from collab.document import Document
from collab.hooks import Change, Origin
from collab.protocol import encode_update
from collab.types import YDoc

__all__ = ["DirectSession", "byte_offset", "delete_text", "insert_text"]

T = TypeVar("T")


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of character ``index`` in ``text`` (clamped to its length).

    Raises:
        ValueError: ``index`` is negative.
    """
    if index < 0:
        raise ValueError("index must be >= 0")
    return len(text[:index].encode("utf-8"))


def insert_text(text: Text, index: int, value: str) -> None:
    """Insert ``value`` at *character* ``index`` of a pycrdt ``Text`` (safe with emoji)."""
    text.insert(byte_offset(str(text), index), value)


def delete_text(text: Text, index: int, length: int) -> None:
    """Delete ``length`` *characters* starting at character ``index`` of a pycrdt ``Text``."""
    current = str(text)
    start = byte_offset(current, index)
    end = byte_offset(current, index + length)
    if end > start:
        del text[start:end]


class DirectSession:
    """An in-process editing session on a loaded document (``CollabServer.open_direct``).

    Each ``transact`` is one Yjs transaction tagged with the session's origin
    (``Origin.SERVER(actor)``). Its diff is broadcast to the connections at once; ``on_change``
    hooks (persistence, fan-out) run on ``flush()``, which the server calls when the session's
    ``async with`` block exits.
    """

    def __init__(self, document: Document, origin: Origin) -> None:
        self.document = document
        self.origin = origin
        self._pending: list[bytes] = []

    @property
    def name(self) -> str:
        """The document name."""
        return self.document.name

    @property
    def doc(self) -> YDoc:
        """The live pycrdt Doc (read it freely; mutate it only inside ``transact``)."""
        return self.document.doc

    def transact(self, fn: Callable[[YDoc], T]) -> T:
        """Run ``fn(doc)`` in one transaction and broadcast its diff.

        Returns:
            whatever ``fn`` returned.

        Raises:
            DocumentPoisoned: pycrdt panicked (the document is rebuilt; the edit is lost).
            Exception: whatever ``fn`` raised (changes it made before raising are kept).
        """
        result, diff = self.document.transact(fn, self.origin)
        if diff is not None:
            self.document.broadcast(encode_update(diff))
            self._pending.append(diff)
        return result

    async def flush(self) -> None:
        """Run ``on_change`` for every diff made so far (idempotent)."""
        while self._pending:
            diff = self._pending.pop(0)
            await self._changed(Change(self.document.name, diff, self.origin))

    async def _changed(self, event: Change) -> None:
        await self.document.hooks.notify(lambda ext: ext.on_change(event))
