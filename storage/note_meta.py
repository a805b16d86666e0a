"""The notes row as a mirror of a note document's ``meta`` map, and who a note's changes concern.

`notes.meta_mirror` copies the valid ``title``, ``tags`` and ``folder`` of a live document here
(``mirror``); `notes.feeds` tells the ``audience`` (the owner and every share) that their note
list changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import sqlalchemy as sa

from storage.db import Database
from storage.models import Note, NoteShare
from storage.types import utcnow

_NOTES: sa.Table = Note.__table__  # type: ignore[attr-defined]
_SHARES: sa.Table = NoteShare.__table__  # type: ignore[attr-defined]
_MIRRORED = frozenset({"title", "tags", "folder"})


class NoteMetaStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, note_id: uuid.UUID) -> Note | None:
        """The live (not deleted) note, or None."""
        async with self._db.read() as session:
            note = await session.get(Note, note_id)
        return note if note is not None and note.deleted_at is None else None

    async def mirror(self, note_id: uuid.UUID, values: Mapping[str, object]) -> bool:
        """Copy ``values`` (a subset of title, tags, folder) to the row when they differ, bumping
        ``version`` once; True when the row changed (False: equal already, missing or deleted).
        """
        unknown = set(values) - _MIRRORED
        if unknown:
            raise ValueError(f"not mirrored: {', '.join(sorted(unknown))}")
        async with self._db.write() as session:
            note = await session.get(Note, note_id)
            if note is None or note.deleted_at is not None:
                return False
            changed = False
            for field, value in values.items():
                if getattr(note, field) != value:
                    setattr(note, field, list(value) if field == "tags" else value)  # type: ignore[call-overload]
                    changed = True
            if changed:
                note.version += 1
                note.updated_at = utcnow()
        return changed

    async def audience(self, note_id: uuid.UUID) -> list[uuid.UUID]:
        """The owner and every user the note is shared with (owner first); [] if unknown."""
        async with self._db.read() as session:
            owner = await session.scalar(sa.select(_NOTES.c.owner_id).where(_NOTES.c.id == note_id))
            if owner is None:
                return []
            shared = await session.scalars(
                sa.select(_SHARES.c.user_id).where(_SHARES.c.note_id == note_id)
            )
            return [owner, *(user for user in shared if user != owner)]
