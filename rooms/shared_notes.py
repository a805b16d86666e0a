"""The ``sessions-notes`` document kind: each session's shared notes (docs/rooms.md, "Shared
notes").

``sessions-notes/{id}`` is a rich-text document in the notes' layout (the XmlFragment
``default``, edited with the same editor), synced over plain y-websocket: unlike the room, the
participants write it themselves. Who may open it is decided on every connection, on whatever
node takes it, from the session's row and the caller's participant row (one query):

* unknown session or malformed id 4404, cancelled 4410, not joined or removed 4403;
* hosts, co-hosts, presenters and participants edit while the session is scheduled, waiting or
  live; viewers read;
* once the session has ended everyone reads (the notes are part of the session's record).

Access follows the session while connections are open, on every node (``SharedNotesAccess``,
called by the room's effects and by the REST transitions): a removed participant is closed
with 4403, a role change flips read-only in place, the end makes every connection read-only,
a cancel closes them with 4410.
"""

from __future__ import annotations

import uuid

from collab import CloseCode, CollabServer
from collab.control import Control
from collab.errors import Reject
from collab.kinds import Authorize, DocumentKind
from rooms import document as d
from storage.db import Database
from storage.models import SessionParticipant, SessionStatus
from storage.sessions import LiveSessionRepository

__all__ = ["EDITORS", "SharedNotesAccess", "SharedNotesAuthorizer", "may_edit"]

EDITORS = frozenset({"host", "co-host", "presenter", "participant"})
_OPEN = frozenset({SessionStatus.SCHEDULED, SessionStatus.WAITING, SessionStatus.LIVE})


def may_edit(status: SessionStatus, role: str) -> bool:
    """Whether ``role`` edits the shared notes of a session in ``status``."""
    return status in _OPEN and role in EDITORS


async def session_member(
    sessions: LiveSessionRepository, event: Authorize
) -> tuple[SessionStatus, SessionParticipant, uuid.UUID, uuid.UUID]:
    """The session's status and the connecting user's membership (with both ids), or the
    refusal every socket of a session gets: no such session 4404, cancelled 4410, not joined
    or removed 4403. The room and its shared notes admit by this one rule."""
    try:
        session_id = uuid.UUID(event.doc_id)
        user_id = uuid.UUID(event.principal.user_id)
    except ValueError as exc:
        raise Reject(CloseCode.NOT_FOUND, "no such session") from exc
    status, member = await sessions.admission(session_id, user_id)
    if status is None:
        raise Reject(CloseCode.NOT_FOUND, "no such session")
    if status is SessionStatus.CANCELLED:
        raise Reject(CloseCode.DOCUMENT_DELETED, "session cancelled")
    if member is None:
        raise Reject(CloseCode.FORBIDDEN, "join the session first")
    if member.removed_at is not None:
        raise Reject(CloseCode.FORBIDDEN, "removed from the session")
    return status, member, session_id, user_id


class SharedNotesAuthorizer:
    """The kind's authorizer: a joined, not removed participant of an existing session."""

    def __init__(self, database: Database) -> None:
        self._sessions = LiveSessionRepository(database)

    def kind(self) -> DocumentKind:
        return DocumentKind(d.NOTES_KIND, self)

    async def authorize(self, event: Authorize) -> None:
        status, member, _, _ = await session_member(self._sessions, event)
        event.role = member.role.value
        event.read_only = event.read_only or not may_edit(status, member.role.value)


class SharedNotesAccess:
    """Changes the open connections of a session's shared notes, on every node."""

    def __init__(self, server: CollabServer) -> None:
        self._server = server

    async def removed(self, session_id: uuid.UUID, user_id: str, reason: str) -> None:
        await self._server.close_user(
            d.notes_name(session_id), user_id, CloseCode.FORBIDDEN, reason
        )

    async def role(self, session_id: uuid.UUID, user_id: str, role: str) -> None:
        # (a role change is only accepted while the session is open: see ``apply_action``)
        await self._server.set_role(
            d.notes_name(session_id), user_id, role, read_only=role not in EDITORS
        )

    async def ended(self, session_id: uuid.UUID) -> None:
        await self._server.control(
            Control(d.notes_name(session_id), "access", None, read_only=True)
        )

    async def cancelled(self, session_id: uuid.UUID) -> None:
        await self._server.close_document(d.notes_name(session_id), CloseCode.DOCUMENT_DELETED)
