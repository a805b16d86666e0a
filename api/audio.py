"""`/api/workbook/audio`: a user's audio recordings (bytes in the object store, metadata in SQL).

Uploads are `multipart/form-data` (`audio` file, `title`, optional `moduleId` and
`transcribe`), capped at `Services.audio_max_bytes` while the body is still arriving. What the
file is (MP3, WAV, M4A, WebM, Ogg), and its duration, are read from its bytes with PyAV, never
from its name or declared type; anything else is a 415. The bytes are stored first under
`audio/<user id>/<recording id>.<ext>`, then the row is written; when the row cannot be written
the object is deleted again, so a failed upload leaves nothing behind. Recordings are private: a
recording of another user is a 404 like a missing one. The upload counts against the per-user
audio rate limit; reads do not. Transcription and transcript search are `api.transcripts`;
``transcribe=true`` starts it right after the upload.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.audio_form import (
    MAX_FIELDS,
    audio_info,
    form_flag,
    form_text,
    read_form,
    spooled_file,
    stored_name,
    upload_name,
)
from api.errors import ApiError, invalid, missing_reference, not_found
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import (
    UUID_PATTERN,
    WHITESPACE,
    CamelModel,
    Success,
    parse_query,
    path_uuid,
    respond,
)
from api.security import Principal, require
from api.services import Services, services
from api.transcribe import start_transcription
from speech.audio import AudioInfo
from storage.errors import UnknownReference
from storage.models import AudioRecording
from storage.modules import ModuleRepository
from storage.objects import ObjectNotFound
from storage.recordings import RecordingRepository

log = logging.getLogger(__name__)

# Extension -> the content types a client may declare for it (documentation only: what a file
# is comes from its bytes, `speech.audio.probe`).
FORMATS: dict[str, tuple[str, ...]] = {
    "mp3": ("audio/mpeg", "audio/mp3"),
    "wav": ("audio/wav", "audio/x-wav", "audio/wave"),
    "m4a": ("audio/mp4", "audio/x-m4a", "audio/m4a"),
    "webm": ("audio/webm",),
    "ogg": ("audio/ogg",),
}
_EXT_OF_TYPE = {ctype: ext for ext, types in FORMATS.items() for ctype in types}
# Not blank once stripped, no U+0000.
_TITLE_PATTERN = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"
_MODULE_ID_PATTERN = f"^$|{UUID_PATTERN}"


def _file_part(schema: dict[str, Any]) -> None:
    # OpenAPI 3.1 spells a file part `contentMediaType`, not the 3.0 `format: binary`.
    schema.pop("format", None)
    schema["contentMediaType"] = "application/octet-stream"


class AudioUpload(CamelModel):
    """The upload, sent as multipart/form-data fields (at most AUDIO_MAX_BYTES of audio)."""

    # Every other property is one more text field (a list would be several; null is none).
    model_config = ConfigDict(
        json_schema_extra={
            "maxProperties": MAX_FIELDS + 1,
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        }
    )

    audio: bytes = Field(
        min_length=1,
        description="the recording: MP3, WAV, M4A, WebM or Ogg",
        json_schema_extra=_file_part,
    )
    title: str = Field(min_length=1, max_length=255, pattern=_TITLE_PATTERN)
    module_id: str = Field("", pattern=_MODULE_ID_PATTERN, description="empty: no module")
    transcribe: Literal["", "true", "false", "1", "0"] = Field(
        "", description="true: transcribe it right away (POST /api/workbook/audio/transcribe)"
    )


class AudioQuery(CamelModel):
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=100_000)


class RecordingOut(CamelModel):
    id: str
    title: str
    file_name: str
    file_size: int
    content_type: str
    duration_seconds: float | None = Field(description="read from the file at upload")
    format: str | None = Field(description="the container the bytes are: mp3, wav, m4a, webm, ogg")
    status: str
    module_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, recording: AudioRecording) -> RecordingOut:
        return cls(
            id=str(recording.id),
            title=recording.title,
            file_name=recording.file_name,
            file_size=recording.file_size,
            content_type=recording.content_type,
            duration_seconds=recording.duration_seconds,
            format=recording.format,
            status=recording.status.value,
            module_id=str(recording.module_id) if recording.module_id else None,
            created_at=recording.created_at,
        )


class RecordingEnvelope(CamelModel):
    success: bool = True
    recording: RecordingOut
    transcription_id: str | None = Field(
        None, description="set when the upload asked for transcription (transcribe=true)"
    )


class RecordingList(CamelModel):
    recordings: list[RecordingOut]
    total: int
    has_more: bool


async def module_of(svc: Services, raw: str | None) -> uuid.UUID | None:
    if not raw:
        return None
    if not re.fullmatch(UUID_PATTERN, raw):
        raise invalid("moduleId", "must be a UUID (8-4-4-4-12 hex digits) or empty")
    module_id = uuid.UUID(raw)
    if await ModuleRepository(svc.db).get(module_id) is None:
        raise missing_reference("moduleId", "module")
    return module_id


async def upload_audio(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.write")
    await enforce(svc.limiter, svc.limits.audio, str(principal.user_id), enabled=svc.limits.enabled)
    limit = svc.audio_max_bytes
    form = await read_form(request, limit)
    try:  # the spooled file lives until the form is closed: stored before that
        title = (form_text(form, "title") or "").strip()
        if not title or len(title) > 255:
            raise invalid("title", "must be 1 to 255 characters")
        upload = form.get("audio")
        if not isinstance(upload, UploadFile):
            raise invalid("audio", "a file is required" if upload is None else "must be a file")
        module_id = await module_of(svc, form_text(form, "moduleId"))
        transcribe = form_flag(form, "transcribe")
        file, size = spooled_file(upload, limit)
        info = await audio_info(file)
        recording_id = uuid.uuid4()
        key = audio_key(principal.user_id, recording_id, info.ext)
        file.seek(0)
        await svc.objects.put_file(key, file, info.content_type)
    finally:
        await form.close()
    recording = await record(
        svc, principal, recording_id=recording_id, key=key, title=title,
        file_name=stored_name(upload_name(upload), info.ext), info=info, size=size,
        module_id=module_id,
    )
    return await uploaded(svc, recording, transcribe)


def audio_key(user_id: uuid.UUID, recording_id: uuid.UUID, ext: str) -> str:
    return f"audio/{user_id}/{recording_id}.{ext}"


async def uploaded(svc: Services, recording: AudioRecording, transcribe: bool,
                   status: int = 201) -> Response:
    """The answer to a finished upload, transcription started first if it was asked for."""
    transcription_id = None
    if transcribe:
        try:
            transcription, _ = await start_transcription(svc, recording)
            transcription_id = str(transcription.id)
        except ApiError as exc:  # the upload itself succeeded: the client may ask again later
            log.warning("no transcription for uploaded recording %s: %s", recording.id, exc)
    refreshed = await RecordingRepository(svc.db).get(recording.id) or recording
    return respond(RecordingEnvelope(recording=RecordingOut.of(refreshed),
                                     transcription_id=transcription_id), status)


async def record(
    svc: Services,
    principal: Principal,
    *,
    recording_id: uuid.UUID,
    key: str,
    title: str,
    file_name: str,
    info: AudioInfo,
    size: int,
    module_id: uuid.UUID | None,
) -> AudioRecording:
    """The row of a recording whose object is already stored under `key` (the object first,
    then the row); a failed row write deletes the object again."""
    try:
        return await RecordingRepository(svc.db).create(
            principal.user_id,
            title=title,
            file_name=file_name,
            object_key=key,
            file_size=size,
            content_type=info.content_type,
            duration_seconds=info.duration,
            audio_format=info.ext,
            module_id=module_id,
            recording_id=recording_id,
        )
    except Exception as exc:
        await discard(svc, key)
        if isinstance(exc, UnknownReference):  # the module was deleted meanwhile
            raise missing_reference("moduleId", "module") from exc
        raise


async def discard(svc: Services, key: str) -> None:
    try:
        await svc.objects.delete(key)
    except Exception:  # the caller's error matters more; the orphan is logged for cleanup
        log.exception("could not delete audio object %s", key)


async def own_recording(
    svc: Services, principal: Principal, recording_id: uuid.UUID
) -> AudioRecording:
    recording = await RecordingRepository(svc.db).get(recording_id)
    if recording is None or recording.user_id != principal.user_id:
        raise not_found("recording")  # also for other users' recordings: no probing
    return recording


async def list_audio(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    query = parse_query(request, AudioQuery)
    rows, total = await RecordingRepository(svc.db).list_for_user(
        principal.user_id, limit=query.limit, offset=query.offset
    )
    recordings = [RecordingOut.of(row) for row in rows]
    return respond(
        RecordingList(
            recordings=recordings, total=total, has_more=query.offset + len(recordings) < total
        )
    )


async def get_audio(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    recording = await own_recording(svc, principal, path_uuid(request, "id"))
    return respond(RecordingEnvelope(recording=RecordingOut.of(recording)))


async def download_audio(request: Request) -> Response:
    """The bytes, streamed from the store a chunk at a time (never the whole file in memory)."""
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    recording = await own_recording(svc, principal, path_uuid(request, "id"))
    chunks = svc.objects.stream(recording.object_key)
    try:
        first = await anext(chunks, b"")
    except ObjectNotFound as exc:
        log.error("audio object missing for recording %s", recording.id)
        raise not_found("recording file") from exc

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    disposition = f"attachment; filename*=UTF-8''{quote(recording.file_name, safe='')}"
    return StreamingResponse(
        body(),
        media_type=recording.content_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
                 "Content-Length": str(recording.file_size)},
    )


async def delete_audio(request: Request) -> Response:
    """The row first (its transcription, segments and their index entries cascade with it),
    then the bytes."""
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.write")
    recording = await own_recording(svc, principal, path_uuid(request, "id"))
    deleted = await RecordingRepository(svc.db).delete(recording.id)
    if deleted is None:
        raise not_found("recording")
    await discard(svc, deleted.object_key)  # after the row: never a row without its bytes
    return respond(Success())


_A = "/api/workbook/audio"
_ONE = f"{_A}/{{id}}"
operations = [
    Operation(
        "POST",
        _A,
        upload_audio,
        "Upload a recording (multipart/form-data: audio, title, moduleId?)",
        "audio",
        body=AudioUpload,
        body_media_type="multipart/form-data",
        body_encoding=(("audio", tuple(_EXT_OF_TYPE)),),
        response=RecordingEnvelope,
        status=201,
        permission="workbook.write",
        errors=(404, 429),
    ),
    Operation(
        "GET",
        _A,
        list_audio,
        "My recordings, newest first",
        "audio",
        query=AudioQuery,
        response=RecordingList,
        permission="workbook.read",
    ),
    Operation(
        "GET",
        _ONE,
        get_audio,
        "One of my recordings",
        "audio",
        response=RecordingEnvelope,
        permission="workbook.read",
        errors=(404,),
    ),
    Operation(
        "GET",
        f"{_ONE}/file",
        download_audio,
        "The recording's bytes, with its content type",
        "audio",
        permission="workbook.read",
        errors=(404,),
        media_type="audio/*",
    ),
    Operation(
        "DELETE",
        _ONE,
        delete_audio,
        "Delete a recording and its file",
        "audio",
        response=Success,
        permission="workbook.write",
        errors=(404,),
    ),
]
