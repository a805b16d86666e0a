"""A note's document content from the server side: read it, seed it, snapshot and restore it.

Every write goes through the collab front door (`CollabServer.open_direct`), so it runs the
same hooks as a client edit (persistence, fan-out, search indexing) and connected editors see it
through normal sync. Reads use the live document when this process has it loaded, else the
durable update log (no load into the registry for a one-off read).

Restoring a version is a new edit: the version's tree replaces the live content (old children
deleted, new ones appended), so the history is kept and nothing is lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from pycrdt import Doc

from collab.markdown import write_markdown
from collab.richtext import Node, read_tree, replace_content, to_plain_text, write_plain_text
from collab.server import CollabServer

__all__ = [
    "ContentFormat",
    "UpdateLog",
    "current_state",
    "doc_from_updates",
    "document_name",
    "note_text",
    "read_note_tree",
    "restore_state",
    "seed_note_content",
]

ContentFormat = Literal["markdown", "text"]
T = TypeVar("T")


class UpdateLog(Protocol):
    """The durable log's read side (`storage.DocumentLog`)."""

    async def load(self, name: str) -> list[bytes]:
        """The snapshot (if any) then the logged updates, oldest first; [] if none."""
        ...


def document_name(note_id: uuid.UUID | str) -> str:
    """The collab document of a note: `notes/<id>`."""
    return f"notes/{note_id}"


def doc_from_updates(updates: Sequence[bytes]) -> Doc[Any]:
    """A temporary Doc with `updates` applied (a full state, or a log in order)."""
    doc: Doc[Any] = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc


async def _read(
    server: CollabServer | None,
    log: UpdateLog,
    note_id: uuid.UUID | str,
    read: Callable[[Doc[Any]], T],
) -> T:
    name = document_name(note_id)
    if server is not None and server.is_loaded(name):
        async with server.open_direct(name, actor="reader") as session:
            return read(session.doc)
    return read(doc_from_updates(await log.load(name)))


async def read_note_tree(
    server: CollabServer | None, log: UpdateLog, note_id: uuid.UUID | str
) -> Node:
    """The note's rich-text tree, from the live document or from the log."""
    return await _read(server, log, note_id, read_tree)


async def note_text(server: CollabServer | None, log: UpdateLog, note_id: uuid.UUID | str) -> str:
    """The note's current plain text (see `collab.richtext.to_plain_text`)."""
    return await _read(server, log, note_id, to_plain_text)


async def current_state(
    server: CollabServer | None, log: UpdateLog, note_id: uuid.UUID | str
) -> bytes:
    """The note's full encoded Yjs state (what a version stores)."""
    return await _read(server, log, note_id, lambda doc: doc.get_update())


async def seed_note_content(
    server: CollabServer,
    note_id: uuid.UUID | str,
    content: str,
    *,
    fmt: ContentFormat = "markdown",
    actor: str = "api",
) -> None:
    """Append `content` to the note's document (a new note's first content).

    Markdown is parsed into headings, lists, marks...; plain text becomes one paragraph per
    line. No text offsets are used, so any characters are safe (HAZARDS.md).
    """
    if not content:
        return
    async with server.open_direct(document_name(note_id), actor=actor) as session:
        if fmt == "markdown":
            session.transact(lambda doc: write_markdown(doc, content))
        else:
            session.transact(lambda doc: write_plain_text(doc, content))


async def restore_state(
    server: CollabServer, note_id: uuid.UUID | str, state: bytes, *, actor: str = "api"
) -> Node:
    """Make the note's content equal to the document encoded in `state`, as one new edit.

    Returns:
        The restored tree.
    """
    tree = read_tree(doc_from_updates([state]))
    async with server.open_direct(document_name(note_id), actor=actor) as session:
        session.transact(lambda doc: replace_content(doc, tree))
    return tree
