"""What an account owns beyond its rows: the inventory an account delete works from.

Deleting the ``users`` row removes every row that belongs to the user through foreign keys
(``ON DELETE CASCADE``: refresh tokens, progress, notes with their shares and versions, shares
granted to the user, recordings with their transcriptions, hosted sessions with their
participants, the user's participation in others' sessions; versions the user saved of others'
notes keep the version with ``created_by`` NULL). What foreign keys cannot reach is listed here:
the durable logs of the user's documents (keyed by document name) and the objects in storage.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from storage.db import Database
from storage.models import AudioRecording, LiveSession, Note, SessionParticipant

__all__ = ["AccountInventory", "Owned"]


@dataclass(frozen=True, slots=True)
class Owned:
    """The user's documents (by name) and object keys the database rows point at."""

    note_ids: list[uuid.UUID] = field(default_factory=list)
    hosted_session_ids: list[uuid.UUID] = field(default_factory=list)
    object_keys: list[str] = field(default_factory=list)
    # Other hosts' sessions the user joined: their rooms keep the session, not the user.
    attended_session_ids: list[uuid.UUID] = field(default_factory=list)

    def document_names(self, user_id: uuid.UUID) -> list[str]:
        """Every collab document that is the user's: notes (deleted ones too), the rooms of
        the sessions they host (state, private ledger, shared notes), and their own feed."""
        return [
            *(f"notes/{note_id}" for note_id in self.note_ids),
            *(f"sessions/{sid}" for sid in self.hosted_session_ids),
            *(f"sessions-private/{sid}" for sid in self.hosted_session_ids),
            *(f"sessions-notes/{sid}" for sid in self.hosted_session_ids),
            f"users/{user_id}",
        ]


class AccountInventory:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def owned(self, user_id: uuid.UUID) -> Owned:
        notes, sessions, recordings, members = (
            sa.inspect(Note).local_table,
            sa.inspect(LiveSession).local_table,
            sa.inspect(AudioRecording).local_table,
            sa.inspect(SessionParticipant).local_table,
        )
        async with self._db.read() as session:
            note_ids = await session.scalars(
                sa.select(notes.c.id).where(notes.c.owner_id == user_id)
            )
            hosted = await session.scalars(
                sa.select(sessions.c.id).where(sessions.c.host_id == user_id)
            )
            keys = await session.scalars(
                sa.select(recordings.c.object_key).where(recordings.c.user_id == user_id)
            )
            attended = await session.scalars(
                sa.select(members.c.session_id)
                .join(sessions, sessions.c.id == members.c.session_id)
                .where(members.c.user_id == user_id, sessions.c.host_id != user_id)
            )
            return Owned(list(note_ids), list(hosted), list(keys), list(attended))
