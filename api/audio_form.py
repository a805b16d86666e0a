"""The multipart form of an audio upload: read under a byte cap while it arrives (the file
part is spooled to a temporary file on disk as it streams in), its text fields, and what the
uploaded bytes are (`speech.audio.probe` on that file, in a thread).

Helpers of `api.audio`'s upload handler only; every refusal names its field.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import BinaryIO

import anyio
import anyio.to_thread
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message, Receive

from api.errors import ApiError, invalid
from api.schema import ascii_uint
from speech.audio import FORMAT_NAMES, FORMATS, AudioInfo, NotAudio, Source, probe

SPOOL_IN_MEMORY = 1 << 20  # Starlette's multipart parser rolls a file part to disk past this
MAX_PART = 64 * 1024  # the text fields (title, moduleId, transcribe)
MAX_FIELDS = 10  # text fields of the form, known or not; more is a 400
FORM_OVERHEAD = 1 << 20  # multipart framing and text fields on top of the file itself


def too_big(limit: int) -> ApiError:
    return invalid("audio", f"the file is larger than {limit} bytes", status=413)


def capped_receive(receive: Receive, cap: int, limit: int) -> Receive:
    """`receive` that refuses the request once its body passed `cap` bytes (no spooling on)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise too_big(limit)
        return message

    return wrapped


async def read_form(request: Request, limit: int) -> FormData:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        raise ApiError(
            415,
            "send the recording as multipart/form-data",
            fields=[{"field": "audio", "message": "the body must be multipart/form-data"}],
        )
    cap = limit + FORM_OVERHEAD
    length = request.headers.get("content-length")
    declared = None if length is None else ascii_uint(length)
    if declared is not None and declared > cap:
        raise too_big(limit)
    capped = Request(request.scope, capped_receive(request.receive, cap, limit))
    return await capped.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_PART)


def form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, "must be a text field, not a file")
    if "\x00" in value:
        raise invalid(name, "must not contain NUL (U+0000) characters")
    return value


def upload_name(upload: UploadFile) -> str:
    raw = (upload.filename or "").replace("\\", "/")
    name = "".join(ch for ch in PurePosixPath(raw).name if ch.isprintable())
    return name.strip()[-255:]


def stored_name(file_name: str, ext: str) -> str:
    """The stored name ends in the extension of what the bytes are: `blob` of a browser
    MediaRecorder upload becomes `blob.webm`, a disguised `run.exe` `run.exe.mp3`; a recording
    is never served back under a name that is not audio."""
    if PurePosixPath(file_name).suffix.lower().lstrip(".") == ext:
        return file_name
    return f"{file_name[: 254 - len(ext)]}.{ext}" if file_name else f"recording.{ext}"


async def audio_info(data: Source) -> AudioInfo:
    """What the bytes are (never the name or the declared type), or a 415 naming `audio`."""
    try:
        return await anyio.to_thread.run_sync(probe, data)
    except NotAudio as exc:
        raise not_audio() from exc


def accepted_formats() -> str:
    """The formats `probe` accepts, as a user names them: "MP3, WAV, M4A, WebM or OGG"."""
    names = [FORMAT_NAMES[ext] for ext, _ in FORMATS.values()]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def not_audio() -> ApiError:
    allowed = accepted_formats()
    return ApiError(
        415,
        f"audio: not a recording in a supported format (accepted: {allowed})",
        fields=[{"field": "audio",
                 "message": f"the file is not {allowed} audio (checked by its content)"}],
    )


def form_flag(form: FormData, name: str) -> bool:
    raw = (form_text(form, name) or "").strip().lower()
    if raw not in ("", "true", "false", "1", "0"):
        raise invalid(name, "must be true or false")
    return raw in ("true", "1")


def spooled_file(upload: UploadFile, limit: int) -> tuple[BinaryIO, int]:
    """The uploaded file as the parser spooled it while it arrived (a temporary file on disk
    past `SPOOL_IN_MEMORY` bytes; never read into memory here), rewound, and its size; 413
    past `limit` (the body was already cut at `limit` plus `FORM_OVERHEAD` while streaming),
    422 if empty."""
    size = upload.size if upload.size is not None else _size_of(upload.file)
    if size > limit:
        raise too_big(limit)
    if size == 0:
        raise invalid("audio", "the file is empty")
    upload.file.seek(0)
    return upload.file, size


def _size_of(file: BinaryIO) -> int:
    file.seek(0, io.SEEK_END)
    return file.tell()
