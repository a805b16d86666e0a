"""`NoteService`: the note work of one process, bound to its collab server, log and object store.

The composition roots hand one to the job context, where it satisfies `jobs`' `NoteOperations`
structurally (jobs never import this package). Every edit goes through the collab server's
front door, so it is persisted, fanned out to other nodes and indexed like a client's edit;
the server may host no sockets at all (the arq worker's).
"""

from __future__ import annotations

import uuid

from collab.server import CollabServer
from notes.content import NoteLog, seed_note_content
from notes.exports import ExportObjects, run_export

__all__ = ["NoteService"]


class NoteService:
    """Note exports and edits through `server` (see the module docstring)."""

    def __init__(self, server: CollabServer, documents: NoteLog, objects: ExportObjects) -> None:
        self._server = server
        self._documents = documents
        self._objects = objects

    async def run_export(self, note_id: str, export_id: str) -> str:
        """Render a pending export (`notes.exports.run_export`), from the live document when
        this process has it loaded, else from the log."""
        return await run_export(
            self._documents, self._objects, note_id, export_id, server=self._server
        )

    async def append_text(self, note_id: str, text: str, *, actor: str) -> None:
        """Append `text` to the note, one paragraph per line, as one edit by `actor`."""
        await seed_note_content(
            self._server, self._documents, uuid.UUID(note_id), text, fmt="text", actor=actor
        )
