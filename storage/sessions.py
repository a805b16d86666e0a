"""Live workshop sessions and their participants (the durable side of a room).

A session's host is stored as a ``host`` participant when the session is created, so "what
role does this user have here" is one lookup: :meth:`LiveSessionRepository.role_of`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.db import Database
from storage.models import LiveSession, ParticipantRole, SessionParticipant, SessionStatus
from storage.types import utcnow

_PARTICIPANTS: sa.Table = SessionParticipant.__table__  # type: ignore[attr-defined]
_UPDATABLE = frozenset({"title", "description", "scheduled_start", "scheduled_end", "settings"})
_NOT_COUNTED = (ParticipantRole.HOST, ParticipantRole.CO_HOST)
_CLOSED = (SessionStatus.ENDED, SessionStatus.CANCELLED)

Refusal = Literal["not_found", "closed", "removed", "full"]


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of :meth:`LiveSessionRepository.admit`: the participant row (None when the
    session or user does not exist) and, when refused, why (nothing was written then)."""

    participant: SessionParticipant | None
    refused: Refusal | None = None
    limit: int = 0


class LiveSessionRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        host_id: uuid.UUID,
        *,
        title: str,
        scheduled_start: datetime,
        scheduled_end: datetime,
        description: str | None = None,
        settings: Mapping[str, object] | None = None,
    ) -> LiveSession:
        if scheduled_end < scheduled_start:
            raise ValueError("scheduled_end is before scheduled_start")
        live = LiveSession(
            host_id=host_id,
            title=title,
            description=description,
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            settings=dict(settings or {}),
        )
        async with self._db.write() as session:
            session.add(live)
            await session.flush()
            session.add(
                SessionParticipant(session_id=live.id, user_id=host_id, role=ParticipantRole.HOST)
            )
        return live

    async def get(self, session_id: uuid.UUID) -> LiveSession | None:
        async with self._db.read() as session:
            return await session.get(LiveSession, session_id)

    async def update(
        self, session_id: uuid.UUID, changes: Mapping[str, object]
    ) -> LiveSession | None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        async with self._db.write() as session:
            live = await session.get(LiveSession, session_id)
            if live is None:
                return None
            for field, value in changes.items():
                setattr(live, field, value)
            live.updated_at = utcnow()
        return live

    async def set_status(self, session_id: uuid.UUID, status: SessionStatus) -> LiveSession | None:
        """Move to ``status``; going live stamps ``actual_start`` once, ending ``actual_end``."""
        async with self._db.write() as session:
            live = await session.get(LiveSession, session_id)
            if live is None:
                return None
            now = utcnow()
            live.status = status
            if status is SessionStatus.LIVE and live.actual_start is None:
                live.actual_start = now
            if status in (SessionStatus.ENDED, SessionStatus.CANCELLED) and live.actual_end is None:
                live.actual_end = now
            live.updated_at = now
        return live

    async def delete(self, session_id: uuid.UUID) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                sa.delete(LiveSession).where(col(LiveSession.id) == session_id)
            )
        return bool(getattr(result, "rowcount", 0))

    async def list_sessions(
        self,
        *,
        statuses: tuple[SessionStatus, ...] = (),
        host_id: uuid.UUID | None = None,
        member_id: uuid.UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[LiveSession], int]:
        """Sessions by scheduled start; ``member_id``: only those the user hosts or joined."""
        filters: list[sa.ColumnElement[bool]] = []
        if statuses:
            filters.append(col(LiveSession.status).in_(statuses))
        if host_id is not None:
            filters.append(col(LiveSession.host_id) == host_id)
        if member_id is not None:
            filters.append(
                col(LiveSession.id).in_(
                    sa.select(_PARTICIPANTS.c.session_id).where(
                        _PARTICIPANTS.c.user_id == member_id
                    )
                )
            )
        async with self._db.read() as session:
            total = await session.scalar(
                select(sa.func.count()).select_from(LiveSession).where(*filters)
            )
            result = await session.scalars(
                select(LiveSession)
                .where(*filters)
                .order_by(col(LiveSession.scheduled_start), col(LiveSession.id))
                .limit(limit)
                .offset(offset)
            )
            return list(result), int(total or 0)

    async def join(
        self,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        role: ParticipantRole = ParticipantRole.PARTICIPANT,
    ) -> SessionParticipant | None:
        """Record that the user joined (again); the stored role is kept on re-join.

        ``None`` when the session or user does not exist.
        """
        now = utcnow()
        try:
            async with self._db.write() as session:
                participant = (
                    await session.scalars(
                        select(SessionParticipant).where(
                            col(SessionParticipant.session_id) == session_id,
                            col(SessionParticipant.user_id) == user_id,
                        )
                    )
                ).first()
                if participant is None:
                    participant = SessionParticipant(
                        session_id=session_id, user_id=user_id, role=role
                    )
                    session.add(participant)
                participant.joined_at = now
                participant.left_at = None
        except IntegrityError:
            return None
        return participant

    async def admit(
        self, session_id: uuid.UUID, user_id: uuid.UUID, *, default_limit: int
    ) -> Admission:
        """Join (again) unless that would put the session over its ``maxParticipants``
        (``default_limit`` when the settings name none).

        One write transaction holding the session row (``SELECT … FOR UPDATE`` on PostgreSQL;
        SQLite's ``BEGIN IMMEDIATE`` serialises every writer), so joins racing for the last
        seats are counted one after the other, on every node: the limit is never exceeded.
        Someone already present, the host and co-hosts are never refused as ``full``; a removed
        participant always is refused (``removed``), an ended or cancelled session too
        (``closed``).
        """
        now = utcnow()
        p = _PARTICIPANTS.c
        try:
            async with self._db.write() as session:
                # The session row (locked) and the user's participant row in one statement:
                # a write transaction holds SQLite's one write lock, so it stays short.
                row = (
                    await session.execute(
                        select(LiveSession, SessionParticipant)
                        .outerjoin(
                            SessionParticipant,
                            sa.and_(
                                col(SessionParticipant.session_id) == col(LiveSession.id),
                                col(SessionParticipant.user_id) == user_id,
                            ),
                        )
                        .where(col(LiveSession.id) == session_id)
                        .with_for_update(of=LiveSession)
                    )
                ).first()
                if row is None:
                    return Admission(None, "not_found")
                live, participant = row[0], row[1]
                if live.status in _CLOSED:
                    return Admission(None, "closed")
                if participant is not None and participant.removed_at is not None:
                    return Admission(participant, "removed")
                limit = int(live.settings.get("maxParticipants", default_limit))
                present = (
                    participant is not None
                    and participant.joined_at is not None
                    and participant.left_at is None
                )
                if not present and (participant is None or participant.role not in _NOT_COUNTED):
                    count = await session.scalar(
                        sa.select(sa.func.count()).select_from(_PARTICIPANTS).where(
                            p.session_id == session_id,
                            p.joined_at.is_not(None),
                            p.left_at.is_(None),
                            p.removed_at.is_(None),
                            p.role.not_in(_NOT_COUNTED),
                        )
                    )
                    if int(count or 0) >= limit:
                        return Admission(participant, "full", limit)
                if participant is None:
                    participant = SessionParticipant(session_id=session_id, user_id=user_id)
                    session.add(participant)
                participant.joined_at = now
                participant.left_at = None
        except IntegrityError:  # no such user
            return Admission(None, "not_found")
        return Admission(participant, None, limit)

    async def leave(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                sa.update(_PARTICIPANTS)
                .where(_PARTICIPANTS.c.session_id == session_id, _PARTICIPANTS.c.user_id == user_id)
                .values(left_at=utcnow())
            )
        return bool(getattr(result, "rowcount", 0))

    async def set_role(
        self, session_id: uuid.UUID, user_id: uuid.UUID, role: ParticipantRole
    ) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                sa.update(_PARTICIPANTS)
                .where(_PARTICIPANTS.c.session_id == session_id, _PARTICIPANTS.c.user_id == user_id)
                .values(role=role)
            )
        return bool(getattr(result, "rowcount", 0))

    async def record_engagement(
        self, session_id: uuid.UUID, user_id: uuid.UUID, data: Mapping[str, object]
    ) -> bool:
        """Replace the participant's engagement data (counts of polls, questions, ...)."""
        async with self._db.write() as session:
            result = await session.execute(
                sa.update(_PARTICIPANTS)
                .where(_PARTICIPANTS.c.session_id == session_id, _PARTICIPANTS.c.user_id == user_id)
                .values(engagement_data=dict(data))
            )
        return bool(getattr(result, "rowcount", 0))

    async def member(
        self, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> SessionParticipant | None:
        """The user's participant row (also a removed one), or None."""
        async with self._db.read() as session:
            return (
                await session.scalars(
                    select(SessionParticipant).where(
                        col(SessionParticipant.session_id) == session_id,
                        col(SessionParticipant.user_id) == user_id,
                    )
                )
            ).first()

    async def admission(
        self, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[SessionStatus | None, SessionParticipant | None]:
        """The session's status (None: no such session) and the user's participant row, in
        one query (what a room connection is admitted on)."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(col(LiveSession.status), SessionParticipant)
                    .outerjoin(
                        SessionParticipant,
                        sa.and_(
                            col(SessionParticipant.session_id) == col(LiveSession.id),
                            col(SessionParticipant.user_id) == user_id,
                        ),
                    )
                    .where(col(LiveSession.id) == session_id)
                )
            ).first()
        if row is None:
            return None, None
        return SessionStatus(row[0]), row[1]

    async def present_count(self, session_id: uuid.UUID) -> int:
        """Attendees (not the host or co-hosts) that joined, have not left, were not removed."""
        p = _PARTICIPANTS.c
        async with self._db.read() as session:
            total = await session.scalar(
                sa.select(sa.func.count()).select_from(_PARTICIPANTS).where(
                    p.session_id == session_id,
                    p.joined_at.is_not(None),
                    p.left_at.is_(None),
                    p.removed_at.is_(None),
                    p.role.not_in(_NOT_COUNTED),
                )
            )
        return int(total or 0)

    async def remove(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Mark the participant removed (a removed participant is never admitted again)."""
        now = utcnow()
        async with self._db.write() as session:
            result = await session.execute(
                sa.update(_PARTICIPANTS)
                .where(_PARTICIPANTS.c.session_id == session_id, _PARTICIPANTS.c.user_id == user_id)
                .values(removed_at=now, left_at=now)
            )
        return bool(getattr(result, "rowcount", 0))

    async def add_engagement(
        self, session_id: uuid.UUID, user_id: uuid.UUID, counts: Mapping[str, float]
    ) -> bool:
        """Add ``counts`` to the participant's engagement data (one read-modify-write)."""
        async with self._db.write() as session:
            participant = (
                await session.scalars(
                    select(SessionParticipant).where(
                        col(SessionParticipant.session_id) == session_id,
                        col(SessionParticipant.user_id) == user_id,
                    )
                )
            ).first()
            if participant is None:
                return False
            data = dict(participant.engagement_data)
            for key, value in counts.items():
                data[key] = data.get(key, 0) + value
            participant.engagement_data = data
        return True

    async def role_of(self, session_id: uuid.UUID, user_id: uuid.UUID) -> ParticipantRole | None:
        async with self._db.read() as session:
            role = await session.scalar(
                sa.select(_PARTICIPANTS.c.role).where(
                    _PARTICIPANTS.c.session_id == session_id, _PARTICIPANTS.c.user_id == user_id
                )
            )
        return None if role is None else ParticipantRole(role)

    async def participants(self, session_id: uuid.UUID) -> list[SessionParticipant]:
        async with self._db.read() as session:
            result = await session.scalars(
                select(SessionParticipant)
                .where(col(SessionParticipant.session_id) == session_id)
                .order_by(col(SessionParticipant.joined_at), col(SessionParticipant.id))
            )
            return list(result)
