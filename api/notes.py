"""`/api/workbook/notes`: notes metadata (the live content is the Yjs document `notes/<id>`).

Visibility is ownership or a share. A note the caller cannot see is a 404 whether or not it
exists, so ids cannot be probed; a read share trying to write is a 403; only the owner deletes.
Deleting closes the live document's connections with 4410 (DOCUMENT_DELETED).

Title, tags and folder also live in the document's `meta` map (`notes.meta`): a create or
update writes them there too, so the row and the document agree. A create may carry the
client's own `id` (a note made offline) and is then idempotent. A note may carry the
`sessionId` of a live session its owner joined (their private notes for that session,
docs/rooms.md); the list filters by it. Every change to a note list is
announced on the users' live feeds (`notes.feeds`).
"""

from __future__ import annotations

import logging
import uuid

from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError, conflict, forbidden, invalid, missing_reference, not_found
from api.note_models import (
    RECORDING_HITS,
    NoteCreate,
    NoteEnvelope,
    NoteList,
    NoteOut,
    NoteQuery,
    NoteUpdate,
)
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import (
    Success,
    parse_body,
    parse_query,
    path_uuid,
    respond,
)
from api.security import Permission, Principal, require
from api.services import Services, services
from api.transcripts import transcript_hits
from collab.control import Control
from collab.errors import CloseCode
from collab.server import CollabServer
from notes.content import (
    ContentFormat,
    document_name,
    edit_note,
    note_text,
    seed_note_content,
)
from notes.feeds import NoteChange
from notes.meta import META_KEYS, row_meta, write_meta
from storage.documents import DocumentLog
from storage.models import Note
from storage.notes import Access, NoteRepository, UnknownReference, VersionConflict
from storage.sessions import LiveSessionRepository

log = logging.getLogger(__name__)


def _dedupe(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))


async def notes_guard(request: Request, permission: Permission) -> tuple[Services, Principal]:
    """Authenticate, authorize and count one hit against the user's notes budget: reads (GET)
    and writes (any other method) are counted apart."""
    svc = services(request)
    principal = require(request, svc.tokens, permission)
    limits = svc.limits
    rule = limits.notes_read if request.method in ("GET", "HEAD") else limits.notes_write
    await enforce(svc.limiter, rule, str(principal.user_id), enabled=limits.enabled)
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
        session_id=query.session_id,
    )
    notes = [NoteOut.of(hit.note, hit.access, hit.snippet) for hit in hits]
    found = NoteList(notes=notes, total=total, has_more=query.offset + len(notes) < total)
    if query.search and query.search.strip() and not (
        query.offset or query.tags or query.folder is not None or query.session_id
    ):
        found.recordings, found.recordings_total = await transcript_hits(
            svc, principal.user_id, query.search, limit=RECORDING_HITS
        )
    return respond(found)


async def _existing(svc: Services, principal: Principal, note_id: uuid.UUID) -> Note | None:
    """The caller's live note with a client-chosen id (a retried create), None if the id is
    free; a 409 naming `id` if anything else holds it (another user's note, a deleted one)."""
    note = await NoteRepository(svc.db).get(note_id, include_deleted=True)
    if note is None:
        return None
    if note.owner_id != principal.user_id or note.deleted_at is not None:
        raise ApiError(
            409,
            "id: this id belongs to another note",
            code="conflict",
            fields=[{"field": "id", "message": "belongs to another note"}],
        )
    return note


async def create_note(request: Request) -> Response:
    """Create a note, or with a client-chosen `id` return the one a previous attempt created.

    The document is never reset: `meta` keys are set and `content` is appended, so updates a
    client made offline in `notes/<id>` merge when it connects."""
    svc, principal = await notes_guard(request, "workbook.write")
    body = await parse_body(request, NoteCreate)
    if body.id is not None and (found := await _existing(svc, principal, body.id)):
        return respond(NoteEnvelope(note=NoteOut.of(found, Access.OWNER)), 200)
    tags = _dedupe(body.tags)
    if body.session_id is not None:
        member = await LiveSessionRepository(svc.db).member(body.session_id, principal.user_id)
        if member is None or member.removed_at is not None:  # (no probing for sessions either)
            raise missing_reference("sessionId", "session you joined")
    try:
        note = await NoteRepository(svc.db).create(
            principal.user_id,
            title=body.title,
            tags=tags,
            is_private=body.is_private,
            module_id=body.module_id,
            folder=body.folder,
            content_text=body.content,
            note_id=body.id,
            session_id=body.session_id,
        )
    except UnknownReference as exc:
        if body.id is not None and (found := await _existing(svc, principal, body.id)):
            return respond(NoteEnvelope(note=NoteOut.of(found, Access.OWNER)), 200)  # a race
        raise missing_reference("moduleId", "module") from exc
    await fill_new_note(svc, note, body.content)
    await announce(svc, note.id, "created", [principal.user_id])
    return respond(NoteEnvelope(note=NoteOut.of(note, Access.OWNER)), 201)


async def fill_new_note(
    svc: Services, note: Note, content: str, fmt: ContentFormat = "markdown"
) -> None:
    """Write a just-created note's `meta` and its first `content` into its document."""
    # A new note's document is normally not loaded anywhere: `meta` goes to the update log
    # without loading it (no load, store and unload per create). A client that connected in
    # between has it loaded without these keys and gets them from the row (`MetaMirror`).
    updates, live = DocumentLog(svc.db), live_server(svc)
    loaded = live if live is not None and live.is_loaded(document_name(note.id)) else None
    await edit_note(loaded, updates, note.id, lambda doc: write_meta(doc, row_meta(note)))
    await seed_note_content(live, updates, note.id, content, fmt=fmt)


async def announce(
    svc: Services, note_id: uuid.UUID, change: NoteChange, users: list[uuid.UUID] | None = None
) -> None:
    """Tell the users of a note (default: owner and shares) on their live feeds."""
    if svc.feed is not None:
        await svc.feed.note_changed(note_id, change, users)


def live_server(svc: Services) -> CollabServer | None:
    return svc.collab if isinstance(svc.collab, CollabServer) else None


async def get_note(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    note, access = await visible_note(svc, principal, path_uuid(request, "id"))
    out = NoteOut.of(note, access)
    out.content = await note_text(live_server(svc), DocumentLog(svc.db), note.id)
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
        if value is None and field == "title":
            raise invalid("title", "cannot be empty: a note needs a title")
        if value is None and field in {"tags", "is_private"}:
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
    if fields & set(META_KEYS):
        # The document's `meta` gets the same values (all of them: a note older than `meta`
        # is filled), so open editors see the change and the row mirror agrees.
        row = note
        await edit_note(live_server(svc), DocumentLog(svc.db), note_id,
                        lambda doc: write_meta(doc, row_meta(row)))
    if fields:
        await announce(svc, note_id, "updated")
    return respond(NoteEnvelope(note=NoteOut.of(note, access)))


async def delete_note(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.write")
    note_id = path_uuid(request, "id")
    _, access = await visible_note(svc, principal, note_id)
    if access is not Access.OWNER:
        raise forbidden("only the owner can delete a note")
    repo = NoteRepository(svc.db)
    audience = [principal.user_id, *(share.user_id for share in await repo.shares(note_id))]
    if not await repo.delete(note_id):
        raise not_found("note")
    await announce(svc, note_id, "deleted", audience)
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
        errors=(404, 409, 429),
        responses=((200, NoteEnvelope),),  # a retried create with the same `id`
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
