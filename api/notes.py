"""`/api/workbook/notes`: notes metadata (the live content is the Yjs document `notes/<id>`).

Visibility is ownership or a share. A note the caller cannot see is a 404 whether or not it
exists, so ids cannot be probed; a read share trying to write is a 403; only the owner deletes.
Deleting closes the live document's connections with 4410 (DOCUMENT_DELETED).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import conflict, forbidden, invalid, missing_reference, not_found
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import (
    CamelModel,
    Omittable,
    Success,
    parse_body,
    parse_query,
    path_uuid,
    respond,
)
from api.security import Permission, Principal, require
from api.services import Services, services
from collab.control import Control
from collab.errors import CloseCode
from collab.server import CollabServer
from notes.content import note_text, seed_note_content
from storage.documents import DocumentLog
from storage.models import Note
from storage.notes import Access, NoteRepository, UnknownReference, VersionConflict

log = logging.getLogger(__name__)

Tag = Annotated[str, Field(min_length=1, max_length=50)]
AccessName = Literal["owner", "write", "read"]


class NoteQuery(CamelModel):
    search: str | None = Field(None, max_length=200)
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    folder: str | None = Field(None, max_length=255)
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=100_000)


class NoteCreate(CamelModel):
    title: str = Field(min_length=1, max_length=255)
    content: str = Field(
        "", max_length=10_000, description="initial content (Markdown or plain text)"
    )
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    is_private: bool = True
    module_id: uuid.UUID | None = None
    folder: str | None = Field(None, max_length=255)


class NoteUpdate(CamelModel):
    title: Omittable[str] = Field(None, min_length=1, max_length=255)
    tags: Omittable[list[Tag]] = Field(None, max_length=10)
    is_private: Omittable[bool] = None
    module_id: uuid.UUID | None = None
    folder: str | None = Field(None, max_length=255)
    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="expected version (409 when stale)"
    )


class NoteOut(CamelModel):
    id: str
    owner_id: str
    title: str
    tags: list[str]
    is_private: bool
    module_id: str | None
    folder: str | None
    version: int
    access: AccessName
    document: str
    snippet: str | None = None
    content: str | None = Field(None, description="current plain text (single-note reads)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, note: Note, access: Access, snippet: str | None = None) -> NoteOut:
        return cls(
            id=str(note.id),
            owner_id=str(note.owner_id),
            title=note.title,
            tags=list(note.tags),
            is_private=note.is_private,
            module_id=str(note.module_id) if note.module_id else None,
            folder=note.folder,
            version=note.version,
            access=access.value,
            document=f"notes/{note.id}",
            snippet=snippet,
            created_at=note.created_at,
            updated_at=note.updated_at,
        )


class NoteEnvelope(CamelModel):
    success: bool = True
    note: NoteOut


class NoteList(CamelModel):
    notes: list[NoteOut]
    total: int
    has_more: bool


def _dedupe(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))


async def notes_guard(request: Request, permission: Permission) -> tuple[Services, Principal]:
    """Authenticate, authorize and count one hit against the per-user notes limit."""
    svc = services(request)
    principal = require(request, svc.tokens, permission)
    await enforce(svc.limiter, svc.limits.notes, str(principal.user_id), enabled=svc.limits.enabled)
    return svc, principal


async def visible_note(
    svc: Services, principal: Principal, note_id: uuid.UUID
) -> tuple[Note, Access]:
    repo = NoteRepository(svc.db)
    access = await repo.access(note_id, principal.user_id)
    note = await repo.get(note_id) if access is not None else None
    if access is None or note is None:
        raise not_found("note")  # also for notes that exist but are not yours: no probing
    return note, access


async def control_live(svc: Services, command: Control) -> None:
    """Apply a control command to the note's live connections on every node (when the collab
    server is wired). The REST change is committed first, so a reconnect meets the new access."""
    if svc.collab is not None:
        await svc.collab.control(command)


async def list_notes(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    query = parse_query(request, NoteQuery)
    hits, total = await NoteRepository(svc.db).search(
        principal.user_id,
        query.search,
        _dedupe(query.tags),
        query.folder,
        limit=query.limit,
        offset=query.offset,
    )
    notes = [NoteOut.of(hit.note, hit.access, hit.snippet) for hit in hits]
    return respond(NoteList(notes=notes, total=total, has_more=query.offset + len(notes) < total))


async def create_note(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.write")
    body = await parse_body(request, NoteCreate)
    try:
        note = await NoteRepository(svc.db).create(
            principal.user_id,
            title=body.title,
            tags=_dedupe(body.tags),
            is_private=body.is_private,
            module_id=body.module_id,
            folder=body.folder,
            content_text=body.content,
        )
    except UnknownReference as exc:
        raise missing_reference("moduleId", "module") from exc
    await seed_note_content(_live(svc), DocumentLog(svc.db), note.id, body.content)
    return respond(NoteEnvelope(note=NoteOut.of(note, Access.OWNER)), 201)


def _live(svc: Services) -> CollabServer | None:
    return svc.collab if isinstance(svc.collab, CollabServer) else None


async def get_note(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    note, access = await visible_note(svc, principal, path_uuid(request, "id"))
    out = NoteOut.of(note, access)
    out.content = await note_text(_live(svc), DocumentLog(svc.db), note.id)
    return respond(NoteEnvelope(note=out))


async def update_note(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.write")
    note_id = path_uuid(request, "id")
    _, access = await visible_note(svc, principal, note_id)
    body = await parse_body(request, NoteUpdate)
    if access is Access.READ:
        raise forbidden("you have read-only access to this note")
    fields = body.model_fields_set - {"version"}
    if access is not Access.OWNER and fields & {"is_private", "module_id", "folder"}:
        raise forbidden("only the owner can change isPrivate, moduleId and folder")
    changes: dict[str, object] = {}
    for field in fields:
        value = getattr(body, field)
        if value is None and field in {"title", "tags", "is_private"}:
            raise invalid(NoteUpdate.model_fields[field].alias or field, "may not be null")
        changes[field] = _dedupe(value) if field == "tags" else value
    try:
        note = await NoteRepository(svc.db).update(note_id, changes, expected_version=body.version)
    except VersionConflict as exc:
        raise conflict(f"the note changed meanwhile (now at version {exc.current})") from exc
    except UnknownReference as exc:
        raise missing_reference("moduleId", "module") from exc
    if note is None:
        raise not_found("note")
    return respond(NoteEnvelope(note=NoteOut.of(note, access)))


async def delete_note(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.write")
    note_id = path_uuid(request, "id")
    _, access = await visible_note(svc, principal, note_id)
    if access is not Access.OWNER:
        raise forbidden("only the owner can delete a note")
    if not await NoteRepository(svc.db).delete(note_id):
        raise not_found("note")
    await control_live(
        svc, Control.close(f"notes/{note_id}", CloseCode.DOCUMENT_DELETED, "note deleted")
    )
    return respond(Success())


_N = "/api/workbook/notes"
_ONE = f"{_N}/{{id}}"
operations = [
    Operation(
        "GET",
        _N,
        list_notes,
        "My notes and notes shared with me (search, tags)",
        "notes",
        query=NoteQuery,
        response=NoteList,
        permission="workbook.read",
        errors=(429,),
    ),
    Operation(
        "POST",
        _N,
        create_note,
        "Create a note",
        "notes",
        body=NoteCreate,
        response=NoteEnvelope,
        status=201,
        permission="workbook.write",
        errors=(404, 429),
    ),
    Operation(
        "GET",
        _ONE,
        get_note,
        "One note's metadata",
        "notes",
        response=NoteEnvelope,
        permission="workbook.read",
        errors=(404, 429),
    ),
    Operation(
        "PATCH",
        _ONE,
        update_note,
        "Update metadata (owner or write share)",
        "notes",
        body=NoteUpdate,
        response=NoteEnvelope,
        permission="workbook.write",
        errors=(404, 409, 429),
    ),
    Operation(
        "DELETE",
        _ONE,
        delete_note,
        "Delete a note (owner only; closes live editors)",
        "notes",
        response=Success,
        permission="workbook.write",
        errors=(404, 429),
    ),
]
