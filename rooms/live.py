"""The ``sessions`` document kind: who may open a room, and its typed actions.

``RoomKind`` is three things registered once (``api/live.py``):

* the kind's **authorizer**: only a joined, not removed participant of an existing session
  opens ``sessions/{id}``; every connection is read-only; its role is the participant row's.
  Unknown session (or malformed id) 4404, cancelled 4410, not joined or removed 4403.
* the kind's **stateless handler**: one JSON action per message, answered to the sender with
  ``{"id", "ok": true, ...}`` or ``{"id", "ok": false, "reason"}`` (``rooms.rules.REASONS``).
  Changes are applied through ``open_direct`` with origin ``server:room``, so they are stored,
  broadcast and fanned out like any edit, and the reply goes out after that.
* ``media.*`` actions go to ``rooms.media.RoomMedia`` (signaling for the process's media
  relay, docs/media.md); without one they are refused with ``media_unavailable``. A
  participant's media ends when their last connection on this node does.
* an **extension**: it gets the server (``on_configure``), adds each connection's time in
  the room to the participant's engagement data when it ends, stamps ``left_at`` when a
  participant's last connection on this node ends (a later connection clears it again), and
  recounts a room when it or its ledger changed on another node (``rooms.recount``). It is an async
  context manager: the server runs the recounts' task while it runs.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from types import TracebackType

import anyio
import anyio.abc

from collab import CloseCode, CollabServer, Extension
from collab.errors import Reject
from collab.extensions.persistence import Persistence
from collab.hooks import Change, Configure, Disconnect
from collab.kinds import Authorize, DocumentKind, StatelessReceived
from media.signaling import ACTIONS as MEDIA_ACTIONS
from rooms import document as d
from rooms.actions import apply_action, parse
from rooms.effects import carry_out
from rooms.media import RoomMedia
from rooms.recount import Recounter
from rooms.rules import DEFAULT_MAX_PARTICIPANTS, Actor, Rejected
from rooms.shared_notes import session_member
from rooms.throttle import Throttle
from storage.db import Database
from storage.sessions import LiveSessionRepository

__all__ = ["RoomKind"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Presence:
    session_id: uuid.UUID
    user_id: uuid.UUID
    since: float


class RoomKind(Extension):
    """The ``sessions`` kind's authorizer, stateless handler and presence accounting."""

    _STALE = 30.0  # seconds

    def __init__(self, database: Database, media: RoomMedia | None = None) -> None:
        self._sessions = LiveSessionRepository(database)
        self.media = media
        self._media_tg: anyio.abc.TaskGroup | None = None
        self._server: CollabServer | None = None
        self._present: dict[str, _Presence] = {}  # connection id -> since when
        self.throttle = Throttle()
        self.recounter = Recounter()
        self._persistence: Persistence | None = None

    def kind(self) -> DocumentKind:
        return DocumentKind(d.ROOM_KIND, self, stateless=self)

    async def on_configure(self, event: Configure) -> None:
        self._server = self.recounter.server = event.server
        self._persistence = next(
            (e for e in event.server.extensions if isinstance(e, Persistence)), None
        )

    async def __aenter__(self) -> RoomKind:
        await self.recounter.__aenter__()
        if self.media is not None and self._server is not None:
            self._media_tg = anyio.create_task_group()
            await self._media_tg.__aenter__()
            self._media_tg.start_soon(self.media.follow, self._server)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._media_tg = self._media_tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)
        await self.recounter.__aexit__(exc_type, exc, tb)

    async def on_change(self, event: Change) -> None:
        kind, _, doc_id = event.document.partition("/")
        if kind in (d.ROOM_KIND, d.LEDGER_KIND) and event.origin.kind == "peer":
            self.recounter.request(doc_id)

    # -- authorizer ----------------------------------------------------------------------------

    async def authorize(self, event: Authorize) -> None:
        _, member, session_id, user_id = await session_member(self._sessions, event)
        event.read_only = True
        event.role = member.role.value
        if member.left_at is not None:  # back in the room: present again (role kept) ...
            admission = await self._sessions.admit(
                session_id, user_id, default_limit=DEFAULT_MAX_PARTICIPANTS
            )
            if admission.refused is not None:  # ... if a seat is free (or it ended meanwhile)
                raise Reject(CloseCode.FORBIDDEN, f"cannot rejoin: {admission.refused}")
        self._prune()
        self._present[event.connection_id] = _Presence(session_id, user_id, time.monotonic())

    def _prune(self) -> None:
        """Forget connections that were authorized but never admitted (over a connection
        limit: no ``on_disconnect`` comes for them). Admission follows authorization within
        milliseconds, so an entry older than ``_STALE`` that the server does not hold is one."""
        server = self._server
        if server is None or len(self._present) < 2 * len(server.connections) + 100:
            return
        limit = time.monotonic() - self._STALE
        for connection_id, presence in list(self._present.items()):
            if presence.since < limit and connection_id not in server.connections:
                del self._present[connection_id]

    async def on_disconnect(self, event: Disconnect) -> None:
        presence = self._present.pop(event.connection_id, None)
        if presence is None:
            return
        seconds = round(time.monotonic() - presence.since, 3)
        still_here = any(
            p.session_id == presence.session_id and p.user_id == presence.user_id
            for p in self._present.values()
        )
        try:
            await self._sessions.add_engagement(
                presence.session_id, presence.user_id, {"secondsPresent": seconds}
            )
            if not still_here:
                await self._sessions.leave(presence.session_id, presence.user_id)
        except Exception:  # the room goes on; a lost presence interval is logged
            log.exception("could not record time present for %s", event.connection_id)
        if not still_here and self.media is not None and self._server is not None:
            # The participant's last connection here ended (left, dropped, removed: a removal
            # closes their connections on every node): their media ends on this node.
            try:
                await self.media.leave(self._server, str(presence.session_id),
                                       str(presence.user_id))
            except Exception:
                log.exception("could not end the media of %s", event.connection_id)

    # -- stateless handler ---------------------------------------------------------------------

    async def on_stateless(self, event: StatelessReceived) -> None:
        client_id: str | None = None
        try:
            client_id, action, fields = parse(event.payload)
            actor = Actor(event.principal.user_id, event.principal.name, event.role or "viewer")
            self.throttle.check(event.doc_id, actor.user_id, action, time.monotonic())
            if action in MEDIA_ACTIONS:
                data = await self.act_media(event.doc_id, action, fields, actor)
            else:
                data = await self.act(event.doc_id, action, fields, actor)
        except Rejected as rejected:
            client_id = client_id or rejected.client_id
            event.reply(_json({"id": client_id, "ok": False, "reason": rejected.reason}))
            return
        except Exception:  # a bug or a failing database: answered, and the room goes on
            log.exception("room action %r on %s failed", client_id, event.document)
            event.reply(_json({"id": client_id, "ok": False, "reason": "internal"}))
            return
        event.reply(_json({"id": client_id, "ok": True, **data}))

    async def act_media(
        self, doc_id: str, action: str, fields: dict[str, object], actor: Actor
    ) -> dict[str, object]:
        """A ``media.*`` action (``rooms.media``); ``media_unavailable`` without a relay."""
        if self.media is None or self._server is None:
            raise Rejected("media_unavailable")
        return await self.media.act(self._server, doc_id, action, fields, actor)

    async def act(
        self, doc_id: str, action: str, fields: dict[str, object], actor: Actor
    ) -> dict[str, object]:
        """Apply one action to the room and its ledger, then carry out its effects.

        Returns:
            the reply's extra fields.

        Raises:
            Rejected: nothing changed.
        """
        server = self._server
        if server is None:
            raise Rejected("internal")
        now = int(time.time() * 1000)
        async with (
            server.open_direct(d.room_name(doc_id), actor="room") as room,
            server.open_direct(d.ledger_name(doc_id), actor="room") as ledger,
        ):
            outcome = room.transact(
                lambda r: ledger.transact(
                    lambda led: apply_action(
                        action, fields, actor, r, led, now=now, defer_tallies=True
                    )
                )
            )
            if outcome.tallies_deferred:
                # The votes of a burst share one room update (rooms.recount); the voter still
                # sees the count with its vote before the reply. Awaited with both documents
                # open, so the recount finds them loaded (never an unload and a reload).
                await self.recounter.settle(doc_id)
        if self._persistence is not None:
            # Accepted means durable: the reply waits for the group commit that stores the
            # change (sharing it with every other change of the window), so an accepted
            # action survives even a kill -9 of this node.
            await self._persistence.flush(urgent=False)
        await carry_out(server, self._sessions, uuid.UUID(doc_id), outcome.effects)
        if self.media is not None and any(e.kind == "end" for e in outcome.effects):
            await self.media.end(server, doc_id, actor.user_id)
        if self.media is not None and any(e.kind in ("role", "remove") for e in outcome.effects):
            # (peer to peer: what the member may no longer send leaves the room's p2p map)
            await self.media.prune_p2p(server, doc_id)
        return outcome.data


def _json(value: dict[str, object]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
