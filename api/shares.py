"""`/api/workbook/notes/{id}/shares`: the owner shares a note by email, read or write.

Changes reach live editors at once: a revoked user's connections close with 4403 and a
downgrade to read makes their open connections read-only (an upgrade lifts it). The owner and
every share hear `shared` (a new share or a changed permission) or `unshared` on their feeds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.auth import EMAIL_PATTERN
from api.errors import ApiError, forbidden, not_found
from api.notes import announce, control_live, notes_guard, visible_note
from api.openapi import Operation
from api.schema import CamelModel, Success, parse_body, path_uuid, respond
from collab.control import Control
from collab.errors import CloseCode
from storage.models import NoteShare, Permission, User
from storage.notes import Access, NoteRepository, UnknownReference
from storage.users import UserRepository

PermissionName = Literal["read", "write"]


class ShareCreate(CamelModel):
    email: str = Field(max_length=255, pattern=EMAIL_PATTERN)
    permission: PermissionName = "read"


class ShareOut(CamelModel):
    user_id: str
    email: str
    name: str
    permission: PermissionName
    created_at: datetime

    @classmethod
    def of(cls, share: NoteShare, user: User | None) -> ShareOut:
        return cls(
            user_id=str(share.user_id),
            email=user.email if user else "",
            name=user.name if user else "",
            permission=share.permission.value,
            created_at=share.created_at,
        )


class ShareEnvelope(CamelModel):
    success: bool = True
    share: ShareOut


class ShareList(CamelModel):
    shares: list[ShareOut]


async def list_shares(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.read")
    note, access = await visible_note(svc, principal, path_uuid(request, "id"))
    if access is not Access.OWNER:
        raise forbidden("only the owner can see a note's shares")
    shares = await NoteRepository(svc.db).shares(note.id)
    users = await UserRepository(svc.db).get_many([s.user_id for s in shares])
    return respond(ShareList(shares=[ShareOut.of(s, users.get(s.user_id)) for s in shares]))


async def create_share(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.write")
    note, access = await visible_note(svc, principal, path_uuid(request, "id"))
    body = await parse_body(request, ShareCreate)
    if access is not Access.OWNER:
        raise forbidden("only the owner can share a note")
    user = await UserRepository(svc.db).get_by_email(body.email)
    if user is None:
        raise not_found("user with this email")
    if user.id == note.owner_id:  # a valid request the note's state refuses: 409
        raise ApiError(
            409,
            "email: you own this note already",
            fields=[{"field": "email", "message": "you own this note already"}],
        )
    repo = NoteRepository(svc.db)
    try:
        share = await repo.share(note.id, user.id, Permission(body.permission))
    except UnknownReference as exc:
        raise not_found("user with this email") from exc
    if share is None:
        raise not_found("note")
    read_only = share.permission is Permission.READ
    role = "read" if read_only else "write"
    await control_live(
        svc, Control.access(f"notes/{note.id}", str(user.id), read_only=read_only, role=role)
    )
    await announce(svc, note.id, "shared")
    return respond(ShareEnvelope(share=ShareOut.of(share, user)), 201)


async def delete_share(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.write")
    note, access = await visible_note(svc, principal, path_uuid(request, "id"))
    user_id = path_uuid(request, "userId")
    if access is not Access.OWNER and user_id != principal.user_id:
        raise forbidden("only the owner can remove other people's access")
    repo = NoteRepository(svc.db)
    audience = [note.owner_id, *(share.user_id for share in await repo.shares(note.id))]
    if not await repo.unshare(note.id, user_id):
        raise not_found("share")
    command = Control.close(
        f"notes/{note.id}", CloseCode.FORBIDDEN, "access revoked", user_id=str(user_id)
    )
    await control_live(svc, command)
    await announce(svc, note.id, "unshared", audience)
    return respond(Success())


_S = "/api/workbook/notes/{id}/shares"
operations = [
    Operation(
        "GET",
        _S,
        list_shares,
        "A note's shares (owner only)",
        "notes",
        response=ShareList,
        permission="workbook.read",
        errors=(404, 429),
    ),
    Operation(
        "POST",
        _S,
        create_share,
        "Share a note by email, or change the permission",
        "notes",
        body=ShareCreate,
        response=ShareEnvelope,
        status=201,
        permission="workbook.write",
        errors=(404, 409, 429),
    ),
    Operation(
        "DELETE",
        f"{_S}/{{userId}}",
        delete_share,
        "Revoke a share (owner; or a sharee leaving)",
        "notes",
        response=Success,
        permission="workbook.write",
        errors=(404, 429),
    ),
]
