"""`/api/workbook/audio/uploads`: large recordings go from the browser straight to S3.

`GET` tells a client how to upload: `direct` is true when the object store is S3 (then the
bytes never pass through this server), with the size limit either way. `POST` (S3 only; a 409
otherwise) presigns a POST policy for one staging key, ``uploads/<user id>/<upload id>``: the
bucket refuses a body larger than ``AUDIO_MAX_BYTES`` or of another content type, and the
policy expires after an hour. The client sends the file there, then calls
`POST /uploads/{uploadId}/complete` with the title (and `moduleId`, `transcribe`): the server
checks what arrived as it checks a form upload, without trusting the client (size by HEAD,
magic bytes by a ranged GET, format and duration by probing a temporary download, each read
pinned to the ETag it saw first), copies it inside the bucket to the recording's key (the
recording's id is the upload's id), deletes the staged object, and writes the row. A refused
object is deleted. Completing again after success answers the same recording (200), so a
client that lost the answer may retry. Staged objects never completed stay under ``uploads/``:
give the bucket a lifecycle rule expiring that prefix (docs/transcription.md).
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from datetime import datetime

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.audio import (
    FORMATS,
    RecordingEnvelope,
    RecordingOut,
    audio_key,
    module_of,
    own_recording,
    record,
    uploaded,
)
from api.audio_form import audio_info, not_audio, stored_name, too_big
from api.errors import ApiError, invalid, not_found
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import CamelModel, parse_body, path_uuid, respond
from api.security import require
from api.services import Services, services
from speech.audio import SNIFF_BYTES, sniff
from storage.objects import ObjectNotFound
from storage.s3_uploads import ObjectChanged, S3DirectUploads

log = logging.getLogger(__name__)

_EXPIRES = 3600
_CONTENT_TYPE = r"^[a-z]+/[a-z0-9.+-]+$"


class UploadOptions(CamelModel):
    direct: bool = Field(description="true: upload to S3 with POST /api/workbook/audio/uploads")
    max_bytes: int = Field(description="the largest recording accepted (AUDIO_MAX_BYTES)")
    formats: list[str] = Field(description="the formats recognised by their bytes")


class UploadStart(CamelModel):
    size: int = Field(ge=1, le=2**40, description="the file's size in bytes (checked again)")
    content_type: str = Field(
        "application/octet-stream", max_length=100, pattern=_CONTENT_TYPE,
        description="sent as the object's Content-Type (the bytes decide what it is)",
    )


class DirectUpload(CamelModel):
    success: bool = True
    upload_id: str
    url: str = Field(description="POST the file here as multipart/form-data")
    fields: dict[str, str] = Field(description="form fields to send first, as they are; the "
                                   "file goes last, in a field named `file`")
    max_bytes: int
    expires_at: datetime


class UploadComplete(CamelModel):
    title: str = Field(min_length=1, max_length=255, pattern=r"\S")
    file_name: str = Field("", max_length=255, description="the name the user chose")
    module_id: uuid.UUID | None = None
    transcribe: bool = False


def _direct(svc: Services) -> S3DirectUploads:
    if svc.direct_uploads is None:
        raise ApiError(409, "direct uploads need S3 object storage: POST the file as "
                       "multipart/form-data to /api/workbook/audio", code="conflict")
    return svc.direct_uploads


def staging_key(user_id: uuid.UUID, upload_id: uuid.UUID) -> str:
    return f"uploads/{user_id}/{upload_id}"


async def upload_options(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "workbook.write")
    return respond(UploadOptions(direct=svc.direct_uploads is not None,
                                 max_bytes=svc.audio_max_bytes, formats=list(FORMATS)))


async def start_upload(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.write")
    direct = _direct(svc)
    body = await parse_body(request, UploadStart)
    if body.size > svc.audio_max_bytes:
        raise invalid("size", f"the file is larger than {svc.audio_max_bytes} bytes", status=413)
    await enforce(svc.limiter, svc.limits.audio, str(principal.user_id), enabled=svc.limits.enabled)
    upload_id = uuid.uuid4()
    post = await direct.presign(staging_key(principal.user_id, upload_id),
                                max_bytes=svc.audio_max_bytes, content_type=body.content_type,
                                expires_in=_EXPIRES)
    return respond(DirectUpload(upload_id=str(upload_id), url=post.url, fields=post.fields,
                                max_bytes=svc.audio_max_bytes, expires_at=post.expires_at), 201)


async def complete_upload(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.write")
    direct = _direct(svc)
    upload_id = path_uuid(request, "id")
    body = await parse_body(request, UploadComplete)
    module_id = await module_of(svc, str(body.module_id) if body.module_id else None)
    key = staging_key(principal.user_id, upload_id)
    staged = await direct.head(key)
    if staged is None:
        try:  # completed before (its answer lost): the same recording again
            done = await own_recording(svc, principal, upload_id)
        except ApiError:
            raise not_found("upload") from None
        return respond(RecordingEnvelope(recording=RecordingOut.of(done)))
    try:
        if staged.size > svc.audio_max_bytes:
            raise too_big(svc.audio_max_bytes)
        if sniff(await direct.read_range(key, SNIFF_BYTES, staged.etag)) is None:
            raise not_audio()
        with tempfile.TemporaryFile(prefix="audio-upload-") as spool:
            await direct.download(key, spool, staged.etag)
            info = await audio_info(spool)
        target = audio_key(principal.user_id, upload_id, info.ext)
        await direct.promote(key, target, content_type=info.content_type, etag=staged.etag)
    except ObjectChanged as exc:
        raise ApiError(409, "the uploaded file changed while it was checked: upload it again",
                       code="conflict") from exc
    except ObjectNotFound as exc:
        raise not_found("upload") from exc
    finally:  # accepted (copied to its key) or refused: the staged object goes either way
        await _forget(svc, key)
    recording = await record(
        svc, principal, recording_id=upload_id, key=target, title=body.title.strip(),
        file_name=stored_name(body.file_name.strip(), info.ext), info=info, size=staged.size,
        module_id=module_id,
    )
    return await uploaded(svc, recording, body.transcribe)


async def _forget(svc: Services, key: str) -> None:
    try:
        await svc.objects.delete(key)
    except Exception:  # the answer matters more; the bucket's lifecycle rule collects it
        log.exception("could not delete staged upload %s", key)


_U = "/api/workbook/audio/uploads"
operations = [
    Operation(
        "GET",
        _U,
        upload_options,
        "How to upload a recording here: straight to S3 (direct) or as a form; the size limit",
        "audio",
        response=UploadOptions,
        permission="workbook.write",
    ),
    Operation(
        "POST",
        _U,
        start_upload,
        "Presign an upload straight to S3 (only where S3 is configured)",
        "audio",
        body=UploadStart,
        response=DirectUpload,
        status=201,
        permission="workbook.write",
        errors=(409, 413, 429),
    ),
    Operation(
        "POST",
        f"{_U}/{{id}}/complete",
        complete_upload,
        "Check a direct upload and make it a recording (or refuse it and delete it)",
        "audio",
        body=UploadComplete,
        response=RecordingEnvelope,
        status=201,
        responses=((200, RecordingEnvelope),),  # completed before: the same recording
        permission="workbook.write",
        errors=(404, 409, 413, 415),
    ),
]
