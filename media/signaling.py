"""The media signaling messages, parsed and checked without I/O (docs/media.md, "Signaling").

Signaling rides the room's socket as room actions named ``media.*``. The client always offers,
on two peer connections per participant (the *publish* connection carries what it sends, the
*subscribe* connection what it receives), so the server only answers and no offer ever crosses
another (no glare). What exists to subscribe to is in the room document's ``media`` map, which
the server writes; a client that sees it change offers again on its subscribe connection.

| action | fields | reply |
| --- | --- | --- |
| ``media.config`` | — | ``iceServers``, ``limits`` |
| ``media.publish`` | ``sdp`` (offer), ``tracks`` ``[{mid, source}]`` | ``sdp`` (answer) |
| ``media.unpublish`` | ``source`` | — |
| ``media.subscribe`` | ``sdp`` (offer), ``tracks`` ``[{mid, userId, source}]`` | ``sdp`` (answer) |
| ``media.ice`` | ``pc`` (``publish``/``subscribe``), ``candidate``, ``sdpMid`` | — |
| ``media.mute`` | ``source``, ``muted``, ``userId`` (optional: a host muting another) | — |
| ``media.leave`` | — | — |
| ``media.record`` | ``on``, ``userId`` (optional: the sender) | ``objectKey``, ``duration`` |

``source`` is ``audio``, ``camera`` or ``screen``; ``audio`` rides an audio m-line, the other two
video m-lines. A ``publish`` offer lists every source the client sends on that connection: a
source published before and missing now is unpublished. The same holds for ``subscribe``.

Peer-to-peer mode (docs/media.md, "Peer-to-peer mode"): while the room document's
``state.mediaMode`` is ``p2p``, pages connect to each other directly. One connection per
(publisher, receiver) pair, always offered by the **receiver** (recvonly sections), answered by
the publisher, so two offers never cross. The server relays the ``to``-addressed messages to
that member's pages only (``from`` added) and checks every description for what its author sends.

| action | fields | reply |
| --- | --- | --- |
| ``media.p2p.publish`` | ``sources`` (what the sender sends peer to peer, may be empty) | — |
| ``media.p2p.offer`` | ``to``, ``cid``, ``sdp``, ``tracks`` ``[{mid, source}]`` wanted | — |
| ``media.p2p.answer`` | ``to``, ``cid``, ``sdp`` | — |
| ``media.p2p.ice`` | ``to``, ``cid``, ``candidate``, ``sdpMid`` | — |
| ``media.p2p.failed`` | ``with`` (optional: the peer) | — |

``cid`` names one peer connection (chosen by its offerer): a second page of the same member
answering the same offer is told apart by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

from media.sdp import sections

__all__ = [
    "ACTIONS",
    "KIND_OF",
    "MAX_SDP",
    "P2P_ACTIONS",
    "SOURCES",
    "Config",
    "Ice",
    "Leave",
    "Message",
    "Mute",
    "P2pFailed",
    "P2pIce",
    "P2pPublish",
    "P2pSignal",
    "Publish",
    "Record",
    "SignalingError",
    "Subscribe",
    "Unpublish",
    "p2p_sends",
    "parse",
]

Source = Literal["audio", "camera", "screen"]
SOURCES: tuple[Source, ...] = ("audio", "camera", "screen")
KIND_OF: dict[str, str] = {"audio": "audio", "camera": "video", "screen": "video"}
MAX_SDP = 24 * 1024  # characters; a browser's offer with three m-lines is about 6 KB
MAX_TRACKS = 64  # entries of a subscribe offer
_MID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_CANDIDATE = re.compile(r"^(candidate:)?\S+ \d+ \S+ \d+ \S+ \d+ typ \S+( .*)?$")


class SignalingError(Exception):
    """A malformed message: ``field`` names what is wrong (reason code ``invalid``)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"invalid {field}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Config:
    pass


@dataclass(frozen=True, slots=True)
class Publish:
    sdp: str
    tracks: dict[str, Source]  # mid -> source


@dataclass(frozen=True, slots=True)
class Unpublish:
    source: Source


@dataclass(frozen=True, slots=True)
class Subscribe:
    sdp: str
    tracks: dict[str, tuple[str, Source]]  # mid -> (publisher's user id, source)


@dataclass(frozen=True, slots=True)
class Ice:
    pc: Literal["publish", "subscribe"]
    candidate: str  # the a=candidate value, "candidate:" prefix stripped
    sdp_mid: str


@dataclass(frozen=True, slots=True)
class Mute:
    source: Source
    muted: bool
    user_id: str | None = None  # whose source; None: the sender's (a host's forced mute)


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Record:
    on: bool
    user_id: str | None  # whose media; None: the sender's


@dataclass(frozen=True, slots=True)
class P2pPublish:
    sources: tuple[Source, ...]  # what the sender now sends peer to peer (sorted, unique)


@dataclass(frozen=True, slots=True)
class P2pSignal:
    kind: Literal["offer", "answer"]
    to: str  # the member addressed
    cid: str  # the peer connection, named by its offerer
    sdp: str
    tracks: dict[str, Source] = field(default_factory=dict)  # offer: mid -> source wanted


@dataclass(frozen=True, slots=True)
class P2pIce:
    to: str
    cid: str
    candidate: str  # with its "candidate:" prefix, as the browser gave it
    sdp_mid: str


@dataclass(frozen=True, slots=True)
class P2pFailed:
    peer: str | None  # the member the connection failed with, when known


Message = (Config | Publish | Unpublish | Subscribe | Ice | Mute | Leave | Record | P2pPublish
           | P2pSignal | P2pIce | P2pFailed)

P2P_ACTIONS = frozenset({
    "media.p2p.publish", "media.p2p.offer", "media.p2p.answer", "media.p2p.ice",
    "media.p2p.failed",
})
ACTIONS = frozenset({
    "media.config", "media.publish", "media.unpublish", "media.subscribe", "media.ice",
    "media.mute", "media.leave", "media.record",
}) | P2P_ACTIONS
_CID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def parse(action: str, fields: Mapping[str, Any]) -> Message:
    """The typed message of one ``media.*`` action.

    Raises:
        SignalingError: naming the first malformed field; ``action`` for an unknown action.
    """
    if action == "media.config":
        return Config()
    if action == "media.publish":
        sdp = _sdp(fields)
        tracks: dict[str, Source] = {}
        for entry in _entries(fields, limit=len(SOURCES)):
            mid = _mid(entry)
            source = _source(entry)
            if mid in tracks or source in tracks.values():
                raise SignalingError("tracks")
            tracks[mid] = source
        return Publish(sdp, tracks)
    if action == "media.unpublish":
        return Unpublish(_source(fields))
    if action == "media.subscribe":
        sdp = _sdp(fields)
        wanted: dict[str, tuple[str, Source]] = {}
        for entry in _entries(fields, limit=MAX_TRACKS):
            mid = _mid(entry)
            user_id = entry.get("userId")
            if not isinstance(user_id, str) or not 0 < len(user_id) <= 64:
                raise SignalingError("tracks.userId")
            pair = (user_id, _source(entry))
            if mid in wanted or pair in wanted.values():
                raise SignalingError("tracks")
            wanted[mid] = pair
        return Subscribe(sdp, wanted)
    if action == "media.ice":
        pc = fields.get("pc")
        if pc not in ("publish", "subscribe"):
            raise SignalingError("pc")
        candidate = fields.get("candidate")
        if not isinstance(candidate, str) or len(candidate) > 512 or not _CANDIDATE.match(
            candidate
        ):
            raise SignalingError("candidate")
        sdp_mid = fields.get("sdpMid")
        if not isinstance(sdp_mid, str) or not _MID.match(sdp_mid):
            raise SignalingError("sdpMid")
        return Ice(pc, candidate.removeprefix("candidate:"), sdp_mid)
    if action == "media.mute":
        muted = fields.get("muted")
        if not isinstance(muted, bool):
            raise SignalingError("muted")
        return Mute(_source(fields), muted, _opt_user(fields))
    if action == "media.leave":
        return Leave()
    if action == "media.record":
        on = fields.get("on")
        if not isinstance(on, bool):
            raise SignalingError("on")
        return Record(on, _opt_user(fields))
    if action in P2P_ACTIONS:
        return _parse_p2p(action, fields)
    raise SignalingError("action")


def _opt_user(fields: Mapping[str, Any]) -> str | None:
    user_id = fields.get("userId")
    if user_id is not None and (not isinstance(user_id, str) or not 0 < len(user_id) <= 64):
        raise SignalingError("userId")
    return user_id


def _parse_p2p(action: str, fields: Mapping[str, Any]) -> Message:
    if action == "media.p2p.publish":
        sources = fields.get("sources")
        if not isinstance(sources, list) or len(sources) > len(SOURCES):
            raise SignalingError("sources")
        picked = {_source({"source": s}) for s in sources}
        if len(picked) != len(sources):
            raise SignalingError("sources")
        return P2pPublish(tuple(s for s in SOURCES if s in picked))
    if action == "media.p2p.failed":
        peer = fields.get("with")
        if peer is not None and not _user_id(peer):
            raise SignalingError("with")
        return P2pFailed(peer)
    to = fields.get("to")
    if not _user_id(to):
        raise SignalingError("to")
    cid = fields.get("cid")
    if not isinstance(cid, str) or not _CID.match(cid):
        raise SignalingError("cid")
    if action == "media.p2p.ice":
        candidate = fields.get("candidate")
        if not isinstance(candidate, str) or len(candidate) > 512 or not _CANDIDATE.match(
            candidate
        ):
            raise SignalingError("candidate")
        sdp_mid = fields.get("sdpMid")
        if not isinstance(sdp_mid, str) or not _MID.match(sdp_mid):
            raise SignalingError("sdpMid")
        return P2pIce(to, cid, candidate, sdp_mid)
    sdp = _sdp(fields)
    tracks: dict[str, Source] = {}
    if action == "media.p2p.offer":
        for entry in _entries(fields, limit=len(SOURCES)):
            mid, source = _mid(entry), _source(entry)
            if mid in tracks or source in tracks.values():
                raise SignalingError("tracks")
            tracks[mid] = source
        return P2pSignal("offer", to, cid, sdp, tracks)
    return P2pSignal("answer", to, cid, sdp)


def p2p_sends(sdp: str) -> frozenset[str]:
    """The kinds a peer-to-peer description's author would send: ``audio``/``video`` for each
    sending section, ``application`` for any data channel section (pages never open one, so the
    server refuses it: it would carry anything)."""
    kinds = {s.kind for s in sections(sdp) if s.sends}
    kinds.update(s.kind for s in sections(sdp) if s.kind == "application" and s.port != 0)
    return frozenset(kinds)


def _user_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= 64


def _sdp(fields: Mapping[str, Any]) -> str:
    sdp = fields.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP:
        raise SignalingError("sdp")
    return sdp


def _entries(fields: Mapping[str, Any], *, limit: int) -> list[Mapping[str, Any]]:
    tracks = fields.get("tracks")
    if not isinstance(tracks, list) or len(tracks) > limit:
        raise SignalingError("tracks")
    if not all(isinstance(entry, dict) for entry in tracks):
        raise SignalingError("tracks")
    return tracks


def _mid(entry: Mapping[str, Any]) -> str:
    mid = entry.get("mid")
    if not isinstance(mid, str) or not _MID.match(mid):
        raise SignalingError("tracks.mid")
    return mid


def _source(entry: Mapping[str, Any]) -> Source:
    source = entry.get("source")
    for known in SOURCES:
        if source == known:
            return known
    raise SignalingError("source")
