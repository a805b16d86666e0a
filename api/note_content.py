"""A note's content over REST: current text, versions (list, name, read, restore) and exports.

The content itself is the Yjs document `notes/<id>`; everything here reads it live (when this
process hosts it) or from the durable log, and writes through the collab front door. Visibility
is the notes rule: invisible notes are 404; read shares may read but not name or restore.

Restoring a version is a new edit (nothing is lost): the current state is first saved as an
automatic version "Before restoring …", then the old content replaces the live one.

Exports: `?format=md|json|pdf`. Notes whose text exceeds `INLINE_EXPORT_MAX_CHARS` (or any note
with `async=true`) are exported by `jobs.catalog.export_note_job` on the job queue (the arq
worker with Redis, in-process without): the answer is `202 {exportId, status, statusUrl}`, and
the client polls `statusUrl` until `status` is `done` (then fetches `downloadUrl`) or
`failed`. Without a job queue (Redis unreachable at startup) such an export is a 503.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import ApiError, forbidden, not_found
from api.notes import notes_guard, visible_note
from api.openapi import Operation
from api.schema import CamelModel, parse_body, parse_query, path_uuid, respond
from api.services import Services
from collab.server import CollabServer
from jobs import JobQueueFull
from jobs.catalog import export_note_job
from notes.content import current_state, doc_from_updates, read_note_tree, restore_state
from notes.exports import (
    ExportFormat,
    ExportMeta,
    export_key,
    export_note,
    read_export,
    start_export,
)
from notes.markdown import to_markdown
from notes.richtext import read_tree, to_json, to_plain_text
from storage.documents import DocumentLog
from storage.models import Note
from storage.notes import Access
from storage.objects import ObjectNotFound
from storage.users import UserRepository
from storage.versions import VersionInfo, VersionRepository

INLINE_EXPORT_MAX_CHARS = 50_000
EXPORT_MEDIA_TYPES = ("text/markdown", "application/json", "application/pdf")  # md, json, pdf
_EXPORT_ID = re.compile(r"^[0-9a-f]{32}$")


class VersionOut(CamelModel):
    id: str
    name: str | None
    auto: bool
    created_at: datetime
    created_by: str | None
    size: int

    @classmethod
    def of(cls, info: VersionInfo) -> VersionOut:
        return cls(
            id=str(info.id),
            name=info.name,
            auto=info.auto,
            created_at=info.created_at,
            created_by=str(info.created_by) if info.created_by else None,
            size=info.size,
        )


class VersionList(CamelModel):
    versions: list[VersionOut]


class VersionCreate(CamelModel):
    name: str = Field(min_length=1, max_length=255)


class VersionEnvelope(CamelModel):
    success: bool = True
    version: VersionOut


class VersionState(VersionOut):
    state: str = Field(description="the full encoded Yjs state, base64")


class NoteContent(CamelModel):
    text: str
    markdown: str
    json_: dict[str, Any] = Field(alias="json")


class VersionDetail(CamelModel):
    version: VersionState
    content: NoteContent


class RestoreResult(CamelModel):
    success: bool = True
    version: VersionOut
    backup: VersionOut


class ContentEnvelope(CamelModel):
    content: NoteContent


class ExportQuery(CamelModel):
    format: Literal["md", "json", "pdf"] = "md"
    async_: bool = Field(False, alias="async")


class ExportJob(CamelModel):
    export_id: str
    status: str
    format: str
    status_url: str
    download_url: str | None = None
    filename: str | None = None


def _collab(svc: Services) -> CollabServer | None:
    return svc.collab if isinstance(svc.collab, CollabServer) else None


def _content(tree: Any) -> NoteContent:
    return NoteContent(text=to_plain_text(tree), markdown=to_markdown(tree), json_=to_json(tree))


async def _writable(request: Request) -> tuple[Services, Any, uuid.UUID]:
    svc, principal = await notes_guard(request, "workbook.write")
    note_id = path_uuid(request, "id")
    _, access = await visible_note(svc, principal, note_id)
    if access is Access.READ:
        raise forbidden("you have read-only access to this note")
    return svc, principal, note_id


async def get_content(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    note_id = path_uuid(request, "id")
    await visible_note(svc, principal, note_id)
    tree = await read_note_tree(_collab(svc), DocumentLog(svc.db), note_id)
    return respond(ContentEnvelope(content=_content(tree)))


async def list_versions(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    note_id = path_uuid(request, "id")
    await visible_note(svc, principal, note_id)
    versions = await VersionRepository(svc.db).list(note_id)
    return respond(VersionList(versions=[VersionOut.of(v) for v in versions]))


async def create_version(request: Request) -> Response:
    svc, principal, note_id = await _writable(request)
    body = await parse_body(request, VersionCreate)
    state = await current_state(_collab(svc), DocumentLog(svc.db), note_id)
    info = await VersionRepository(svc.db).create(
        note_id, state, name=body.name.strip() or body.name, created_by=principal.user_id
    )
    return respond(VersionEnvelope(version=VersionOut.of(info)), 201)


async def _version(
    svc: Services, request: Request, note_id: uuid.UUID
) -> tuple[VersionInfo, bytes]:
    found = await VersionRepository(svc.db).get(note_id, path_uuid(request, "versionId"))
    if found is None:
        raise not_found("version")
    return found


async def get_version(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    note_id = path_uuid(request, "id")
    await visible_note(svc, principal, note_id)
    info, state = await _version(svc, request, note_id)
    tree = read_tree(doc_from_updates([state]))
    version = VersionState(
        **VersionOut.of(info).model_dump(), state=base64.b64encode(state).decode("ascii")
    )
    return respond(VersionDetail(version=version, content=_content(tree)))


async def restore_version(request: Request) -> Response:
    svc, principal, note_id = await _writable(request)
    info, state = await _version(svc, request, note_id)
    server, log, versions = _collab(svc), DocumentLog(svc.db), VersionRepository(svc.db)
    label = info.name or info.created_at.strftime("%Y-%m-%d %H:%M UTC")
    backup = await versions.create(
        note_id,
        await current_state(server, log, note_id),
        name=f"Before restoring {label}"[:255],
        auto=True,
        created_by=principal.user_id,
    )
    await restore_state(server, log, note_id, state, actor=f"restore:{principal.user_id}")
    return respond(RestoreResult(version=VersionOut.of(info), backup=VersionOut.of(backup)))


async def _meta(svc: Services, note: Note) -> ExportMeta:
    owner = await UserRepository(svc.db).get(note.owner_id)
    return ExportMeta(
        note_id=str(note.id),
        title=note.title,
        tags=tuple(note.tags),
        created_at=note.created_at,
        updated_at=note.updated_at,
        author=owner.name if owner else None,
    )


def _download(data: bytes, media_type: str, filename: str) -> Response:
    ascii_name = (
        filename.encode("ascii", "ignore").decode() or f"note.{filename.rsplit('.', 1)[-1]}"
    )
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})


def _job(note_id: uuid.UUID, manifest: dict[str, Any]) -> ExportJob:
    base = f"/api/workbook/notes/{note_id}/exports/{manifest['exportId']}"
    done = manifest.get("status") == "done"
    return ExportJob(
        export_id=manifest["exportId"],
        status=manifest["status"],
        format=manifest["format"],
        status_url=base,
        download_url=f"{base}/download" if done else None,
        filename=manifest.get("filename"),
    )


async def export(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    note_id = path_uuid(request, "id")
    note, _ = await visible_note(svc, principal, note_id)
    query = parse_query(request, ExportQuery)
    server, log = _collab(svc), DocumentLog(svc.db)
    meta = await _meta(svc, note)
    tree = await read_note_tree(server, log, note_id)
    large = query.async_ or len(to_plain_text(tree)) > INLINE_EXPORT_MAX_CHARS
    if large:
        return await _queue_export(svc, note_id, meta, query.format)
    exported = export_note(tree, meta, query.format)
    return _download(exported.data, exported.media_type, exported.filename)


async def _queue_export(
    svc: Services, note_id: uuid.UUID, meta: ExportMeta, fmt: ExportFormat
) -> Response:
    """Record a pending export and queue `export_note_job` for it: 202 and the status URL."""
    if svc.jobs is None:
        raise ApiError(503, "background exports are unavailable (no job queue); try again later")
    export_id = await start_export(svc.objects, meta, fmt)
    try:
        await svc.jobs.enqueue(
            export_note_job, str(note_id), export_id, job_id=f"export:{export_id}"
        )
    except JobQueueFull as exc:
        raise ApiError(503, "too many background jobs pending; try again later") from exc
    manifest = await read_export(svc.objects, str(note_id), export_id)
    assert manifest is not None
    body = _job(note_id, manifest).model_dump(mode="json", by_alias=True)
    return JSONResponse(body, status_code=202)


async def _manifest(request: Request) -> tuple[Services, uuid.UUID, dict[str, Any]]:
    svc, principal = await notes_guard(request, "workbook.read")
    note_id = path_uuid(request, "id")
    await visible_note(svc, principal, note_id)
    export_id = str(request.path_params.get("exportId", ""))
    manifest = None
    if svc.objects is not None and _EXPORT_ID.match(export_id):
        manifest = await read_export(svc.objects, str(note_id), export_id)
    if manifest is None:
        raise not_found("export")
    return svc, note_id, manifest


async def export_status(request: Request) -> Response:
    _, note_id, manifest = await _manifest(request)
    return respond(_job(note_id, manifest))


async def export_download(request: Request) -> Response:
    svc, note_id, manifest = await _manifest(request)
    if manifest.get("status") != "done":
        raise not_found("finished export")
    key = export_key(str(note_id), manifest["exportId"], f".{manifest['format']}")
    try:
        data = await svc.objects.get(key)
    except ObjectNotFound as exc:
        raise not_found("export file") from exc
    return _download(data, manifest["mediaType"], manifest["filename"])


_ONE = "/api/workbook/notes/{id}"
_V = f"{_ONE}/versions"
_E = f"{_ONE}/exports/{{exportId}}"
_R = ("workbook.read", (404, 429))
_W = ("workbook.write", (403, 404, 429))
operations = [
    Operation(
        "GET",
        f"{_ONE}/content",
        get_content,
        "The note's current content (text, Markdown, ProseMirror JSON)",
        "notes",
        response=ContentEnvelope,
        permission=_R[0],
        errors=_R[1],
    ),
    Operation(
        "GET",
        _V,
        list_versions,
        "Named and automatic versions, newest first",
        "notes",
        response=VersionList,
        permission=_R[0],
        errors=_R[1],
    ),
    Operation(
        "POST",
        _V,
        create_version,
        "Save the current content as a named version",
        "notes",
        body=VersionCreate,
        response=VersionEnvelope,
        status=201,
        permission=_W[0],
        errors=_W[1],
    ),
    Operation(
        "GET",
        f"{_V}/{{versionId}}",
        get_version,
        "One version with its content",
        "notes",
        response=VersionDetail,
        permission=_R[0],
        errors=_R[1],
    ),
    Operation(
        "POST",
        f"{_V}/{{versionId}}/restore",
        restore_version,
        "Restore a version as a new edit (the current content is saved first)",
        "notes",
        response=RestoreResult,
        permission=_W[0],
        errors=_W[1],
        body_optional=True,
    ),
    Operation(
        "GET",
        f"{_ONE}/export",
        export,
        "Download as Markdown, JSON or PDF (large notes: 202 and a job to poll)",
        "notes",
        query=ExportQuery,
        permission=_R[0],
        errors=(*_R[1], 503),
        media_type=EXPORT_MEDIA_TYPES,
        responses=((202, ExportJob),),
    ),
    Operation(
        "GET",
        _E,
        export_status,
        "Status of a background export",
        "notes",
        response=ExportJob,
        permission=_R[0],
        errors=_R[1],
        path_patterns=(("exportId", _EXPORT_ID.pattern),),
    ),
    Operation(
        "GET",
        f"{_E}/download",
        export_download,
        "Download a finished export",
        "notes",
        permission=_R[0],
        errors=_R[1],
        media_type=EXPORT_MEDIA_TYPES,
        path_patterns=(("exportId", _EXPORT_ID.pattern),),
    ),
]
