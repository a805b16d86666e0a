"""Sessions as the REST API sees them: schedule, change, start, end, cancel, join, leave.

The database row is the truth for the schedule and the membership; the room document mirrors
what the page shows (title, settings, status, participants), written through the live server so
that every connected page sees it at once. Status moves ``scheduled → live → ended``;
``scheduled → cancelled``; anything else is a ``SessionError("conflict", field="status")``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from collab import CloseCode, CollabServer
from collab.types import YDoc
from rooms import document as d
from rooms.effects import store_engagement
from rooms.export import NotesRenderer, build_export
from rooms.live import RoomKind
from rooms.media import RoomMedia
from rooms.rules import DEFAULT_MAX_PARTICIPANTS
from rooms.shared_notes import SharedNotesAccess
from storage.db import Database
from storage.models import LiveSession, SessionParticipant, SessionStatus
from storage.sessions import LiveSessionRepository

_TRANSITIONS: dict[str, tuple[frozenset[SessionStatus], SessionStatus]] = {
    "start": (frozenset({SessionStatus.SCHEDULED, SessionStatus.WAITING}), SessionStatus.LIVE),
    "end": (frozenset({SessionStatus.LIVE}), SessionStatus.ENDED),
    "cancel": (
        frozenset({SessionStatus.SCHEDULED, SessionStatus.WAITING}), SessionStatus.CANCELLED
    ),
}


class SessionError(Exception):
    """``kind``: not_found, forbidden, conflict, full, removed, invalid (with ``field``)."""

    def __init__(self, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.field = kind, message, field


def _ms() -> int:
    return int(time.time() * 1000)


class RoomService:
    def __init__(self, database: Database, server: CollabServer | None) -> None:
        self.sessions = LiveSessionRepository(database)
        self.server = server

    async def _room(self, session_id: uuid.UUID, fn: Callable[[YDoc], None]) -> None:
        if self.server is not None:
            async with self.server.open_direct(d.room_name(session_id), actor="api") as room:
                room.transact(fn)

    async def get(self, session_id: uuid.UUID) -> LiveSession:
        live = await self.sessions.get(session_id)
        if live is None:
            raise SessionError("not_found", "no such session")
        return live

    async def create(
        self,
        host_id: uuid.UUID,
        host_name: str,
        *,
        title: str,
        description: str | None,
        scheduled_start: datetime,
        scheduled_end: datetime,
        settings: Mapping[str, object],
    ) -> LiveSession:
        live = await self.sessions.create(
            host_id, title=title, description=description, scheduled_start=scheduled_start,
            scheduled_end=scheduled_end, settings=settings,
        )

        def init(doc: YDoc) -> None:
            d.init_room(doc, title=title, status=live.status.value, settings=live.settings)
            d.put_participant(doc, str(host_id), host_name, "host", _ms())

        await self._room(live.id, init)
        return live

    async def manage(self, session_id: uuid.UUID, user_id: uuid.UUID, admin: bool) -> LiveSession:
        """The session, when ``user_id`` hosts it (or is an admin)."""
        live = await self.get(session_id)
        if live.host_id != user_id and not admin:
            raise SessionError("forbidden", "only the session's host may do this")
        return live

    async def update(self, live: LiveSession, changes: Mapping[str, Any]) -> LiveSession:
        if live.status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
            raise SessionError("conflict", f"the session is {live.status.value}", "status")
        start = changes.get("scheduled_start", live.scheduled_start)
        end = changes.get("scheduled_end", live.scheduled_end)
        if end < start:
            raise SessionError("conflict", "must not be before scheduledStart", "scheduledEnd")
        if "settings" in changes:
            changes = {**changes, "settings": {**live.settings, **changes["settings"]}}
        updated = await self.sessions.update(live.id, changes)
        if updated is None:
            raise SessionError("not_found", "no such session")

        def mirror(doc: YDoc) -> None:
            d.init_room(doc, title=updated.title, status=updated.status.value,
                        settings=updated.settings)

        await self._room(live.id, mirror)
        media = self._media()
        if media is not None and self.server is not None and "settings" in changes:
            await media.prune_p2p(self.server, str(live.id))
        return updated

    def _media(self) -> RoomMedia | None:
        if self.server is None:
            return None
        kind = next((e for e in self.server.extensions if isinstance(e, RoomKind)), None)
        return None if kind is None else kind.media

    async def transition(self, live: LiveSession, step: str) -> LiveSession:
        allowed, target = _TRANSITIONS[step]
        if live.status not in allowed:
            raise SessionError(
                "conflict", f"cannot {step} a session that is {live.status.value}", "status"
            )
        moved = await self.sessions.set_status(live.id, target)
        if moved is None:
            raise SessionError("not_found", "no such session")
        stamp = {"live": "startedAt", "ended": "endedAt"}.get(target.value)

        def mirror(doc: YDoc) -> None:
            state = d.ymap(doc, d.STATE)
            state["status"] = target.value
            if stamp:
                state[stamp] = _ms()
            if target is not SessionStatus.LIVE:
                state["timer"] = None

        await self._room(live.id, mirror)
        if self.server is not None and target is SessionStatus.ENDED:
            await SharedNotesAccess(self.server).ended(live.id)
            await store_engagement(self.server, self.sessions, live.id)
            kind = next((e for e in self.server.extensions if isinstance(e, RoomKind)), None)
            if kind is not None and kind.media is not None:
                # A running recording is stored as the host's; everyone's media ends.
                await kind.media.end(self.server, str(live.id), str(live.host_id))
        if self.server is not None and target is SessionStatus.CANCELLED:
            await self.server.close_document(d.room_name(live.id), CloseCode.DOCUMENT_DELETED)
            await SharedNotesAccess(self.server).cancelled(live.id)
        return moved

    async def join(
        self, live: LiveSession, user_id: uuid.UUID, name: str
    ) -> SessionParticipant:
        if live.status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
            raise SessionError("conflict", f"the session is {live.status.value}", "status")
        # The limit check and the insert are one transaction on the session row: joins racing
        # for the last seats cannot exceed maxParticipants (storage: LiveSessionRepository.admit).
        admission = await self.sessions.admit(
            live.id, user_id, default_limit=DEFAULT_MAX_PARTICIPANTS
        )
        joined = admission.participant
        if admission.refused == "removed":
            raise SessionError("removed", "the host removed you from this session")
        if admission.refused == "full":
            raise SessionError("full", f"the session is full ({admission.limit} participants)")
        if admission.refused == "closed":
            raise SessionError("conflict", "the session has ended", "status")
        if joined is None or admission.refused is not None:
            raise SessionError("not_found", "no such session")

        def add(doc: YDoc) -> None:
            d.put_participant(doc, str(user_id), name, joined.role.value, _ms())

        await self._room(live.id, add)
        return joined

    async def leave(self, live: LiveSession, user_id: uuid.UUID) -> None:
        member = await self.sessions.member(live.id, user_id)
        if member is None:
            raise SessionError("not_found", "you have not joined this session")
        await self.sessions.leave(live.id, user_id)

    async def member(self, live: LiveSession, user_id: uuid.UUID) -> SessionParticipant | None:
        member = await self.sessions.member(live.id, user_id)
        return None if member is None or member.removed_at is not None else member

    async def export(
        self, live: LiveSession, *, host_view: bool, notes: NotesRenderer | None = None
    ) -> dict[str, Any]:
        """Chat, polls, Q&A and the shared notes (rendered by ``notes``, as Markdown);
        attendance and engagement too for ``host_view``."""
        participants = await self.sessions.participants(live.id) if host_view else []
        if self.server is None:
            return build_export(live, None, None, participants, host_view=host_view)
        async with (
            self.server.open_direct(d.room_name(live.id), actor="api") as room,
            self.server.open_direct(d.ledger_name(live.id), actor="api") as ledger,
            self.server.open_direct(d.notes_name(live.id), actor="api") as shared,
        ):
            return build_export(live, room.doc, ledger.doc, participants, host_view=host_view,
                                shared_notes=shared.doc, notes=notes)
