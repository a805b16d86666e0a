"""Audio recordings (bytes live in the object store) and their transcriptions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.db import Database
from storage.errors import UnknownReference
from storage.models import AudioRecording, RecordingStatus, Transcription, TranscriptionStatus
from storage.types import utcnow


class RecordingRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        user_id: uuid.UUID,
        *,
        title: str,
        file_name: str,
        object_key: str,
        file_size: int,
        content_type: str = "application/octet-stream",
        duration_seconds: float | None = None,
        audio_format: str | None = None,
        module_id: uuid.UUID | None = None,
        recording_id: uuid.UUID | None = None,
    ) -> AudioRecording:
        recording = AudioRecording(
            id=recording_id or uuid.uuid4(),
            user_id=user_id,
            module_id=module_id,
            title=title,
            file_name=file_name,
            object_key=object_key,
            content_type=content_type,
            file_size=file_size,
            duration_seconds=duration_seconds,
            format=audio_format,
        )
        try:
            async with self._db.write() as session:
                session.add(recording)
        except IntegrityError as exc:
            raise UnknownReference("user or module does not exist") from exc
        return recording

    async def get(self, recording_id: uuid.UUID) -> AudioRecording | None:
        async with self._db.read() as session:
            return await session.get(AudioRecording, recording_id)

    async def list_for_user(
        self, user_id: uuid.UUID, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[AudioRecording], int]:
        owned = col(AudioRecording.user_id) == user_id
        async with self._db.read() as session:
            total = await session.scalar(
                select(sa.func.count()).select_from(AudioRecording).where(owned)
            )
            result = await session.scalars(
                select(AudioRecording)
                .where(owned)
                .order_by(col(AudioRecording.created_at).desc(), col(AudioRecording.id))
                .limit(limit)
                .offset(offset)
            )
            return list(result), int(total or 0)

    async def set_status(
        self,
        recording_id: uuid.UUID,
        status: RecordingStatus,
        *,
        expected: Sequence[RecordingStatus] = (),
    ) -> bool:
        """Set the status; with ``expected``, only from one of those (a compare-and-set)."""
        stmt = sa.update(AudioRecording).where(col(AudioRecording.id) == recording_id)
        if expected:
            stmt = stmt.where(col(AudioRecording.status).in_(expected))
        async with self._db.write() as session:
            result = await session.execute(stmt.values(status=status, updated_at=utcnow()))
        return bool(getattr(result, "rowcount", 0))

    async def delete(self, recording_id: uuid.UUID) -> AudioRecording | None:
        """Delete the row (transcriptions cascade) and return it, so the caller can delete
        the object it points at."""
        async with self._db.write() as session:
            recording = await session.get(AudioRecording, recording_id)
            if recording is not None:
                await session.delete(recording)
        return recording

    async def add_transcription(
        self,
        recording_id: uuid.UUID,
        *,
        content: str,
        engine: str,
        language: str | None = None,
        confidence: float | None = None,
        segments: Sequence[dict[str, Any]] = (),
    ) -> Transcription | None:
        """Store a transcription and mark the recording transcribed, in one transaction."""
        async with self._db.write() as session:
            recording = await session.get(AudioRecording, recording_id)
            if recording is None:
                return None
            transcription = Transcription(
                audio_recording_id=recording_id,
                content=content,
                engine=engine,
                language=language,
                confidence=confidence,
                segments=list(segments),
                status=TranscriptionStatus.DONE,
            )
            session.add(transcription)
            recording.status = RecordingStatus.TRANSCRIBED
            recording.updated_at = utcnow()
        return transcription

    async def transcriptions(self, recording_id: uuid.UUID) -> list[Transcription]:
        async with self._db.read() as session:
            result = await session.scalars(
                select(Transcription)
                .where(col(Transcription.audio_recording_id) == recording_id)
                .order_by(col(Transcription.created_at).desc())
            )
            return list(result)
