"""Peer-to-peer media for small meetings: the room's media mode and the ``media.p2p.*`` actions
(docs/media.md, "Peer-to-peer mode").

The mode is the server's decision, written into the room document (``state.mediaMode``:
``{"mode": "p2p" | "relay", "reason": ...}``) so every page on every node sees the same one.
The rule (``next_mode``), one-way per *period* so that a room never flaps:

* ``relay`` when P2P is off (a limit of 0) or a recording runs (the relay records);
* in ``p2p``: the room moves to ``relay`` when a member reports a P2P failure, when publishers
  (peer to peer and through the relay together) exceed the limit, or when anyone publishes to
  the relay (a page that cannot do P2P); the pages move their publications then;
* in ``relay`` the room stays there. A period ends when the last publication through the relay
  ends and nobody publishes peer to peer (and no recording runs): the next publication tries
  ``p2p`` again. (Not "whenever nobody publishes": right after a switch nobody has republished
  yet, and the room must not fall back to ``p2p`` then.)

What members send peer to peer is in the room's ``p2p`` map (userId -> source ->
``{"muted": bool}``, the shape of the ``media`` map the relay's publications are mirrored into),
written here only: on ``media.p2p.publish`` (checked with ``may_publish``), pruned when a member
leaves, is removed or may no longer send a source (``prune``). A page receiving media from a
member who drops out of that map closes the connection: a removal or role downgrade ends P2P
from the room state, on every node.

Offers, answers and candidates addressed to a member (``to``) go to that member's connections
of this room only, on every node (``CollabServer.broadcast_stateless(user_id=...)``), as a push
``{"push": <action>, "from": <sender>, "cid", ...}``. A description is checked for what its
author would send: a viewer sends nothing, others only kinds they may publish and have
published peer to peer (``media.signaling.p2p_sends``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from collab import CollabServer
from collab.types import YDoc
from media.signaling import P2pFailed, P2pIce, P2pPublish, P2pSignal, p2p_sends
from rooms import document as d
from rooms.rules import Actor, Rejected

__all__ = ["MODE", "P2P", "P2pRooms", "clear", "next_mode", "prune", "settle"]

P2P = "p2p"  # room Map: userId -> {source: {"muted": bool}} sent peer to peer
MODE = "mediaMode"  # in the room's state Map: {"mode", "reason"}
RECORDING = "recording"  # (rooms.media.RECORDING: the same key of the state Map)

Mode = Literal["p2p", "relay"]
MayPublish = Callable[[str, Mapping[str, Any], str], bool]  # rooms.media.may_publish


def next_mode(current: str | None, *, limit: int, publishers: int, relay_publishers: int,
              recording: bool, moved: str | None = None, ended: bool = False
              ) -> tuple[Mode, str]:
    """The room's media mode and why, from the current one and what the room holds now.

    ``publishers`` counts every member who sends (P2P or relay), ``relay_publishers`` those
    sending through the relay; ``moved``: why the room must leave ``p2p`` now (``failed``: a
    member's P2P connection failed; ``recording``: one is starting); ``ended``: the last relay
    publication just ended."""
    if limit <= 0:
        return "relay", "disabled"
    if recording:
        return "relay", "recording"
    if current == "relay":
        return ("p2p", "idle") if ended and not publishers else ("relay", "kept")
    if moved:
        return "relay", moved
    if publishers > limit:
        return "relay", "publishers"
    if relay_publishers:
        return "relay", "relay_publisher"
    return "p2p", "small"


def current_mode(doc: YDoc) -> str | None:
    value = d.state(doc).get(MODE)
    return str(value.get("mode")) if isinstance(value, Mapping) else None


def clear(doc: YDoc) -> None:
    """Nobody sends peer to peer any more (the session ended)."""
    p2p = d.ymap(doc, P2P)
    for user_id in d.keys(p2p):
        del p2p[user_id]


def settle(doc: YDoc, limit: int, *, moved: str | None = None, adding: str | None = None,
           ended: bool = False) -> Mode:
    """Write the room's mode after a change (inside the change's transaction). Moving to
    ``relay`` empties the ``p2p`` map: its pages publish to the relay instead.

    ``adding``: a member about to publish peer to peer, counted as a publisher; ``ended``: a
    relay publication just ended (``next_mode``)."""
    state = d.ymap(doc, d.STATE)
    p2p, media = d.ymap(doc, P2P), d.ymap(doc, "media")
    senders = set(d.keys(p2p)) | set(d.keys(media))
    if adding is not None:
        senders.add(adding)
    recording = state.get(RECORDING) is not None
    current = current_mode(doc)
    mode, reason = next_mode(current, limit=limit, publishers=len(senders),
                             relay_publishers=len(d.keys(media)), recording=recording,
                             moved=moved, ended=ended)
    if mode == "relay":
        for user_id in d.keys(p2p):
            del p2p[user_id]
    was = state.get(MODE)
    if current != mode or not isinstance(was, Mapping):
        state[MODE] = {"mode": mode, "reason": reason}
    return mode


def prune(doc: YDoc, may: MayPublish) -> bool:
    """Drop from the ``p2p`` map what its members may no longer send (removed, gone from the
    participants, or ``may(role, settings, source)`` false). Returns whether anything went."""
    p2p = d.ymap(doc, P2P)
    participants = d.ymap(doc, d.PARTICIPANTS)
    settings = d.settings(doc)
    changed = False
    for user_id in d.keys(p2p):
        member = d.entry(participants, user_id) or {}
        role = str(member.get("role", "viewer"))
        sent = d.entry(p2p, user_id) or {}
        kept = {s: v for s, v in sent.items()
                if not member.get("removed") and member and may(role, settings, s)}
        if kept == sent:
            continue
        changed = True
        if kept:
            p2p[user_id] = kept
        else:
            del p2p[user_id]
    return changed


class P2pRooms:
    """The ``media.p2p.*`` actions (``rooms.media.RoomMedia`` hands them here).

    Args:
        limit: the most publishers a room may have peer to peer (0: never P2P).
        may: ``rooms.media.may_publish``.
    """

    def __init__(self, limit: int, may: MayPublish) -> None:
        self.limit = limit
        self.may = may

    async def act(self, server: CollabServer, doc_id: str, message: object, actor: Actor,
                  status: str, settings: Mapping[str, Any]) -> dict[str, object]:
        name = d.room_name(doc_id)
        user = actor.user_id
        if isinstance(message, P2pFailed):
            async with server.open_direct(name, actor="room") as room:
                mode = room.transact(lambda doc: settle(doc, self.limit, moved="failed"))
            return {"mode": mode}
        if status != "live":
            raise Rejected("not_started")
        if isinstance(message, P2pPublish):
            if any(not self.may(actor.role, settings, s) for s in message.sources):
                raise Rejected("not_allowed")

            def publish(doc: YDoc) -> Mode:
                p2p = d.ymap(doc, P2P)
                if not message.sources:
                    if user in d.keys(p2p):
                        del p2p[user]
                    return settle(doc, self.limit)
                if settle(doc, self.limit, adding=user) == "relay":
                    return "relay"  # (over the limit, or the room is in relay already)
                before = d.entry(p2p, user) or {}
                entry = {s: before.get(s, {"muted": False}) for s in message.sources}
                if entry != before:
                    p2p[user] = entry
                return "p2p"

            async with server.open_direct(name, actor="room") as room:
                mode = room.transact(publish)
            return {"mode": mode}
        if not isinstance(message, (P2pSignal, P2pIce)):
            raise Rejected("invalid")
        push: dict[str, object] = {"from": user, "cid": message.cid}
        async with server.open_direct(name, actor="room") as room:
            target = d.entry(d.ymap(room.doc, d.PARTICIPANTS), message.to)
            if message.to == user or target is None or target.get("removed"):
                raise Rejected("not_found")
            if current_mode(room.doc) != "p2p":
                raise Rejected("media_mode")
            published = d.entry(d.ymap(room.doc, P2P), user) or {}
        if isinstance(message, P2pSignal):
            self._check_sends(message.sdp, actor.role, settings, published)
            push.update({"push": f"media.p2p.{message.kind}", "sdp": message.sdp})
            if message.kind == "offer":
                push["tracks"] = [{"mid": m, "source": s} for m, s in message.tracks.items()]
        else:
            push.update({"push": "media.p2p.ice", "candidate": message.candidate,
                         "sdpMid": message.sdp_mid})
        payload = json.dumps(push, separators=(",", ":"))
        await server.broadcast_stateless(name, payload, user_id=message.to)
        return {}

    def _check_sends(self, sdp: str, role: str, settings: Mapping[str, Any],
                     published: Mapping[str, Any]) -> None:
        """Refuse a description whose author would send what it may not (``not_allowed``) or
        has not published peer to peer (``not_found``); a data channel is ``invalid``."""
        kinds = p2p_sends(sdp)
        if "application" in kinds:
            raise Rejected("invalid")
        wanted = {"audio": ("audio",), "video": ("camera", "screen")}
        for kind in kinds:
            sources = wanted.get(kind)
            if sources is None:
                raise Rejected("invalid")
            if not any(self.may(role, settings, s) for s in sources):
                raise Rejected("not_allowed")
            if not any(s in published for s in sources):
                raise Rejected("not_found")
