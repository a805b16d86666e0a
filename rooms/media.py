"""Media signaling on the room's socket: ``media.*`` actions checked and handed to the relay.

The relay (``media.relay``) knows peer connections and tracks; this module knows the room: the
sender's role (from the connection, kept current on promotion), the session's status and its
settings. Who may publish (docs/media.md, "Who may publish"):

* ``audio`` and ``camera``: hosts and co-hosts always; participants and presenters when
  ``whoMayUnmute`` is ``everyone``;
* ``screen``: hosts and co-hosts always; participants and presenters when ``whoMayShare`` is
  ``everyone``;
* viewers never. Anyone in the room may subscribe.

What is published, and its mute state, is mirrored into the room document's ``media`` map
(userId → source → ``{"muted": bool}``), so every page (on every node) sees who sends what and
offers again on its subscribe connection when it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from collab import CollabServer
from collab.types import YDoc
from media.relay import MediaRefused, MediaRelay
from media.signaling import (
    Config,
    Ice,
    Leave,
    Mute,
    Publish,
    SignalingError,
    Subscribe,
    Unpublish,
)
from media.signaling import parse as parse_media
from rooms import document as d
from rooms.rules import HOSTS, SPEAKERS, Actor, Rejected

__all__ = ["MEDIA", "RoomMedia", "may_publish"]

log = logging.getLogger(__name__)

MEDIA = "media"  # room Map: userId -> {source: {"muted": bool}}


def may_publish(role: str, settings: Mapping[str, Any], source: str) -> bool:
    """Whether ``role`` may send ``source`` under the session's ``settings``."""
    if role in HOSTS:
        return True
    if role not in SPEAKERS:
        return False
    setting = "whoMayShare" if source == "screen" else "whoMayUnmute"
    default = "hosts" if source == "screen" else "everyone"
    return bool(settings.get(setting, default) == "everyone")


class RoomMedia:
    """Handles the ``media.*`` actions of every room on this node.

    Args:
        relay: the running relay of this process.
    """

    def __init__(self, relay: MediaRelay) -> None:
        self.relay = relay

    async def act(
        self, server: CollabServer, doc_id: str, action: str, fields: Mapping[str, Any],
        actor: Actor,
    ) -> dict[str, object]:
        """Check and carry out one media action.

        Returns:
            the reply's extra fields (``sdp`` for offers, ``iceServers`` and ``limits``).

        Raises:
            Rejected: invalid, not_allowed, not_started, session_ended, not_found, media_limit,
                media_unavailable; nothing changed.
        """
        try:
            message = parse_media(action, fields)
        except SignalingError:
            raise Rejected("invalid") from None
        name = d.room_name(doc_id)
        async with server.open_direct(name, actor="room") as room:
            status = d.status(room.doc)
            settings = d.settings(room.doc)
        if status in ("ended", "cancelled") and not isinstance(message, Leave):
            raise Rejected("session_ended")
        try:
            return await self._carry_out(server, doc_id, message, actor, status, settings)
        except MediaRefused as refused:
            raise Rejected(refused.reason) from None

    async def _carry_out(
        self, server: CollabServer, doc_id: str, message: object, actor: Actor, status: str,
        settings: Mapping[str, Any],
    ) -> dict[str, object]:
        relay, user = self.relay, actor.user_id
        if isinstance(message, Config):
            return {"iceServers": [s.as_json() for s in relay.client_ice_servers],
                    "limits": relay.limits.as_json()}
        if isinstance(message, Publish):
            if status != "live":
                raise Rejected("not_started")
            if any(not may_publish(actor.role, settings, s) for s in message.tracks.values()):
                raise Rejected("not_allowed")
            answer = await relay.publish(doc_id, user, message.sdp, message.tracks)
            await self.mirror(server, doc_id)
            return {"sdp": answer}
        if isinstance(message, Subscribe):
            answer = await relay.subscribe(doc_id, user, message.sdp, message.tracks)
            return {"sdp": answer}
        if isinstance(message, Unpublish):
            if await relay.unpublish(doc_id, user, message.source):
                await self.mirror(server, doc_id)
            return {}
        if isinstance(message, Ice):
            if not await relay.add_candidate(doc_id, user, message.pc, message.candidate,
                                             message.sdp_mid):
                raise Rejected("not_found")
            return {}
        if isinstance(message, Mute):
            if not message.muted and not may_publish(actor.role, settings, message.source):
                raise Rejected("not_allowed")
            if message.source not in relay.publications(doc_id).get(user, []):
                raise Rejected("not_found")
            await self.mirror(server, doc_id, muted={message.source: message.muted}, user=user)
            return {}
        await self.leave(server, doc_id, user)
        return {}

    async def follow(self, server: CollabServer) -> None:
        """Mirror the rooms whose publications the relay reports changed on their own (a
        publisher's connection failed); runs until the relay closes its ``changes``."""
        async for room_id in self.relay.changes:
            try:
                await self.mirror(server, room_id)
            except Exception:
                log.exception("could not mirror the media of room %s", room_id)

    async def leave(self, server: CollabServer, doc_id: str, user_id: str) -> None:
        """End a participant's media in a room (they left, were removed, or asked)."""
        await self.relay.leave(doc_id, user_id)
        await self.mirror(server, doc_id)

    async def mirror(
        self, server: CollabServer, doc_id: str, *, muted: Mapping[str, bool] | None = None,
        user: str | None = None,
    ) -> None:
        """Write this node's publications of the room into its ``media`` map (mute kept)."""
        published = self.relay.publications(doc_id)

        def write(doc: YDoc) -> None:
            media = d.ymap(doc, MEDIA)
            for user_id in d.keys(media):
                if user_id not in published:
                    del media[user_id]
            for user_id, sources in published.items():
                before = d.entry(media, user_id) or {}
                entry: dict[str, Any] = {}
                for source in sources:
                    was = before.get(source)
                    mute = bool(was.get("muted")) if isinstance(was, Mapping) else False
                    if user_id == user and muted is not None and source in muted:
                        mute = muted[source]
                    entry[source] = {"muted": mute}
                if entry != before:
                    media[user_id] = entry

        async with server.open_direct(d.room_name(doc_id), actor="room") as room:
            room.transact(write)
