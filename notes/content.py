"""A note's document content from the server side: read it, seed it, snapshot and restore it.

Every write goes through the collab front door (`CollabServer.open_direct`), so it runs the
same hooks as a client edit (persistence, fan-out, search indexing) and connected editors see it
through normal sync. Reads use the live document when this process has it loaded, else the
durable update log (no load into the registry for a one-off read). Only a caller without a
collab server edits the log directly (`edit_note`); jobs always have one (`NoteService`).

Restoring a version is a new edit: the version's tree replaces the live content (old children
deleted, new ones appended), so the history is kept and nothing is lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from pycrdt import Doc

from collab.server import CollabServer
from notes.markdown import write_markdown
from notes.richtext import Node, read_tree, replace_content, to_plain_text, write_plain_text

__all__ = [
    "ContentFormat",
    "NoteLog",
    "UpdateLog",
    "current_state",
    "doc_from_updates",
    "document_name",
    "edit_note",
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


class NoteLog(UpdateLog, Protocol):
    """The durable log, read and append (`storage.DocumentLog`)."""

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Append `(name, update)` entries in one transaction."""
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
    """The note's current plain text (see `notes.richtext.to_plain_text`)."""
    return await _read(server, log, note_id, to_plain_text)


async def current_state(
    server: CollabServer | None, log: UpdateLog, note_id: uuid.UUID | str
) -> bytes:
    """The note's full encoded Yjs state (what a version stores)."""
    return await _read(server, log, note_id, lambda doc: doc.get_update())


async def edit_note(
    server: CollabServer | None,
    log: NoteLog,
    note_id: uuid.UUID | str,
    edit: Callable[[Doc[Any]], None],
    *,
    actor: str = "api",
) -> None:
    """Apply `edit(doc)` to the note's document as one transaction.

    With a collab server: through `open_direct` (hooks run, live clients get it). Without one
    (a process that hosts no documents): on a Doc rebuilt from the log, appending the diff to
    the log, where the next load picks it up.
    """
    name = document_name(note_id)
    if server is not None:
        async with server.open_direct(name, actor=actor) as session:
            session.transact(edit)
        return
    doc = doc_from_updates(await log.load(name))
    before = doc.get_state()
    with doc.transaction():
        edit(doc)
    diff = doc.get_update(before)
    if diff != b"\x00\x00":
        await log.append([(name, diff)])


async def seed_note_content(
    server: CollabServer | None,
    log: NoteLog,
    note_id: uuid.UUID | str,
    content: str,
    *,
    fmt: ContentFormat = "markdown",
    actor: str = "api",
) -> None:
    """Append `content` to the note's document (a new note's first content).

    Markdown is parsed into headings, lists, marks...; plain text becomes one paragraph per
    line. No text offsets are used, so any characters are safe.
    """
    if not content:
        return
    if fmt == "markdown":
        await edit_note(server, log, note_id, lambda doc: write_markdown(doc, content), actor=actor)
    else:
        await edit_note(
            server, log, note_id, lambda doc: write_plain_text(doc, content), actor=actor
        )


async def restore_state(
    server: CollabServer | None,
    log: NoteLog,
    note_id: uuid.UUID | str,
    state: bytes,
    *,
    actor: str = "api",
) -> Node:
    """Make the note's content equal to the document encoded in `state`, as one new edit.

    Returns:
        The restored tree.
    """
    tree = read_tree(doc_from_updates([state]))
    await edit_note(server, log, note_id, lambda doc: replace_content(doc, tree), actor=actor)
    return tree
