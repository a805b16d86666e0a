"""Transcriptions of recordings: their life cycle, their timed segments, and search over them.

One transcription per recording (a unique constraint): asking again returns the one there is,
and only a failed one starts over. ``processing`` is claimed by a job (``attempts`` counts its
runs); ``done`` and ``failed`` are final, and each is mirrored on the recording's status. The
segments hold the text people read: a correction (`TranscriptRepository.edit`) changes the
segment's ``text`` and keeps the engine's in ``original_text``; the index follows ``text``.

Search takes any word of the query (the last as a prefix) and ranks by how many of the words a
segment matches, then newest recording first, then time in the recording: the same order on
PostgreSQL and SQLite, whose text ranks differ.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    AudioRecording,
    RecordingStatus,
    Transcription,
    TranscriptionStatus,
    TranscriptSegment,
)
from storage.search import (
    MARK_END,
    MARK_START,
    fts5_any,
    highlight,
    pg_tsquery_any,
    question_words,
    words_matched,
)
from storage.types import utcnow

__all__ = ["NewSegment", "SegmentHit", "TranscriptRepository"]

_SEGMENTS: sa.Table = TranscriptSegment.__table__  # type: ignore[attr-defined]
_RECORDINGS: sa.Table = AudioRecording.__table__  # type: ignore[attr-defined]
_TRANSCRIPTIONS: sa.Table = Transcription.__table__  # type: ignore[attr-defined]
_FTS = sa.table("transcript_segments_fts", sa.column("rowid"))
_HEADLINE = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=24, MinWords=8"
_MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class NewSegment:
    start: float
    end: float
    text: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class SegmentHit:
    recording_id: uuid.UUID
    recording_title: str
    transcription_id: uuid.UUID
    position: int
    start: float
    end: float
    text: str
    snippet: str | None


class TranscriptRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def start(self, recording_id: uuid.UUID) -> tuple[Transcription, bool]:
        """The recording's transcription, created (or a failed one reset) as ``processing``;
        True when a job must now run it."""
        async with self._db.write() as session:
            found = await session.scalar(
                select(Transcription).where(col(Transcription.audio_recording_id) == recording_id)
            )
            if found is not None and found.status is not TranscriptionStatus.FAILED:
                return found, False
            if found is None:
                found = Transcription(audio_recording_id=recording_id, content="")
                session.add(found)
            found.status, found.error, found.attempts = TranscriptionStatus.PROCESSING, None, 0
            found.updated_at = utcnow()
            await _mirror(session, recording_id, RecordingStatus.PROCESSING)
        return found, True

    async def start_once(self, recording_id: uuid.UUID) -> tuple[Transcription, bool]:
        """`start`, where a concurrent first request that won the insert is returned."""
        try:
            return await self.start(recording_id)
        except IntegrityError:
            existing = await self.for_recording(recording_id)
            if existing is None:
                raise
            return existing, False

    async def get(self, transcription_id: uuid.UUID) -> Transcription | None:
        async with self._db.read() as session:
            return await session.get(Transcription, transcription_id)

    async def for_recording(self, recording_id: uuid.UUID) -> Transcription | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(Transcription).where(col(Transcription.audio_recording_id) == recording_id)
            )

    async def claim(self, transcription_id: uuid.UUID) -> Transcription | None:
        """Count one more attempt of a ``processing`` transcription; None when it is not
        processing any more (done, failed, deleted): the job has nothing to do."""
        async with self._db.write() as session:
            found = await session.get(Transcription, transcription_id)
            if found is None or found.status is not TranscriptionStatus.PROCESSING:
                return None
            found.attempts += 1
            found.updated_at = utcnow()
            return found

    async def retrying(self, transcription_id: uuid.UUID, reason: str) -> None:
        """Record why an attempt failed while the transcription stays ``processing``."""
        await self._set(transcription_id, error=reason[:_MAX_ERROR])

    async def fail(self, transcription_id: uuid.UUID, reason: str) -> Transcription | None:
        """Mark a processing transcription failed with `reason` (and its recording)."""
        return await self._finish(transcription_id, TranscriptionStatus.FAILED,
                                  error=reason[:_MAX_ERROR])

    async def complete(
        self,
        transcription_id: uuid.UUID,
        segments: Sequence[NewSegment],
        *,
        engine: str,
        language: str | None,
        confidence: float | None,
    ) -> Transcription | None:
        """Store the engine's result and mark it done; None if it was not processing."""
        kept = [s for s in segments if s.text.strip()]
        values = {
            "content": " ".join(s.text.strip() for s in kept),
            "engine": engine[:50],
            "language": language[:20] if language else None,
            "confidence": confidence,
            "segments": [
                {"start": s.start, "end": s.end, "text": s.text, "confidence": s.confidence}
                for s in kept
            ],
            "error": None,
            "edited": False,
        }
        return await self._finish(transcription_id, TranscriptionStatus.DONE, rows=kept,
                                  **values)

    async def _finish(
        self,
        transcription_id: uuid.UUID,
        status: TranscriptionStatus,
        *,
        rows: Sequence[NewSegment] | None = None,
        **values: Any,
    ) -> Transcription | None:
        async with self._db.write() as session:
            found = await session.get(Transcription, transcription_id)
            if found is None or found.status is not TranscriptionStatus.PROCESSING:
                return None
            for name, value in values.items():
                setattr(found, name, value)
            found.status, found.updated_at = status, utcnow()
            if rows is not None:
                await session.execute(
                    sa.delete(_SEGMENTS).where(_SEGMENTS.c.transcription_id == transcription_id)
                )
                for position, seg in enumerate(rows):
                    session.add(TranscriptSegment(
                        transcription_id=transcription_id,
                        recording_id=found.audio_recording_id,
                        position=position,
                        start_seconds=seg.start,
                        end_seconds=seg.end,
                        text=seg.text.strip(),
                        original_text=seg.text.strip(),
                        confidence=seg.confidence,
                    ))
            mirrored = (RecordingStatus.TRANSCRIBED if status is TranscriptionStatus.DONE
                        else RecordingStatus.FAILED)
            await _mirror(session, found.audio_recording_id, mirrored)
            return found

    async def _set(self, transcription_id: uuid.UUID, **values: Any) -> None:
        async with self._db.write() as session:
            await session.execute(
                sa.update(_TRANSCRIPTIONS)
                .where(_TRANSCRIPTIONS.c.id == transcription_id)
                .values(updated_at=utcnow(), **values)
            )

    async def segments(self, transcription_id: uuid.UUID) -> list[TranscriptSegment]:
        async with self._db.read() as session:
            result = await session.scalars(
                select(TranscriptSegment)
                .where(col(TranscriptSegment.transcription_id) == transcription_id)
                .order_by(col(TranscriptSegment.position))
            )
            return list(result)

    async def edit(
        self, transcription_id: uuid.UUID, texts: Mapping[int, str]
    ) -> list[TranscriptSegment] | None:
        """Replace the text of the segments at these positions; the transcription's content is
        their new concatenation. None for an unknown position (nothing is changed)."""
        async with self._db.write() as session:
            found = await session.get(Transcription, transcription_id)
            if found is None:
                return None
            rows = list(await session.scalars(
                select(TranscriptSegment)
                .where(col(TranscriptSegment.transcription_id) == transcription_id)
                .order_by(col(TranscriptSegment.position))
            ))
            by_position = {row.position: row for row in rows}
            if any(position not in by_position for position in texts):
                return None
            for position, text in texts.items():
                by_position[position].text = text.strip()
            found.content = " ".join(row.text for row in rows if row.text)
            found.edited = any(row.text != row.original_text for row in rows)
            found.updated_at = utcnow()
            return rows

    async def search(
        self, user_id: uuid.UUID, query: str, *, limit: int = 20, offset: int = 0
    ) -> tuple[list[SegmentHit], int]:
        """Segments of `user_id`'s done transcriptions matching any word of `query`, best
        first (see the module docstring), with highlighted snippets; and the total."""
        words = question_words(query)
        if not words:
            return [], 0
        base = _SEGMENTS.join(_RECORDINGS, _RECORDINGS.c.id == _SEGMENTS.c.recording_id).join(
            _TRANSCRIPTIONS, _TRANSCRIPTIONS.c.id == _SEGMENTS.c.transcription_id
        )
        filters: list[Any] = [
            _RECORDINGS.c.user_id == user_id,
            _TRANSCRIPTIONS.c.status == TranscriptionStatus.DONE.value,
        ]
        postgres = self._db.dialect == "postgresql"
        if postgres:
            vector: sa.ColumnElement[Any] = sa.literal_column("transcript_segments.search_vector")
            filters.append(vector.op("@@")(_pg_query(words)))
            snippet: Any = sa.func.ts_headline(
                sa.literal_column("'english'::regconfig"), _SEGMENTS.c.text, _pg_query(words),
                _HEADLINE,
            )
        else:
            base = base.join(_FTS, _FTS.c.rowid == sa.literal_column("transcript_segments.rowid"))
            filters.append(sa.literal_column("transcript_segments_fts").op("MATCH")(
                fts5_any(words, prefix_last=True)))
            snippet = sa.func.snippet(sa.literal_column("transcript_segments_fts"), 0,
                                      MARK_START, MARK_END, "…", 24)
        order = [
            words_matched(words, "transcript_segments", postgres=postgres).desc(),
            _RECORDINGS.c.created_at.desc(),
            _RECORDINGS.c.id,
            _SEGMENTS.c.position,
        ]
        async with self._db.read() as session:
            total = int(await session.scalar(
                sa.select(sa.func.count()).select_from(base).where(*filters)) or 0)
            rows = (await session.execute(
                sa.select(_SEGMENTS.c.recording_id, _RECORDINGS.c.title,
                          _SEGMENTS.c.transcription_id, _SEGMENTS.c.position,
                          _SEGMENTS.c.start_seconds, _SEGMENTS.c.end_seconds, _SEGMENTS.c.text,
                          snippet)
                .select_from(base).where(*filters).order_by(*order).limit(limit).offset(offset)
            )).all()
        return [SegmentHit(recording_id=r[0], recording_title=r[1], transcription_id=r[2],
                           position=r[3], start=r[4], end=r[5], text=r[6],
                           snippet=highlight(r[7])) for r in rows], total


async def _mirror(session: Any, recording_id: uuid.UUID, status: RecordingStatus) -> None:
    await session.execute(
        sa.update(_RECORDINGS).where(_RECORDINGS.c.id == recording_id)
        .values(status=status.value, updated_at=utcnow())
    )


def _pg_query(words: list[str]) -> Any:
    return sa.func.to_tsquery(
        sa.literal_column("'english'::regconfig"), pg_tsquery_any(words, prefix_last=True)
    )


