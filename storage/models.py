"""The product schema as SQLModel tables (snake_case; the API layer speaks camelCase).

Keys are UUIDs, timestamps are timezone-aware UTC (:class:`storage.types.UTCDateTime`), JSON
columns are JSONB on PostgreSQL. Full-text search columns and tables (``search_vector``,
``*_fts``) live only in the migrations: they differ per database and no code maps them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, big_id_type, json_type, utcnow


class Role(StrEnum):
    USER = "user"
    PREMIUM = "premium"
    HOST = "host"  # may host live sessions (``sessions.host``) without a premium account
    ADMIN = "admin"


class Tier(StrEnum):
    FREE = "free"
    PREMIUM = "premium"


class Difficulty(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class ProgressStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"


class RecordingStatus(StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    TRANSCRIBED = "transcribed"
    FAILED = "failed"


class TranscriptionStatus(StrEnum):
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    WAITING = "waiting"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class ParticipantRole(StrEnum):
    HOST = "host"
    CO_HOST = "co-host"
    PRESENTER = "presenter"
    PARTICIPANT = "participant"
    VIEWER = "viewer"


def _enum(kind: type[StrEnum], name: str) -> sa.Enum:
    return sa.Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


def _id() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def _fk(
    target: str, *, ondelete: Literal["CASCADE", "SET NULL"] = "CASCADE", nullable: bool = False
) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column_kwargs={"nullable": nullable},
        sa_type=sa.Uuid,
        foreign_key=target,
        ondelete=ondelete,
        index=True,
    )


def _ts(*, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_type=json_type(), nullable=False)


def _str(length: int | None = None, **kwargs: Any) -> Any:
    return Field(sa_type=sa.String(length) if length else sa.Text, **kwargs)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = _id()
    email: str = _str(255, unique=True, nullable=False)
    name: str = _str(255, nullable=False)
    password_hash: str = _str(255, nullable=False)
    role: Role = Field(default=Role.USER, sa_type=_enum(Role, "user_role"))
    subscription_tier: Tier = Field(default=Tier.FREE, sa_type=_enum(Tier, "user_tier"))
    # Raised by "sign out everywhere", a password change and an account delete: access tokens
    # of an older epoch are refused (api/epochs.py).
    token_epoch: int = Field(
        default=0, nullable=False, sa_column_kwargs={"server_default": sa.text("0")}
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_tokens"

    id: uuid.UUID = _id()
    user_id: uuid.UUID = _fk("users.id")
    family_id: uuid.UUID = Field(sa_type=sa.Uuid, nullable=False, index=True)
    token_hash: str = _str(255, unique=True, nullable=False)
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)
    replaced_by: uuid.UUID | None = Field(default=None, sa_type=sa.Uuid, nullable=True)
    created_at: datetime = _ts()


class Module(SQLModel, table=True):
    __tablename__ = "modules"

    id: uuid.UUID = _id()
    title: str = _str(255, nullable=False)
    description: str = _str(None, default="", nullable=False)
    order_index: int = Field(default=0, nullable=False, index=True)
    difficulty: Difficulty = Field(
        default=Difficulty.BEGINNER, sa_type=_enum(Difficulty, "module_difficulty")
    )
    duration_minutes: int = Field(default=0, nullable=False)
    is_locked: bool = Field(default=False, nullable=False)
    required_tier: Tier = Field(default=Tier.FREE, sa_type=_enum(Tier, "module_tier"))
    content: dict[str, Any] = _json(dict)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Lesson(SQLModel, table=True):
    __tablename__ = "lessons"

    id: uuid.UUID = _id()
    module_id: uuid.UUID = _fk("modules.id")
    title: str = _str(255, nullable=False)
    order: int = Field(default=0, nullable=False)
    mux_playback_id: str | None = _str(255, default=None, nullable=True, index=True)
    duration_seconds: int = Field(default=0, nullable=False)
    description: str | None = _str(None, default=None, nullable=True)
    video_status: str | None = _str(20, default=None, nullable=True)
    video_error: str | None = _str(500, default=None, nullable=True)
    created_at: datetime = _ts()


class SubLesson(SQLModel, table=True):
    __tablename__ = "sub_lessons"

    id: uuid.UUID = _id()
    lesson_id: uuid.UUID = _fk("lessons.id")
    title: str = _str(255, nullable=False)
    order: int = Field(default=0, nullable=False)
    mux_playback_id: str | None = _str(255, default=None, nullable=True, index=True)
    duration_seconds: int = Field(default=0, nullable=False)
    start_time_seconds: int = Field(default=0, nullable=False)
    video_status: str | None = _str(20, default=None, nullable=True)
    video_error: str | None = _str(500, default=None, nullable=True)
    created_at: datetime = _ts()


class ModuleProgress(SQLModel, table=True):
    __tablename__ = "module_progress"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "module_id", name="uq_module_progress"),
        sa.Index("ix_module_progress_updated_at", "updated_at"),  # analytics (0009)
    )

    id: uuid.UUID = _id()
    user_id: uuid.UUID = _fk("users.id")
    module_id: uuid.UUID = _fk("modules.id")
    status: ProgressStatus = Field(
        default=ProgressStatus.NOT_STARTED, sa_type=_enum(ProgressStatus, "progress_status")
    )
    progress_percent: int = Field(default=0, nullable=False)
    time_spent_minutes: int = Field(default=0, nullable=False)
    last_accessed_at: datetime | None = _ts(nullable=True)
    completed_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()


class LessonProgress(SQLModel, table=True):
    __tablename__ = "lesson_progress"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress"),
        sa.Index("ix_lesson_progress_updated_at", "updated_at"),  # analytics (0009)
        sa.Index("ix_lesson_progress_completed_at", "completed_at"),
    )

    id: uuid.UUID = _id()
    user_id: uuid.UUID = _fk("users.id")
    lesson_id: uuid.UUID = _fk("lessons.id")
    position_seconds: float = Field(default=0.0, nullable=False)
    position_client_ts: datetime | None = _ts(nullable=True)
    watch_time_seconds: float = Field(default=0.0, nullable=False)
    completed: bool = Field(default=False, nullable=False)
    completed_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()


class SubLessonProgress(SQLModel, table=True):
    __tablename__ = "sub_lesson_progress"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "sub_lesson_id", name="uq_sub_lesson_progress"),
        sa.Index("ix_sub_lesson_progress_updated_at", "updated_at"),  # analytics (0009)
    )

    id: uuid.UUID = _id()
    user_id: uuid.UUID = _fk("users.id")
    sub_lesson_id: uuid.UUID = _fk("sub_lessons.id")
    position_seconds: float = Field(default=0.0, nullable=False)
    position_client_ts: datetime | None = _ts(nullable=True)
    watch_time_seconds: float = Field(default=0.0, nullable=False)
    completed: bool = Field(default=False, nullable=False)
    completed_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()


class Note(SQLModel, table=True):
    __tablename__ = "notes"

    id: uuid.UUID = _id()
    owner_id: uuid.UUID = _fk("users.id")
    title: str = _str(255, nullable=False)
    tags: list[str] = _json(list)
    is_private: bool = Field(default=True, nullable=False)
    module_id: uuid.UUID | None = _fk("modules.id", ondelete="SET NULL", nullable=True)
    folder: str | None = _str(255, default=None, nullable=True)
    # an attendee's own notes for a live session (migration 0006)
    session_id: uuid.UUID | None = _fk("live_sessions.id", ondelete="SET NULL", nullable=True)
    content_text: str = _str(None, default="", nullable=False)
    version: int = Field(default=1, nullable=False)
    deleted_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class NoteShare(SQLModel, table=True):
    __tablename__ = "note_shares"
    __table_args__ = (sa.UniqueConstraint("note_id", "user_id", name="uq_note_share"),)

    id: uuid.UUID = _id()
    note_id: uuid.UUID = _fk("notes.id")
    user_id: uuid.UUID = _fk("users.id")
    permission: Permission = Field(
        default=Permission.READ, sa_type=_enum(Permission, "share_permission")
    )
    created_at: datetime = _ts()


class AudioRecording(SQLModel, table=True):
    __tablename__ = "audio_recordings"
    __table_args__ = (sa.Index("ix_audio_recordings_created_at", "created_at"),)  # 0009

    id: uuid.UUID = _id()
    user_id: uuid.UUID = _fk("users.id")
    module_id: uuid.UUID | None = _fk("modules.id", ondelete="SET NULL", nullable=True)
    title: str = _str(255, nullable=False)
    file_name: str = _str(255, nullable=False)
    object_key: str = _str(None, nullable=False)
    content_type: str = _str(100, default="application/octet-stream", nullable=False)
    file_size: int = Field(sa_type=sa.BigInteger, nullable=False)
    duration_seconds: float | None = Field(default=None, nullable=True)
    format: str | None = _str(20, default=None, nullable=True)  # read from the bytes: "webm"
    status: RecordingStatus = Field(
        default=RecordingStatus.UPLOADED, sa_type=_enum(RecordingStatus, "recording_status")
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Transcription(SQLModel, table=True):
    """A recording's transcription (one per recording). ``segments`` is what the engine
    returned; the text people read, edit and search is in `TranscriptSegment` rows."""

    __tablename__ = "transcriptions"
    __table_args__ = (
        sa.UniqueConstraint("audio_recording_id", name="uq_transcription_recording"),
    )

    id: uuid.UUID = _id()
    audio_recording_id: uuid.UUID = _fk("audio_recordings.id")
    content: str = _str(None, nullable=False)
    language: str | None = _str(20, default=None, nullable=True)
    confidence: float | None = Field(default=None, nullable=True)
    segments: list[dict[str, Any]] = _json(list)
    engine: str = _str(50, default="", nullable=False)
    status: TranscriptionStatus = Field(
        default=TranscriptionStatus.PROCESSING,
        sa_type=_enum(TranscriptionStatus, "transcription_status"),
    )
    error: str | None = _str(None, default=None, nullable=True)
    attempts: int = Field(default=0, nullable=False)
    edited: bool = Field(default=False, nullable=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class TranscriptSegment(SQLModel, table=True):
    """One timed line of a transcription: the searchable unit (a hit carries its time)."""

    __tablename__ = "transcript_segments"
    __table_args__ = (
        sa.UniqueConstraint("transcription_id", "position", name="uq_transcript_segment"),
    )

    id: uuid.UUID = _id()
    transcription_id: uuid.UUID = _fk("transcriptions.id")
    recording_id: uuid.UUID = _fk("audio_recordings.id")
    position: int = Field(nullable=False)
    start_seconds: float = Field(nullable=False)
    end_seconds: float = Field(nullable=False)
    text: str = _str(None, nullable=False)  # as corrected by its owner; indexed
    original_text: str = _str(None, nullable=False)  # as the engine heard it
    confidence: float | None = Field(default=None, nullable=True)


class LiveSession(SQLModel, table=True):
    __tablename__ = "live_sessions"

    id: uuid.UUID = _id()
    host_id: uuid.UUID = _fk("users.id")
    title: str = _str(255, nullable=False)
    description: str | None = _str(None, default=None, nullable=True)
    status: SessionStatus = Field(
        default=SessionStatus.SCHEDULED, sa_type=_enum(SessionStatus, "session_status")
    )
    scheduled_start: datetime = _ts()
    scheduled_end: datetime = _ts()
    actual_start: datetime | None = _ts(nullable=True)
    actual_end: datetime | None = _ts(nullable=True)
    settings: dict[str, Any] = _json(dict)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SessionParticipant(SQLModel, table=True):
    __tablename__ = "session_participants"
    __table_args__ = (sa.UniqueConstraint("session_id", "user_id", name="uq_session_participant"),)

    id: uuid.UUID = _id()
    session_id: uuid.UUID = _fk("live_sessions.id")
    user_id: uuid.UUID = _fk("users.id")
    role: ParticipantRole = Field(
        default=ParticipantRole.PARTICIPANT, sa_type=_enum(ParticipantRole, "participant_role")
    )
    joined_at: datetime | None = _ts(nullable=True)
    left_at: datetime | None = _ts(nullable=True)
    removed_at: datetime | None = _ts(nullable=True)  # set: removed by a host, never readmitted
    engagement_data: dict[str, Any] = _json(dict)


class DocumentUpdate(SQLModel, table=True):
    """One entry of the durable Yjs update log (or a compacted snapshot)."""

    __tablename__ = "document_updates"
    __table_args__ = (
        sa.Index("ix_document_updates_name_id", "name", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=big_id_type())
    name: str = _str(None, nullable=False)
    data: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    is_snapshot: bool = Field(default=False, nullable=False)
    created_at: datetime = _ts()
