"""The per-user live feed: the document kind ``users/<userId>`` and what is sent on it.

A client keeps one socket open on ``/collab/users/<its own user id>?token=…&stateless=1``
instead of polling the notes list. The document stays empty (the connection is read-only) and
carries only stateless messages (type 100, docs/protocol.md), each a JSON payload::

    {"type": "notes.changed", "noteId": "<uuid>", "change": "created"}

``change`` is one of `CHANGES`. It goes to the owner of the note and to every user it is
shared with, on whichever node they are connected (``CollabServer.broadcast_stateless``
relays through the fan-out). ``updated`` is coalesced per note and user: at most one per
``coalesce`` seconds, the last one always sent (a title typed letter by letter is a few
messages, and the final title is never missed). Delivery is at most once, like awareness: a
client that reconnects refetches the list.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Literal, Protocol

import anyio

from collab.background import Background
from collab.errors import CloseCode, Reject
from collab.hooks import Configure, Extension
from collab.kinds import Authorize
from collab.server import CollabServer

__all__ = [
    "CHANGES",
    "FEED_KIND",
    "Audience",
    "FeedAuthorizer",
    "NoteChange",
    "NoteFeed",
    "feed_document",
    "feed_message",
]

log = logging.getLogger(__name__)

FEED_KIND = "users"
NoteChange = Literal["created", "updated", "deleted", "shared", "unshared"]
CHANGES: tuple[NoteChange, ...] = ("created", "updated", "deleted", "shared", "unshared")


def feed_document(user_id: uuid.UUID | str) -> str:
    """The feed document of a user: ``users/<id>``."""
    return f"{FEED_KIND}/{user_id}"


def feed_message(note_id: uuid.UUID | str, change: NoteChange) -> str:
    """The stateless payload telling a client that its notes list changed."""
    return json.dumps({"type": "notes.changed", "noteId": str(note_id), "change": change})


class FeedAuthorizer:
    """The ``users`` kind: only the user themself connects, read-only."""

    async def authorize(self, event: Authorize) -> None:
        if event.doc_id != event.principal.user_id:
            raise Reject(CloseCode.FORBIDDEN, "this feed belongs to another user")
        event.read_only = True


class Audience(Protocol):
    """Who a note's changes concern (`storage.NoteMetaStore` implements it)."""

    async def audience(self, note_id: uuid.UUID) -> list[uuid.UUID]:
        """The owner and every user the note is shared with."""
        ...


class NoteFeed(Background, Extension):
    """Sends ``notes.changed`` messages on the users' feeds (a collab extension for the server
    it runs in, and an async context manager for its coalescing timers).

    Args:
        audience: finds the users of a note when the caller does not name them.
        coalesce: seconds between two ``updated`` messages for one note and user.
    """

    priority = 5

    def __init__(self, audience: Audience, *, coalesce: float = 1.0) -> None:
        self._audience = audience
        self._coalesce = coalesce
        self._server: CollabServer | None = None
        self._last: dict[tuple[str, str], float] = {}  # (user, note) -> last "updated" sent
        self._pending: set[tuple[str, str]] = set()  # a trailing "updated" is scheduled
        self.sent = 0
        """Messages handed to the server so far (for tests and metrics)."""

    async def on_configure(self, event: Configure) -> None:
        self._server = event.server

    async def note_changed(
        self,
        note_id: uuid.UUID,
        change: NoteChange,
        users: Iterable[uuid.UUID] | None = None,
    ) -> None:
        """Tell ``users`` (default: the note's owner and shares, read now) that ``note_id``
        changed. Never raises: the change itself is already done."""
        try:
            targets = list(users) if users is not None else await self._audience.audience(note_id)
            for user in dict.fromkeys(targets):
                if change == "updated":
                    await self._updated(str(user), str(note_id))
                else:
                    await self._send(str(user), str(note_id), change)
        except Exception:
            log.exception("notes feed: announcing %s of %s failed", change, note_id)

    async def _updated(self, user: str, note: str) -> None:
        key = (user, note)
        if key in self._pending:
            return  # the trailing message will carry it
        now = time.monotonic()
        last = self._last.get(key)
        if last is None or now - last >= self._coalesce or self._group is None:
            self._remember(key, now)
            await self._send(user, note, "updated")
            return
        self._pending.add(key)
        self._group.start_soon(self._trailing, key, last + self._coalesce - now)

    async def _trailing(self, key: tuple[str, str], delay: float) -> None:
        await anyio.sleep(delay)
        self._pending.discard(key)
        self._remember(key, time.monotonic())
        try:
            await self._send(*key, "updated")
        except Exception:
            log.exception("notes feed: announcing an update of %s failed", key[1])

    def _remember(self, key: tuple[str, str], now: float) -> None:
        if len(self._last) > 10_000:  # forget pairs whose window is over
            self._last = {k: t for k, t in self._last.items() if now - t < self._coalesce}
        self._last[key] = now

    async def _send(self, user: str, note: str, change: NoteChange) -> None:
        server = self._server
        if server is None:
            return
        await server.broadcast_stateless(feed_document(user), feed_message(note, change))
        self.sent += 1
