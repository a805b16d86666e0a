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
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import quote

import anyio
import anyio.to_thread
from pydantic import ConfigDict, Field
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from api.errors import ApiError, invalid, missing_reference, not_found
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import (
    UUID_PATTERN,
    WHITESPACE,
    CamelModel,
    Success,
    ascii_uint,
    parse_query,
    path_uuid,
    respond,
)
from api.security import Principal, require
from api.services import Services, services
from api.transcribe import start_transcription
from speech.audio import AudioInfo, NotAudio, probe
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
_CHUNK = 64 * 1024
_MAX_PART = 64 * 1024  # the text fields (title, moduleId)
_MAX_FIELDS = 10  # text fields of the form, known or not; more is a 400
_FORM_OVERHEAD = 1 << 20  # multipart framing and text fields on top of the file itself
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
            "maxProperties": _MAX_FIELDS + 1,
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


def _too_big(limit: int) -> ApiError:
    return invalid("audio", f"the file is larger than {limit} bytes", status=413)


def _capped(receive: Receive, cap: int, limit: int) -> Receive:
    """`receive` that refuses the request once its body passed `cap` bytes (no spooling on)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise _too_big(limit)
        return message

    return wrapped


async def _read_form(request: Request, limit: int) -> FormData:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        raise ApiError(
            415,
            "send the recording as multipart/form-data",
            fields=[{"field": "audio", "message": "the body must be multipart/form-data"}],
        )
    cap = limit + _FORM_OVERHEAD
    length = request.headers.get("content-length")
    declared = None if length is None else ascii_uint(length)
    if declared is not None and declared > cap:
        raise _too_big(limit)
    capped = Request(request.scope, _capped(request.receive, cap, limit))
    return await capped.form(max_files=1, max_fields=_MAX_FIELDS, max_part_size=_MAX_PART)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, "must be a text field, not a file")
    if "\x00" in value:
        raise invalid(name, "must not contain NUL (U+0000) characters")
    return value


def _file_name(upload: UploadFile) -> str:
    raw = (upload.filename or "").replace("\\", "/")
    name = "".join(ch for ch in PurePosixPath(raw).name if ch.isprintable())
    return name.strip()[-255:]


def _named(file_name: str, ext: str) -> str:
    """The stored name ends in the extension of what the bytes are: `blob` of a browser
    MediaRecorder upload becomes `blob.webm`, a disguised `run.exe` `run.exe.mp3`; a recording
    is never served back under a name that is not audio."""
    if PurePosixPath(file_name).suffix.lower().lstrip(".") == ext:
        return file_name
    return f"{file_name[: 254 - len(ext)]}.{ext}" if file_name else f"recording.{ext}"


async def _probe(data: bytes) -> AudioInfo:
    """What the bytes are (never the name or the declared type), or a 415 naming `audio`."""
    try:
        return await anyio.to_thread.run_sync(probe, data)
    except NotAudio as exc:
        allowed = ", ".join(f".{ext}" for ext in FORMATS)
        raise ApiError(
            415,
            f"audio: not a recording in a supported format ({allowed})",
            fields=[{"field": "audio", "message": f"not decodable audio; allowed: {allowed}"}],
        ) from exc


def _flag(form: FormData, name: str) -> bool:
    raw = (_text(form, name) or "").strip().lower()
    if raw not in ("", "true", "false", "1", "0"):
        raise invalid(name, "must be true or false")
    return raw in ("true", "1")


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    data = bytearray()
    while chunk := await upload.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise _too_big(limit)
    if not data:
        raise invalid("audio", "the file is empty")
    return bytes(data)


async def _module_id(svc: Services, form: FormData) -> uuid.UUID | None:
    raw = _text(form, "moduleId")
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
    form = await _read_form(request, limit)
    try:
        title = (_text(form, "title") or "").strip()
        if not title or len(title) > 255:
            raise invalid("title", "must be 1 to 255 characters")
        upload = form.get("audio")
        if not isinstance(upload, UploadFile):
            raise invalid("audio", "a file is required" if upload is None else "must be a file")
        module_id = await _module_id(svc, form)
        transcribe = _flag(form, "transcribe")
        data = await _read_upload(upload, limit)
    finally:
        await form.close()
    info = await _probe(data)
    file_name = _named(_file_name(upload), info.ext)
    recording = await _store(svc, principal, title, file_name, info, data, module_id)
    transcription_id = None
    if transcribe:
        transcription, _ = await start_transcription(svc, recording)
        transcription_id = str(transcription.id)
    refreshed = await RecordingRepository(svc.db).get(recording.id) or recording
    return respond(RecordingEnvelope(recording=RecordingOut.of(refreshed),
                                     transcription_id=transcription_id), 201)


async def _store(
    svc: Services,
    principal: Principal,
    title: str,
    file_name: str,
    info: AudioInfo,
    data: bytes,
    module_id: uuid.UUID | None,
) -> AudioRecording:
    """The object first, then the row; a failed row write deletes the object again."""
    recording_id = uuid.uuid4()
    key = f"audio/{principal.user_id}/{recording_id}.{info.ext}"
    await svc.objects.put(key, data, info.content_type)
    try:
        return await RecordingRepository(svc.db).create(
            principal.user_id,
            title=title,
            file_name=file_name,
            object_key=key,
            file_size=len(data),
            content_type=info.content_type,
            duration_seconds=info.duration,
            audio_format=info.ext,
            module_id=module_id,
            recording_id=recording_id,
        )
    except Exception as exc:
        await _discard(svc, key)
        if isinstance(exc, UnknownReference):  # the module was deleted meanwhile
            raise missing_reference("moduleId", "module") from exc
        raise


async def _discard(svc: Services, key: str) -> None:
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
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    recording = await own_recording(svc, principal, path_uuid(request, "id"))
    try:
        data = await svc.objects.get(recording.object_key)
    except ObjectNotFound as exc:
        log.error("audio object missing for recording %s", recording.id)
        raise not_found("recording file") from exc
    disposition = f"attachment; filename*=UTF-8''{quote(recording.file_name, safe='')}"
    return Response(
        data,
        media_type=recording.content_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
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
    await _discard(svc, deleted.object_key)  # after the row: never a row without its bytes
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
