"""Transcripts of a user's recordings: start one, read it, correct it, search across them.

`POST /api/workbook/audio/transcribe {recordingId}` answers 202 with the product documents'
`{success, transcriptionId, status}` and queues the job (`api.transcribe`); the status then
reaches the owner's feed (``users/<id>``, a ``recordings.changed`` message) when it changes.
Corrections replace segments' text; search finds segments, each hit carrying its time in the
recording, so a client can play the audio from there.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.audio import own_recording
from api.errors import conflict, invalid, not_found
from api.openapi import Operation
from api.schema import UUID_PATTERN, CamelModel, parse_body, parse_query, path_uuid, respond
from api.security import require
from api.services import Services, services
from api.transcribe import start_transcription
from storage.models import Transcription, TranscriptionStatus, TranscriptSegment
from storage.transcripts import TranscriptRepository

Status = Literal["processing", "done", "failed"]


class TranscribeRequest(CamelModel):
    recording_id: str = Field(pattern=UUID_PATTERN)


class TranscribeStarted(CamelModel):
    success: bool = True
    transcription_id: str
    status: Status = Field(description="processing, or where an earlier request got to")


class SegmentOut(CamelModel):
    position: int
    start: float = Field(description="seconds from the start of the recording")
    end: float
    text: str
    confidence: float | None
    edited: bool


class TranscriptOut(CamelModel):
    id: str
    recording_id: str
    status: Status
    error: str | None = Field(description="why it failed (or why the last attempt did)")
    attempts: int
    engine: str
    language: str | None
    confidence: float | None
    content: str
    edited: bool
    segments: list[SegmentOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, found: Transcription, segments: list[TranscriptSegment]) -> TranscriptOut:
        return cls(
            id=str(found.id), recording_id=str(found.audio_recording_id),
            status=found.status.value, error=found.error, attempts=found.attempts,
            engine=found.engine, language=found.language, confidence=found.confidence,
            content=found.content, edited=found.edited,
            segments=[SegmentOut(position=s.position, start=s.start_seconds, end=s.end_seconds,
                                 text=s.text, confidence=s.confidence,
                                 edited=s.text != s.original_text) for s in segments],
            created_at=found.created_at, updated_at=found.updated_at,
        )


class TranscriptEnvelope(CamelModel):
    success: bool = True
    transcript: TranscriptOut


class SegmentEdit(CamelModel):
    position: int = Field(ge=0, le=1_000_000)
    text: str = Field(max_length=10_000)


class TranscriptEdit(CamelModel):
    segments: list[SegmentEdit] = Field(min_length=1, max_length=10_000)


class SearchQuery(CamelModel):
    q: str = Field(min_length=1, max_length=500)
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=100_000)


class TranscriptHit(CamelModel):
    recording_id: str
    recording_title: str
    transcription_id: str
    position: int
    start: float = Field(description="where the matching segment starts, in seconds")
    end: float
    text: str
    snippet: str | None = Field(description="HTML-escaped, matches in <mark>")


class TranscriptHits(CamelModel):
    hits: list[TranscriptHit]
    total: int
    has_more: bool


async def transcribe(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.write")
    body = await parse_body(request, TranscribeRequest)
    recording = await own_recording(svc, principal, uuid.UUID(body.recording_id))
    transcription, _ = await start_transcription(svc, recording)
    return respond(
        TranscribeStarted(transcription_id=str(transcription.id),
                          status=transcription.status.value),
        202,
    )


async def _transcript(
    request: Request, permission: Literal["workbook.read", "workbook.write"]
) -> tuple[Transcription, uuid.UUID]:
    svc = services(request)
    principal = require(request, svc.tokens, permission)
    recording = await own_recording(svc, principal, path_uuid(request, "id"))
    found = await TranscriptRepository(svc.db).for_recording(recording.id)
    if found is None:
        raise not_found("transcript")
    return found, recording.id


async def get_transcript(request: Request) -> Response:
    found, _ = await _transcript(request, "workbook.read")
    segments = await TranscriptRepository(services(request).db).segments(found.id)
    return respond(TranscriptEnvelope(transcript=TranscriptOut.of(found, segments)))


async def edit_transcript(request: Request) -> Response:
    found, _ = await _transcript(request, "workbook.write")
    body = await parse_body(request, TranscriptEdit)
    if found.status is not TranscriptionStatus.DONE:
        raise conflict("the transcript is not done yet")
    if "\x00" in "".join(edit.text for edit in body.segments):
        raise invalid("segments", "text must not contain NUL (U+0000) characters")
    repo = TranscriptRepository(services(request).db)
    edited = await repo.edit(found.id, {edit.position: edit.text for edit in body.segments})
    if edited is None:
        raise invalid("segments", "a position names no segment of this transcript")
    updated = await repo.get(found.id)
    if updated is None:
        raise not_found("transcript")
    return respond(TranscriptEnvelope(transcript=TranscriptOut.of(updated, edited)))


async def transcript_hits(
    svc: Services, user_id: uuid.UUID, q: str, *, limit: int, offset: int = 0
) -> tuple[list[TranscriptHit], int]:
    """The segments of `user_id`'s transcripts matching `q` (ranked as documented in
    `storage.transcripts`), and their total: the audio search and the notes search share it."""
    hits, total = await TranscriptRepository(svc.db).search(user_id, q, limit=limit,
                                                            offset=offset)
    return [TranscriptHit(recording_id=str(h.recording_id), recording_title=h.recording_title,
                          transcription_id=str(h.transcription_id), position=h.position,
                          start=h.start, end=h.end, text=h.text, snippet=h.snippet)
            for h in hits], total


async def search_transcripts(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    query = parse_query(request, SearchQuery)
    out, total = await transcript_hits(svc, principal.user_id, query.q, limit=query.limit,
                                       offset=query.offset)
    return respond(TranscriptHits(hits=out, total=total,
                                  has_more=query.offset + len(out) < total))


_A = "/api/workbook/audio"
_ONE = f"{_A}/{{id}}/transcript"
operations = [
    Operation(
        "POST",
        f"{_A}/transcribe",
        transcribe,
        "Transcribe one of my recordings (queued; the status reaches my feed)",
        "audio",
        body=TranscribeRequest,
        response=TranscribeStarted,
        status=202,
        permission="workbook.write",
        errors=(404, 503),
    ),
    Operation(
        "GET",
        f"{_A}/search",
        search_transcripts,
        "Search my transcripts: matching segments with their time",
        "audio",
        query=SearchQuery,
        response=TranscriptHits,
        permission="workbook.read",
    ),
    Operation(
        "GET",
        _ONE,
        get_transcript,
        "A recording's transcript with its timed segments",
        "audio",
        response=TranscriptEnvelope,
        permission="workbook.read",
        errors=(404,),
    ),
    Operation(
        "PATCH",
        _ONE,
        edit_transcript,
        "Correct segments' text (kept when re-indexed; the engine's text stays as original)",
        "audio",
        body=TranscriptEdit,
        response=TranscriptEnvelope,
        permission="workbook.write",
        errors=(404, 409),
    ),
]
