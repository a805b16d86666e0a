"""Who may do what with a note, for many ``(note, user)`` pairs at once.

Every collab connection to ``notes/<id>`` asks this before it is admitted; a connect storm asks
it hundreds of times a second (the live layer batches concurrent checks into one call). The
query runs on ``Database.sql``, compiled once per number of notes and users.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from enum import StrEnum

import sqlalchemy as sa

from storage.db import Database
from storage.models import Note, NoteShare
from storage.sql import Statement

__all__ = ["Access", "access_many"]

Pair = tuple[uuid.UUID, uuid.UUID]

_NOTES: sa.Table = Note.__table__  # type: ignore[attr-defined]
_SHARES: sa.Table = NoteShare.__table__  # type: ignore[attr-defined]
_ACCESS = Statement(
    sa.select(_NOTES.c.id, _NOTES.c.owner_id, _SHARES.c.user_id, _SHARES.c.permission)
    .select_from(_NOTES)
    .outerjoin(
        _SHARES,
        sa.and_(
            _SHARES.c.note_id == _NOTES.c.id,
            _SHARES.c.user_id.in_(sa.bindparam("users", expanding=True)),
        ),
    )
    .where(
        _NOTES.c.id.in_(sa.bindparam("notes", expanding=True)), _NOTES.c.deleted_at.is_(None)
    )
)


class Access(StrEnum):
    OWNER = "owner"
    WRITE = "write"
    READ = "read"


async def access_many(db: Database, pairs: Collection[Pair]) -> dict[Pair, Access | None]:
    """What each user may do with each live note: owner, write, read, or None (nothing, or
    no such live note)."""
    if not pairs:
        return {}
    note_ids = list({note for note, _ in pairs})
    user_ids = list({user for _, user in pairs})
    rows = await db.sql.fetch(_ACCESS, {"notes": note_ids, "users": user_ids})
    owners: dict[uuid.UUID, uuid.UUID] = {}
    shares: dict[Pair, Access] = {}
    for note, owner, user, permission in rows:
        owners[note] = owner
        if user is not None:
            shares[(note, user)] = Access(str(permission))
    result_map: dict[Pair, Access | None] = {}
    for note, user in pairs:
        owner_id = owners.get(note)
        if owner_id is None:
            result_map[(note, user)] = None
        else:
            result_map[(note, user)] = Access.OWNER if owner_id == user else shares.get(
                (note, user)
            )
    return result_map
