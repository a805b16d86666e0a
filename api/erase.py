"""`DELETE /api/workbook/me`: the account and everything it owns, gone (the password confirms).

Order, and why:
1. Every session ends (api/account.py): the token epoch rises, refresh tokens are revoked, the
   user's sockets close on every node. No request of theirs can write from here on.
2. The user's documents close for everyone (4410 on every node): a collaborator's editor of
   a note the user owned, the room of a session they host.
3. The ``users`` row goes, and with it every row that references it (storage/accounts.py lists
   what the foreign keys cascade). From now on the authorizers refuse the documents: no note,
   no session.
4. Objects (recordings, note and account exports) and the documents' durable logs go; the
   logs are swept once more after ``ERASE_SETTLE_SECONDS``, for a last edit a node applied while the
   documents closed (a room records a participant leaving).
A failure after step 3 leaves files or log rows no row points at any more; the answer is then a
500 and the delete can be repeated only by an operator (`collab` logs the user id). Tests walk
every table and the object store after a delete.

In other hosts' sessions the user joined, the rooms keep the session but not the user
(rooms/forget.py: "Deleted user", a pseudonym in place of the id, exact tallies); that happens
before step 3, while the sessions' rows still name the user.
"""

from __future__ import annotations

import logging
import uuid

import anyio
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.account import confirm_password, end_every_session
from api.account_export import export_prefix
from api.auth import clear_cookies
from api.openapi import Operation
from api.schema import CamelModel, Success, parse_body, respond
from api.security import require
from api.services import Services, services
from collab import CloseCode, CollabServer, Persistence
from jobs.compaction import compact_document
from rooms.document import ledger_name, room_name
from rooms.forget import forget_in_ledger, forget_in_room, pseudonym
from storage.accounts import AccountInventory
from storage.documents import DocumentLog
from storage.users import UserRepository

__all__ = ["erase_account", "operations"]

log = logging.getLogger(__name__)

ERASE_SETTLE_SECONDS = 2.0


class DeleteAccountBody(CamelModel):
    password: str = Field(min_length=1, max_length=128)


async def erase_account(svc: Services, user_id: uuid.UUID) -> None:
    """Delete the user and everything they own (the module docstring's order)."""
    owned = await AccountInventory(svc.db).owned(user_id)
    names = owned.document_names(user_id)
    await end_every_session(svc, user_id, "account deleted")
    if svc.collab is not None:
        for name in names:
            await svc.collab.close_document(name, CloseCode.DOCUMENT_DELETED, "account deleted")
        for session_id in owned.attended_session_ids:
            await _forget_in_session(svc.collab, DocumentLog(svc.db), session_id, str(user_id))
    await UserRepository(svc.db).delete(user_id)
    svc.epochs.forget(user_id)
    if svc.epoch_bus is not None:
        await svc.epoch_bus.announce(user_id)
    keys = set(owned.object_keys) | set(await svc.objects.keys(f"audio/{user_id}/"))
    keys |= set(await svc.objects.keys(export_prefix(user_id)))
    for note_id in owned.note_ids:
        keys |= set(await svc.objects.keys(f"exports/{note_id}/"))
    for key in sorted(keys):
        await svc.objects.delete(key)
    logs = DocumentLog(svc.db)
    for name in names:
        await logs.delete(name)
    await anyio.sleep(ERASE_SETTLE_SECONDS)
    for name in names:
        await logs.delete(name)
    log.info(
        "deleted account %s: %d documents, %d objects", user_id, len(names), len(keys)
    )


async def _forget_in_session(
    server: CollabServer, logs: DocumentLog, session_id: uuid.UUID, user_id: str
) -> None:
    alias = pseudonym()
    async with (
        server.open_direct(room_name(session_id), actor="erase") as room,
        server.open_direct(ledger_name(session_id), actor="erase") as ledger,
    ):
        room.transact(lambda doc: forget_in_room(doc, user_id, alias))
        ledger.transact(lambda doc: forget_in_ledger(doc, room.doc, user_id, alias))
    # The logs still hold the old entries in their history: once the rewrite is durable, fold
    # each log into one snapshot of the current state (deleted content is not encoded).
    for extension in server.extensions:
        if isinstance(extension, Persistence):
            await extension.flush()
    for name in (room_name(session_id), ledger_name(session_id)):
        await compact_document(logs, name)


async def delete_me(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    body = await parse_body(request, DeleteAccountBody)
    await confirm_password(svc, principal.user_id, body.password, "password")
    await erase_account(svc, principal.user_id)
    response = respond(Success())
    clear_cookies(response, svc)
    return response


operations = [
    Operation(
        "DELETE",
        "/api/workbook/me",
        delete_me,
        "Delete my account and everything I own (confirm with the password)",
        "auth",
        body=DeleteAccountBody,
        response=Success,
        permission="workbook.read",
        errors=(403, 429),
    ),
]
