"""What an accepted action does beyond the documents: the database and every node's
connections (the room's and its shared notes'). Run after the documents changed (so a
reconnect already meets the new state)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from collab import CloseCode, CollabServer
from rooms import document as d
from rooms.rules import Effect
from rooms.shared_notes import SharedNotesAccess
from storage.models import ParticipantRole, SessionStatus
from storage.sessions import LiveSessionRepository

REMOVED_REASON = "removed by the host"


async def carry_out(
    server: CollabServer,
    sessions: LiveSessionRepository,
    session_id: uuid.UUID,
    effects: Sequence[Effect],
) -> None:
    room = d.room_name(session_id)
    notes = SharedNotesAccess(server)
    for effect in effects:
        if effect.kind == "remove":
            user_id = uuid.UUID(effect.user_id)
            await sessions.remove(session_id, user_id)
            await server.close_user(room, effect.user_id, CloseCode.FORBIDDEN, REMOVED_REASON)
            await notes.removed(session_id, effect.user_id, REMOVED_REASON)
        elif effect.kind == "role":
            await sessions.set_role(session_id, uuid.UUID(effect.user_id),
                                    ParticipantRole(effect.role))
            await server.set_role(room, effect.user_id, effect.role)
            await notes.role(session_id, effect.user_id, effect.role)
        elif effect.kind == "end":
            await sessions.set_status(session_id, SessionStatus.ENDED)
            await notes.ended(session_id)
            await store_engagement(server, sessions, session_id)


async def store_engagement(
    server: CollabServer, sessions: LiveSessionRepository, session_id: uuid.UUID
) -> None:
    """Copy the ledger's engagement counts into each participant's ``engagement_data`` (the
    counts replace earlier copies; ``secondsPresent`` is kept)."""
    async with server.open_direct(d.ledger_name(session_id), actor="room") as ledger:
        counts = d.engagement(ledger.doc)
    for user, values in counts.items():
        try:
            user_id = uuid.UUID(user)
        except ValueError:
            continue
        member = await sessions.member(session_id, user_id)
        if member is not None:
            await sessions.record_engagement(
                session_id, user_id, {**member.engagement_data, **values}
            )
